"""Writer.field_changes: who set a field's current value, from HubSpot's property history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.hubspot.history import current_change
from model.writes import FieldChange
from sandbox.hubspot import ChangeSource
from tests.connectors.hubspot.world import World

pytestmark = pytest.mark.usefixtures("wire_checked")


def test_who_set_each_current_value_in_batches_of_50(world: World) -> None:
    ids = [world.state.create("contacts", {"phone": "555 0100", "city": "lyon"}) for _ in range(60)]
    edited = world.clock.tick(minutes=5)
    world.state.update("contacts", ids[0], {"phone": "555-0100"}, source=ChangeSource.user(41))
    world.clock.tick(minutes=5)
    world.state.update("contacts", ids[59], {"city": "Lyon"}, source=ChangeSource("WORKFLOWS"))
    connector = world.connector()

    found = connector.field_changes(
        "contacts", [(i, "phone") for i in ids] + [(ids[59], "city"), (ids[1], "email")]
    )

    assert found[(ids[0], "phone")] == FieldChange(
        "555-0100", edited, user_id="41", via="the HubSpot app"
    )
    assert found[(ids[59], "city")] == FieldChange("Lyon", world.clock.now, via="a workflow")
    assert found[(ids[1], "phone")].via == "an import"  # seeded: never written since
    assert (ids[1], "email") not in found  # no value, no history
    assert len(found) == 61
    reads = [x for x in world.state.request_log if x.path.endswith("/batch/read")]
    assert [len(x.request_json["inputs"]) for x in reads] == [50, 10]
    assert reads[0].request_json["propertiesWithHistory"] == ["city", "email", "phone"]


def test_the_newest_entry_holding_the_value_is_the_one_that_set_it() -> None:
    history = [
        {"value": "b", "timestamp": "2024-05-03T00:00:00.000Z", "sourceType": "API"},
        {
            "value": "a",
            "timestamp": "2024-05-02T00:00:00.000Z",
            "sourceType": "CRM_UI",
            "sourceId": "userId:7",
        },
        {"value": "a", "timestamp": "2024-05-01T00:00:00.000Z", "sourceType": "IMPORT"},
        "not an entry",
    ]
    assert current_change(history, "a") == FieldChange(
        "a", datetime(2024, 5, 2, tzinfo=UTC), user_id="7", via="the HubSpot app"
    )
    labelled = {**history[0], "sourceType": "INTEGRATION", "sourceLabel": "Zapier"}
    assert current_change([labelled], "b") == FieldChange(
        "b", datetime(2024, 5, 3, tzinfo=UTC), via="an integration (Zapier)"
    )
    odd = {**history[0], "sourceType": "BOT_SYNC", "updatedByUserId": 12}
    assert current_change([odd], "b") == FieldChange(
        "b", datetime(2024, 5, 3, tzinfo=UTC), user_id="12", via="bot sync"
    )
    assert current_change(history, "c") is None
    assert current_change([{"value": "", "timestamp": "bad"}], None) is None
