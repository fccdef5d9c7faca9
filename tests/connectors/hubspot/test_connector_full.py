"""Full pulls against the sandbox: every type, associations, archived and merged records."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from connectors.pulls import Seen
from model.records import Cursor, Record
from tests.connectors.hubspot.world import T0, Corrupting, World, ids


def seed_crm(world: World) -> dict[str, str]:
    """A small CRM: two companies, three contacts, a deal, two tasks, two owners."""
    state = world.state
    made: dict[str, str] = {}
    state.add_owner(
        {
            "id": "501",
            "email": "olga@example.com",
            "firstName": "Olga",
            "lastName": "Oh",
            "userId": 9001,
        }
    )
    state.add_owner(
        {
            "id": "502",
            "email": "gone@example.com",
            "firstName": "Gone",
            "lastName": "Away",
            "userId": 9002,
            "archived": True,
        }
    )
    made["acme"] = state.create("companies", {"name": "Acme", "domain": "acme.example"})
    made["globex"] = state.create("companies", {"name": "Globex", "domain": "globex.example"})
    world.clock.tick(seconds=1)
    made["ann"] = state.create(
        "contacts",
        {
            "firstname": "Ann",
            "lastname": "Lee",
            "email": "ann@acme.example",
            "hubspot_owner_id": "501",
            "hs_lead_status": "NEW",
        },
        associations={"companies": [made["acme"]]},
    )
    made["bob"] = state.create(
        "contacts",
        {"firstname": "Bob", "email": "bob@globex.example"},
        associations={"companies": [made["globex"], made["acme"]]},
    )
    made["cy"] = state.create("contacts", {"firstname": "Cy", "email": "cy@example.com"})
    made["deal"] = state.create(
        "deals",
        {
            "dealname": "Big one",
            "amount": "1000",
            "dealstage": "qualifiedtobuy",
            "pipeline": "default",
        },
        associations={"contacts": [made["ann"]], "companies": [made["acme"]]},
    )
    made["task"] = state.create(
        "tasks",
        {
            "hs_task_subject": "Call Ann",
            "hs_task_status": "NOT_STARTED",
            "hs_timestamp": "2024-05-02T09:00:00.000Z",
        },
        associations={
            "contacts": [made["ann"]],
            "companies": [made["acme"]],
            "deals": [made["deal"]],
        },
    )
    made["lonely_task"] = state.create(
        "tasks", {"hs_task_subject": "Nothing attached", "hs_timestamp": "2024-05-02T09:00:00Z"}
    )
    world.clock.tick(minutes=1)
    return made


def test_full_pull_reads_every_type_with_associations(world: World) -> None:
    made = seed_crm(world)
    connector = world.connector(page_size_list=2)
    run = world.clock.tick(minutes=1)

    contacts = world.pull(connector, "contacts", run_started_at=run)
    assert ids(contacts.records) == {made["ann"], made["bob"], made["cy"]}
    ann = contacts.by_id[made["ann"]]
    assert ann.properties["email"] == "ann@acme.example"
    assert ann.properties["lead_status"] == "NEW"
    assert ann.properties["lead_open"] == "true"
    assert ann.properties["owner_id"] == "501"
    assert ann.properties["phone"] is None
    assert ann.updated_at == T0 + timedelta(seconds=1)
    assert ann.created_at == ann.updated_at
    assert ann.associations == {"companies": (made["acme"],)}
    assert set(contacts.by_id[made["bob"]].associations["companies"]) == {
        made["globex"],
        made["acme"],
    }
    assert contacts.by_id[made["cy"]].associations == {"companies": ()}
    assert not any(r.archived for r in contacts.records)
    assert len(contacts.batches) >= 2  # paged at two per page

    companies = world.pull(connector, "companies", run_started_at=run)
    assert ids(companies.records) == {made["acme"], made["globex"]}
    assert companies.by_id[made["acme"]].properties["domain"] == "acme.example"

    deals = world.pull(connector, "deals", run_started_at=run)
    deal = deals.by_id[made["deal"]].properties
    assert (deal["stage"], deal["is_closed"], deal["is_won"]) == (
        "qualifiedtobuy",
        "false",
        "false",
    )
    assert deals.by_id[made["deal"]].associations == {
        "contacts": (made["ann"],),
        "companies": (made["acme"],),
    }

    tasks = world.pull(connector, "tasks", run_started_at=run)
    assert tasks.by_id[made["task"]].associations == {
        "contacts": (made["ann"],),
        "companies": (made["acme"],),
        "deals": (made["deal"],),
    }
    assert tasks.by_id[made["lonely_task"]].associations == {
        "contacts": (),
        "companies": (),
        "deals": (),
    }
    assert tasks.by_id[made["task"]].properties["subject"] == "Call Ann"
    assert tasks.by_id[made["task"]].properties["status"] == "open"
    assert tasks.by_id[made["task"]].properties["due"] == "2024-05-02T09:00:00.000Z"

    owners = world.pull(connector, "owners", run_started_at=run)
    assert owners.by_id["501"].properties == {
        "email": "olga@example.com",
        "firstname": "Olga",
        "lastname": "Oh",
        "user_id": "9001",
    }
    assert owners.by_id["501"].archived is False
    assert owners.by_id["502"].archived is True


def test_full_pull_cursor_is_the_run_start_and_only_on_the_last_batch(world: World) -> None:
    seed_crm(world)
    connector = world.connector(page_size_list=1)
    run = world.clock.tick(minutes=1)
    for object_type in ("contacts", "owners"):
        pulled = world.pull(connector, object_type, run_started_at=run)
        assert pulled.cursor == Cursor(run, run)  # the archived listing was read
        # a crash mid-listing must not leave a cursor that skips the unread rest
        assert all(b.cursor == Cursor() for b in pulled.batches[:-1])


def test_an_empty_crm_still_yields_the_final_cursor(world: World) -> None:
    connector = world.connector()
    pulled = world.pull(connector, "deals", run_started_at=T0)
    assert pulled.records == []
    assert pulled.cursor == Cursor(T0, T0)


def test_archived_records_come_with_archived_true(world: World) -> None:
    made = seed_crm(world)
    world.state.archive("contacts", made["cy"])
    connector = world.connector()
    pulled = world.pull(connector, "contacts", run_started_at=world.clock.tick(seconds=5))
    assert pulled.by_id[made["cy"]].archived is True
    assert pulled.by_id[made["ann"]].archived is False
    assert len(pulled.records) == 3


def test_merged_records_come_with_merged_into(world: World) -> None:
    made = seed_crm(world)
    survivor = world.state.merge("contacts", made["ann"], made["bob"])
    connector = world.connector()
    pulled = world.pull(connector, "contacts", run_started_at=world.clock.tick(seconds=5))
    primary = pulled.by_id[survivor]
    assert survivor not in (made["ann"], made["bob"])  # a new record (shared/notes/hubspot.md)
    assert primary.merged_ids == (made["ann"], made["bob"])
    assert primary.merged_into is None
    for old in ("ann", "bob"):
        absorbed = pulled.by_id[made[old]]
        assert absorbed.merged_into == survivor
        assert absorbed.archived is False
    # the survivor took over the absorbed record's associations
    assert set(primary.associations["companies"]) == {made["acme"], made["globex"]}


def test_paged_inline_associations_are_completed_through_the_v4_batch_read(world: World) -> None:
    made = seed_crm(world)
    # HubSpot lists only the first page of a record's associations inline, with paging.next
    world.state.faults = Corrupting(
        world.sandbox,
        {
            made["bob"]: {
                "associations": {
                    "companies": {
                        "results": [{"id": made["globex"], "type": "contact_to_company"}],
                        "paging": {"next": {"after": "1", "link": "?after=1"}},
                    }
                }
            }
        },
        match="/crm/v3/objects/contacts",
    )
    pulled = world.pull(world.connector(), "contacts")
    assert set(pulled.by_id[made["bob"]].associations["companies"]) == {
        made["globex"],
        made["acme"],
    }


def test_a_record_seen_again_with_another_fate_passes_deduplication() -> None:
    seen = Seen()
    live = Record("contacts", "1", {}, T0)
    assert seen.fresh([live]) == (live,)
    assert seen.fresh([live]) == ()
    archived = replace(live, archived=True)
    assert seen.fresh([archived]) == (archived,)
    older = replace(live, updated_at=T0 - timedelta(seconds=1))
    assert seen.fresh([older]) == ()
