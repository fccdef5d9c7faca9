"""Writer.read against the sandbox: current values, missing ids, merged ids, batching."""

from __future__ import annotations

import pytest

from model.errors import ConfigError, RetriableError
from sandbox.hubspot import Fault, ScriptedFaults
from tests.connectors.hubspot.world import World

pytestmark = pytest.mark.usefixtures("wire_checked")


def test_reads_current_values_with_the_last_modified_property(world: World) -> None:
    ann = world.state.create("contacts", {"firstname": "Ann", "city": "Lyon"})
    world.clock.tick(minutes=5)
    world.state.update("contacts", ann, {"city": "Paris"})
    connector = world.connector()

    found = connector.read("contacts", [ann], ["firstname", "city"])

    record = found[ann]
    assert record is not None
    assert record.id == ann
    assert record.properties["firstname"] == "Ann"
    assert record.properties["city"] == "Paris"
    assert record.properties["updated_at"] == "2024-05-01T12:05:00.000Z"
    assert set(record.properties) == {"firstname", "city", "updated_at", "merged_ids"}
    assert record.updated_at == world.clock.now
    (request,) = [x for x in world.state.request_log if x.path.endswith("/batch/read")]
    assert request.request_json["properties"] == [
        "firstname",
        "city",
        "lastmodifieddate",
        "hs_merged_object_ids",
    ]


def test_missing_and_archived_ids_read_as_none(world: World) -> None:
    live = world.state.create("deals", {"dealname": "Live"})
    gone = world.state.create("deals", {"dealname": "Gone"})
    world.state.archive("deals", gone)
    connector = world.connector()

    found = connector.read("deals", [live, gone, "987654"], ["dealname"])

    assert set(found) == {live, gone, "987654"}
    live_record = found[live]
    assert live_record is not None
    assert live_record.properties["dealname"] == "Live"
    assert "updated_at" in live_record.properties
    assert found[gone] is None
    assert found["987654"] is None
    assert any(x.status == 207 for x in world.state.request_log), "HubSpot answered 207"


def test_a_merged_id_reads_as_the_survivor(world: World) -> None:
    primary = world.state.create("companies", {"name": "Acme", "city": "Oslo"})
    absorbed = world.state.create("companies", {"name": "ACME Inc"})
    other = world.state.create("companies", {"name": "Other"})
    new_id = world.state.merge("companies", primary, absorbed)
    connector = world.connector()

    found = connector.read("companies", [absorbed, other], ["name"])

    survivor = found[absorbed]
    assert survivor is not None
    assert survivor.id == new_id, "the caller can tell 'merged since' from 'deleted'"
    assert survivor.properties["name"] == "Acme"
    assert absorbed in survivor.merged_ids
    other_record = found[other]
    assert other_record is not None
    assert other_record.id == other


def test_both_ids_of_a_merge_read_as_the_same_record(world: World) -> None:
    primary = world.state.create("contacts", {"firstname": "Ann"})
    absorbed = world.state.create("contacts", {"firstname": "Anne"})
    new_id = world.state.merge("contacts", primary, absorbed)

    found = world.connector().read("contacts", [primary, absorbed], ["firstname"])

    first, second = found[primary], found[absorbed]
    assert first is not None
    assert second is not None
    assert first.id == second.id == new_id


def test_reads_100_ids_per_call(world: World) -> None:
    made = [world.state.create("contacts", {"firstname": f"C{i}"}) for i in range(150)]
    connector = world.connector()

    found = connector.read("contacts", [*made, made[0]], ["firstname"])

    assert connector.calls["batch_read"] == 2
    assert set(found) == set(made)
    assert all(
        r is not None and r.properties["firstname"] == f"C{i}"
        for i, r in enumerate(found[m] for m in made)
    )
    sizes = [len(x.request_json["inputs"]) for x in world.state.request_log]
    assert sizes == [100, 50]


def test_a_read_that_keeps_failing_raises_a_retriable_error(world: World) -> None:
    made = world.state.create("contacts", {"firstname": "Ann"})
    world.state.faults = ScriptedFaults(*[Fault(status=503) for _ in range(4)])
    connector = world.connector()

    with pytest.raises(RetriableError, match="503"):
        connector.read("contacts", [made], ["firstname"])
    assert connector.calls["batch_read"] == 4


def test_unknown_object_types_are_refused(world: World) -> None:
    with pytest.raises(ConfigError, match="owners"):
        world.connector().read("owners", ["1"], ["email"])


def test_reads_associations_when_asked_a_merged_id_with_its_survivors(world: World) -> None:
    company = world.state.create("companies", {"name": "Acme"})
    ann = world.state.create("contacts", {"firstname": "Ann"}, {"companies": [company]})
    anne = world.state.create("contacts", {"firstname": "Anne"})
    task = world.state.create(
        "tasks", {"hs_task_subject": "Call", "hs_timestamp": "2024-05-02T00:00:00Z"}
    )
    world.state.associate("tasks", task, "contacts", anne)
    new_id = world.state.merge("contacts", ann, anne)
    connector = world.connector()

    found = connector.read("contacts", [anne, "987654"], ["firstname"], ["companies", "tasks"])

    survivor = found[anne]
    assert survivor is not None
    assert survivor.id == new_id
    assert survivor.associations == {"companies": (company,), "tasks": (task,)}
    assert found["987654"] is None
    assert connector.calls["associations_read"] == 2
    plain = connector.read("contacts", [ann], ["firstname"])[ann]
    assert plain is not None
    assert plain.associations == {}
