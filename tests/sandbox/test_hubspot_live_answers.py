"""Answers a live portal gives that a kind emulator would not: 403 MISSING_SCOPES, 530 for a
malformed token, 423 Locked under heavy writes, a correlation id on every answer, the account's
details, and a task's create date (``hs_createdate``, no ``createdate``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.hubspot import HubSpotSandbox, SandboxState
from sandbox.hubspot.store import portal_id_for

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Timer:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _call(
    base: str, path: str, *, token: str = "t", method: str = "GET", body: Any = None
) -> tuple[int, bytes, dict[str, str]]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


@pytest.fixture
def timer() -> Timer:
    return Timer()


@pytest.fixture
def state(timer: Timer) -> SandboxState:
    state = SandboxState(clock=lambda: NOW, rate_limit=None, search_rate_limit=None, seed=3)
    state.rate_limiter.timer = timer
    state.create("contacts", {"email": "a@example.com"})
    return state


@pytest.fixture
def sandbox(state: SandboxState) -> Iterator[HubSpotSandbox]:
    scopes = {"narrow": ["crm.objects.contacts.read"]}
    with HubSpotSandbox(state, scopes=scopes) as sandbox:
        yield sandbox


def test_a_token_without_a_scope_gets_403_missing_scopes(sandbox: HubSpotSandbox) -> None:
    assert _call(sandbox.base_url, "/crm/v3/objects/contacts", token="narrow")[0] == 200
    status, raw, headers = _call(sandbox.base_url, "/crm/v3/objects/deals", token="narrow")
    body = json.loads(raw)
    assert (status, body["category"]) == (403, "MISSING_SCOPES")
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.deals.read"]
    assert headers["X-HubSpot-Correlation-Id"] == body["correlationId"]
    write = _call(
        sandbox.base_url,
        "/crm/v3/objects/contacts",
        token="narrow",
        method="POST",
        body={"properties": {"email": "b@example.com"}},
    )
    assert write[0] == 403
    assert json.loads(write[1])["errors"][0]["context"]["requiredGranularScopes"] == [
        "crm.objects.contacts.write"
    ]
    assert _call(sandbox.base_url, "/crm/v3/objects/deals", token="anyone-else")[0] == 200


def test_a_malformed_token_gets_the_edges_530(sandbox: HubSpotSandbox) -> None:
    status, raw, headers = _call(sandbox.base_url, "/crm/v3/objects/contacts", token="pat na-1!")
    assert status == 530
    assert headers["Content-Type"].startswith("text/html")
    assert b"530" in raw


def test_heavy_writes_lock_the_portal_for_two_seconds(
    state: SandboxState, sandbox: HubSpotSandbox, timer: Timer
) -> None:
    state.rate_limiter.write_lock_threshold = 2
    path = "/crm/v3/objects/contacts/batch/update"
    update = {"inputs": [{"id": "1001", "properties": {"city": "Oslo"}}]}
    assert _call(sandbox.base_url, path, method="POST", body=update)[0] == 200
    assert _call(sandbox.base_url, path, method="POST", body=update)[0] == 200
    status, raw, headers = _call(sandbox.base_url, path, method="POST", body=update)
    assert status == 423
    assert headers["X-HubSpot-Correlation-Id"] == json.loads(raw)["correlationId"]
    reads = _call(sandbox.base_url, "/crm/v3/objects/contacts/batch/read", method="POST", body={})
    assert reads[0] != 423  # reads are not locked
    timer.now += 1.9
    assert _call(sandbox.base_url, path, method="POST", body=update)[0] == 423
    timer.now += 0.2
    assert _call(sandbox.base_url, path, method="POST", body=update)[0] == 200


def test_every_answer_carries_a_correlation_id(sandbox: HubSpotSandbox) -> None:
    seen = set()
    for _ in range(3):
        status, _, headers = _call(sandbox.base_url, "/crm/v3/objects/contacts")
        assert status == 200
        seen.add(headers["X-HubSpot-Correlation-Id"])
    assert len(seen) == 3


def test_the_account_id_comes_from_the_seed(sandbox: HubSpotSandbox) -> None:
    status, raw, _ = _call(sandbox.base_url, "/account-info/v3/details")
    assert status == 200
    assert json.loads(raw)["portalId"] == portal_id_for(3)
    assert portal_id_for(3) != portal_id_for(4)


def test_tasks_filter_on_hs_createdate_and_have_no_createdate(
    state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    task = state.create("tasks", {"hs_task_subject": "Call", "hs_timestamp": "2024-05-02"})
    path = "/crm/v3/objects/tasks/search"

    def search(name: str) -> tuple[int, Any]:
        flt = {"propertyName": name, "operator": "GTE", "value": "0"}
        body = {"filterGroups": [{"filters": [flt]}], "sorts": [name]}
        status, raw, _ = _call(sandbox.base_url, path, method="POST", body=body)
        return status, json.loads(raw)

    status, found = search("hs_createdate")
    assert (status, [r["id"] for r in found["results"]]) == (200, [task])
    assert "createdate" not in found["results"][0]["properties"]
    status, refused = search("createdate")
    assert (status, refused["category"]) == (400, "VALIDATION_ERROR")
    assert "createdate" in refused["message"]
