"""A push killed with SIGKILL at any point, then run again: every change once, no task twice."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.hubspot.mapping import field_map
from sandbox.generator import generate
from sandbox.hubspot import HubSpotSandbox, SandboxState
from sandbox.hubspot.app import HubSpotApp
from sandbox.hubspot.faults import Fault
from sandbox.hubspot.wire import Request
from state.store import SqlStateStore, open_store

MARKER = re.compile(r"\[syncd:([^\]]+)\]")
ROUTE = "POST /crm/v3/objects/{objectType}/"


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    now = datetime.now(UTC)
    state = SandboxState.from_dataset(
        generate(records=200, seed=9, now=now), clock=lambda: datetime.now(UTC)
    )
    state.rate_limit = None
    state.search_rate_limit = None
    with HubSpotSandbox(state, port=0) as running:
        yield running


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


def syncd(cfg: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HUBSPOT_TOKEN": "sandbox"}
    return subprocess.Popen(
        [sys.executable, "-m", "syncd", "run", "-c", str(cfg), "--once", "--limit", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


class KillPoint:
    """A fault policy that holds the ``count``-th request on ``route`` in flight and says so.

    The held request is served after ``hold_s`` (the write lands), but the client has been
    killed by then and never hears the answer: the worst moment for exactly-once.
    """

    def __init__(self, route: str, count: int, hold_s: float = 1.0) -> None:
        self.route, self.count, self.hold_s = route, count, hold_s
        self.seen = 0
        self.reached = threading.Event()
        self._lock = threading.Lock()

    def decide(self, request: Request) -> Fault | None:
        if HubSpotApp.route_label(request) != self.route:
            return None
        with self._lock:
            self.seen += 1
            if self.seen != self.count:
                return None
        self.reached.set()
        return Fault(latency_s=self.hold_s)


def kill_when(proc: subprocess.Popen[bytes], point: KillPoint) -> None:
    """SIGKILL ``proc`` while the request at ``point`` is in flight."""
    if not point.reached.wait(timeout=120):
        proc.kill()
        out = proc.communicate()[0].decode()[-1500:]
        raise AssertionError(f"the run never reached the kill point: {out}")
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize(
    ("route", "count"),
    [
        (ROUTE + "batch/update", 1),  # mid updates
        ("POST /crm/v3/objects/{objectType}/merge", 2),  # mid merges
        (ROUTE + "batch/create", 1),  # mid task creation
    ],
)
def test_sigkill_mid_push_then_rerun(
    tmp_path: Path, sandbox: HubSpotSandbox, route: str, count: int
) -> None:
    state = sandbox.state
    point = KillPoint(route, count)
    state.faults = point
    cfg = config(tmp_path, sandbox.base_url)
    kill_when(syncd(cfg), point)
    time.sleep(point.hold_s + 0.2)  # the held request lands after the client died

    state.faults = None
    second = syncd(cfg)
    err, _ = second.communicate(timeout=120)
    assert second.returncode == 0, err.decode()[-2000:]

    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        runs = store.list_runs("hubspot")
        killed = [r for r in runs if r.error and r.error.startswith("interrupted")]
        assert len(killed) == 1, runs  # the next run recorded the killed one as interrupted
        first_plan = store.load_plan(_plan_ids(store)[0])
        outbox = store.outbox(first_plan.id)
        assert outbox, "the killed run had written its outbox before pushing"
        statuses = Counter(e.status for e in outbox)
        assert not statuses.get("pending"), statuses
        assert not statuses.get("sending"), statuses
        # every planned task exists exactly once (by its marker), or was skipped with a reason
        markers = Counter(
            m
            for task in state.live_records("tasks")
            for m in MARKER.findall(task.properties.get("hs_task_body") or "")
        )
        assert markers, "tasks were created"
        assert max(markers.values()) == 1, [k for k, n in markers.items() if n > 1]
        for entry in outbox:
            if entry.kind == "create_task" and entry.status == "applied":
                assert markers[entry.key] == 1, entry
            if entry.kind == "update" and entry.status == "applied":
                live = state.get(entry.object_type, entry.record_id)
                assert live is not None
                fields = entry.payload["fields"]
                assert isinstance(fields, dict)
                if live.id == entry.record_id:
                    vendor = field_map(entry.object_type).to_vendor(
                        {name: values["new"] for name, values in fields.items()}
                    )
                    for name, value in vendor.items():
                        assert (live.properties.get(name) or "") == (value or ""), entry
            if entry.status != "applied":
                assert entry.reason, entry
        # and no contact or deal has two open follow-ups from syncd
        per_record: Counter[str] = Counter()
        for object_type in ("contacts", "deals"):
            for record in state.live_records(object_type):
                for task_id in state.associated(object_type, record.id, "tasks"):
                    task = state.get("tasks", task_id)
                    body = (task.properties.get("hs_task_body") or "") if task else ""
                    if (
                        task
                        and MARKER.search(body)
                        and (task.properties.get("hs_task_status") != "COMPLETED")
                    ):
                        per_record[f"{object_type}:{record.id}"] += 1
        assert max(per_record.values()) == 1
    finally:
        store.close()


def _plan_ids(store: SqlStateStore) -> list[str]:
    """Plan ids, oldest first (the killed run's plan first)."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("select id from plans order by created_at")).all()
    return [str(r[0]) for r in rows]
