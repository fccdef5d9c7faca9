"""SQL of the source leases' rows, inside a caller's transaction.

The row of a source records who holds its lock (:mod:`state.locks`) and its fencing epoch. The
epoch grows by one each time the lease is taken, in the same transaction that records the new
holder; the outbox's writes (:mod:`state.outbox_sql`) call :func:`require_current` in their own
transaction, which share-locks the row, so a write either commits before a new holder's epoch or
is refused after it. Datetimes arrive already checked to be UTC.

A lease taken with a time to live has ``expires_at``: its holder renews it (:func:`renew`) while
it works, and :func:`require_current` refuses a write once it passed, so a holder that stopped
renewing (frozen, cut off) stops writing even before anyone takes the source over. Expiry is
read on the callers' clocks (the ``now`` they pass): replicas' clocks are assumed to agree to
well within a time to live (NTP). Safety never rests on the clocks: a holder taken over is
fenced by the epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from model.errors import LeaseLostError
from state.base import SourceLease
from state.models import leases_t
from state.rows import from_row

#: The dialect's INSERT (one that supports ``on_conflict_do_*``) of a table.
InsertFn = Callable[[sa.Table], Any]

_HOLDER: Final = ("run_id", "host", "pid", "since", "expires_at")
#: PostgreSQL's SQLSTATE for a NOWAIT lock that is taken.
LOCK_NOT_AVAILABLE: Final = "55P03"


def take(
    conn: Connection,
    insert: InsertFn,
    *,
    source: str,
    run_id: str,
    host: str,
    pid: int,
    since: datetime,
    expires_at: datetime | None = None,
) -> SourceLease:
    """Record the new holder of ``source``'s lease and move its epoch on; return the lease.

    The caller holds the source's lock: whatever the row says (a released lease, or the holder
    that died) is replaced.
    """
    holder = {"run_id": run_id, "host": host, "pid": pid, "since": since, "expires_at": expires_at}
    ins = insert(leases_t).values(source=source, epoch=1, **holder)
    conn.execute(
        ins.on_conflict_do_update(
            index_elements=["source"],
            set_={"epoch": leases_t.c.epoch + 1, **{k: ins.excluded[k] for k in holder}},
        )
    )
    epoch: int = conn.execute(
        sa.select(leases_t.c.epoch).where(leases_t.c.source == source)
    ).scalar_one()
    return SourceLease(source, epoch, run_id, host, pid, since, expires_at)


def expired_holder(conn: Connection, source: str, now: datetime) -> SourceLease | None:
    """The recorded holder of ``source`` when its lease expired before ``now``, its row locked
    until the transaction ends (a takeover decides once); ``None`` when held and current, not
    held (released: a lock still held then is a new holder not recorded yet), or the row is
    locked by another transaction right now (another taker; or a holder frozen in the middle
    of a renewal, whose session the server ends after ``idle_in_transaction_session_timeout``,
    :mod:`state.engine`): busy for now, never a wait."""
    query = sa.select(leases_t).where(leases_t.c.source == source).with_for_update(nowait=True)
    try:
        with conn.begin_nested():
            row = conn.execute(query).mappings().first()
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            return None
        raise
    if row is None or row["run_id"] is None or row["expires_at"] is None:
        return None
    return from_row(SourceLease, row) if row["expires_at"] <= now else None


def renew(conn: Connection, lease: SourceLease, now: datetime, ttl_seconds: float) -> datetime:
    """See :meth:`state.base.StateStore.renew_source`."""
    require_current(conn, [lease.source], lease.epoch, now)
    expires_at = now + timedelta(seconds=ttl_seconds)
    c = leases_t.c
    conn.execute(
        sa.update(leases_t)
        .where(c.source == lease.source, c.epoch == lease.epoch)
        .values(expires_at=expires_at)
    )
    return expires_at


def clear(conn: Connection, lease: SourceLease) -> None:
    """Record ``lease`` as released; nothing when the source moved on to a newer epoch."""
    c = leases_t.c
    conn.execute(
        sa.update(leases_t)
        .where(c.source == lease.source, c.epoch == lease.epoch)
        .values(dict.fromkeys(_HOLDER))
    )


def holder(conn: Connection, source: str) -> SourceLease | None:
    """The recorded holder of ``source``'s lease; ``None`` when released or never taken."""
    row = (
        conn.execute(
            sa.select(leases_t).where(leases_t.c.source == source, leases_t.c.run_id.is_not(None))
        )
        .mappings()
        .first()
    )
    return None if row is None else from_row(SourceLease, row)


def describe(lease: SourceLease | None) -> str:
    """Who holds a lease, in words (for :class:`~model.errors.SourceBusyError`)."""
    if lease is None:
        return "another command (not recorded yet)"
    return (
        f"run {lease.run_id} (pid {lease.pid} on host {lease.host}, "
        f"since {lease.since:%Y-%m-%d %H:%M:%S} UTC)"
    )


def require_current(
    conn: Connection, sources: Iterable[str], epoch: int, now: datetime | None = None
) -> None:
    """Refuse with ``LeaseLostError`` unless each of ``sources`` is held at ``epoch`` and, when
    the lease has a time to live, has not expired before ``now``.

    The rows are share-locked until the caller's transaction ends: a new holder's epoch waits
    for it (PostgreSQL; SQLite has one writer at a time anyway).
    """
    wanted = sorted(set(sources))
    if not wanted:
        return
    c = leases_t.c
    query = sa.select(leases_t).where(c.source.in_(wanted)).with_for_update(read=True)
    rows = {row["source"]: row for row in conn.execute(query).mappings()}
    for source in wanted:
        row = rows.get(source)
        if row is not None and row["epoch"] == epoch and row["run_id"] is not None:
            expires_at = row["expires_at"]
            if expires_at is None or now is None or now < expires_at:
                continue
            raise LeaseLostError(
                f"the lease on source {source!r} at epoch {epoch} expired at "
                f"{expires_at:%Y-%m-%d %H:%M:%S} UTC without being renewed; nothing was "
                "recorded: stop, another command may take the source over"
            )
        if row is None or row["run_id"] is None:
            current = "no command holds it now"
        else:
            current = (
                f"it is at epoch {row['epoch']}, held by {describe(from_row(SourceLease, row))}"
            )
        raise LeaseLostError(
            f"the lease on source {source!r} at epoch {epoch} was lost ({current}); "
            "nothing was recorded: stop, another command has taken the source over"
        )
