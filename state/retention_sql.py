"""SQL of :meth:`state.base.StateStore.prune`, inside a caller's transaction.

Rules, in the order they run (each later step sees what the earlier ones deleted):

1. **Audit entries** older than ``retention.audit`` go, except one a revert refers to (the
   memory that keeps syncd from fighting a person over a field).
2. **Outbox rows** that are final (applied, conflict, failed, held) and older than
   ``retention.outbox`` go; ``skipped`` ones stay with their plan (an undo's memory of the
   values the CRM refuses to take back), unfinished ones stay.
3. **Plans** older than ``retention.plans`` go with their changes and outbox rows, unless one
   of their operations is unfinished, an audit entry refers to them (undo needs it), or they are
   their source's newest (the report shows it), or another plan kept is stored as what differs
   from them (it goes with the last of those). An undo plan whose values the CRM all refused
   has no audit entry: once it is gone, undoing that run again tries those values again (the
   CRM refuses them again, and they are recorded again).
4. **Runs** that finished before ``retention.runs`` go with their skipped records and health
   figures, unless a plan, an audit entry (as the run that applied or undid it) or an outbox row
   still refers to them, or they are their source's newest run or newest completed run.
5. **Resolved incidents** and **completeness checks** older than ``retention.incidents`` go.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection

from state.base import Pruned, Retention
from state.models import (
    audit_t,
    completeness_t,
    incidents_t,
    outbox_t,
    plans_t,
    reverts_t,
    runs_t,
)
from state.outbox import OUTBOX_UNFINISHED
from state.service_sql import COMPLETED_RUNS

#: Outbox statuses whose rows may go before their plan.
PRUNABLE_OUTBOX = ("applied", "conflict", "failed", "held")

_COUNT_ROWS = {"preserve_rowcount": True}


def prune(conn: Connection, retention: Retention) -> Pruned:
    """See the module docstring."""
    audit = outbox = plans = runs = incidents = 0
    if retention.audit is not None:
        kept = sa.select(reverts_t.c.audit_id).where(reverts_t.c.audit_id.is_not(None))
        audit = _delete(
            conn,
            sa.delete(audit_t).where(
                audit_t.c.applied_at < retention.audit, audit_t.c.id.not_in(kept)
            ),
        )
    if retention.outbox is not None:
        outbox = _delete(
            conn,
            sa.delete(outbox_t).where(
                outbox_t.c.updated_at < retention.outbox,
                outbox_t.c.status.in_(PRUNABLE_OUTBOX),
            ),
        )
    if retention.plans is not None:
        plans = _prune_plans(conn, retention)
    if retention.runs is not None:
        runs = _prune_runs(conn, retention)
    if retention.incidents is not None:
        incidents = _delete(
            conn,
            sa.delete(incidents_t).where(
                incidents_t.c.resolved_at.is_not(None),
                incidents_t.c.resolved_at < retention.incidents,
            ),
        )
        incidents += _delete(
            conn,
            sa.delete(completeness_t).where(completeness_t.c.audited_at < retention.incidents),
        )
    return Pruned(plans=plans, runs=runs, audit=audit, outbox=outbox, incidents=incidents)


def _delete(conn: Connection, statement: sa.Delete) -> int:
    return int(conn.execute(statement, execution_options=_COUNT_ROWS).rowcount)


def _prune_plans(conn: Connection, retention: Retention) -> int:
    p = plans_t.c
    newer_alias = plans_t.alias("newer")
    has_newer = (
        sa.select(newer_alias.c.id)
        .where(
            newer_alias.c.source == p.source,
            sa.or_(
                newer_alias.c.created_at > p.created_at,
                sa.and_(newer_alias.c.created_at == p.created_at, newer_alias.c.id > p.id),
            ),
        )
        .exists()
    )
    kept_ops = (
        sa.select(outbox_t.c.id)
        .where(
            outbox_t.c.plan_id == p.id,
            outbox_t.c.status.in_(OUTBOX_UNFINISHED),
        )
        .exists()
    )
    audited = sa.select(audit_t.c.id).where(audit_t.c.plan_id == p.id).exists()
    built_on = plans_t.alias("built_on")  # a plan stored as what differs from this one
    based = sa.select(built_on.c.id).where(built_on.c.base_id == p.id).exists()
    query = sa.select(p.id).where(
        p.created_at < retention.plans, has_newer, ~kept_ops, ~audited, ~based
    )
    doomed = list(map(str, conn.execute(query).scalars().all()))
    deleted = 0
    for start in range(0, len(doomed), 500):
        chunk = doomed[start : start + 500]
        # the outbox rows first: SQLite cascades too, but only with foreign keys on
        conn.execute(sa.delete(outbox_t).where(outbox_t.c.plan_id.in_(chunk)))
        deleted += _delete(conn, sa.delete(plans_t).where(p.id.in_(chunk)))
    return deleted


def _prune_runs(conn: Connection, retention: Retention) -> int:
    r = runs_t.c
    other = runs_t.alias("other")

    def newer(*statuses: str) -> sa.Exists:
        query = sa.select(other.c.id).where(
            other.c.source == r.source,
            sa.or_(
                other.c.started_at > r.started_at,
                sa.and_(other.c.started_at == r.started_at, other.c.id > r.id),
            ),
        )
        if statuses:
            query = query.where(other.c.status.in_(statuses))
        return query.exists()

    referred = sa.or_(
        sa.select(plans_t.c.id).where(plans_t.c.run_id == r.id).exists(),
        sa.select(audit_t.c.id).where(audit_t.c.run_id == r.id).exists(),
        sa.select(audit_t.c.id).where(audit_t.c.undone_by_run == r.id).exists(),
        sa.select(outbox_t.c.id).where(outbox_t.c.run_id == r.id).exists(),
    )
    # the newest completed run stays (the source's last success), and so does the newest run
    last_completed = sa.or_(r.status.not_in(COMPLETED_RUNS), newer(*COMPLETED_RUNS))
    doomed = sa.select(r.id).where(
        r.status != "running",
        r.finished_at.is_not(None),
        r.finished_at < retention.runs,
        newer(),
        last_completed,
        ~referred,
    )
    ids = list(map(str, conn.execute(doomed).scalars().all()))
    deleted = 0
    for start in range(0, len(ids), 500):
        deleted += _delete(conn, sa.delete(runs_t).where(r.id.in_(ids[start : start + 500])))
    return deleted
