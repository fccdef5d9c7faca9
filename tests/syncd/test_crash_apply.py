"""``syncd apply PLAN_ID`` killed with SIGKILL mid-push, then the same command again.

The second apply finishes the plan (each change once, no task twice) and is not refused as
drift: the records changed since the plan are the ones syncd wrote. A third apply says the plan
is already fully applied, exits 0 and sends nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandbox.generator import generate
from sandbox.hubspot import HubSpotSandbox, SandboxState
from state.store import open_store
from syncd.cli import app
from tests.syncd.test_crash import MARKER, ROUTE, KillPoint, config, kill_when


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


def spawn(cfg: Path, *args: str) -> subprocess.Popen[bytes]:
    """``syncd ARGS -c CFG`` in a process of its own (to be killed)."""
    env = {**os.environ, "HUBSPOT_TOKEN": "sandbox"}
    return subprocess.Popen(
        [sys.executable, "-m", "syncd", *args, "-c", str(cfg)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def syncd(cfg: Path, *args: str) -> tuple[int, str]:
    """``syncd ARGS -c CFG`` in this process: exit code and output."""
    result = CliRunner().invoke(app, [*args, "-c", str(cfg)])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "route",
    [ROUTE + "batch/update", ROUTE + "batch/create"],  # updates in flight; a task creation
)
def test_apply_killed_mid_push_then_applied_again(
    tmp_path: Path, sandbox: HubSpotSandbox, route: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    state = sandbox.state
    cfg = config(tmp_path, sandbox.base_url)
    code, out = syncd(cfg, "plan", "--format", "json", "-o", str(tmp_path / "p.json"))
    assert code == 0, out[-2000:]
    plan_id = json.loads((tmp_path / "p.json").read_text())["plan_id"]

    point = KillPoint(route, 1)
    state.faults = point
    kill_when(spawn(cfg, "apply", plan_id), point)
    time.sleep(point.hold_s + 0.2)  # the held request lands after the client died
    state.faults = None

    code, out = syncd(cfg, "apply", plan_id)
    assert code == 0, out[-2000:]
    assert "Pushed plan" in out

    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        outbox = store.outbox(plan_id)
        statuses = Counter(e.status for e in outbox)
        assert not statuses.get("pending"), statuses
        assert not statuses.get("sending"), statuses
        assert statuses["applied"] > 0
        audit = [e for e in store.audit(source="hubspot") if e.plan_id == plan_id]
        # each change applied once: one audit entry per applied operation and field
        per_change = Counter((e.key, e.field) for e in audit)
        assert max(per_change.values()) == 1, [k for k, n in per_change.items() if n > 1]
        audited = {e.key for e in audit}
        # a merge's survivor values that the CRM's merge itself carried over were not written
        # by syncd: the merge's audit entry covers them
        merged_into = {e.record_id for e in outbox if e.kind == "merge"}
        for entry in outbox:
            carried = entry.record_id in merged_into and entry.result.get("already")
            if entry.status == "applied" and not carried:
                assert entry.key in audited, entry
                if entry.kind == "update":
                    fields = entry.payload["fields"]
                    assert isinstance(fields, dict)
                    logged = {f for k, f in per_change if k == entry.key}
                    if entry.record_id in merged_into:  # the merge may have carried some over
                        assert logged <= set(fields), entry
                    else:
                        assert logged == set(fields), entry
            else:
                assert entry.reason, entry
        # no task twice: every marker once, every applied task op's marker present
        markers = Counter(
            m
            for task in state.live_records("tasks")
            for m in MARKER.findall(task.properties.get("hs_task_body") or "")
        )
        assert markers
        assert max(markers.values()) == 1, [k for k, n in markers.items() if n > 1]
        for entry in outbox:
            if entry.kind == "create_task" and entry.status == "applied":
                assert markers[entry.key] == 1, entry
    finally:
        store.close()

    before = state.stats()["total"]
    code, out = syncd(cfg, "apply", plan_id)
    assert code == 0, out[-2000:]
    assert f"plan {plan_id} is already fully applied" in out
    assert f"{statuses['applied']} applied" in out
    assert state.stats()["total"] == before  # nothing sent, nothing read
