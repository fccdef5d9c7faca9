"""Source leases: one holder at a time, a growing epoch, fenced outbox writes; both databases."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from model.errors import LeaseLostError, SourceBusyError, StateError
from state.base import OpOutcome, OutboxOp, SourceLease
from state.locks import advisory_key, lock_path
from state.store import SqlStateStore, open_store

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)

HOLD = """
import sys, time
from datetime import UTC, datetime
from state.store import open_store
store = open_store(sys.argv[1])
store.acquire_source("hs", "child-run", datetime.now(UTC))
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture
def other(state_url: str, store: SqlStateStore) -> Iterator[SqlStateStore]:
    """A second store on the same database: another command."""
    store.ensure_source("hs", "hubspot", T0)
    opened = open_store(state_url)
    yield opened
    opened.close()


def test_a_second_holder_is_refused_with_the_holder_named(
    store: SqlStateStore, other: SqlStateStore
) -> None:
    lease = store.acquire_source("hs", "run-1", T0)
    assert (lease.source, lease.epoch, lease.run_id, lease.since) == ("hs", 1, "run-1", T0)
    assert (lease.host, lease.pid) == (socket.gethostname(), os.getpid())
    assert other.source_lease("hs") == lease

    with pytest.raises(SourceBusyError) as busy:
        other.acquire_source("hs", "run-2", T1)
    message = str(busy.value)
    assert "'hs' is busy" in message
    assert f"run run-1 (pid {os.getpid()} on host {socket.gethostname()}" in message
    assert "since 2024-03-01 12:00:00 UTC" in message
    assert "--wait SECONDS" in message
    assert busy.value.source == "hs"
    with pytest.raises(SourceBusyError):
        store.acquire_source("hs", "run-3", T1)  # one holder, even within one store
    assert other.source_lease("hs") == lease  # the refused ones changed nothing


def test_the_epoch_grows_with_every_holder(store: SqlStateStore, other: SqlStateStore) -> None:
    first = store.acquire_source("hs", "run-1", T0)
    store.release_source(first)
    assert store.source_lease("hs") is None
    second = other.acquire_source("hs", "run-2", T1)
    other.release_source(second)
    third = store.acquire_source("hs", "run-3", T1)
    assert [first.epoch, second.epoch, third.epoch] == [1, 2, 3]
    assert store.source_lease("hs") == third
    store.release_source(first)  # long released: ignored, the holder stays
    assert store.source_lease("hs") == third


def test_sources_are_leased_independently(store: SqlStateStore, other: SqlStateStore) -> None:
    store.ensure_source("sf one/two", "salesforce", T0)
    store.acquire_source("hs", "run-1", T0)
    lease = other.acquire_source("sf one/two", "run-2", T0)
    assert lease.epoch == 1
    with pytest.raises(StateError, match="unknown source"):
        other.acquire_source("nope", "run-3", T0)


def test_waiting_gets_the_lease_once_the_holder_lets_go(
    state_url: str, store: SqlStateStore
) -> None:
    store.ensure_source("hs", "hubspot", T0)
    held = store.acquire_source("hs", "run-1", T0)
    clock = [100.0]
    naps: list[float] = []

    def sleep(seconds: float) -> None:  # the holder finishes during the second nap
        naps.append(seconds)
        clock[0] += seconds
        if len(naps) == 2:
            store.release_source(held)

    waiting = open_store(state_url, sleep=sleep, monotonic=lambda: clock[0])
    try:
        lease = waiting.acquire_source("hs", "run-2", T0, wait_seconds=30)
        assert lease.epoch == 2
        assert lease.since == T0 + timedelta(seconds=sum(naps))  # when it got the lease
        assert naps == [0.2, 0.2]
        assert waiting.source_lease("hs") == lease
    finally:
        waiting.close()


def test_waiting_gives_up_at_the_deadline(state_url: str, store: SqlStateStore) -> None:
    store.ensure_source("hs", "hubspot", T0)
    store.acquire_source("hs", "run-1", T0)
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    waiting = open_store(state_url, sleep=sleep, monotonic=lambda: clock[0])
    try:
        with pytest.raises(SourceBusyError, match=r"busy \(waited 0.5 s\): run run-1"):
            waiting.acquire_source("hs", "run-2", T0, wait_seconds=0.5)
        assert clock[0] == pytest.approx(0.5)
    finally:
        waiting.close()


def _not_recorded_at_first(
    monkeypatch: pytest.MonkeyPatch, store: SqlStateStore, recorded_after: int
) -> None:
    """``store`` sees the holder's lock taken but its record missing for the first
    ``recorded_after`` reads: a command that has just started and not written itself yet."""
    real, reads = store.source_lease, [0]

    def source_lease(source: str) -> SourceLease | None:
        reads[0] += 1
        return real(source) if reads[0] > recorded_after else None

    monkeypatch.setattr(store, "source_lease", source_lease)


