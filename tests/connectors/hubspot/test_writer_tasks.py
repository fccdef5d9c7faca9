"""Writer.create_tasks and find_tasks against the sandbox: associations, markers, no duplicates."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from model.writes import TaskWrite
from sandbox.hubspot import Fault, ScriptedFaults
from tests.connectors.hubspot.world import Reversed, World

pytestmark = pytest.mark.usefixtures("wire_checked")

CREATE = "/crm/v3/objects/tasks/batch/create"
DUE = datetime(2024, 5, 8, 9, 30, tzinfo=UTC)


def task(key: str, object_type: str, record_id: str, owner: str | None = None) -> TaskWrite:
    return TaskWrite(
        key=key,
        object_type=object_type,
        record_id=record_id,
        subject=f"Follow up {key}",
        body="No activity for 30 days.",
        owner_id=owner,
        due=DUE,
    )


def tasks_with_key(world: World, key: str) -> list[str]:
    """Live tasks in the sandbox whose body carries ``key``'s marker."""
    with world.state.lock:
        return [
            t.id
            for t in world.state.live_records("tasks")
            if f"[syncd:{key}]" in (t.properties.get("hs_task_body") or "")
        ]


def test_creates_associated_tasks_that_find_tasks_sees(world: World) -> None:
    contact = world.state.create("contacts", {"firstname": "Ann"})
    deal = world.state.create("deals", {"dealname": "D", "pipeline": "default"})
    company = world.state.create("companies", {"name": "Acme"})
    connector = world.connector()
    writes = [
        task("a", "contacts", contact, owner="77"),
        task("b", "deals", deal),
        task("c", "companies", company),
    ]

    results = connector.create_tasks(writes)

    assert connector.calls["batch_create"] == 1
    assert [r.key for r in results] == ["a", "b", "c"]
    assert all(r.ok and r.remote_id for r in results)
    for result, (object_type, record_id) in zip(
        results, [("contacts", contact), ("deals", deal), ("companies", company)], strict=True
    ):
        assert world.state.associated("tasks", str(result.remote_id), object_type) == [record_id]
        (found,) = connector.find_tasks(object_type, [record_id])[record_id]
        assert found.id == result.remote_id
        assert found.object_type == "tasks"
        assert found.associations == {object_type: (record_id,)}
    stored = world.state.get("tasks", str(results[0].remote_id))
    assert stored is not None
    # written under HubSpot's names, the open status as HubSpot's NOT_STARTED
    assert stored.properties["hs_task_subject"] == "Follow up a"
    assert stored.properties["hs_task_body"] == "No activity for 30 days.\n\n[syncd:a]"
    assert stored.properties["hs_task_status"] == "NOT_STARTED"
    assert stored.properties["hs_task_priority"] == "MEDIUM"
    assert stored.properties["hs_task_type"] == "TODO"
    assert stored.properties["hs_timestamp"] == "2024-05-08T09:30:00.000Z"
    assert stored.properties["hubspot_owner_id"] == "77"
    unowned = world.state.get("tasks", str(results[1].remote_id))
    assert unowned is not None
    assert unowned.properties.get("hubspot_owner_id") is None
    (request,) = [x for x in world.state.request_log if x.path == CREATE]
    assert request.request_json["inputs"][1]["associations"] == [
        {
            "to": {"id": deal},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 216}],
        }
    ]


def test_results_are_matched_to_inputs_by_marker_not_by_order(world: World) -> None:
    made = [world.state.create("contacts", {"firstname": f"C{i}"}) for i in range(5)]
    world.state.faults = Reversed(world.sandbox, CREATE)
    connector = world.connector()

    results = connector.create_tasks([task(f"k{i}", "contacts", rid) for i, rid in enumerate(made)])

    assert dict(connector.calls) == {"batch_create": 1}, "matched from the answer itself"

    for i, (result, contact) in enumerate(zip(results, made, strict=True)):
        assert result.ok
        assert world.state.associated("tasks", str(result.remote_id), "contacts") == [contact]
        assert tasks_with_key(world, f"k{i}") == [result.remote_id]


def test_creates_100_tasks_per_call(world: World) -> None:
    contact = world.state.create("contacts", {"firstname": "Ann"})
    connector = world.connector()

    results = connector.create_tasks([task(f"k{i}", "contacts", contact) for i in range(150)])

    assert connector.calls["batch_create"] == 2
    assert all(r.ok for r in results)
    assert len({r.remote_id for r in results}) == 150
    assert len(connector.find_tasks("contacts", [contact])[contact]) == 150


