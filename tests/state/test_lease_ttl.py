"""Leases with a time to live (the service's replicas): renewed while held, refused once
expired, taken over from a holder that stopped renewing (PostgreSQL); both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from model.errors import LeaseLostError, SourceBusyError
from state.base import OpOutcome, OutboxOp
from state.store import SqlStateStore, open_store

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
TTL = 30.0


@pytest.fixture
def queued(store: SqlStateStore) -> SqlStateStore:
    """Source ``hs`` with plan p1 of run r1 and its two ops p1:0:0, p1:1:0 enqueued."""
    store.ensure_source("hs", "hubspot", T0)
    store.start_run("r1", "hs", T0, dry_run=False)
    store.save_plan("p1", "hs", "r1", T0, {}, [])
    ops = [OutboxOp(f"p1:{n}:0", n, 0, "update", "contacts", "12", {}) for n in (0, 1)]
    store.enqueue("p1", "r1", ops, T0)
    return store


@pytest.fixture
def other(state_url: str, queued: SqlStateStore) -> Iterator[SqlStateStore]:
    """A second store on the same database: another replica."""
    opened = open_store(state_url)
    yield opened
    opened.close()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_lease_with_a_ttl_expires_unless_renewed(queued: SqlStateStore) -> None:
    lease = queued.acquire_source("hs", "r1", T0, ttl_seconds=TTL)
    assert lease.expires_at == at(TTL)
    assert queued.source_lease("hs") == lease
    queued.mark_sending(["p1:0:0"], at(TTL - 1), epoch=lease.epoch)

    assert queued.renew_source(lease, at(20), TTL) == at(20 + TTL)
    assert queued.source_lease("hs").expires_at == at(20 + TTL)  # type: ignore[union-attr]
    queued.record_results([OpOutcome("p1:0:0", "applied")], at(40), epoch=lease.epoch)

    # past the expiry nothing is recorded any more, and the lease cannot be renewed
    with pytest.raises(LeaseLostError, match="expired at 2024-03-01 12:00:50 UTC"):
        queued.mark_sending(["p1:1:0"], at(50), epoch=lease.epoch)
    with pytest.raises(LeaseLostError, match="expired"):
        queued.record_results([OpOutcome("p1:1:0", "failed")], at(51), epoch=lease.epoch)
    with pytest.raises(LeaseLostError, match="expired"):
        queued.renew_source(lease, at(52), TTL)
    assert [e.status for e in queued.outbox("p1")] == ["applied", "pending"]


def test_a_lease_without_a_ttl_never_expires(queued: SqlStateStore) -> None:
    lease = queued.acquire_source("hs", "r1", T0)
    assert lease.expires_at is None
    queued.mark_sending(["p1:0:0"], at(10**6), epoch=lease.epoch)


def test_renewing_a_lease_taken_over_is_refused(
    queued: SqlStateStore, other: SqlStateStore
) -> None:
    first = queued.acquire_source("hs", "r1", T0, ttl_seconds=TTL)
    queued.release_source(first)
    second = other.acquire_source("hs", "r2", at(1), ttl_seconds=TTL)
    with pytest.raises(LeaseLostError, match=r"at epoch 1 was lost \(it is at epoch 2"):
        queued.renew_source(first, at(2), TTL)
    assert other.source_lease("hs") == second


def test_an_unexpired_lease_is_not_taken_over(queued: SqlStateStore, other: SqlStateStore) -> None:
    lease = queued.acquire_source("hs", "r1", T0, ttl_seconds=TTL)
    with pytest.raises(SourceBusyError, match="run r1"):
        other.acquire_source("hs", "r2", at(TTL - 1), ttl_seconds=TTL)
    assert other.source_lease("hs") == lease


@pytest.mark.postgres
def test_an_expired_lease_is_taken_over_and_its_holder_fenced_off(pg_url: str) -> None:
    """The holder's process lives on (stopped, or its machine unreachable) and its lock session
    with it: another replica ends that session and takes the source at the next epoch."""
    frozen, replica = open_store(pg_url), open_store(pg_url)
    try:
        frozen.ensure_source("hs", "hubspot", T0)
        frozen.start_run("r1", "hs", T0, dry_run=False)
        frozen.save_plan("p1", "hs", "r1", T0, {}, [])
        frozen.enqueue("p1", "r1", [OutboxOp("p1:0:0", 0, 0, "update", "contacts", "1", {})], T0)
        old = frozen.acquire_source("hs", "r1", T0, ttl_seconds=TTL)

        taken = replica.acquire_source("hs", "r2", at(TTL + 1), ttl_seconds=TTL)
        assert (taken.epoch, taken.run_id) == (old.epoch + 1, "r2")
        assert replica.source_lease("hs") == taken
        with pytest.raises(LeaseLostError, match="at epoch 2"):
            frozen.mark_sending(["p1:0:0"], at(TTL + 2), epoch=old.epoch)
        with pytest.raises(LeaseLostError):
            frozen.renew_source(old, at(TTL + 2), TTL)
        replica.mark_sending(["p1:0:0"], at(TTL + 2), epoch=taken.epoch)
        frozen.release_source(old)  # what is left of it goes quietly; the new holder stays
        assert replica.source_lease("hs") == taken
    finally:
        frozen.close()
        replica.close()


def test_sqlite_cannot_break_a_live_holders_lock(sqlite_url: str) -> None:
    """A file lock lasts as long as its process: an expired lease of a live holder stays busy
    on SQLite (replicas need PostgreSQL)."""
    holder, replica = open_store(sqlite_url), open_store(sqlite_url)
    try:
        holder.ensure_source("hs", "hubspot", T0)
        holder.acquire_source("hs", "r1", T0, ttl_seconds=TTL)
        with pytest.raises(SourceBusyError):
            replica.acquire_source("hs", "r2", at(TTL + 1), ttl_seconds=TTL)
    finally:
        holder.close()
        replica.close()


def test_a_finished_run_is_not_finished_again(store: SqlStateStore) -> None:
    """A run found interrupted by the next holder stays so when its own process comes back."""
    store.ensure_source("hs", "hubspot", T0)
    store.start_run("r1", "hs", T0, dry_run=False)
    assert store.finish_run("r1", at(5), "failed", {}, error="interrupted: superseded by r2")
    assert not store.finish_run("r1", at(9), "succeeded", {"pulled": {}})
    run = store.get_run("r1")
    assert (run.status, run.error, run.finished_at) == (
        "failed",
        "interrupted: superseded by r2",
        at(5),
    )


@pytest.mark.postgres
def test_a_holder_frozen_mid_transaction_makes_takers_wait_not_hang(pg_url: str) -> None:
    """A holder stopped in the middle of a renewal keeps the lease row locked: another replica
    finds the source busy at once (it never blocks on the row), and the server ends such a
    session after a while (``idle_in_transaction_session_timeout``), which frees it."""
    frozen, replica = open_store(pg_url), open_store(pg_url)
    try:
        frozen.ensure_source("hs", "hubspot", T0)
        frozen.acquire_source("hs", "r1", T0, ttl_seconds=TTL)
        with frozen.engine.connect() as conn:
            timeout = conn.execute(sa.text("SHOW idle_in_transaction_session_timeout")).scalar()
            assert timeout == "30s"
            conn.execute(sa.text("SELECT * FROM source_leases FOR UPDATE"))  # mid-renewal
            with pytest.raises(SourceBusyError, match="run r1"):
                replica.acquire_source("hs", "r2", at(TTL + 1), ttl_seconds=TTL)
            conn.rollback()
        assert replica.acquire_source("hs", "r2", at(TTL + 1), ttl_seconds=TTL).epoch == 2
    finally:
        frozen.close()
        replica.close()
