"""Injected faults: seeded random 429/5xx, both kinds of dropped connection, latency."""

from __future__ import annotations

import http.client
import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import urllib3
from hubspot import HubSpot
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    SimplePublicObjectBatchInput,
)
from hubspot.crm.contacts.exceptions import ApiException, ServiceException

from sandbox.hubspot import Fault, HubSpotSandbox, RandomFaults, SandboxState, ScriptedFaults
from sandbox.hubspot.faults import injected_error
from sandbox.hubspot.spec import SpecValidator
from sandbox.hubspot.wire import Request

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LIST = Request("GET", "/crm/v3/objects/contacts")


def _outcome(fault: Fault | None) -> str:
    if fault is None:
        return "served"
    if fault.drop:
        return "drop_before"
    if fault.drop_after:
        return "drop_after"
    return str(fault.status) if fault.status is not None else "served"


def _outcomes(policy: RandomFaults, n: int) -> Counter[str]:
    return Counter(_outcome(policy.decide(LIST)) for _ in range(n))


@pytest.fixture
def state() -> SandboxState:
    state = SandboxState(clock=lambda: NOW, rate_limit=None, search_rate_limit=None)
    state.create("contacts", {"email": "a@example.com", "city": "Oslo"})
    return state


@pytest.fixture
def sandbox(state: SandboxState) -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(state) as sandbox:
        yield sandbox


def _raw_get(sandbox: HubSpotSandbox, path: str) -> tuple[int, bytes, dict[str, str]]:
    host, port = sandbox.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", path, headers={"Authorization": "Bearer t"})
        response = connection.getresponse()
        return response.status, response.read(), dict(response.headers)
    finally:
        connection.close()


# ---------------------------------------------------------------------------- the policy


def test_rates_are_roughly_honoured_and_reproducible() -> None:
    counts = _outcomes(RandomFaults(fault_rate=0.2, drop_rate=0.1, seed=42), 500)
    assert counts == _outcomes(RandomFaults(fault_rate=0.2, drop_rate=0.1, seed=42), 500)
    assert counts != _outcomes(RandomFaults(fault_rate=0.2, drop_rate=0.1, seed=43), 500)
    errors = sum(counts[str(s)] for s in (429, 500, 502, 503, 504))
    drops = counts["drop_before"] + counts["drop_after"]
    assert 70 <= errors <= 130  # 100 expected
    assert 30 <= drops <= 70  # 50 expected
    assert counts["drop_before"] > 0
    assert counts["drop_after"] > 0
    assert counts["429"] > counts["500"]  # the default mix weighs 429 four to one
    assert set(counts) <= {"served", "drop_before", "drop_after", "429", "500", "502", "503", "504"}


def test_the_status_mix_and_drop_flavour_are_chosen() -> None:
    only_503 = RandomFaults(fault_rate=1.0, status_mix={503: 1.0}, seed=1)
    assert _outcomes(only_503, 50) == Counter({"503": 50})
    after = RandomFaults(drop_rate=1.0, drop_after_share=1.0, seed=1)
    assert _outcomes(after, 20) == Counter({"drop_after": 20})
    before = RandomFaults(drop_rate=1.0, drop_after_share=0.0, seed=1)
    assert _outcomes(before, 20) == Counter({"drop_before": 20})
    calm = RandomFaults(seed=1)
    assert calm.decide(LIST) is None
    slow = RandomFaults(latency_ms=40, seed=1).decide(LIST)
    assert slow == Fault(latency_s=0.04)
    assert slow is not None
    assert not slow.injects
    rate_limited = RandomFaults(fault_rate=1.0, status_mix={429: 1}, retry_after_s=2).decide(LIST)
    assert rate_limited == Fault(status=429, retry_after_s=2)


def test_configure_keeps_or_restarts_the_sequence() -> None:
    policy = RandomFaults(fault_rate=0.5, seed=9)
    first = [_outcome(policy.decide(LIST)) for _ in range(30)]
    assert len(set(first)) > 1
    policy.configure(seed=9)  # a seed restarts the sequence
    assert [_outcome(policy.decide(LIST)) for _ in range(30)] == first
    fresh = RandomFaults(fault_rate=0.5, seed=9)
    for _ in range(10):
        fresh.decide(LIST)
    policy.configure(seed=9)
    for _ in range(10):
        policy.decide(LIST)
    policy.configure(latency_ms=5)  # no seed: the sequence carries on where it was
    assert [_outcome(policy.decide(LIST)) for _ in range(20)] == [
        _outcome(fresh.decide(LIST)) for _ in range(20)
    ]
    assert (policy.settings()["latency_ms"], policy.settings()["seed"]) == (5, 9)


@pytest.mark.parametrize(
    "settings",
    [
        {"fault_rate": 1.5},
        {"drop_rate": -0.1},
        {"fault_rate": 0.6, "drop_rate": 0.5},
        {"latency_ms": -1},
        {"status_mix": {418: 1.0}},
        {"status_mix": {}},
        {"status_mix": {429: 0}},
        {"seed": "x"},
        {"volume": 11},
    ],
)
def test_bad_settings_are_refused_and_change_nothing(settings: dict[str, object]) -> None:
    policy = RandomFaults(fault_rate=0.1, seed=3)
    before = policy.settings()
    with pytest.raises(ValueError, match=r"must|unknown|status_mix"):
        policy.configure(**settings)
    assert policy.settings() == before