def test_an_answer_lost_after_the_write_does_not_create_twice(world: World) -> None:
    ann = world.state.create("contacts", {"firstname": "Ann"})
    bob = world.state.create("contacts", {"firstname": "Bob"})
    world.state.faults = ScriptedFaults(Fault(drop_after=True), match=CREATE)
    connector = world.connector()

    results = connector.create_tasks([task("a", "contacts", ann), task("b", "contacts", bob)])

    assert all(r.ok for r in results)
    assert connector.calls["batch_create"] == 1, "both were found by marker: nothing resent"
    assert connector.calls["associations_read"] >= 1
    assert tasks_with_key(world, "a") == [results[0].remote_id]
    assert tasks_with_key(world, "b") == [results[1].remote_id]
    assert world.state.count("tasks") == 2
    assert results[0].response["recovered"] is True


def test_a_request_dropped_before_the_write_is_sent_again_once(world: World) -> None:
    ann = world.state.create("contacts", {"firstname": "Ann"})
    world.state.faults = ScriptedFaults(Fault(drop=True), match=CREATE)
    connector = world.connector()

    (result,) = connector.create_tasks([task("a", "contacts", ann)])

    assert result.ok
    assert connector.calls["batch_create"] == 2
    assert connector.calls["associations_read"] == 1, "looked before sending again"
    assert tasks_with_key(world, "a") == [result.remote_id]


def test_a_rate_limited_create_is_sent_again_without_a_lookup(world: World) -> None:
    ann = world.state.create("contacts", {"firstname": "Ann"})
    world.state.faults = ScriptedFaults(Fault(status=429, retry_after_s=1), match=CREATE)
    connector = world.connector()

    (result,) = connector.create_tasks([task("a", "contacts", ann)])

    assert result.ok
    assert connector.calls["batch_create"] == 2
    assert connector.calls["associations_read"] == 0, "a 429 wrote nothing"
    assert tasks_with_key(world, "a") == [result.remote_id]


def test_creates_are_not_looked_up_beforehand(world: World) -> None:
    ann = world.state.create("contacts", {"firstname": "Ann"})
    connector = world.connector()

    connector.create_tasks([task("a", "contacts", ann)])

    assert dict(connector.calls) == {"batch_create": 1}


def test_a_missing_record_fails_only_its_task(world: World) -> None:
    ann = world.state.create("contacts", {"firstname": "Ann"})
    connector = world.connector()

    good, bad = connector.create_tasks([task("a", "contacts", ann), task("b", "contacts", "9999")])

    assert good.ok
    assert not bad.ok
    assert not bad.retriable
    assert bad.error is not None
    assert "9999" in bad.error
    assert tasks_with_key(world, "a") == [good.remote_id]
    assert tasks_with_key(world, "b") == []


def test_a_task_for_an_unsupported_object_type_fails_without_a_call(world: World) -> None:
    connector = world.connector()

    (result,) = connector.create_tasks([task("a", "owners", "1")])

    assert not result.ok
    assert not result.retriable
    assert sum(connector.calls.values()) == 0


def test_a_repeated_key_creates_one_task(world: World) -> None:
    ann = world.state.create("contacts", {"firstname": "Ann"})

    first, second = world.connector().create_tasks(
        [task("a", "contacts", ann), task("a", "contacts", ann)]
    )

    assert first == second
    assert tasks_with_key(world, "a") == [first.remote_id]


def test_find_tasks_returns_every_status_and_empty_lists(world: World) -> None:
    ann = world.state.create("contacts", {"firstname": "Ann"})
    bob = world.state.create("contacts", {"firstname": "Bob"})
    done = world.state.create(
        "tasks",
        {"hs_task_subject": "Done", "hs_task_status": "COMPLETED", "hs_timestamp": "2024-05-02"},
        associations={"contacts": [ann]},
    )
    connector = world.connector()

    found = connector.find_tasks("contacts", [ann, bob])

    assert set(found) == {ann, bob}
    (record,) = found[ann]
    assert record.id == done
    assert record.properties["status"] == "completed"
    assert record.properties["subject"] == "Done"
    assert connector.is_task_of(
        replace(record, properties={**record.properties, "body": "x [syncd:k1]"}), "k1"
    )
    assert not connector.is_task_of(record, "k1")
    assert found[bob] == []
    assert connector.calls["associations_read"] == 1
    assert connector.calls["batch_read"] == 1


def test_when_the_lookup_fails_the_create_is_not_sent_blindly_again(world: World) -> None:
    ann = world.state.create("contacts", {"firstname": "Ann"})
    world.state.faults = ScriptedFaults(
        Fault(drop_after=True),  # the create lands, its answer is lost
        *[Fault(status=503) for _ in range(4)],  # every attempt of the lookup fails
        match="/crm/v",
    )
    connector = world.connector()

    (result,) = connector.create_tasks([task("a", "contacts", ann)])

    assert not result.ok
    assert result.retriable, "a later run's find_tasks settles it"
    assert result.error is not None
    assert "could not check" in result.error
    assert connector.calls["batch_create"] == 1
    assert len(tasks_with_key(world, "a")) == 1
