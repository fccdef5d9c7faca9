"""``syncd serve`` as a process against the HubSpot sandbox, checked from the outside.

It runs scheduled cycles, serves /healthz, /readyz and /metrics, raises ONE alert to a local
webhook while the sandbox refuses its token, however many runs fail, and a recovery message once
it accepts it again; SIGTERM stops it cleanly (exit 0, the runs finished or recorded).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from state.store import open_store
from tests.syncd.cli_support import serving, write_config
from tests.syncd.service.servers import Receiver, free_port
from tests.syncd.service.support import (
    Serve,
    get,
    metrics,
    sample,
    set_tokens,
    wait_for,
)

TOKEN = "pat-na1-0b1c2d3e-serve-test"
ALERTS = """
[service]
grace_seconds = 20
lease_ttl_seconds = 10
[alerts]
reminder_hours = 4
[alerts.retry]
max_attempts = 2
initial_wait_seconds = 0
max_wait_seconds = 0
[[alerts.channels]]
kind = "webhook"
url = "${SYNCD_ALERT_WEBHOOK_URL:-}"
"""


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for process in started:
        process.stop()


def test_serve_syncs_on_schedule_alerts_once_recovers_and_stops_on_sigterm(
    tmp_path: Path, receiver: Receiver, serve: list[Serve]
) -> None:
    with serving(records=60, tokens={TOKEN}) as sandbox:
        # a source with enabled = false is left out of the service (its token is nowhere)
        disabled = (
            '[sources.off]\nconnector = "hubspot"\nenabled = false\n'
            'base_url = "http://127.0.0.1:9"\ntoken = "${SYNCD_TEST_NEVER_SET}"\n'
        )
        cfg = write_config(
            tmp_path, {"crm": sandbox.base_url}, level="info", extra=disabled + ALERTS, attempts=1
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            "HUBSPOT_TOKEN": TOKEN,
            "SYNCD_ALERT_WEBHOOK_URL": receiver.url("/alerts"),
        }
        process = Serve(
            cfg, "--every", "0.5", "--http-port", str(port), env=env, log=tmp_path / "serve.log"
        )
        serve.append(process)

        def runs(outcome: str) -> float:
            return sample(metrics(base), "syncd_runs_total", source="crm", outcome=outcome)

        # scheduled cycles, health and metrics
        wait_for(lambda: runs("succeeded") >= 2, "two scheduled cycles", on_timeout=process.tail)
        assert get(base + "/healthz") == (200, '{"status": "ok"}')
        ready = get(base + "/readyz")
        assert ready is not None
        assert ready[0] == 200, ready
        found = metrics(base)
        assert sample(found, "syncd_records_pulled_total", source="crm", object_type="contacts")
        assert sample(found, "syncd_api_calls_total", vendor="hubspot") > 0
        assert sample(found, "syncd_last_success_timestamp_seconds", source="crm") > 0
        assert sample(found, "syncd_run_duration_seconds_count", source="crm") >= 2
        assert not [r for r in receiver.requests if r.path == "/alerts"]

        # the CRM refuses the token: one alert, however many runs fail
        set_tokens(sandbox.base_url, ["rotated"])
        wait_for(
            lambda: [r for r in receiver.requests if r.path == "/alerts"],
            "the alert",
            on_timeout=process.tail,
        )
        failed_then = runs("failed")
        wait_for(lambda: runs("failed") >= failed_then + 2, "two more failed runs")
        assert sample(metrics(base), "syncd_open_incidents", source="crm", cause="auth") == 1

        # accepted again: a recovery message
        set_tokens(sandbox.base_url, [TOKEN])
        wait_for(
            lambda: len([r for r in receiver.requests if r.path == "/alerts"]) >= 2,
            "the recovery message",
            on_timeout=process.tail,
        )
        succeeded_then = runs("succeeded")
        wait_for(lambda: runs("succeeded") > succeeded_then, "a cycle after the recovery")

        process.process.send_signal(signal.SIGTERM)
        code = wait_for(lambda: process.process.poll() is not None, "the exit on SIGTERM")
        assert code
        assert process.process.returncode == 0, process.tail()

    alerts = [r.json() for r in receiver.requests if r.path == "/alerts"]
    assert [a["kind"] for a in alerts] == ["opened", "resolved"], alerts
    opened, resolved = alerts
    assert (opened["source"], opened["cause"]) == ("crm", "auth")
    assert "401" in opened["message"]
    assert opened["command"] == f"syncd status -c {cfg.resolve()} --source crm"
    assert resolved["count"] >= 3  # the failure that opened it and the ones after
    logs = process.lines()
    assert any(line.get("event") == "syncd serve stopped" for line in logs)
    assert [line["writes_to"] for line in logs if line.get("event") == "syncd serve starting"] == [
        ["crm"]
    ]
    for line in logs:  # every line about a run names its source and run
        if line.get("event") in {"run started", "run finished", "run failed", "pulled"}:
            assert line.get("source") == "crm", line
            assert line.get("run_id"), line
    assert TOKEN not in process.output()  # never the token
    assert not [line for line in logs if line.get("source") == "off"]
    errors = {line.get("event") for line in logs if line.get("level") in {"error", "critical"}}
    assert errors <= {"run failed"}, errors
    assert not [line for line in logs if line.get("event") == "completeness audit failed"]
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        assert not [r for r in store.list_runs("crm", limit=500) if r.status == "running"]
        assert store.open_incidents() == []
        assert [i.cause for i in store.incidents("crm")] == ["auth"]
        assert store.next_run("crm") is not None
    finally:
        store.close()
