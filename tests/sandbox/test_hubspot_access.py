"""Authentication, rate limits (rolling window, search, daily), the fault seam, the control API."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInputForCreate
from hubspot.crm.contacts.exceptions import ServiceException, UnauthorizedException

from sandbox.hubspot import Fault, HubSpotSandbox, Response, SandboxState, ScriptedFaults

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Timer:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _call(
    base: str, path: str, *, token: str | None = "t", method: str = "GET", body: Any = None
) -> tuple[int, Any, dict[str, str]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = token if " " in token else f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


@pytest.fixture
def timer() -> Timer:
    return Timer()


@pytest.fixture
def state(timer: Timer) -> SandboxState:
    state = SandboxState(clock=lambda: NOW)
    state.rate_limiter.timer = timer
    state.create("contacts", {"email": "a@example.com"})
    return state


@pytest.fixture
def sandbox(state: SandboxState) -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(state) as sandbox:
        yield sandbox


@pytest.mark.parametrize("token", [None, "Basic dXNlcg==", "Bearer "])
def test_requests_without_a_bearer_token_are_refused(
    sandbox: HubSpotSandbox, token: str | None
) -> None:
    status, body, headers = _call(sandbox.base_url, "/crm/v3/objects/contacts", token=token)
    assert status == 401
    assert body["status"] == "error"
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert "Authentication credentials not found" in body["message"]
    assert uuid.UUID(body["correlationId"]).version == 4
    assert "X-HubSpot-RateLimit-Max" in headers


def test_the_sdk_sees_401_as_its_unauthorized_exception(sandbox: HubSpotSandbox) -> None:
    with pytest.raises(UnauthorizedException):
        HubSpot(host=sandbox.base_url).crm.contacts.basic_api.get_page()


def test_a_token_set_restricts_tokens_and_auth_can_be_off(state: SandboxState) -> None:
    with HubSpotSandbox(state, tokens={"good"}) as sandbox:
        assert _call(sandbox.base_url, "/crm/v3/objects/contacts", token="bad")[0] == 401
        assert _call(sandbox.base_url, "/crm/v3/objects/contacts", token="good")[0] == 200
    with HubSpotSandbox(state, token_required=False) as sandbox:
        assert _call(sandbox.base_url, "/crm/v3/objects/contacts", token=None)[0] == 200


def test_the_accepted_token_is_switched_at_run_time(state: SandboxState) -> None:
    with HubSpotSandbox(state, tokens={"good"}) as sandbox:
        client = HubSpot(access_token="good", host=sandbox.base_url)
        assert client.crm.contacts.basic_api.get_page().results
        status, body, _ = _call(sandbox.base_url, "/_sandbox/auth", token=None)
        assert (status, body) == (
            200,
            {"token_required": True, "tokens": ["good"], "scopes": None},
        )

        # the token is revoked: HubSpot's 401, as the SDK sees it
        status, body, _ = _call(
            sandbox.base_url, "/_sandbox/auth", token=None, method="PUT", body={"tokens": ["new"]}
        )
        assert (status, body["tokens"]) == (200, ["new"])
        with pytest.raises(UnauthorizedException) as refused:
            client.crm.contacts.basic_api.get_page()
        assert json.loads(refused.value.body)["category"] == "INVALID_AUTHENTICATION"

        # ... and installed again
        _call(
            sandbox.base_url, "/_sandbox/auth", token=None, method="PUT", body={"tokens": ["good"]}
        )
        assert client.crm.contacts.basic_api.get_page().results

        # null: any non-empty token; token_required false: none at all
        _call(sandbox.base_url, "/_sandbox/auth", token=None, method="PUT", body={"tokens": None})
        assert _call(sandbox.base_url, "/crm/v3/objects/contacts", token="other")[0] == 200
        status, body, _ = _call(
            sandbox.base_url,
            "/_sandbox/auth",
            token=None,
            method="PUT",
            body={"token_required": False},
        )
        assert body == {"token_required": False, "tokens": None, "scopes": None}
        assert _call(sandbox.base_url, "/crm/v3/objects/contacts", token=None)[0] == 200


@pytest.mark.parametrize(
    "body", [{"tokens": "good"}, {"tokens": [""]}, {"token_required": "yes"}, {"token": ["x"]}]
)
def test_bad_auth_settings_are_refused_and_change_nothing(
    state: SandboxState, body: dict[str, Any]
) -> None:
    with HubSpotSandbox(state, tokens={"good"}) as sandbox:
        status, answer, _ = _call(
            sandbox.base_url, "/_sandbox/auth", token=None, method="PUT", body=body
        )
        assert (status, answer["category"]) == (400, "VALIDATION_ERROR")
        assert _call(sandbox.base_url, "/_sandbox/auth", token=None)[1]["tokens"] == ["good"]
        assert _call(sandbox.base_url, "/crm/v3/objects/contacts", token="good")[0] == 200


def test_health_needs_no_token(sandbox: HubSpotSandbox) -> None:
    status, body, _ = _call(sandbox.base_url, "/_sandbox/health", token=None)
    assert status == 200
    assert body["status"] == "ok"
    assert body["objects"]["contacts"] == 1


def test_rolling_ten_second_window(
    timer: Timer, state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    state.rate_limiter.per_interval = 3
    remaining = []
    for _ in range(3):
        status, _, headers = _call(sandbox.base_url, "/crm/v3/objects/contacts")
        assert status == 200
        remaining.append(headers["X-HubSpot-RateLimit-Remaining"])
        assert headers["X-HubSpot-RateLimit-Max"] == "3"
        timer.now += 1.0
    assert remaining == ["2", "1", "0"]
    status, body, headers = _call(sandbox.base_url, "/crm/v3/objects/contacts")
    assert status == 429
    assert (body["category"], body["policyName"]) == ("RATE_LIMITS", "TEN_SECONDLY_ROLLING")
    assert body["status"] == "error"
    assert "Retry-After" not in headers
    timer.now += 7.01  # the first request leaves the window
    status, _, headers = _call(sandbox.base_url, "/crm/v3/objects/contacts")
    assert status == 200
    assert headers["X-HubSpot-RateLimit-Remaining"] == "0"


def test_unauthenticated_and_refused_requests_do_not_count(
    state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    state.rate_limiter.per_interval = 2
    for _ in range(5):
        assert _call(sandbox.base_url, "/crm/v3/objects/contacts", token=None)[0] == 401
    assert _call(sandbox.base_url, "/crm/v3/objects/contacts")[0] == 200
    assert _call(sandbox.base_url, "/crm/v3/objects/contacts")[0] == 200
    assert _call(sandbox.base_url, "/crm/v3/objects/contacts")[0] == 429
    headers = _call(sandbox.base_url, "/crm/v3/objects/contacts")[2]
    assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == str(650_000 - 2)


def test_search_has_its_own_per_second_limit(
    timer: Timer, state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    state.rate_limiter.search_per_second = 2
    search = "/crm/v3/objects/contacts/search"
    assert _call(sandbox.base_url, search, method="POST", body={})[0] == 200
    assert _call(sandbox.base_url, search, method="POST", body={})[0] == 200
    status, body, headers = _call(sandbox.base_url, search, method="POST", body={})
    # no policyName, no rate-limit headers (shared/notes/hubspot.md)
    assert (status, body) == (
        429,
        {
            "status": "error",
            "message": "You have reached your secondly limit.",
            "category": "RATE_LIMITS",
        },
    )
    assert not [h for h in headers if h.startswith("X-HubSpot-RateLimit")]
    assert headers["X-HubSpot-Correlation-Id"]
    assert _call(sandbox.base_url, "/crm/v3/objects/contacts")[0] == 200  # other calls go on
    timer.now += 1.01
    status, _, headers = _call(sandbox.base_url, search, method="POST", body={})
    assert status == 200
    assert not [h for h in headers if h.startswith("X-HubSpot-RateLimit")]


def test_search_is_exempt_from_the_ten_second_window(
    timer: Timer, state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    state.rate_limiter.per_interval = 2
    search = "/crm/v3/objects/contacts/search"
    for _ in range(4):  # neither refused by the window nor counted in it
        assert _call(sandbox.base_url, search, method="POST", body={})[0] == 200
        timer.now += 0.3
    status, _, headers = _call(sandbox.base_url, "/crm/v3/objects/contacts")
    assert (status, headers["X-HubSpot-RateLimit-Remaining"]) == (200, "1")


def test_daily_limit_and_retry_after(state: SandboxState, sandbox: HubSpotSandbox) -> None:
    state.rate_limiter.daily = 1
    state.send_retry_after = True
    assert _call(sandbox.base_url, "/crm/v3/objects/contacts")[0] == 200
    status, body, headers = _call(sandbox.base_url, "/crm/v3/objects/contacts")
    assert (status, body["policyName"]) == (429, "DAILY")
    assert int(headers["Retry-After"]) >= 1


def test_no_enforcement_still_sends_headers(state: SandboxState, sandbox: HubSpotSandbox) -> None:
    state.rate_limiter.per_interval = None
    for _ in range(200):
        status, _, headers = _call(sandbox.base_url, "/crm/v3/objects/contacts")
        assert status == 200
    assert headers["X-HubSpot-RateLimit-Max"] == "190"
    assert headers["X-HubSpot-RateLimit-Remaining"] == "0"


def test_injected_error_response(state: SandboxState, sandbox: HubSpotSandbox) -> None:
    state.record_exchanges = True
    state.faults = ScriptedFaults(
        Fault(response=Response(503, {"status": "error", "message": "down"})),
        match="/crm/v3/objects",
    )
    api = HubSpot(access_token="t", host=sandbox.base_url).crm.contacts.basic_api
    with pytest.raises(ServiceException):
        api.get_page(_request_timeout=5)
    assert len(api.get_page().results) == 1  # the queue is spent: served normally
    assert [e.status for e in state.request_log] == [503, 200]
    assert _call(sandbox.base_url, "/_sandbox/health", token=None)[0] == 200


def test_injected_drop_and_latency(state: SandboxState, sandbox: HubSpotSandbox) -> None:
    state.faults = ScriptedFaults(Fault(drop=True), Fault(latency_s=0.2))
    host, port = sandbox.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request("GET", "/crm/v3/objects/contacts", headers={"Authorization": "Bearer t"})
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        connection.getresponse()
    connection.close()
    started = time.monotonic()
    assert _call(sandbox.base_url, "/crm/v3/objects/contacts")[0] == 200
    assert time.monotonic() - started >= 0.2


def test_unknown_routes_and_methods(sandbox: HubSpotSandbox) -> None:
    assert _call(sandbox.base_url, "/crm/v3/nowhere")[0] == 404
    status, body, _ = _call(sandbox.base_url, "/crm/v3/objects/contacts", method="PUT", body={})
    assert (status, body["status"]) == (405, "error")
    assert _call(sandbox.base_url, "/crm/v3/objects/widgets")[0] == 400


def test_limits_are_settable_on_the_state(state: SandboxState, sandbox: HubSpotSandbox) -> None:
    state.rate_limit = 1
    assert state.rate_limiter.per_interval == 1
    assert _call(sandbox.base_url, "/crm/v3/objects/contacts")[0] == 200
    assert _call(sandbox.base_url, "/crm/v3/objects/contacts")[0] == 429
    state.rate_limit = None
    assert _call(sandbox.base_url, "/crm/v3/objects/contacts")[0] == 200
    state.search_rate_limit = None
    assert state.rate_limiter.search_per_second is None


def test_malformed_json_is_a_400(sandbox: HubSpotSandbox) -> None:
    host, port = sandbox.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request(
        "POST",
        "/crm/v3/objects/contacts",
        body=b"{not json",
        headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
    )
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    assert (response.status, body["category"]) == (400, "VALIDATION_ERROR")


def test_concurrent_clients(state: SandboxState, sandbox: HubSpotSandbox) -> None:
    state.rate_limit = None

    def work(worker: int) -> list[str]:
        api = HubSpot(access_token="t", host=sandbox.base_url).crm.contacts.basic_api
        return [
            api.create(
                SimplePublicObjectInputForCreate(properties={"email": f"w{worker}.{i}@example.com"})
            ).id
            for i in range(15)
        ]

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = [i for batch in pool.map(work, range(6)) for i in batch]
    assert len(set(ids)) == 90
    assert state.count("contacts") == 91


def test_a_running_sandbox_can_serve_another_state(
    state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    other = SandboxState(clock=lambda: NOW)
    other.create("contacts", {"email": "x@example.com"})
    other.create("contacts", {"email": "y@example.com"})
    sandbox.state = other
    assert sandbox.app.state is other
    assert len(_call(sandbox.base_url, "/crm/v3/objects/contacts")[1]["results"]) == 2
