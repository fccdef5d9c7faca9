"""The ``/_sandbox/`` control API (faults, stats, clock) and ``syncd sandbox hubspot`` flags."""

from __future__ import annotations

import http.client
import json
import os
import shlex
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    SimplePublicObjectBatchInput,
)

from sandbox.hubspot import (
    HubSpotSandbox,
    RandomFaults,
    SandboxState,
    ScriptedFaults,
    SettableClock,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
UPDATE = "POST /crm/v3/objects/{objectType}/batch/update"


def _call(
    base: str, method: str, path: str, body: Any = None, *, token: str | None = None
) -> tuple[int | None, Any]:
    """One request on a fresh connection; status None when the connection was dropped."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        data = json.dumps(body) if body is not None else None
        connection.request(method, path, body=data, headers=headers)
        try:
            response = connection.getresponse()
        except http.client.RemoteDisconnected:
            return None, None
        raw = response.read()
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, raw.decode()
    finally:
        connection.close()


@pytest.fixture
def state() -> SandboxState:
    state = SandboxState(clock=lambda: NOW, rate_limit=None, search_rate_limit=None)
    state.create("contacts", {"email": "a@example.com"})
    return state


@pytest.fixture
def base(state: SandboxState) -> Iterator[str]:
    with HubSpotSandbox(state) as sandbox:
        yield sandbox.base_url


def test_fault_settings_round_trip(state: SandboxState, base: str) -> None:
    assert _call(base, "GET", "/_sandbox/faults") == (200, {"policy": "none"})
    status, body = _call(
        base,
        "PUT",
        "/_sandbox/faults",
        {"fault_rate": 0.25, "drop_rate": 0.1, "latency_ms": 5, "seed": 11},
    )
    assert status == 200
    assert body["policy"] == "random"
    assert (body["fault_rate"], body["drop_rate"], body["latency_ms"], body["seed"]) == (
        0.25,
        0.1,
        5,
        11,
    )
    assert body["status_mix"] == {"429": 4.0, "500": 1.0, "502": 1.0, "503": 1.0, "504": 1.0}
    policy = state.faults
    assert isinstance(policy, RandomFaults)
    assert _call(base, "PUT", "/_sandbox/faults", {"status_mix": {"503": 1}})[0] == 200
    assert state.faults is policy  # updated in place
    assert policy.status_mix == {503: 1.0}
    assert policy.fault_rate == 0.25
    assert _call(base, "GET", "/_sandbox/faults")[1]["status_mix"] == {"503": 1.0}

    status, body = _call(base, "PUT", "/_sandbox/faults", {"fault_rate": 2})
    assert (status, body["category"]) == (400, "VALIDATION_ERROR")
    assert "between 0 and 1" in body["message"]
    assert _call(base, "PUT", "/_sandbox/faults", {"speed": 1})[0] == 400
    assert _call(base, "PUT", "/_sandbox/faults", [1])[0] == 400
    assert policy.fault_rate == 0.25  # refused settings change nothing

    assert _call(base, "DELETE", "/_sandbox/faults") == (204, None)
    assert state.faults is None
    state.faults = ScriptedFaults()
    assert _call(base, "GET", "/_sandbox/faults") == (200, {"policy": "ScriptedFaults"})
    assert _call(base, "PUT", "/_sandbox/faults", {"drop_rate": 0.5})[0] == 200
    assert isinstance(state.faults, RandomFaults)  # installed over the scripted policy


def test_stats_count_requests_per_route_template(state: SandboxState, base: str) -> None:
    client = HubSpot(access_token="t", host=base)
    contact = state.contacts_with_email("a@example.com").pop()
    for city in ("Oslo", "Bergen"):
        client.crm.contacts.batch_api.update(
            BatchInputSimplePublicObjectBatchInput(
                inputs=[SimplePublicObjectBatchInput(id=contact, properties={"city": city})]
            )
        )
    client.crm.deals.basic_api.get_page()
    client.crm.owners.owners_api.get_page()
    client.crm.contacts.basic_api.get_by_id(contact)
    assert _call(base, "GET", "/crm/v3/nowhere", token="t")[0] == 404
    assert _call(base, "GET", "/crm/v3/objects/contacts")[0] == 401

    status, stats = _call(base, "GET", "/_sandbox/stats")
    assert status == 200
    assert stats == state.stats()
    assert stats["requests"] == {
        UPDATE: 2,
        "GET /crm/v3/objects/{objectType}": 2,
        "GET /crm/v3/objects/{objectType}/{objectId}": 1,
        "GET /crm/v3/owners": 1,
        "GET (unrouted)": 1,
    }
    assert stats["total"] == 7
    assert stats["statuses"] == {"200": 5, "401": 1, "404": 1}
    assert (stats["rate_limited"], stats["server_errors"], stats["dropped"]) == (0, 0, 0)

    assert _call(base, "DELETE", "/_sandbox/stats") == (204, None)
    assert state.stats()["total"] == 0
    assert state.stats()["requests"] == {}


def test_stats_agree_with_what_clients_saw(state: SandboxState, base: str) -> None:
    contact = state.contacts_with_email("a@example.com").pop()
    state.faults = RandomFaults(fault_rate=0.3, drop_rate=0.2, seed=8)
    seen: Counter[int | None] = Counter()
    for i in range(60):
        status, _ = _call(
            base,
            "POST",
            "/crm/v3/objects/contacts/batch/update",
            {"inputs": [{"id": contact, "properties": {"city": f"c{i}"}}]},
            token="t",
        )
        seen[status] += 1
    stats = state.stats()
    assert stats["requests"] == {UPDATE: 60}
    assert stats["dropped"] == seen[None] > 0
    assert stats["dropped_before"] > 0
    assert stats["dropped_after"] > 0
    assert stats["rate_limited"] == seen[429] > 0
    assert stats["server_errors"] == sum(n for s, n in seen.items() if s and s >= 500) > 0
    assert stats["statuses"]["200"] == seen[200]
    assert stats["injected"] == 60 - seen[200]
    # every processed update landed, heard or not: served ones and drops after the write
    assert state.version == 1 + seen[200] + stats["dropped_after"]


def test_the_clock_moves_forward_only_when_settable(base: str) -> None:
    status, body = _call(base, "GET", "/_sandbox/clock")
    assert (status, body) == (200, {"now": "2024-05-01T12:00:00.000Z", "settable": False})
    status, body = _call(base, "POST", "/_sandbox/clock", {"advance_s": 60})
    assert (status, body["category"]) == (409, "CONFLICT")


def test_a_settable_clock_is_driven_through_the_control_api() -> None:
    clock = SettableClock(lambda: NOW)
    state = SandboxState(clock=clock, rate_limit=None)
    with HubSpotSandbox(state) as sandbox:
        base = sandbox.base_url
        assert _call(base, "POST", "/_sandbox/clock", {"advance_s": 90})[1] == {
            "now": "2024-05-01T12:01:30.000Z",
            "settable": True,
        }
        target = "2024-06-01T00:00:00Z"
        assert _call(base, "POST", "/_sandbox/clock", {"now": target})[1]["now"] == (
            "2024-06-01T00:00:00.000Z"
        )
        assert clock() == datetime(2024, 6, 1, tzinfo=UTC)
        created = state.create("contacts", {"email": "b@example.com"})
        record = state.get("contacts", created)
        assert record is not None
        assert record.created_at == datetime(2024, 6, 1, tzinfo=UTC)
        for bad in ({"advance_s": -1}, {"now": "2024-01-01T00:00:00Z"}, {"now": "soon"}, {}):
            assert _call(base, "POST", "/_sandbox/clock", bad)[0] == 400
        assert _call(base, "POST", "/_sandbox/clock", {"advance_s": True})[0] == 400
    assert clock() == datetime(2024, 6, 1, tzinfo=UTC)
    assert clock.advance(timedelta(days=1)) == datetime(2024, 6, 2, tzinfo=UTC)


def _syncd() -> list[str]:
    script = Path(sys.executable).with_name("syncd")
    fallback = [sys.executable, "-c", "from syncd.cli import main; main()"]
    return [str(script)] if script.exists() else fallback


def test_the_cli_serves_with_faults_and_a_rate_limit() -> None:
    command = [
        *_syncd(),
        "sandbox",
        "hubspot",
        "--port",
        "0",
        "--records",
        "20",
        "--fault-rate",
        "0.5",
        "--drop-rate",
        "0.25",
        "--latency-ms",
        "3",
        "--fault-seed",
        "4",
        "--rate-limit",
        "7",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("HubSpot sandbox serving at http://127.0.0.1:"), line
        base = line.split(" at ")[1].strip()
        assert not base.endswith(":0")
        status, faults = _call(base, "GET", "/_sandbox/faults")
        assert status == 200
        assert (faults["fault_rate"], faults["drop_rate"]) == (0.5, 0.25)
        assert (faults["latency_ms"], faults["seed"]) == (3, 4)
        assert _call(base, "PUT", "/_sandbox/faults", {"fault_rate": 0, "drop_rate": 0})[0] == 200
        statuses = [_call(base, "GET", "/crm/v3/owners", token="sandbox")[0] for _ in range(7)]
        assert statuses == [200] * 7
        status, body = _call(base, "GET", "/crm/v3/owners", token="t")  # only "sandbox" by default
        assert (status, body["category"]) == (401, "INVALID_AUTHENTICATION")
        assert _call(base, "GET", "/crm/v3/owners", token="sandbox")[0] == 429
        stats = _call(base, "GET", "/_sandbox/stats")[1]
        assert stats["requests"] == {"GET /crm/v3/owners": 9}
        assert stats["rate_limited"] == 1
        clock = _call(base, "GET", "/_sandbox/clock")[1]
        assert clock["settable"] is True
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0


def test_the_cli_accepts_only_the_token_given() -> None:
    command = [*_syncd(), "sandbox", "hubspot", "--port", "0", "--records", "5", "--token", "T"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        base = process.stdout.readline().split(" at ")[1].strip()
        assert _call(base, "GET", "/crm/v3/objects/contacts", token="T")[0] == 200
        status, body = _call(base, "GET", "/crm/v3/objects/contacts", token="sandbox")
        assert status == 401
        assert body["category"] == "INVALID_AUTHENTICATION"
        assert body["message"].startswith("Authentication credentials not found.")
        status, auth = _call(base, "PUT", "/_sandbox/auth", {"tokens": ["U"]})
        assert (status, auth) == (200, {"token_required": True, "tokens": ["U"], "scopes": None})
        assert _call(base, "GET", "/crm/v3/objects/contacts", token="T")[0] == 401
        assert _call(base, "GET", "/crm/v3/objects/contacts", token="U")[0] == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_the_cli_stops_on_a_signal_even_started_with_sigint_ignored(stop: signal.Signals) -> None:
    # a shell's background job starts with SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler: the emulator listens for both signals itself
    syncd = " ".join(shlex.quote(part) for part in _syncd())
    script = f"trap '' INT; exec {syncd} sandbox hubspot --port 0 --records 5"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        ["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("HubSpot sandbox serving at http://127.0.0.1:"), line
        process.send_signal(stop)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_cli_refuses_an_empty_token() -> None:
    result = subprocess.run(
        [*_syncd(), "sandbox", "hubspot", "--port", "0", "--token", " "],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "a token must not be empty" in result.stderr


def test_the_cli_refuses_impossible_fault_rates() -> None:
    result = subprocess.run(
        [*_syncd(), "sandbox", "hubspot", "--fault-rate", "0.8", "--drop-rate", "0.5"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "must not exceed 1" in result.stderr
