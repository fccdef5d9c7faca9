"""Person Accounts: in an org that has them, a person account is an Account and a Contact at
once (Salesforce API guide, "Person Account Record Types"). syncd reads it as one contact (the
Account's id, the ``Person*`` fields), never as a company, and never its person contact a second
time; writes and merges go through the Account; a person account and a business contact are
never merged."""

from __future__ import annotations

from datetime import UTC, datetime

from model.records import Cursor
from model.writes import FieldWrite, TaskWrite, WriteErrorKind
from sandbox.salesforce import SalesforceState
from tests.connectors.salesforce.world import World


def person(state: SalesforceState, first: str, email: str) -> str:
    return state.create_person_account(
        {
            "FirstName": first,
            "LastName": "Solberg",
            "PersonEmail": email,
            "PersonMailingCity": "Bergen",
            "Phone": "+47 915 11 222",
        }
    )


def test_describe_lists_the_person_fields_only_when_enabled(world: World) -> None:
    plain = {f["name"] for f in world.connector().client.describe("Account")["fields"]}
    world.state.person_accounts = True
    enabled = {f["name"] for f in world.connector().client.describe("Account")["fields"]}

    assert "IsPersonAccount" not in plain
    assert "PersonEmail" not in plain
    assert {"IsPersonAccount", "PersonContactId", "PersonEmail", "FirstName"} <= enabled


def test_a_person_account_is_pulled_once_as_a_contact_and_never_as_a_company(
    world: World,
) -> None:
    state = world.state
    state.person_accounts = True
    acme = state.create("Account", {"Name": "Acme AS"})
    ann = world.contact(firstname="Ann", email="ann@acme.com")
    state.update("Contact", ann, {"AccountId": acme})
    ingrid = person(state, "Ingrid", "ingrid@fjord.no")
    hidden = state.person_contact(ingrid)
    assert hidden is not None
    world.clock.tick(minutes=1)
    connector = world.connector()

    contacts = world.pull(connector, "contacts")
    companies = world.pull(connector, "companies")

    assert set(contacts.by_id) == {ann, ingrid}, "the person contact is not pulled twice"
    me = contacts.by_id[ingrid].properties
    assert (me["firstname"], me["lastname"], me["email"], me["city"], me["phone"]) == (
        "Ingrid",
        "Solberg",
        "ingrid@fjord.no",
        "Bergen",
        "+47 915 11 222",
    )
    assert "company" not in me, "a person has no company: unknown, not empty"
    assert contacts.by_id[ann].properties["company"] == "Acme AS"
    assert set(companies.by_id) == {acme}


def test_an_incremental_pull_reads_a_changed_person_account(world: World) -> None:
    state = world.state
    state.person_accounts = True
    ingrid = person(state, "Ingrid", "ingrid@fjord.no")
    connector = world.connector(lookback_seconds=0)
    world.clock.tick(minutes=1)
    first = world.pull(connector, "contacts")
    world.clock.tick(minutes=1)
    state.update("Account", ingrid, {"PersonMailingCity": "Oslo"})
    world.clock.tick(minutes=1)

    again = world.pull(connector, "contacts", Cursor(first.batches[-1].cursor.updated_at))

    assert again.by_id[ingrid].properties["city"] == "Oslo"


def test_a_write_to_a_person_goes_to_the_account_by_its_person_names(world: World) -> None:
    state = world.state
    state.person_accounts = True
    ingrid = person(state, "Ingrid", " Ingrid@Fjord.no ")
    connector = world.connector()

    [done] = connector.update(
        "contacts", [FieldWrite("k1", ingrid, {"email": "ingrid@fjord.no", "city": "Oslo"})]
    )

    assert done.ok, done.error
    account = state.live("Account", ingrid)
    assert account is not None
    assert (account.values["PersonEmail"], account.values["PersonMailingCity"]) == (
        "ingrid@fjord.no",
        "Oslo",
    )
    mirrored = state.person_contact(ingrid)
    assert mirrored is not None
    assert mirrored.values["Email"] == "ingrid@fjord.no", "the person contact follows"
    read = connector.read("contacts", [ingrid], ["email"])[ingrid]
    assert read is not None
    assert read.properties["email"] == "ingrid@fjord.no"


