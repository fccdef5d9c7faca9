"""List endpoints: cursor paging, limits, property selection, associations, the archived listing."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hubspot import HubSpot

from sandbox.hubspot import HubSpotSandbox, SandboxState

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _call(base: str, path: str) -> tuple[int, Any]:
    request = urllib.request.Request(base + path, headers={"Authorization": "Bearer t"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def state() -> SandboxState:
    return SandboxState(clock=lambda: NOW, rate_limit=None, search_rate_limit=None)


@pytest.fixture
def sandbox(state: SandboxState) -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(state) as sandbox:
        yield sandbox


def _seed_contacts(state: SandboxState, count: int) -> list[str]:
    return [state.create("contacts", {"email": f"c{i}@example.com"}) for i in range(count)]


def test_cursor_paging_visits_every_record_once_in_id_order(
    state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    ids = _seed_contacts(state, 25)
    api = HubSpot(access_token="t", host=sandbox.base_url).crm.contacts.basic_api
    seen: list[str] = []
    pages = 0
    after = None
    while True:
        page = api.get_page(limit=10, after=after)
        pages += 1
        seen.extend(r.id for r in page.results)
        if page.paging is None:
            break
        after = page.paging.next.after
    assert seen == ids
    assert pages == 3
    assert sorted(seen, key=int) == seen


def test_the_last_page_has_no_paging_and_records_added_meanwhile_are_reached(
    state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    first = _seed_contacts(state, 4)
    status, page = _call(sandbox.base_url, "/crm/v3/objects/contacts?limit=2")
    assert status == 200
    after = page["paging"]["next"]["after"]
    late = state.create("contacts", {"email": "late@example.com"})
    status, rest = _call(sandbox.base_url, f"/crm/v3/objects/contacts?limit=10&after={after}")
    assert [r["id"] for r in rest["results"]] == [*first[2:], late]
    assert "paging" not in rest


def test_limit_defaults_to_10_and_is_capped_at_100(
    state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    _seed_contacts(state, 130)
    assert len(_call(sandbox.base_url, "/crm/v3/objects/contacts")[1]["results"]) == 10
    assert len(_call(sandbox.base_url, "/crm/v3/objects/contacts?limit=500")[1]["results"]) == 100


@pytest.mark.parametrize("query", ["properties=email,phone", "properties=email&properties=phone"])
def test_properties_repeated_or_comma_joined(
    state: SandboxState, sandbox: HubSpotSandbox, query: str
) -> None:
    state.create("contacts", {"email": "a@example.com", "firstname": "A"})
    _, page = _call(sandbox.base_url, f"/crm/v3/objects/contacts?{query}&properties=bogus")
    properties = page["results"][0]["properties"]
    assert properties == {
        "email": "a@example.com",
        "phone": None,  # defined but empty: null
        "hs_object_id": page["results"][0]["id"],
        "createdate": "2024-05-01T12:00:00.000Z",
        "lastmodifieddate": "2024-05-01T12:00:00.000Z",
    }  # firstname not requested; "bogus" is not a property and is ignored


def test_default_properties_per_type(state: SandboxState, sandbox: HubSpotSandbox) -> None:
    state.create("contacts", {"email": "a@example.com", "city": "Oslo"})
    state.create("deals", {"dealname": "D"})
    contact = _call(sandbox.base_url, "/crm/v3/objects/contacts")[1]["results"][0]
    assert set(contact["properties"]) == {
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    }
    deal = _call(sandbox.base_url, "/crm/v3/objects/deals")[1]["results"][0]
    assert "hs_lastmodifieddate" in deal["properties"]
    assert "lastmodifieddate" not in deal["properties"]


def test_associations_are_included_when_asked(state: SandboxState, sandbox: HubSpotSandbox) -> None:
    contact = state.create("contacts", {"email": "a@example.com"})
    company = state.create("companies", {"name": "Acme"}, {"contacts": [contact]})
    _, page = _call(sandbox.base_url, "/crm/v3/objects/contacts?associations=companies,deals")
    record = page["results"][0]
    assert record["associations"] == {
        "companies": {"results": [{"id": company, "type": "contact_to_company"}]}
    }
    _, plain = _call(sandbox.base_url, "/crm/v3/objects/contacts")
    assert "associations" not in plain["results"][0]


def test_archived_listing_holds_only_archived_records(
    state: SandboxState, sandbox: HubSpotSandbox
) -> None:
    ids = _seed_contacts(state, 5)
    state.archive("contacts", ids[1])
    state.archive("contacts", ids[3])
    _, live = _call(sandbox.base_url, "/crm/v3/objects/contacts?limit=100")
    assert [r["id"] for r in live["results"]] == [ids[0], ids[2], ids[4]]
    _, archived = _call(sandbox.base_url, "/crm/v3/objects/contacts?archived=true&limit=100")
    assert [r["id"] for r in archived["results"]] == [ids[1], ids[3]]
    assert all(r["archived"] and r["archivedAt"] for r in archived["results"])
    assert _call(sandbox.base_url, f"/crm/v3/objects/contacts/{ids[1]}")[0] == 404
    status, one = _call(sandbox.base_url, f"/crm/v3/objects/contacts/{ids[1]}?archived=true")
    assert (status, one["id"], one["archived"]) == (200, ids[1], True)


def test_sdk_booleans_and_bad_cursors(state: SandboxState, sandbox: HubSpotSandbox) -> None:
    ids = _seed_contacts(state, 2)
    state.archive("contacts", ids[0])
    api = HubSpot(access_token="t", host=sandbox.base_url).crm.contacts.basic_api
    assert [r.id for r in api.get_page(archived=True).results] == [ids[0]]  # sent as "True"
    assert [r.id for r in api.get_page(archived=False).results] == [ids[1]]
    status, body = _call(sandbox.base_url, "/crm/v3/objects/contacts?after=notacursor")
    assert (status, body["category"]) == (400, "VALIDATION_ERROR")


def test_owners_are_paged_100_at_a_time(state: SandboxState, sandbox: HubSpotSandbox) -> None:
    for i in range(230):
        state.add_owner({"id": str(i + 1), "email": f"o{i}@example.com", "userId": i})
    owners = HubSpot(access_token="t", host=sandbox.base_url).crm.owners.owners_api
    seen: list[str] = []
    after = None
    while True:
        page = owners.get_page(after=after)
        seen.extend(o.id for o in page.results)
        if page.paging is None:
            break
        after = page.paging.next.after
    assert seen == [str(i + 1) for i in range(230)]
    assert owners.get_page(email="O7@example.com").results[0].id == "8"


def test_a_page_starts_at_its_cursor_in_a_large_table(state: SandboxState) -> None:
    _seed_contacts(state, 20_000)
    page, next_start = state.page("contacts", None, 100)
    assert len(page) == 100
    assert next_start is not None
    middle, _ = state.page("contacts", next_start + 9_900, 100)
    assert int(middle[0].id) == next_start + 9_900
