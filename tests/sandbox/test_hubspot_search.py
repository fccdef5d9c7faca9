"""Search: operators, sorting, offset paging, the 10k cap, eventual consistency, what is hidden."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import PublicObjectSearchRequest

from sandbox.hubspot import HubSpotSandbox, SandboxState
from tests.sandbox.support import Clock


@pytest.fixture
def sandbox(state: SandboxState) -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(state) as sandbox:
        yield sandbox


def _search(base: str, body: dict[str, Any], object_type: str = "contacts") -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{base}/crm/v3/objects/{object_type}/search",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _ids(
    base: str, *filters: dict[str, Any], object_type: str = "deals", **extra: Any
) -> list[str]:
    body = {"filterGroups": [{"filters": list(filters)}] if filters else [], "limit": 200, **extra}
    status, found = _search(base, body, object_type)
    assert status == 200, found
    return [r["id"] for r in found["results"]]


@pytest.fixture
def deals(state: SandboxState) -> dict[str, str]:
    """Five deals: name -> id."""
    rows = {
        "alpha": {"amount": "100", "dealstage": "closedwon", "closedate": "2024-01-10T00:00:00Z"},
        "beta": {
            "amount": "20",
            "dealstage": "qualifiedtobuy",
            "closedate": "2024-02-10T00:00:00Z",
        },
        "gamma": {"amount": "300", "dealstage": "closedlost", "closedate": "2024-03-10T00:00:00Z"},
        "delta": {"amount": "20", "dealstage": "contractsent"},
        "epsilon": {"dealstage": "qualifiedtobuy", "closedate": "2024-02-11T00:00:00Z"},
    }
    return {
        name: state.create("deals", {"dealname": name.title(), **p}) for name, p in rows.items()
    }


def _ms(text: str) -> str:
    return str(int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000))


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"propertyName": "dealname", "operator": "EQ", "value": "ALPHA"}, ["alpha"]),
        ({"propertyName": "amount", "operator": "EQ", "value": "20"}, ["beta", "delta"]),
        (
            {"propertyName": "amount", "operator": "NEQ", "value": "20"},
            ["alpha", "gamma", "epsilon"],
        ),
        ({"propertyName": "amount", "operator": "GT", "value": "20"}, ["alpha", "gamma"]),
        ({"propertyName": "amount", "operator": "GTE", "value": "100"}, ["alpha", "gamma"]),
        ({"propertyName": "amount", "operator": "LT", "value": "100"}, ["beta", "delta"]),
        ({"propertyName": "amount", "operator": "LTE", "value": "100"}, ["alpha", "beta", "delta"]),
        (
            {"propertyName": "dealstage", "operator": "IN", "values": ["closedwon", "closedlost"]},
            ["alpha", "gamma"],
        ),
        (
            {
                "propertyName": "dealstage",
                "operator": "NOT_IN",
                "values": ["closedwon", "closedlost"],
            },
            ["beta", "delta", "epsilon"],
        ),
        (
            {"propertyName": "amount", "operator": "HAS_PROPERTY"},
            ["alpha", "beta", "gamma", "delta"],
        ),
        ({"propertyName": "closedate", "operator": "NOT_HAS_PROPERTY"}, ["delta"]),
        (
            {
                "propertyName": "closedate",
                "operator": "BETWEEN",
                "value": _ms("2024-02-01T00:00:00"),
                "highValue": _ms("2024-03-01T00:00:00"),
            },
            ["beta", "epsilon"],
        ),
        (
            {"propertyName": "closedate", "operator": "GT", "value": "2024-02-10T00:00:00Z"},
            ["gamma", "epsilon"],
        ),
        ({"propertyName": "dealname", "operator": "CONTAINS_TOKEN", "value": "*psi*"}, ["epsilon"]),
    ],
)
def test_filter_operators(
    sandbox: HubSpotSandbox, deals: dict[str, str], flt: dict[str, Any], expected: list[str]
) -> None:
    assert _ids(sandbox.base_url, flt) == [deals[name] for name in expected]


def test_groups_are_ored_and_filters_anded(sandbox: HubSpotSandbox, deals: dict[str, str]) -> None:
    body = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "amount", "operator": "EQ", "value": "20"},
                    {"propertyName": "dealstage", "operator": "EQ", "value": "contractsent"},
                ]
            },
            {"filters": [{"propertyName": "amount", "operator": "GT", "value": "200"}]},
        ]
    }
    status, found = _search(sandbox.base_url, body, "deals")
    assert status == 200
    assert [r["id"] for r in found["results"]] == [deals["gamma"], deals["delta"]]
    assert found["total"] == 2


def test_sorting_is_typed_stable_and_puts_missing_values_last(
    sandbox: HubSpotSandbox, deals: dict[str, str]
) -> None:
    ascending = _ids(sandbox.base_url, sorts=[{"propertyName": "amount", "direction": "ASCENDING"}])
    assert ascending == [deals[n] for n in ("beta", "delta", "alpha", "gamma", "epsilon")]
    descending = _ids(sandbox.base_url, sorts=["-amount"])
    assert descending == [deals[n] for n in ("gamma", "alpha", "beta", "delta", "epsilon")]


def test_offset_paging_with_the_sdk(state: SandboxState, sandbox: HubSpotSandbox) -> None:
    ids = [state.create("contacts", {"email": f"p{i}@example.com"}) for i in range(7)]
    api = HubSpot(access_token="t", host=sandbox.base_url).crm.contacts.search_api
    seen: list[str] = []
    after: str | None = "0"
    while after is not None:
        page = api.do_search(PublicObjectSearchRequest(limit=3, after=after))
        assert page.total == 7
        seen.extend(r.id for r in page.results)
        after = page.paging.next.after if page.paging else None
    assert seen == ids


def test_paging_past_the_cap_is_refused_and_total_stays_honest(
    state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    for i in range(10_050):
        state.create("contacts", {"email": f"c{i}@example.com"})
    status, page = _search(sandbox.base_url, {"limit": 100, "after": "9900"})
    assert status == 200
    assert page["total"] == 10_050
    assert page["paging"]["next"]["after"] == "10000"
    for body in ({"limit": 1, "after": "10000"}, {"limit": 100, "after": "9950"}):
        status, error = _search(sandbox.base_url, body)
        assert status == 400
        assert error["category"] == "VALIDATION_ERROR"
        assert error["status"] == "error"


def test_cap_is_configurable(state: SandboxState, sandbox: HubSpotSandbox) -> None:
    for i in range(30):
        state.create("contacts", {"email": f"c{i}@example.com"})
    state.search_cap = 20
    assert _search(sandbox.base_url, {"limit": 10, "after": "10"})[0] == 200
    assert _search(sandbox.base_url, {"limit": 10, "after": "11"})[0] == 400


def test_search_lag_hides_fresh_writes(
    clock: Clock, state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    old = state.create("contacts", {"email": "old@example.com"})
    state.search_lag = timedelta(seconds=30)
    clock.now += timedelta(minutes=5)
    fresh = state.create("contacts", {"email": "fresh@example.com"})
    assert _ids(sandbox.base_url, object_type="contacts") == [old]
    clock.now += timedelta(seconds=20)
    state.update("contacts", old, {"firstname": "Changed"})
    assert _ids(sandbox.base_url, object_type="contacts") == []
    clock.now += timedelta(seconds=31)
    assert _ids(sandbox.base_url, object_type="contacts") == [old, fresh]
    _, direct = _search(sandbox.base_url, {"properties": ["firstname"]})
    assert direct["results"][0]["properties"]["firstname"] == "Changed"


def test_archived_and_merged_records_are_never_found(
    state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    keep = state.create("contacts", {"email": "keep@example.com"})
    gone = state.create("contacts", {"email": "gone@example.com"})
    binned = state.create("contacts", {"email": "binned@example.com"})
    survivor = state.merge("contacts", keep, gone)
    state.archive("contacts", binned)
    assert _ids(sandbox.base_url, object_type="contacts") == [survivor]
    hit = {"propertyName": "email", "operator": "EQ", "value": "binned@example.com"}
    assert _ids(sandbox.base_url, hit, object_type="contacts") == []


def test_result_properties(state: SandboxState, sandbox: HubSpotSandbox) -> None:
    state.create("contacts", {"email": "a@example.com", "city": "Oslo", "firstname": "A"})
    _, default = _search(sandbox.base_url, {})
    assert set(default["results"][0]["properties"]) == {
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    }
    _, chosen = _search(sandbox.base_url, {"properties": ["city"]})
    assert set(chosen["results"][0]["properties"]) == {
        "city",
        "hs_object_id",
        "createdate",
        "lastmodifieddate",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"limit": 201},
        {"filterGroups": [{"filters": [{"propertyName": "a", "operator": "HAS_PROPERTY"}]}] * 6},
        {"filterGroups": [{"filters": [{"propertyName": "a", "operator": "HAS_PROPERTY"}] * 7}]},
        {
            "filterGroups": [{"filters": [{"propertyName": "a", "operator": "HAS_PROPERTY"}] * 5}]
            * 4
        },
        {"sorts": ["email", "firstname"]},
        {"filterGroups": [{"filters": [{"propertyName": "a", "operator": "LIKE", "value": "x"}]}]},
        {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "GT"}]}]},
        {"after": "next"},
    ],
)
def test_invalid_searches_are_refused(sandbox: HubSpotSandbox, body: dict[str, Any]) -> None:
    status, error = _search(sandbox.base_url, body)
    assert (status, error["category"]) == (400, "VALIDATION_ERROR")


def test_the_most_filters_hubspot_allows_are_accepted(
    sandbox: HubSpotSandbox, deals: dict[str, str]
) -> None:
    group = {"filters": [{"propertyName": "amount", "operator": "HAS_PROPERTY"}] * 6}
    status, found = _search(sandbox.base_url, {"filterGroups": [group] * 3}, "deals")
    assert status == 200, found
    assert found["total"] == 4


def test_ties_on_the_sort_property_come_in_no_promised_order(
    state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    """HubSpot documents no tie-breaker: records sharing a last-modified millisecond do not
    come back in id order (a client must not page on ``(modified, id)`` under that sort)."""
    ids = [state.create("contacts", {"email": f"t{i}@example.com"}) for i in range(20)]
    body = {"sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]}
    found = _ids(sandbox.base_url, object_type="contacts", **body)
    assert sorted(found) == sorted(ids)
    assert found != ids
    assert _ids(sandbox.base_url, object_type="contacts", **body) == found, "but a fixed order"
    by_id = {"sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]}
    assert _ids(sandbox.base_url, object_type="contacts", **by_id) == ids


def test_free_text_query(state: SandboxState, sandbox: HubSpotSandbox) -> None:
    ada = state.create("contacts", {"email": "ada@lovelace.org", "firstname": "Ada"})
    state.create("contacts", {"email": "bob@example.com", "firstname": "Bob"})
    assert _ids(sandbox.base_url, object_type="contacts", query="lovelace") == [ada]


def test_pages_of_one_query_see_writes_made_between_them(
    clock: Clock, state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    ids = []
    for i in range(4):
        clock.now += timedelta(milliseconds=1)
        ids.append(state.create("contacts", {"email": f"c{i}@example.com"}))
    body = {"sorts": ["lastmodifieddate"], "limit": 2}
    _, first = _search(sandbox.base_url, body)
    assert [r["id"] for r in first["results"]] == ids[:2]
    clock.now += timedelta(seconds=1)
    state.update("contacts", ids[0], {"city": "Oslo"})  # now the most recently modified
    _, second = _search(sandbox.base_url, {**body, "after": "2"})
    assert [r["id"] for r in second["results"]] == [ids[3], ids[0]]
    state.archive("contacts", ids[3])
    _, again = _search(sandbox.base_url, {**body, "after": "2"})
    assert [r["id"] for r in again["results"]] == [ids[0]]
    assert again["total"] == 3
