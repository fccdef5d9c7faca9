"""Every request the connector sends is one HubSpot documents (its published OpenAPI specs)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from model.records import Cursor
from sandbox.hubspot.spec import SpecValidator
from tests.connectors.hubspot.world import World


@pytest.fixture(scope="module")
def validator() -> SpecValidator:
    return SpecValidator()


def seed(world: World) -> None:
    state = world.state
    state.add_owner(
        {"id": "7", "email": "o@example.com", "firstName": "O", "lastName": "P", "userId": 70}
    )
    company = state.create("companies", {"name": "Acme"})
    contact = state.create("contacts", {"firstname": "Ann"}, associations={"companies": [company]})
    deal = state.create(
        "deals",
        {"dealname": "D", "pipeline": "default", "dealstage": "closedwon"},
        associations={"contacts": [contact]},
    )
    state.create(
        "tasks",
        {"hs_task_subject": "T", "hs_timestamp": "2024-05-02T00:00:00.000Z"},
        associations={"contacts": [contact], "deals": [deal]},
    )
    other = state.create("contacts", {"firstname": "Bob"})
    state.archive("contacts", other)


def test_full_and_incremental_pulls_send_only_documented_requests(
    world: World, validator: SpecValidator
) -> None:
    seed(world)
    world.state.search_cap = 4
    connector = world.connector(page_size_list=2, page_size_search=2)
    world.state.record_exchanges = True
    cursors = {}
    run = world.clock.tick(minutes=10)
    for object_type in connector.object_types:
        cursors[object_type] = world.pull(connector, object_type, run_started_at=run).cursor
    world.clock.tick(minutes=1)
    for object_type in ("contacts", "companies", "deals", "tasks"):
        for _ in range(5):
            world.clock.tick(milliseconds=1)
            world.state.create(
                object_type, {"hs_task_subject": "x"} if object_type == "tasks" else {}
            )
    run = world.clock.tick(minutes=1)
    for object_type in connector.object_types:
        world.pull(connector, object_type, cursors[object_type], run_started_at=run)

    exchanges = world.state.request_log
    kinds = {(x.method, x.path.split("/")[-1]) for x in exchanges}
    assert ("POST", "search") in kinds
    assert ("POST", "read") in kinds  # associations v4 batch read
    assert any(x.path.startswith("/crm/v3/owners") for x in exchanges)
    for exchange in exchanges:
        validator.validate_request(
            exchange.method, exchange.path, exchange.query, exchange.request_json
        )
    for exchange in exchanges:
        validator.validate_response(
            exchange.method, exchange.path, exchange.status, exchange.response_json
        )


def test_search_requests_carry_the_window_filters_and_sort(world: World) -> None:
    world.state.create("contacts", {"firstname": "Ann"})
    connector = world.connector(lookback_seconds=300)
    cursor_time = world.clock.tick(minutes=30)
    run = world.clock.tick(minutes=1)
    world.state.record_exchanges = True
    world.pull(connector, "contacts", Cursor(cursor_time), run_started_at=run)
    (search,) = [x for x in world.state.request_log if x.path.endswith("/search")]
    body = search.request_json
    assert search.path == "/crm/v3/objects/contacts/search"
    assert body["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    assert body["limit"] == 200
    assert "after" not in body, "never an offset into a result set that edits move"
    lookback_start = int((cursor_time - timedelta(minutes=5)).timestamp() * 1000)
    assert body["filterGroups"] == [
        {
            "filters": [
                {
                    "propertyName": "lastmodifieddate",
                    "operator": "GTE",
                    "value": str(lookback_start),
                },
                {
                    "propertyName": "lastmodifieddate",
                    "operator": "LT",
                    "value": str(int(run.timestamp() * 1000)),
                },
            ]
        }
    ]
    assert "lastmodifieddate" in body["properties"]
    assert "hs_merged_object_ids" in body["properties"]
