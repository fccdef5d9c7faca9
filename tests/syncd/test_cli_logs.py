"""Logs that tell the story of a run: start and end with counts, each push batch, each retry
with its reason and correlation id, conflicts and skips; debug adds each request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.hubspot.faults import RandomFaults
from tests.syncd.cli_support import serving, syncd, write_config


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")


def events(stderr: str) -> list[dict[str, Any]]:
    """The JSON log lines of stderr (every line must be one)."""
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


def test_a_run_logs_its_story_and_debug_adds_requests(tmp_path: Path) -> None:
    with serving() as sandbox:
        config = write_config(tmp_path, {"hubspot": sandbox.base_url}, attempts=8)
        planned = json.loads(syncd("plan", "-c", config, "-f", "json").stdout)
        update = next(c for c in planned["changes"] if c["kind"] == "update")
        sandbox.state.update("contacts", update["record_id"], {update["field"]: "typed later"})
        sandbox.state.faults = RandomFaults(fault_rate=0.25, seed=4, status_mix={503: 1.0})
        result = syncd(
            "--log-level", "debug", "--log-format", "json",
            "apply", planned["plan_id"], "-c", config, "-f", "json",
        )  # fmt: skip
    assert result.exit_code in (0, 3), result.output
    logged = events(result.stderr)
    by_event: dict[str, list[dict[str, Any]]] = {}
    for line in logged:
        by_event.setdefault(line["event"], []).append(line)
    run_id = json.loads(result.stdout)["run_id"]

    [started] = by_event["run started"]
    assert (started["kind"], started["run_id"], started["source"]) == ("apply", run_id, "hubspot")
    [finished] = by_event["run finished"]
    assert finished["applied"] > 0
    assert "pulled" in finished
    assert "seconds" in finished
    batches = by_event["push batch"]
    assert {b["operation"] for b in batches} >= {"contacts batch update", "tasks batch create"}
    assert all(b["inputs"] >= 1 for b in batches)
    retries = by_event["retrying"]
    assert all("HubSpot answered 503" in r["reason"] for r in retries)
    assert all("correlationId=" in r["reason"] for r in retries)
    assert all(r["wait_seconds"] >= 0 for r in retries)
    [conflict] = [c for c in by_event["conflict"] if f":{_seq(planned, update)}:" in c["key"]]
    assert "changed in the CRM since the plan" in conflict["reason"]
    requests = by_event["request"]
    assert {"operation", "status", "seconds"} <= requests[0].keys()
    assert by_event["request failed"]  # the injected 503s, before their retry


def _seq(plan: dict[str, Any], change: dict[str, Any]) -> int:
    return int(plan["changes"].index(change))


def test_the_config_level_holds_unless_the_command_line_says_otherwise(tmp_path: Path) -> None:
    with serving() as sandbox:
        config = write_config(tmp_path, {"hubspot": sandbox.base_url}, level="warning")
        quiet = syncd("plan", "-c", config, "-f", "json")
        loud = syncd("--log-level", "info", "--log-format", "json", "plan", "-c", config)
        console = syncd("--log-level", "info", "--log-format", "console", "plan", "-c", config)
    assert quiet.stderr == ""
    assert {"run started", "pulled", "policy", "run finished"} <= {
        e["event"] for e in events(loud.stderr)
    }
    assert "run started" in console.stderr
    assert not console.stderr.lstrip().startswith("{")