def test_salesforce_refuses_a_person_contact_written_through_contact(world: World) -> None:
    state = world.state
    state.person_accounts = True
    ingrid = person(state, "Ingrid", "ingrid@fjord.no")
    hidden = state.person_contact(ingrid)
    assert hidden is not None
    connector = world.connector()

    [answer] = connector.client.collections(
        "PATCH",
        json={
            "allOrNone": False,
            "records": [{"attributes": {"type": "Contact"}, "id": hidden.id, "LastName": "X"}],
        },
    )

    assert answer["success"] is False
    assert answer["errors"][0]["statusCode"] == "INVALID_PERSON_ACCOUNT_OPERATION"
    assert hidden.values["LastName"] == "Solberg"


def test_two_person_accounts_merge_as_accounts_with_their_person_contacts(
    world: World,
) -> None:
    state = world.state
    state.person_accounts = True
    keep = person(state, "Ingrid", "ingrid@fjord.no")
    gone = person(state, "Ingrid", "INGRID@fjord.no")
    gone_contact = state.person_contact(gone)
    kept_contact = state.person_contact(keep)
    assert gone_contact is not None
    assert kept_contact is not None
    connector = world.connector()

    [result] = connector.merge_group("contacts", keep, [gone], ["k-merge"])

    assert result.ok, result.error
    assert result.remote_id == keep
    account = state.find("Account", gone)
    assert account is not None
    assert (account.deleted, account.master_record_id) == (True, keep)
    assert (gone_contact.deleted, gone_contact.master_record_id) == (True, kept_contact.id)
    found = connector.read("contacts", [gone], ["email"])[gone]
    assert found is not None
    assert found.id == keep, "the absorbed person reads back as the survivor"
    pulled = world.pull(world.connector(), "contacts")
    assert pulled.by_id[gone].merged_into == keep


def test_a_person_account_and_a_business_contact_are_never_merged(world: World) -> None:
    state = world.state
    state.person_accounts = True
    ingrid = person(state, "Ingrid", "ingrid@fjord.no")
    twin = person(state, "Ingrid", "i.solberg@fjord.no")
    ann = world.contact(firstname="Ingrid", lastname="Solberg", email="ingrid@acme.com")
    connector = world.connector()
    state.record_exchanges = True

    refused, merged = connector.merge_group("contacts", ingrid, [ann, twin], ["k1", "k2"])

    assert not refused.ok
    assert refused.error_kind is WriteErrorKind.NOT_MERGEABLE
    assert not refused.retriable
    assert merged.ok, "the person account of the group is merged all the same"
    assert state.live("Contact", ann) is not None
    soap = [
        e for e in state.request_log if "/Soap/" in e.path and "merge>" in (e.request_text or "")
    ]
    assert len(soap) == 1
    assert ann not in (soap[0].request_text or "")


def test_a_task_for_a_person_account_is_related_to_the_account(world: World) -> None:
    state = world.state
    state.person_accounts = True
    ingrid = person(state, "Ingrid", "ingrid@fjord.no")
    connector = world.connector()
    due = datetime(2026, 12, 1, tzinfo=UTC)

    [made] = connector.create_tasks(
        [TaskWrite("k-task", "contacts", ingrid, "Call Ingrid", "follow up", None, due)]
    )

    assert made.ok, made.error
    task = state.live("Task", str(made.remote_id))
    assert task is not None
    assert task.values["WhatId"] == ingrid
    found = connector.find_tasks("contacts", [ingrid])[ingrid]
    assert [t.id for t in found] == [made.remote_id]
    assert connector.is_task_of(found[0], "k-task")


def test_birthdates_of_contacts_and_persons_are_the_canonical_birthdate(world: World) -> None:
    state = world.state
    state.person_accounts = True
    ann = state.create("Contact", {"LastName": "Moore", "Birthdate": "1980-05-04"})
    ingrid = state.create_person_account(
        {"FirstName": "Ingrid", "LastName": "Solberg", "PersonBirthdate": "1975-12-24"}
    )
    world.clock.tick(minutes=1)

    contacts = world.pull(world.connector(), "contacts")

    assert contacts.by_id[ann].properties["birthdate"] == "1980-05-04"
    assert contacts.by_id[ingrid].properties["birthdate"] == "1975-12-24"