# ---------------------------------------------------------------------------- on the wire


def test_injected_429_is_hubspots_and_matches_the_spec(
    state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    state.record_exchanges = True
    state.faults = RandomFaults(fault_rate=1.0, status_mix={429: 1}, retry_after_s=3, seed=5)
    status, raw, headers = _raw_get(sandbox, "/crm/v3/objects/contacts")
    body = json.loads(raw)
    assert status == 429
    assert body["status"] == "error"
    assert (body["category"], body["policyName"]) == ("RATE_LIMITS", "TEN_SECONDLY_ROLLING")
    assert body["errorType"] == "RATE_LIMIT"
    assert headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert headers["X-HubSpot-RateLimit-Max"] == "190"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert headers["Retry-After"] == "3"
    SpecValidator().validate_exchange(state.request_log[-1])
    assert state.stats()["rate_limited"] == 1


def test_injected_server_errors(state: SandboxState, sandbox: HubSpotSandbox) -> None:
    validator = SpecValidator()
    for status in (500, 503):
        state.faults = ScriptedFaults(Fault(status=status))
        got, raw, headers = _raw_get(sandbox, "/crm/v3/objects/contacts")
        body = json.loads(raw)
        assert (got, body["status"], body["category"]) == (status, "error", "INTERNAL_ERROR")
        assert "X-HubSpot-RateLimit-Max" in headers
        assert validator.response_problems("GET", "/crm/v3/objects/contacts", got, body) == []
    for status in (502, 504):  # a gateway answers these: HTML, no HubSpot headers
        state.faults = ScriptedFaults(Fault(status=status))
        got, raw, headers = _raw_get(sandbox, "/crm/v3/objects/contacts")
        assert got == status
        assert headers["Content-Type"].startswith("text/html")
        assert f"<h1>{status} ".encode() in raw
        assert not any(h.startswith("X-HubSpot") for h in headers)
    state.faults = ScriptedFaults(Fault(status=504))
    api = HubSpot(access_token="t", host=sandbox.base_url).crm.contacts.basic_api
    with pytest.raises(ServiceException) as caught:
        api.get_page()
    assert caught.value.status == 504
    with pytest.raises(ValueError, match="418"):
        injected_error(418, "id", {})


def test_control_paths_never_fail(state: SandboxState, sandbox: HubSpotSandbox) -> None:
    state.faults = RandomFaults(fault_rate=0.5, drop_rate=0.5, latency_ms=500, seed=1)
    started = time.monotonic()
    for _ in range(10):
        assert _raw_get(sandbox, "/_sandbox/health")[0] == 200
    assert time.monotonic() - started < 1.0
    assert state.stats()["total"] == 0  # control requests are not counted either


def _update_city(api: HubSpot, record_id: str, city: str) -> None:
    api.crm.contacts.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[SimplePublicObjectBatchInput(id=record_id, properties={"city": city})]
        )
    )


def test_a_drop_before_processing_loses_the_write(
    state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    contact = state.contacts_with_email("a@example.com").pop()
    client = HubSpot(access_token="t", host=sandbox.base_url)
    state.faults = RandomFaults(drop_rate=1.0, drop_after_share=0.0, seed=1)
    with pytest.raises(urllib3.exceptions.ProtocolError) as caught:
        _update_city(client, contact, "Bergen")
    assert isinstance(caught.value.args[1], http.client.RemoteDisconnected)
    record = state.get("contacts", contact)
    assert record is not None
    assert record.properties["city"] == "Oslo"
    assert state.stats()["dropped_before"] == 1


def test_a_drop_after_processing_applies_the_write_unheard(
    state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    contact = state.contacts_with_email("a@example.com").pop()
    client = HubSpot(access_token="t", host=sandbox.base_url)
    state.faults = RandomFaults(drop_rate=1.0, drop_after_share=1.0, seed=1)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        _update_city(client, contact, "Bergen")
    record = state.get("contacts", contact)
    assert record is not None
    assert record.properties["city"] == "Bergen"
    stats = state.stats()
    assert (stats["dropped_after"], stats["dropped_before"]) == (1, 0)
    assert stats["statuses"] == {}  # nothing was delivered
    state.faults = None  # the client recovers on a fresh connection
    _update_city(client, contact, "Tromsø")
    record = state.get("contacts", contact)
    assert record is not None
    assert record.properties["city"] == "Tromsø"


def test_latency_is_added_to_every_answer(state: SandboxState, sandbox: HubSpotSandbox) -> None:
    state.faults = RandomFaults(latency_ms=150, seed=1)
    api = HubSpot(access_token="t", host=sandbox.base_url).crm.contacts.basic_api
    for _ in range(2):
        started = time.monotonic()
        assert len(api.get_page().results) == 1
        assert time.monotonic() - started >= 0.15
    assert state.stats()["injected"] == 0


def test_the_sdk_sees_injected_faults_as_its_exceptions(
    state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    state.faults = ScriptedFaults(Fault(status=429), Fault(status=503))
    api = HubSpot(access_token="t", host=sandbox.base_url).crm.contacts.basic_api
    with pytest.raises(ApiException) as limited:
        api.get_page()
    assert limited.value.status == 429
    assert limited.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    with pytest.raises(ServiceException):
        api.get_page()
    assert len(api.get_page().results) == 1
