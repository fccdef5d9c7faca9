"""SQL of what syncd wrote per field, and of the reverts table, inside a caller's transaction.

:class:`state.store.SqlStateStore` opens one transaction per store method and calls one of these
functions in it; the contracts are those of the matching :class:`~state.base.StateStore` methods.
Reads go in ``IN`` lists of :data:`~state.rows.IN_CHUNK`; datetimes arrive already checked to
be UTC.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from model.errors import StateError
from model.records import id_key
from state.models import audit_t, reverts_t, sources_t
from state.outbox import AuditEntry, Revert
from state.outbox_sql import InsertFn
from state.rows import chunks, from_row, utc

_KEY = ("source", "object_type", "record_id", "field")


def field_writes(
    conn: Connection, source: str, object_type: str, record_ids: Iterable[str]
) -> dict[tuple[str, str], AuditEntry]:
    """See :meth:`state.base.StateStore.field_writes`."""
    c = audit_t.c
    latest: dict[tuple[str, str], AuditEntry] = {}
    # A source syncd never wrote a field of (every dry run's, a first run's) answers one probe,
    # not an IN list per 500 records: a plan at 100,000 contacts asks of its 67,000 updated ones.
    kind = sa.and_(c.source == source, c.object_type == object_type, c.kind == "update")
    if conn.execute(sa.select(c.id).where(kind).limit(1)).first() is None:
        return latest
    for chunk in chunks(sorted(set(record_ids))):
        query = (
            sa.select(audit_t)
            .where(
                kind,
                c.field.is_not(None),
                c.undone_by_run.is_(None),
                c.record_id.in_(chunk),
            )
            .order_by(c.id)
        )
        for row in conn.execute(query).mappings():
            entry = from_row(AuditEntry, row)
            latest[(entry.record_id, str(entry.field))] = entry  # ids ascend: the last wins
    return latest


def save_reverts(conn: Connection, insert: InsertFn, reverts: Sequence[Revert]) -> None:
    """See :meth:`state.base.StateStore.save_reverts`."""
    if not reverts:
        return
    keys = [(r.source, r.object_type, r.record_id, r.field) for r in reverts]
    repeated = [k for k, n in Counter(keys).items() if n > 1]
    if repeated:
        raise StateError(f"save_reverts got a field twice: {'/'.join(repeated[0])}")
    sources = {r.source for r in reverts}
    known = set(conn.execute(sa.select(sources_t.c.name).where(sources_t.c.name.in_(sources))))
    missing = sorted(sources - {str(row[0]) for row in known})
    if missing:
        raise StateError(f"unknown source {missing[0]!r}: call ensure_source first")
    rows = [_row(r) for r in reverts]
    ins = insert(reverts_t)
    stmt = ins.on_conflict_do_update(
        index_elements=list(_KEY),
        set_={c.name: ins.excluded[c.name] for c in reverts_t.c if c.name not in _KEY},
    )
    conn.execute(stmt, rows)


def reverts(
    conn: Connection, source: str, object_type: str | None, released: bool | None
) -> list[Revert]:
    """See :meth:`state.base.StateStore.reverts`."""
    c = reverts_t.c
    query = sa.select(reverts_t).where(c.source == source)
    if object_type is not None:
        query = query.where(c.object_type == object_type)
    if released is not None:
        query = query.where(c.released_at.is_not(None) if released else c.released_at.is_(None))
    found = [from_row(Revert, row) for row in conn.execute(query).mappings()]
    return sorted(found, key=lambda r: (r.object_type, id_key(r.record_id), r.field))


def release_reverts(  # noqa: PLR0917  (mirrors the store method)
    conn: Connection,
    source: str,
    object_type: str,
    record_ids: Sequence[str],
    field: str | None,
    now: datetime,
    by: str | None,
) -> list[Revert]:
    """See :meth:`state.base.StateStore.release_reverts`."""
    c = reverts_t.c
    released: list[Revert] = []
    for chunk in chunks(sorted(set(record_ids))):
        where = [
            c.source == source,
            c.object_type == object_type,
            c.record_id.in_(chunk),
            c.released_at.is_(None),
        ]
        if field is not None:
            where.append(c.field == field)
        rows = conn.execute(sa.select(reverts_t).where(*where)).mappings().all()
        if rows:
            conn.execute(sa.update(reverts_t).where(*where).values(released_at=now, released_by=by))
        released += [
            from_row(Revert, {**row, "released_at": now, "released_by": by}) for row in rows
        ]
    return sorted(released, key=lambda r: (id_key(r.record_id), r.field))


def _row(revert: Revert) -> dict[str, Any]:
    def at(value: datetime | None, what: str) -> datetime | None:
        return None if value is None else utc(value, f"Revert.{what}")

    return {
        "source": revert.source,
        "object_type": revert.object_type,
        "record_id": revert.record_id,
        "field": revert.field,
        "value": revert.value,
        "reverted_to": revert.reverted_to,
        "audit_id": revert.audit_id,
        "written_at": at(revert.written_at, "written_at"),
        "found_at": at(revert.found_at, "found_at"),
        "changed_by": revert.changed_by,
        "changed_via": revert.changed_via,
        "changed_at": at(revert.changed_at, "changed_at"),
        "released_at": at(revert.released_at, "released_at"),
        "released_by": revert.released_by,
    }
