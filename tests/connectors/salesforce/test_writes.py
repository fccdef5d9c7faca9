"""Writing to the Salesforce sandbox: sObject Collections, typed refusals, locked rows, tasks
with their marker and owner, SOAP merges."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from model.errors import SyncdError
from model.writes import FieldWrite, TaskWrite, WriteErrorKind
from sandbox.salesforce import Fault, ScriptedFaults
from sandbox.salesforce.store import RecordError
from tests.connectors.salesforce.world import World

DUE = datetime(2024, 5, 8, 9, 30, tzinfo=UTC)


def write(key: str, record_id: str, **fields: str | None) -> FieldWrite:
    return FieldWrite(key, record_id, fields)


def task(key: str, object_type: str, record_id: str, owner: str | None = None) -> TaskWrite:
    return TaskWrite(key, object_type, record_id, "Call back", "No activity.", owner, DUE)


def test_updates_go_two_hundred_records_a_call(world: World) -> None:
    made = [world.contact(firstname=f"P{i}") for i in range(250)]
    connector = world.connector()

    results = connector.update(
        "contacts", [write(f"k{i}", r, city="Paris") for i, r in enumerate(made)]
    )

    assert all(r.ok for r in results)
    assert connector.calls["collections"] == 2
    assert {world.state.live("Contact", r).values["MailingCity"] for r in made} == {"Paris"}


def test_a_duplicate_rule_is_a_typed_result_not_a_retry(world: World) -> None:
    world.contact(firstname="Ann", email="ann@acme.com")
    other = world.contact(firstname="Annie", email="annie@acme.com")
    connector = world.connector()

    (result,) = connector.update("contacts", [write("k", other, email="ann@acme.com")])

    assert not result.ok
    assert result.error_kind is WriteErrorKind.DUPLICATE_VALUE
    assert result.fields == ("email",)
    assert not result.retriable
    assert world.sleeps == []
    assert result.response["errorCode"] == "DUPLICATES_DETECTED"


def test_validation_rules_and_restricted_picklists_name_their_fields(world: World) -> None:
    contact = world.contact(firstname="Ann")
    deal = world.state.create(
        "Opportunity", {"Name": "D", "StageName": "Prospecting", "CloseDate": "2024-06-01"}
    )

    def no_gmail(sobject: str, values: Any) -> RecordError | None:
        if sobject == "Contact" and str(values.get("Email") or "").endswith("@gmail.com"):
            message = "Use a work address"
            return RecordError("FIELD_CUSTOM_VALIDATION_EXCEPTION", message, ("Email",))
        return None

    world.state.validation_rules.append(no_gmail)
    connector = world.connector()

    (refused,) = connector.update("contacts", [write("k", contact, email="ann@gmail.com")])
    (stage,) = connector.update("deals", [write("d", deal, stage="Won (old)")])

    assert (refused.error_kind, refused.fields) == (WriteErrorKind.INVALID_VALUE, ("email",))
    assert "Use a work address" in (refused.error or "")
    assert (stage.error_kind, stage.fields) == (WriteErrorKind.INVALID_VALUE, ("stage",))
    assert stage.response["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_a_locked_row_is_sent_again_and_lands(world: World) -> None:
    locked, free = world.contact(firstname="L"), world.contact(firstname="F")
    world.state.locked[locked] = 1
    connector = world.connector()

    results = connector.update(
        "contacts", [write("a", locked, city="Paris"), write("b", free, city="Rome")]
    )

    assert [r.ok for r in results] == [True, True]
    assert connector.calls["collections"] == 2, "the locked record alone, sent again"
    assert len(world.sleeps) == 1
    assert world.state.live("Contact", locked).values["MailingCity"] == "Paris"


def test_decided_and_read_only_fields_fail_alone_unsent(world: World) -> None:
    lead = world.state.create("Lead", {"LastName": "R", "Company": "C"})
    connector = world.connector()

    decided, fine = connector.update(
        "leads", [write("a", lead, lead_open="false"), write("b", lead, city="Nice")]
    )

    assert (decided.ok, decided.fields) == (False, ("lead_open",))
    assert fine.ok


def test_a_converted_lead_refuses_writes(world: World) -> None:
    lead = world.state.create(
        "Lead",
        {"LastName": "R", "Company": "C", "Status": "Closed - Converted", "IsConverted": True},
    )

    (result,) = world.connector().update("leads", [write("k", lead, city="Nice")])

    assert not result.ok
    assert not result.retriable
    assert result.response["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_tasks_point_at_their_record_and_a_queue_never_owns_one(world: World) -> None:
    queue = world.state.add_queue("Inbound")
    person = world.state.add_user("Pat", "Owner", "pat@acme.com")
    lead = world.state.create("Lead", {"LastName": "R", "Company": "C", "OwnerId": queue})
    deal = world.state.create(
        "Opportunity", {"Name": "D", "StageName": "Prospecting", "CloseDate": "2024-06-01"}
    )
    connector = world.connector()

    on_lead, on_deal = connector.create_tasks(
        [task("t1", "leads", lead, owner=queue), task("t2", "deals", deal, owner=person)]
    )

    assert on_lead.ok
    assert on_deal.ok
    lead_task = world.state.live("Task", str(on_lead.remote_id))
    deal_task = world.state.live("Task", str(on_deal.remote_id))
    assert lead_task is not None
    assert deal_task is not None
    assert lead_task.values["WhoId"] == lead
    assert not lead_task.values.get("WhatId")
    assert lead_task.values["OwnerId"] == world.state.api_user_id, "syncd's user, not the queue"
    assert deal_task.values["WhatId"] == deal
    assert deal_task.values["OwnerId"] == person
    assert str(deal_task.values["ActivityDate"]) == "2024-05-08"
    assert deal_task.values["Description"].endswith("[syncd:t2]")
    found = connector.find_tasks("deals", [deal])
    assert [connector.is_task_of(t, "t2") for t in found[deal]] == [True]


def test_a_task_whose_answer_was_lost_is_not_created_twice(world: World) -> None:
    contact = world.contact(firstname="Ann")
    world.state.faults = ScriptedFaults(
        Fault(drop_after=True), match="/services/data/v59.0/composite/sobjects"
    )
    connector = world.connector()

    (result,) = connector.create_tasks([task("k", "contacts", contact)])

    tasks = [t for t in world.state.records("Task") if t.values.get("WhoId") == contact]
    assert result.ok
    assert [t.id for t in tasks] == [result.remote_id], "found by its marker, not sent again"


def test_a_task_someone_else_marked_is_not_syncds(world: World) -> None:
    contact = world.contact(firstname="Ann")
    someone = world.state.add_user("Sam", "Else", "sam@acme.com")
    world.state.create(
        "Task", {"Subject": "Copy", "Description": "x [syncd:k]", "WhoId": contact}, by=someone
    )
    connector = world.connector()

    (copied,) = connector.find_tasks("contacts", [contact])[contact]

    assert not connector.is_task_of(copied, "k"), "syncd's user did not create it"


def test_merges_go_through_soap_and_cannot_be_undone(world: World) -> None:
    master = world.state.create("Lead", {"LastName": "Ray", "Company": "C"})
    merged = world.state.create("Lead", {"LastName": "Rey", "Company": "C"})
    todo = world.state.create("Task", {"Subject": "Call", "WhoId": merged})
    connector = world.connector()

    result = connector.merge("leads", master, merged, "m")
    refused = connector.merge("deals", "0065g0000000001AAA", "0065g0000000002AAA", "d")
    (after,) = connector.update("leads", [write("w", merged, city="Nice")])

    assert result.ok
    assert result.remote_id == master
    assert result.response["undoable"] is False
    assert connector.calls["soap"] >= 2, "login, merge"
    assert world.state.find("Lead", merged).master_record_id == master
    assert world.state.live("Task", todo).values["WhoId"] == master, "children follow the master"
    assert not refused.ok
    assert "cannot merge deals" in (refused.error or "")
    assert after.error_kind is WriteErrorKind.MERGED


def test_unreadable_ids_read_as_missing_without_refusing_the_query(world: World) -> None:
    contact = world.contact(firstname="Ann")

    found = world.connector().read("contacts", [contact, "not-an-id", contact[:15]], ["firstname"])

    assert found["not-an-id"] is None
    assert found[contact] is not None
    assert found[contact[:15]] is not None
    assert found[contact[:15]].id == contact


def test_a_write_the_sandbox_cannot_parse_is_an_error_not_a_crash(world: World) -> None:
    contact = world.contact(firstname="Ann")
    connector = world.connector()

    (result,) = connector.update("contacts", [write("k", contact, owner_id="0055g0000000999AAA")])

    assert not result.ok
    assert result.fields == ("owner_id",)
    assert isinstance(result.error, str)
    assert not isinstance(result, SyncdError)
