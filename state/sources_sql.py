"""Queries about a source as a whole: the account it synced, forgetting it on purpose, and the
ids its CRM merged away (what an old id stands for now).

Each function runs inside the caller's transaction (:class:`state.store.SqlStateStore`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection

from model.errors import StateError
from state.models import (
    cursors_t,
    outbox_t,
    records_t,
    reverts_t,
    reviews_t,
    skipped_t,
    sources_t,
)
from state.outbox import OUTBOX_UNFINISHED

#: How many merges deep an id is followed (a loop in bad data must not hang a snapshot).
_MAX_HOPS = 100
RESET_REASON = "not sent: the source was reset (syncd reset-source) before it went out"


def bind_account(conn: Connection, source: str, account_id: str) -> str:
    """Record ``account_id`` as the account ``source`` syncs unless one is recorded already;
    return the recorded one (the one just recorded, or the earlier one)."""
    stored = conn.execute(
        sa.select(sources_t.c.account_id).where(sources_t.c.name == source)
    ).one_or_none()
    if stored is None:
        raise StateError(f"unknown source {source!r}: call ensure_source first")
    if stored[0] is not None:
        return str(stored[0])
    conn.execute(
        sa.update(sources_t).where(sources_t.c.name == source).values(account_id=account_id)
    )
    return account_id


def account(conn: Connection, source: str) -> str | None:
    found = conn.execute(
        sa.select(sources_t.c.account_id).where(sources_t.c.name == source)
    ).scalar_one_or_none()
    return None if found is None else str(found)


def reset(conn: Connection, source: str, now: datetime) -> dict[str, int]:
    """Forget what ``source`` pulled: records, cursors, skipped records, review decisions,
    reverts and the account; operations not sent yet are settled ``skipped`` (they named the
    forgotten records). Runs, plans, finished operations and the audit log stay (history).
    Returns how many rows of each went, by what they were."""
    counts: dict[str, int] = {}
    for name, table in (
        ("records", records_t),
        ("cursors", cursors_t),
        ("skipped records", skipped_t),
        ("review decisions", reviews_t),
        ("reverts", reverts_t),
    ):
        counts[name] = int(conn.execute(table.delete().where(table.c.source == source)).rowcount)
    unsent = conn.execute(
        sa.update(outbox_t)
        .where(outbox_t.c.source == source, outbox_t.c.status.in_(OUTBOX_UNFINISHED))
        .values(status="skipped", reason=RESET_REASON, updated_at=now)
    )
    counts["operations not sent"] = int(unsent.rowcount)
    # a snapshot kept from before no longer holds: the rows it was read from are gone
    numbered = sources_t.c.records_seq + 1
    conn.execute(
        sa.update(sources_t)
        .where(sources_t.c.name == source)
        .values(account_id=None, records_seq=numbered, records_cut=numbered)
    )
    return counts


def next_records_seq(conn: Connection, source: str) -> int:
    """The number of this transaction's writes to ``source``'s records (one more than the
    last). The row stays locked to its commit (PostgreSQL), so numbers follow commit order
    per source and a reader never sees a higher one before a lower one's rows."""
    mine = sources_t.c.name == source
    conn.execute(sa.update(sources_t).where(mine).values(records_seq=sources_t.c.records_seq + 1))
    # read back in the same transaction (no UPDATE ... RETURNING: SQLite has it from 3.35 only,
    # and Debian 11 and Ubuntu 20.04 ship older ones)
    return int(conn.execute(sa.select(sources_t.c.records_seq).where(mine)).scalar_one())


def merged_into(
    conn: Connection, source: str, object_types: Iterable[str] | None = None
) -> dict[str, dict[str, str]]:
    """Per object type, each stored id the CRM merged away and the id it was merged into."""
    query = sa.select(
        records_t.c.object_type, records_t.c.remote_id, records_t.c.merged_into
    ).where(records_t.c.source == source, records_t.c.merged_into.is_not(None))
    if object_types is not None:
        query = query.where(records_t.c.object_type.in_(sorted(set(object_types))))
    found: dict[str, dict[str, str]] = {}
    for object_type, remote_id, into in conn.execute(query):
        found.setdefault(str(object_type), {})[str(remote_id)] = str(into)
    return found


def survivor(merged: Mapping[str, str], record_id: str) -> str:
    """The id ``record_id`` stands for now: itself, or the end of its chain of merges."""
    current = record_id
    for _ in range(_MAX_HOPS):
        following = merged.get(current)
        if following is None or following == current:
            return current
        current = following
    return current
