"""Two ``syncd serve`` replicas on one PostgreSQL store share two sources (two sandboxes).

The replica holding a source mid-push is first frozen (SIGSTOP: its machine vanished, its
connections linger), then later another holder is killed (SIGKILL). Each time the other replica
takes the source over within a lease's time to live and finishes its push; the frozen one,
woken up, is fenced off. In the end every source is synced, no run of a source overlapped
another, nothing was applied twice (the audit log has no duplicate, the CRM no task twice).
"""

from __future__ import annotations

import itertools
import os
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox.hubspot import HubSpotSandbox
from state.base import RunInfo
from state.store import SqlStateStore, open_store
from tests.syncd.cli_support import serving, write_config
from tests.syncd.service.support import Serve, wait_for
from tests.syncd.test_crash import MARKER, ROUTE, KillPoint

pytestmark = pytest.mark.postgres

SERVICE = """
[service]
grace_seconds = 10
lease_ttl_seconds = 3
[service.http]
port = 0
"""
UPDATE = ROUTE + "batch/update"


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for process in started:
        if process.process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
        process.stop()


def completed_after(store: SqlStateStore, source: str, moment: datetime) -> RunInfo | None:
    """A run of ``source`` started after ``moment`` that completed, its outbox drained."""
    if store.outbox_depth().get(source):
        return None
    return next(
        (
            r
            for r in store.list_runs(source, limit=200)
            if r.started_at > moment and r.status == "succeeded"
        ),
        None,
    )


def holder_of(store: SqlStateStore, source: str, pids: set[int]) -> int | None:
    lease = store.source_lease(source)
    return lease.pid if lease is not None and lease.pid in pids else None


def test_replicas_take_over_a_frozen_and_a_killed_holder_and_apply_nothing_twice(
    tmp_path: Path, pg_url: str, replicas: list[Serve]
) -> None:
    with ExitStack() as stack:
        crms: dict[str, HubSpotSandbox] = {
            name: stack.enter_context(serving(records=80, seed=seed))
            for name, seed in (("a", 3), ("b", 4))
        }
        for crm in crms.values():
            crm.state.faults = KillPoint(UPDATE, 1)  # the first push of each is held 1 s
        cfg = write_config(
            tmp_path,
            {name: crm.base_url for name, crm in crms.items()},
            store=pg_url,
            level="info",
            extra=SERVICE,
        )
        env = {"HUBSPOT_TOKEN": "sandbox"}
        for n in (1, 2):
            replicas.append(Serve(cfg, "--every", "1", env=env, log=tmp_path / f"replica{n}.log"))
        pids = {r.pid for r in replicas}
        by_pid = {r.pid: r for r in replicas}

        def logs() -> str:
            return "\n".join(f"--- {r.log.name}\n{r.tail()}" for r in replicas)

        store = open_store(pg_url)
        try:
            # 1. the holder of source a freezes mid-push (SIGSTOP): the other takes a over
            point = crms["a"].state.faults
            assert isinstance(point, KillPoint)
            wait_for(point.reached.is_set, "a's first push", on_timeout=logs)
            frozen = wait_for(lambda: holder_of(store, "a", pids), "a's holder", on_timeout=logs)
            os.kill(frozen, signal.SIGSTOP)
            stopped_at = datetime.now(UTC)
            wait_for(
                lambda: completed_after(store, "a", stopped_at),
                "the other replica to take a over and finish its push",
                on_timeout=logs,
            )
            taken = store.source_lease("a")
            assert taken is None or taken.pid != frozen
            os.kill(frozen, signal.SIGCONT)  # it wakes up fenced off

            # 2. the holder of source b is killed mid-push (SIGKILL): the other takes b over.
            # The kill point is armed once b is synced, so that it holds the push of the edit:
            # armed before, it could hold a push resumed from the freeze (the frozen replica
            # may have held b too), and the kill land between two runs, with none to interrupt.
            wait_for(lambda: completed_after(store, "b", stopped_at), "b synced", on_timeout=logs)
            crms["b"].state.faults = kill = KillPoint(UPDATE, 1)
            contact = next(iter(crms["b"].state.live_records("contacts")))
            crms["b"].state.update("contacts", contact.id, {"city": "  Spring   field "})
            wait_for(kill.reached.is_set, "b's push of the edit", on_timeout=logs)
            victim = wait_for(lambda: holder_of(store, "b", pids), "b's holder", on_timeout=logs)
            os.kill(victim, signal.SIGKILL)
            by_pid[victim].process.wait()
            killed_at = datetime.now(UTC)
            wait_for(
                lambda: completed_after(store, "b", killed_at),
                "the survivor to take b over and finish its push",
                on_timeout=logs,
            )
            wait_for(
                lambda: (
                    crms["b"].state.get("contacts", contact.id).properties["city"]  # type: ignore[union-attr]
                    == "Spring field"
                ),
                "the edit normalized in the CRM",
                on_timeout=logs,
            )
            for survivor in replicas:
                if survivor.pid != victim:
                    survivor.process.send_signal(signal.SIGTERM)
                    code = wait_for(lambda s=survivor: s.process.poll() is not None, "the exit")
                    assert code
                    assert survivor.process.returncode == 0, survivor.tail()

            for name, crm in crms.items():
                runs = sorted(store.list_runs(name, limit=500), key=lambda r: r.started_at)
                assert runs, name
                assert {r.status for r in runs} <= {"succeeded", "failed", "partial"}, runs
                for before, after in itertools.pairwise(runs):  # none overlapped
                    assert before.finished_at is not None
                    assert before.finished_at <= after.started_at, (before, after)
                assert not store.outbox_depth().get(name)
                audit = store.audit(source=name)
                assert audit
                applied = Counter((e.key, e.field) for e in audit)
                assert max(applied.values()) == 1, [k for k, n in applied.items() if n > 1]
                markers = Counter(
                    m
                    for task in crm.state.live_records("tasks")
                    for m in MARKER.findall(task.properties.get("hs_task_body") or "")
                )
                assert markers, name
                assert max(markers.values()) == 1, [k for k, n in markers.items() if n > 1]
            interrupted = [
                r
                for name in crms
                for r in store.list_runs(name, limit=500)
                if (r.error or "").startswith("interrupted")
            ]
            assert len(interrupted) >= 2  # the frozen run and the killed one
        finally:
            store.close()
    thawed = by_pid[frozen].output()
    assert "was lost" in thawed, thawed[-3000:]  # woken up, it stopped writing