def test_a_holder_not_recorded_yet_is_waited_for_to_be_named(
    state_url: str, store: SqlStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.ensure_source("hs", "hubspot", T0)
    store.acquire_source("hs", "run-1", T0)
    clock, naps = [0.0], []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        clock[0] += seconds

    refused = open_store(state_url, sleep=sleep, monotonic=lambda: clock[0])
    try:
        _not_recorded_at_first(monkeypatch, refused, recorded_after=2)
        with pytest.raises(SourceBusyError, match=r"is busy: run run-1 \(pid"):
            refused.acquire_source("hs", "run-2", T0)
        assert naps == [0.2, 0.2]
        _not_recorded_at_first(monkeypatch, refused, recorded_after=1000)
        clock[0], naps[:] = 0.0, []
        with pytest.raises(SourceBusyError, match=r"busy: another command \(not recorded yet\)"):
            refused.acquire_source("hs", "run-3", T0)
        assert sum(naps) == pytest.approx(2.0)  # no longer than HOLDER_RECORD_SECONDS
    finally:
        refused.close()


@pytest.fixture
def queued(store: SqlStateStore) -> SqlStateStore:
    """Source ``hs`` with plan p1 of run r1 and its two ops p1:0:0, p1:1:0 enqueued."""
    store.ensure_source("hs", "hubspot", T0)
    store.start_run("r1", "hs", T0, dry_run=False)
    store.save_plan("p1", "hs", "r1", T0, {}, [])
    ops = [OutboxOp(f"p1:{n}:0", n, 0, "update", "contacts", "12", {}) for n in (0, 1)]
    store.enqueue("p1", "r1", ops, T0)
    return store


def test_a_stale_epoch_is_refused_and_changes_nothing(
    queued: SqlStateStore, other: SqlStateStore
) -> None:
    first = queued.acquire_source("hs", "r1", T0)
    queued.mark_sending(["p1:0:0"], T0, epoch=first.epoch)
    queued.release_source(first)
    with pytest.raises(LeaseLostError, match="no command holds it now"):
        queued.mark_sending(["p1:1:0"], T1, epoch=first.epoch)  # released: not held any more
    second = other.acquire_source("hs", "r2", T1)

    with pytest.raises(LeaseLostError, match=r"at epoch 1 was lost \(it is at epoch 2, held by"):
        queued.mark_sending(["p1:1:0"], T1, epoch=first.epoch)
    with pytest.raises(LeaseLostError, match="run r2"):
        queued.record_results([OpOutcome("p1:0:0", "applied")], T1, epoch=first.epoch)
    assert [(e.status, e.attempts, e.updated_at) for e in queued.outbox("p1")] == [
        ("sending", 0, T0),
        ("pending", 0, T0),
    ]
    assert queued.audit() == []

    other.record_results([OpOutcome("p1:0:0", "applied")], T1, epoch=second.epoch)
    other.mark_sending(["p1:1:0"], T1, epoch=second.epoch)
    assert [e.status for e in queued.outbox("p1")] == ["applied", "sending"]


def test_a_killed_holder_leaves_the_source_free(state_url: str, store: SqlStateStore) -> None:
    store.ensure_source("hs", "hubspot", T0)
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, state_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "held\n", child.stdout.read()
        with pytest.raises(SourceBusyError, match=f"run child-run \\(pid {child.pid} "):
            store.acquire_source("hs", "run-2", T0)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    # the lock went with the process (PostgreSQL may take a moment to end its session)
    lease = store.acquire_source("hs", "run-2", T1, wait_seconds=30)
    assert lease.epoch == 2
    assert store.source_lease("hs") == lease


@pytest.mark.postgres
def test_a_holder_whose_connection_died_is_fenced_off(
    pg_url: str, pg_admin_engine: sa.Engine
) -> None:
    first, second = open_store(pg_url), open_store(pg_url)
    try:
        first.ensure_source("hs", "hubspot", T0)
        first.start_run("r1", "hs", T0, dry_run=False)
        first.save_plan("p1", "hs", "r1", T0, {}, [])
        first.enqueue("p1", "r1", [OutboxOp("p1:0:0", 0, 0, "update", "contacts", "1", {})], T0)
        lease = first.acquire_source("hs", "r1", T0)
        with first.engine.connect() as conn:
            key = advisory_key(conn.execute(sa.text("SELECT current_schema()")).scalar_one(), "hs")
        held_by = (
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' "
            "AND classid = :high AND objid = :low AND objsubid = 1"
        )
        keys = {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF}
        with pg_admin_engine.connect() as conn:
            # the lock's own connection sits idle, not in a transaction for the whole run
            states = conn.execute(
                sa.text(f"SELECT state FROM pg_stat_activity WHERE pid IN ({held_by})"), keys
            ).all()
            assert states == [("idle",)]
            # then the server drops that connection
            killed = conn.execute(
                sa.text(f"SELECT pg_terminate_backend(pid) FROM ({held_by}) AS holder"),
                keys,
            ).all()
        assert killed == [(True,)]
        taken = second.acquire_source("hs", "r2", T1, wait_seconds=30)
        assert taken.epoch == 2
        with pytest.raises(LeaseLostError):
            first.mark_sending(["p1:0:0"], T1, epoch=lease.epoch)
        assert [e.status for e in first.outbox("p1")] == ["pending"]
        first.release_source(lease)  # what is left of it goes quietly; the new holder stays
        assert first.source_lease("hs") == taken
    finally:
        first.close()
        second.close()


def test_an_in_memory_store_leases_within_the_process() -> None:
    store = open_store("sqlite:///:memory:")
    try:
        store.ensure_source("hs", "hubspot", T0)
        lease = store.acquire_source("hs", "run-1", T0)
        with pytest.raises(SourceBusyError, match="run run-1"):
            store.acquire_source("hs", "run-2", T0)
        store.release_source(lease)
        assert store.acquire_source("hs", "run-2", T0).epoch == 2
    finally:
        store.close()


def test_lock_files_are_one_per_source_with_safe_names() -> None:
    assert str(lock_path("/data/state.db", "hubspot-eu_1")) == "/data/state.db.hubspot-eu_1.lock"
    odd = lock_path("/data/state.db", "../sf one")
    assert odd.parent.as_posix() == "/data"
    assert odd.name.startswith("state.db.___sf_one-")
    assert odd != lock_path("/data/state.db", "../sf_one")
