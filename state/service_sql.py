"""SQL of what the service keeps: schedules, pauses, incidents, completeness audits, inside a
caller's transaction.

:class:`state.store.SqlStateStore` opens one transaction per store method and calls one of these
functions in it; the contracts are those of the matching :class:`~state.base.StateStore` methods.
Incidents are saved compare-and-set, so that replicas deciding about the same source at once
never both alert: an insert that meets the open incident another replica just opened (the
partial unique index ``uq_incidents_open``) does nothing, an update that finds the row changed
since it was read does nothing, and the caller reads again. Datetimes arrive already checked to
be UTC.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from model.records import Record
from state.base import FINISHED_RUN_STATUSES, CompletenessCheck, SourcePause, StoredIncident
from state.models import (
    completeness_t,
    incidents_t,
    outbox_t,
    pauses_t,
    records_t,
    runs_t,
    schedules_t,
)
from state.outbox import OUTBOX_UNFINISHED
from state.rows import chunks, row_to_record

#: The dialect's INSERT (one that supports ``on_conflict_do_*``) of a table.
InsertFn = Callable[[sa.Table], Any]

#: Run statuses that count as a completed sync (the pull and plan went through).
COMPLETED_RUNS: tuple[str, ...] = tuple(s for s in FINISHED_RUN_STATUSES if s != "failed")


# -- runs and schedules ----------------------------------------------------------------------------


def last_success(conn: Connection, source: str) -> datetime | None:
    """See :meth:`state.base.StateStore.last_success`."""
    query = sa.select(sa.func.max(runs_t.c.finished_at)).where(
        runs_t.c.source == source, runs_t.c.status.in_(COMPLETED_RUNS)
    )
    found: datetime | None = conn.execute(query).scalar_one_or_none()
    return found


def next_run(conn: Connection, source: str) -> datetime | None:
    """See :meth:`state.base.StateStore.next_run`."""
    query = sa.select(schedules_t.c.next_run_at).where(schedules_t.c.source == source)
    found: datetime | None = conn.execute(query).scalar_one_or_none()
    return found


def set_next_run(
    conn: Connection, insert: InsertFn, source: str, when: datetime | None, now: datetime
) -> None:
    """See :meth:`state.base.StateStore.set_next_run`."""
    ins = insert(schedules_t).values(source=source, next_run_at=when, updated_at=now)
    conn.execute(
        ins.on_conflict_do_update(
            index_elements=["source"],
            set_={"next_run_at": ins.excluded.next_run_at, "updated_at": ins.excluded.updated_at},
        )
    )


# -- pauses ----------------------------------------------------------------------------------------


def source_pauses(conn: Connection, source: str | None) -> list[SourcePause]:
    """See :meth:`state.base.StateStore.source_pause` and ``paused_sources``."""
    query = sa.select(pauses_t).order_by(pauses_t.c.source)
    if source is not None:
        query = query.where(pauses_t.c.source == source)
    return [
        SourcePause(
            source=row["source"],
            since=row["since"],
            reason=row["reason"],
            next_probe_at=row["next_probe_at"],
            used=row["used"],
            limit=row["limit"],
            probes=int(row["probes"]),
            probed_at=row["probed_at"],
        )
        for row in conn.execute(query).mappings()
    ]


def save_pause(conn: Connection, insert: InsertFn, pause: SourcePause) -> None:
    """See :meth:`state.base.StateStore.save_pause`."""
    values = {
        "source": pause.source,
        "since": pause.since,
        "reason": pause.reason,
        "next_probe_at": pause.next_probe_at,
        "used": pause.used,
        "limit": pause.limit,
        "probes": pause.probes,
        "probed_at": pause.probed_at,
    }
    ins = insert(pauses_t).values(values)
    changed = {k: getattr(ins.excluded, k) for k in values if k != "source"}
    conn.execute(ins.on_conflict_do_update(index_elements=["source"], set_=changed))


def clear_pause(conn: Connection, source: str) -> bool:
    """See :meth:`state.base.StateStore.clear_pause`."""
    deleted = conn.execute(sa.delete(pauses_t).where(pauses_t.c.source == source))
    return int(deleted.rowcount) == 1


def outbox_depth(conn: Connection) -> dict[str, int]:
    """See :meth:`state.base.StateStore.outbox_depth`."""
    query = (
        sa.select(outbox_t.c.source, sa.func.count())
        .where(outbox_t.c.status.in_(OUTBOX_UNFINISHED))
        .group_by(outbox_t.c.source)
        .order_by(outbox_t.c.source)
    )
    return {str(source): int(str(n)) for source, n in conn.execute(query)}


# -- incidents -------------------------------------------------------------------------------------


def open_incidents(conn: Connection, source: str | None) -> list[StoredIncident]:
    """See :meth:`state.base.StateStore.open_incidents`."""
    c = incidents_t.c
    query = sa.select(incidents_t).where(c.resolved_at.is_(None))
    if source is not None:
        query = query.where(c.source == source)
    query = query.order_by(c.first_seen, c.source, c.cause)
    return [_incident(row) for row in conn.execute(query).mappings()]


def incidents(conn: Connection, source: str, limit: int) -> list[StoredIncident]:
    """See :meth:`state.base.StateStore.incidents`."""
    c = incidents_t.c
    query = (
        sa.select(incidents_t)
        .where(c.source == source)
        .order_by(c.last_seen.desc(), c.cause)
        .limit(limit)
    )
    return [_incident(row) for row in conn.execute(query).mappings()]


def save_incident(
    conn: Connection,
    insert: InsertFn,
    incident: StoredIncident,
    previous: StoredIncident | None,
) -> bool:
    """See :meth:`state.base.StateStore.save_incident`."""
    c = incidents_t.c
    values = _incident_row(incident)
    if previous is not None:
        same = sa.and_(
            c.source == previous.source,
            c.cause == previous.cause,
            c.first_seen == previous.first_seen,
            c.count == previous.count,
            c.last_notified == previous.last_notified,
            c.resolved_at.is_(None)
            if previous.resolved_at is None
            else c.resolved_at == previous.resolved_at,
        )
        updated = conn.execute(sa.update(incidents_t).where(same).values(values))
        return int(updated.rowcount) == 1
    # a new one: without a conflict target, ON CONFLICT DO NOTHING covers the key and the
    # partial unique index: the open incident another replica just opened makes it do nothing
    inserted = conn.execute(
        insert(incidents_t).values(values).on_conflict_do_nothing(),
        execution_options={"preserve_rowcount": True},
    )
    return int(inserted.rowcount) == 1


def _incident_row(incident: StoredIncident) -> dict[str, Any]:
    return {
        "source": incident.source,
        "cause": incident.cause,
        "first_seen": incident.first_seen,
        "last_seen": incident.last_seen,
        "count": incident.count,
        "message": incident.message,
        "last_notified": incident.last_notified,
        "resolved_at": incident.resolved_at,
    }


def _incident(row: Mapping[Any, Any]) -> StoredIncident:
    return StoredIncident(
        source=row["source"],
        cause=row["cause"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        count=int(row["count"]),
        message=row["message"],
        last_notified=row["last_notified"],
        resolved_at=row["resolved_at"],
    )


# -- completeness audits ---------------------------------------------------------------------------


def save_completeness(conn: Connection, check: CompletenessCheck) -> None:
    """See :meth:`state.base.StateStore.save_completeness`."""
    conn.execute(
        sa.insert(completeness_t).values(
            source=check.source,
            object_type=check.object_type,
            kind=check.kind,
            audited_at=check.audited_at,
            ok=check.ok,
            drift=float(check.drift),
            details=dict(check.details),
        )
    )


def completeness(
    conn: Connection, source: str, object_type: str | None, limit: int
) -> list[CompletenessCheck]:
    """See :meth:`state.base.StateStore.completeness`."""
    c = completeness_t.c
    query = sa.select(completeness_t).where(c.source == source)
    if object_type is not None:
        query = query.where(c.object_type == object_type)
    query = query.order_by(c.audited_at.desc(), c.id.desc()).limit(limit)
    return [
        CompletenessCheck(
            source=row["source"],
            object_type=row["object_type"],
            kind=row["kind"],
            audited_at=row["audited_at"],
            ok=bool(row["ok"]),
            drift=float(row["drift"]),
            details=row["details"],
        )
        for row in conn.execute(query).mappings()
    ]


def _live(source: str, object_type: str) -> sa.ColumnElement[bool]:
    c = records_t.c
    return sa.and_(
        c.source == source,
        c.object_type == object_type,
        c.archived.is_(False),
        c.merged_into.is_(None),
    )


def count_live(
    conn: Connection, source: str, object_type: str, edges: Sequence[datetime]
) -> list[int]:
    """See :meth:`state.base.StateStore.count_live`."""
    c = records_t.c
    counts = []
    for lo, hi in itertools.pairwise(edges):
        query = sa.select(sa.func.count()).where(
            _live(source, object_type), c.remote_updated_at >= lo, c.remote_updated_at < hi
        )
        counts.append(int(conn.execute(query).scalar_one()))
    return counts


def live_records_at(
    conn: Connection,
    source: str,
    object_type: str,
    before: datetime,
    positions: Sequence[int],
) -> list[Record]:
    """See :meth:`state.base.StateStore.live_records_at`."""
    c = records_t.c
    base = (
        sa.select(records_t)
        .where(_live(source, object_type), c.remote_updated_at < before)
        .order_by(c.remote_id)
    )
    found = []
    for position in sorted(set(positions)):
        if position < 0:
            continue
        row = conn.execute(base.offset(position).limit(1)).mappings().first()
        if row is not None:
            found.append(row_to_record(row))
    return found


def live_ids(conn: Connection, source: str, object_type: str) -> set[str]:
    """See :meth:`state.base.StateStore.live_ids`."""
    query = sa.select(records_t.c.remote_id).where(_live(source, object_type))
    return set(map(str, conn.execute(query).scalars().all()))


def live_among(conn: Connection, source: str, object_type: str, ids: Iterable[str]) -> set[str]:
    """See :meth:`state.base.StateStore.live_among`."""
    c = records_t.c
    live: set[str] = set()
    for chunk in chunks(sorted(set(ids))):
        query = sa.select(c.remote_id).where(_live(source, object_type), c.remote_id.in_(chunk))
        live.update(map(str, conn.execute(query).scalars().all()))
    return live
