"""SQL of the push step: outbox, audit log and review decisions, inside a caller's transaction.

:class:`state.store.SqlStateStore` opens one transaction per store method and calls one of these
functions in it; the contracts are those of the matching :class:`~state.base.StateStore` methods.
Every check runs before or inside that transaction, so a refused call changes nothing. Rows are
read and written in bulk (``IN`` lists of :data:`~state.rows.IN_CHUNK`, executemany), never one
statement per operation. Datetimes arrive already checked to be UTC.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import Connection

from model.errors import StateError
from state import lease_sql
from state.models import UTCDateTime, audit_t, outbox_t, plans_t, reviews_t, runs_t
from state.outbox import (
    OUTBOX_APPLIED,
    OUTBOX_PENDING,
    OUTBOX_SENDING,
    OUTBOX_STATUSES,
    OUTBOX_UNFINISHED,
    PLAN_STATUSES,
    REVIEW_DECISIONS,
    AuditEntry,
    AuditRecord,
    OpOutcome,
    OutboxEntry,
    OutboxOp,
)
from state.rows import chunks, from_row, group_ids, group_key, utc

#: The dialect's INSERT (one that supports ``on_conflict_do_*``) of a table.
InsertFn = Callable[[sa.Table], Any]

_COUNT_ROWS: Final = {"preserve_rowcount": True}


# -- outbox ----------------------------------------------------------------------------------------


def enqueue(
    conn: Connection,
    insert: InsertFn,
    *,
    plan_id: str,
    run_id: str,
    ops: Sequence[OutboxOp],
    now: datetime,
) -> int:
    """See :meth:`state.base.StateStore.enqueue`."""
    keys = [op.key for op in ops]
    _refuse_repeats(keys, "enqueue")
    plan_source = conn.execute(
        sa.select(plans_t.c.source).where(plans_t.c.id == plan_id)
    ).scalar_one_or_none()
    if plan_source is None:
        raise StateError(f"unknown plan {plan_id!r}")
    run_source = conn.execute(
        sa.select(runs_t.c.source).where(runs_t.c.id == run_id)
    ).scalar_one_or_none()
    if run_source != plan_source:
        raise StateError(f"run {run_id!r} is not a run of plan {plan_id!r}'s source")
    if not ops:
        return 0
    rows = [
        {
            "plan_id": plan_id,
            "seq": op.seq,
            "op_index": op.op_index,
            "key": op.key,
            "source": plan_source,
            "run_id": run_id,
            "kind": op.kind,
            "object_type": op.object_type,
            "record_id": op.record_id,
            "payload": dict(op.payload),
            "status": OUTBOX_PENDING,
            "attempts": 0,
            "result": {},
            "reason": None,
            "created_at": now,
            "updated_at": now,
        }
        for op in ops
    ]
    stmt = insert(outbox_t).on_conflict_do_nothing(index_elements=["key"])
    inserted = int(conn.execute(stmt, rows, execution_options=_COUNT_ROWS).rowcount)
    if inserted < len(ops):  # some keys were present: they must be these very operations
        wanted = {op.key: (plan_id, op.seq, op.op_index) for op in ops}
        c = outbox_t.c
        for chunk in chunks(keys):
            query = sa.select(c.key, c.plan_id, c.seq, c.op_index).where(c.key.in_(chunk))
            for key, *position in conn.execute(query):
                if tuple(position) != wanted[key]:
                    raise StateError(
                        f"outbox key {key!r} is already operation {tuple(position)} "
                        f"(plan, seq, op_index), not {wanted[key]}"
                    )
    return inserted


def outbox(conn: Connection, plan_id: str, statuses: Sequence[str] | None) -> list[OutboxEntry]:
    """See :meth:`state.base.StateStore.outbox`."""
    _require_plan(conn, plan_id)
    query = (
        sa.select(outbox_t)
        .where(outbox_t.c.plan_id == plan_id)
        .order_by(outbox_t.c.seq, outbox_t.c.op_index)
    )
    if statuses is not None:
        for status in statuses:
            _check_status(status)
        query = query.where(outbox_t.c.status.in_(sorted(set(statuses))))
    return [from_row(OutboxEntry, row) for row in conn.execute(query).mappings()]


def mark_sending(conn: Connection, keys: Sequence[str], now: datetime, epoch: int) -> None:
    """See :meth:`state.base.StateStore.mark_sending`."""
    unique = list(dict.fromkeys(keys))
    lease_sql.require_current(conn, {s for _, _, s in _owners(conn, unique).values()}, epoch, now)
    c = outbox_t.c
    marked = 0
    for chunk in chunks(unique):
        result = conn.execute(
            sa.update(outbox_t)
            .where(c.key.in_(chunk), c.status.in_(OUTBOX_UNFINISHED))
            .values(status=OUTBOX_SENDING, updated_at=now)
        )
        marked += int(result.rowcount)
    if marked != len(unique):
        found = _statuses(conn, unique)
        bad = {k: found.get(k, "unknown") for k in unique if found.get(k) not in OUTBOX_UNFINISHED}
        raise StateError(f"cannot send operations that are not pending: {_sample(bad)}")


def record_results(
    conn: Connection, results: Sequence[OpOutcome], now: datetime, epoch: int
) -> None:
    """See :meth:`state.base.StateStore.record_results`."""
    keys = [r.key for r in results]
    _refuse_repeats(keys, "record_results")
    for outcome in results:
        _check_outcome(outcome)
    stored = _owners(conn, keys)
    lease_sql.require_current(conn, {s for _, _, s in stored.values()}, epoch, now)
    missing = [k for k in keys if k not in stored]
    if missing:
        raise StateError(f"unknown outbox keys: {_sample(missing)}")
    final = [k for k in keys if stored[k][0] == OUTBOX_APPLIED]
    if final:
        raise StateError(f"operations already applied (final): {_sample(final)}")
    for outcome in results:
        _, plan_id, source = stored[outcome.key]
        for record in outcome.audit:
            if (record.plan_id, record.source) != (plan_id, source):
                raise StateError(
                    f"audit record of {outcome.key!r} names plan {record.plan_id!r} of "
                    f"{record.source!r}; the operation is of plan {plan_id!r} of {source!r}"
                )
    if not results:
        return
    c = outbox_t.c
    stmt = (
        sa.update(outbox_t)
        .where(c.key == sa.bindparam("b_key"), c.status != OUTBOX_APPLIED)
        .values(
            status=sa.bindparam("b_status", type_=sa.String),
            result=sa.bindparam("b_result", type_=sa.JSON),
            reason=sa.bindparam("b_reason", type_=sa.Text),
            attempts=c.attempts + sa.bindparam("b_inc", type_=sa.Integer),
            updated_at=sa.bindparam("b_now", type_=UTCDateTime),
        )
    )
    params = [
        {
            "b_key": r.key,
            "b_status": r.status,
            "b_result": dict(r.result),
            "b_reason": r.reason,
            "b_inc": r.attempts_increment,
            "b_now": now,
        }
        for r in results
    ]
    updated = int(conn.execute(stmt, params, execution_options=_COUNT_ROWS).rowcount)
    if updated != len(results):  # another writer applied one meanwhile
        raise StateError("outbox rows changed while recording results; nothing recorded")
    append_audit(conn, [record for r in results for record in r.audit])


def append_audit(conn: Connection, records: Sequence[AuditRecord]) -> None:
    """Append audit records (in order, so ids follow it)."""
    if not records:
        return
    rows = [
        {
            "run_id": r.run_id,
            "plan_id": r.plan_id,
            "key": r.key,
            "source": r.source,
            "policy": r.policy,
            "kind": r.kind,
            "object_type": r.object_type,
            "record_id": r.record_id,
            "field": r.field,
            "before": r.before,
            "after": r.after,
            "applied_at": utc(r.applied_at, "AuditRecord.applied_at"),
            "response": dict(r.response),
            "undone_by_run": None,
            "undone_at": None,
        }
        for r in records
    ]
    conn.execute(sa.insert(audit_t), rows)


def set_plan_status(conn: Connection, plan_id: str, status: str) -> None:
    """See :meth:`state.base.StateStore.set_plan_status`."""
    if status not in PLAN_STATUSES:
        raise StateError(f"plan status must be one of {PLAN_STATUSES}, not {status!r}")
    result = conn.execute(sa.update(plans_t).where(plans_t.c.id == plan_id).values(status=status))
    if result.rowcount != 1:
        raise StateError(f"unknown plan {plan_id!r}")


def pending_plans(conn: Connection, source: str) -> list[str]:
    """See :meth:`state.base.StateStore.pending_plans`."""
    unfinished = (
        sa.select(outbox_t.c.id)
        .where(outbox_t.c.plan_id == plans_t.c.id, outbox_t.c.status.in_(OUTBOX_UNFINISHED))
        .exists()
    )
    query = (
        sa.select(plans_t.c.id)
        .where(plans_t.c.source == source, unfinished)
        .order_by(plans_t.c.created_at, plans_t.c.id)
    )
    return [str(row[0]) for row in conn.execute(query)]


# -- audit log -------------------------------------------------------------------------------------


def audit(
    conn: Connection,
    source: str | None,
    run_id: str | None,
    record_id: str | None,
    limit: int | None,
) -> list[AuditEntry]:
    """See :meth:`state.base.StateStore.audit`."""
    query = sa.select(audit_t).order_by(audit_t.c.id.desc())
    for column, value in (("source", source), ("run_id", run_id), ("record_id", record_id)):
        if value is not None:
            query = query.where(audit_t.c[column] == value)
    if limit is not None:
        query = query.limit(limit)
    return [from_row(AuditEntry, row) for row in conn.execute(query).mappings()]


def mark_undone(conn: Connection, audit_ids: Sequence[int], run_id: str, now: datetime) -> None:
    """See :meth:`state.base.StateStore.mark_undone`."""
    if conn.execute(sa.select(runs_t.c.id).where(runs_t.c.id == run_id)).first() is None:
        raise StateError(f"unknown run {run_id!r}")
    unique = list(dict.fromkeys(audit_ids))
    c = audit_t.c
    marked = 0
    for chunk in chunks(unique):
        result = conn.execute(
            sa.update(audit_t)
            .where(c.id.in_(chunk), c.undone_by_run.is_(None))
            .values(undone_by_run=run_id, undone_at=now)
        )
        marked += int(result.rowcount)
    if marked != len(unique):
        raise StateError(f"audit entries unknown or already undone among {_sample(unique)}")


# -- review decisions ------------------------------------------------------------------------------


def record_review(
    conn: Connection,
    insert: InsertFn,
    *,
    source: str,
    object_type: str,
    ids: Sequence[str],
    decision: str,
    now: datetime,
    by: str | None,
    note: str | None,
) -> None:
    """See :meth:`state.base.StateStore.record_review`."""
    if decision not in REVIEW_DECISIONS:
        raise StateError(f"review decision must be one of {REVIEW_DECISIONS}, not {decision!r}")
    ins = insert(reviews_t).values(
        source=source,
        object_type=object_type,
        ids_key=group_key(ids),
        decision=decision,
        decided_at=now,
        decided_by=by,
        note=note,
    )
    conn.execute(
        ins.on_conflict_do_update(
            index_elements=["source", "object_type", "ids_key"],
            set_={k: ins.excluded[k] for k in ("decision", "decided_at", "decided_by", "note")},
        )
    )


def review_decisions(conn: Connection, source: str, object_type: str) -> dict[frozenset[str], str]:
    """See :meth:`state.base.StateStore.review_decisions`."""
    c = reviews_t.c
    query = (
        sa.select(c.ids_key, c.decision)
        .where(c.source == source, c.object_type == object_type)
        .order_by(c.ids_key)
    )
    return {group_ids(str(key)): str(decision) for key, decision in conn.execute(query)}


# -- helpers ---------------------------------------------------------------------------------------


def _require_plan(conn: Connection, plan_id: str) -> None:
    if conn.execute(sa.select(plans_t.c.id).where(plans_t.c.id == plan_id)).first() is None:
        raise StateError(f"unknown plan {plan_id!r}")


def _check_status(status: str) -> None:
    if status not in OUTBOX_STATUSES:
        raise StateError(f"outbox status must be one of {OUTBOX_STATUSES}, not {status!r}")


def _check_outcome(outcome: OpOutcome) -> None:
    _check_status(outcome.status)
    if outcome.attempts_increment < 0:
        raise StateError(f"attempts_increment of {outcome.key!r} is negative")
    if outcome.audit and outcome.status != OUTBOX_APPLIED:
        raise StateError(f"{outcome.key!r} is {outcome.status!r}: only applied ops carry audit")
    for record in outcome.audit:
        if record.key != outcome.key:
            raise StateError(f"audit record of {record.key!r} given with outcome {outcome.key!r}")


def _refuse_repeats(keys: Sequence[str], what: str) -> None:
    repeated = [k for k, n in Counter(keys).items() if n > 1]
    if repeated:
        raise StateError(f"{what} got repeated outbox keys: {_sample(repeated)}")


def _statuses(conn: Connection, keys: Sequence[str]) -> dict[str, str]:
    return {key: owner[0] for key, owner in _owners(conn, keys).items()}


def _owners(conn: Connection, keys: Sequence[str]) -> dict[str, tuple[str, str, str]]:
    """key → (status, plan_id, source) of the present keys."""
    c = outbox_t.c
    found: dict[str, tuple[str, str, str]] = {}
    for chunk in chunks(keys):
        query = sa.select(c.key, c.status, c.plan_id, c.source).where(c.key.in_(chunk))
        for key, status, plan_id, source in conn.execute(query):
            found[str(key)] = (str(status), str(plan_id), str(source))
    return found


def _sample(values: Sequence[object] | Mapping[str, str], most: int = 5) -> str:
    items = [f"{k}={v}" for k, v in values.items()] if isinstance(values, Mapping) else values
    shown = ", ".join(str(v) for v in list(items)[:most])
    more = len(items) - most
    return shown + (f" and {more} more" if more > 0 else "")
