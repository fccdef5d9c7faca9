"""Two ``syncd run --once`` on one store and one CRM: one pushes, the other refuses or waits."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox.generator import generate
from sandbox.hubspot import HubSpotSandbox, SandboxState
from sandbox.hubspot.app import HubSpotApp
from sandbox.hubspot.faults import Fault
from sandbox.hubspot.wire import Request
from state.base import AuditEntry
from state.store import open_store

FIRST_WRITE = "POST /crm/v3/objects/{objectType}/batch/update"


class HoldFirstWrite:
    """A fault policy that keeps the first batch update in flight until ``release`` is set:
    whoever sends it is mid-push, holding its source, for as long as the test needs."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._first = True

    def decide(self, request: Request) -> Fault | None:
        if HubSpotApp.route_label(request) != FIRST_WRITE:
            return None
        with self._lock:
            first, self._first = self._first, False
        if first:
            self.reached.set()
            self.release.wait(timeout=120)
        return None


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    state = SandboxState.from_dataset(
        generate(records=200, seed=9, now=datetime.now(UTC)), clock=lambda: datetime.now(UTC)
    )
    state.rate_limit = None
    state.search_rate_limit = None
    with HubSpotSandbox(state, port=0) as running:
        yield running


@pytest.fixture
def hold(sandbox: HubSpotSandbox) -> Iterator[HoldFirstWrite]:
    policy = HoldFirstWrite()
    sandbox.state.faults = policy
    yield policy
    policy.release.set()


def config(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "syncd.toml"
    path.write_text(
        '[store]\nurl = "sqlite:///state.db"\n[logging]\nlevel = "warning"\nformat = "json"\n'
        f'[sources.hubspot]\nconnector = "hubspot"\nbase_url = "{base_url}"\n'
        'token = "${HUBSPOT_TOKEN}"\nlookback_seconds = 0\n'
        "[sources.hubspot.apply.limits]\n"
        "updates = { share = 1.0 }\nmerges = { share = 1.0 }\ntasks = { share = 1.0 }\n"
    )
    return path


def syncd(cfg: Path, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "syncd", "run", "-c", str(cfg), "--once", "--limit", "1", *options],
        env={**os.environ, "HUBSPOT_TOKEN": "sandbox"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def first_to_exit(*procs: subprocess.Popen[str]) -> subprocess.Popen[str]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                return proc
        time.sleep(0.05)
    raise AssertionError("neither command finished")


def changes(entries: list[AuditEntry]) -> Counter[tuple[str | None, ...]]:
    """What the audit log says was changed in the CRM (a change written twice counts 2)."""
    return Counter((e.kind, e.object_type, e.record_id, e.field, e.before) for e in entries)


def test_two_runs_started_together_one_pushes_the_other_refuses(
    tmp_path: Path, sandbox: HubSpotSandbox, hold: HoldFirstWrite
) -> None:
    cfg = config(tmp_path, sandbox.base_url)
    a, b = syncd(cfg), syncd(cfg)
    assert hold.reached.wait(timeout=120), "no run reached its push"
    refused = first_to_exit(a, b)  # the one mid-push cannot finish: it is held
    holder = b if refused is a else a
    out, err = refused.communicate(timeout=60)
    hold.release.set()
    _, holder_err = holder.communicate(timeout=120)

    assert refused.returncode == 4, err
    assert holder.returncode == 0, holder_err[-2000:]
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        [run] = store.list_runs("hubspot")  # the refused command recorded no run
        assert run.status == "succeeded"
        assert f"source 'hubspot' is busy: run {run.id} (pid {holder.pid} on host" in err
        assert "--wait SECONDS" in err
        assert out == ""
        audit = store.audit()
        assert audit, "the holder pushed"
        assert {e.run_id for e in audit} == {run.id}
        assert max(changes(audit).values()) == 1
        assert store.source_lease("hubspot") is None  # released at the end
    finally:
        store.close()


def test_wait_lets_the_second_run_go_after_the_first(
    tmp_path: Path, sandbox: HubSpotSandbox, hold: HoldFirstWrite
) -> None:
    cfg = config(tmp_path, sandbox.base_url)
    first = syncd(cfg)
    assert hold.reached.wait(timeout=120), "the first run never reached its push"
    second = syncd(cfg, "--wait", "120")
    assert second.stderr is not None
    waiting = second.stderr.readline()  # it says that it waits, and for whom
    assert "source busy, waiting" in waiting, waiting + second.stderr.read()
    assert f"(pid {first.pid} on host" in waiting
    hold.release.set()
    _, first_err = first.communicate(timeout=120)
    _, second_err = second.communicate(timeout=120)

    assert first.returncode == 0, first_err[-2000:]
    assert second.returncode == 0, second_err[-2000:]
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        runs = store.list_runs("hubspot")
        assert [r.status for r in runs] == ["succeeded", "succeeded"]
        assert all(r.error is None for r in runs)  # neither was taken for interrupted
        audit = store.audit()
        assert {e.run_id for e in audit} >= {runs[1].id}
        assert max(changes(audit).values()) == 1  # the second did not redo the first's work
    finally:
        store.close()
