"""Incremental pulls against the sandbox: search windows, lag, the 10,000 cap, archived, merged."""

from __future__ import annotations

from datetime import timedelta

from model.records import Cursor
from tests.connectors.hubspot.world import World, ids


def seed(world: World, count: int, object_type: str = "contacts") -> list[str]:
    made = [
        world.state.create(object_type, {"firstname": f"C{i}", "email": f"c{i}@example.com"})
        for i in range(count)
    ]
    world.clock.tick(minutes=1)
    return made


def test_incremental_pull_picks_up_updates_and_creations_since_the_cursor(world: World) -> None:
    old = seed(world, 5)
    connector = world.connector()
    first = world.pull(connector, "contacts", run_started_at=world.clock.tick(minutes=10))
    assert ids(first.records) == set(old)

    world.clock.tick(minutes=10)  # well past the lookback
    world.state.update("contacts", old[1], {"phone": "+1 555 0100"})
    world.clock.tick(seconds=1)
    new = world.state.create("contacts", {"firstname": "New", "email": "new@example.com"})
    second_run = world.clock.tick(minutes=1)
    second = world.pull(connector, "contacts", first.cursor, run_started_at=second_run)

    assert ids(second.records) == {old[1], new}
    assert second.by_id[old[1]].properties["phone"] == "+1 555 0100"
    assert second.cursor.updated_at == second_run
    for batch in second.batches:
        assert first.cursor.updated_at is not None
        assert batch.cursor.updated_at is not None
        assert first.cursor.updated_at <= batch.cursor.updated_at <= second_run


def test_incremental_search_requests_associations_separately(world: World) -> None:
    company = world.state.create("companies", {"name": "Acme"})
    contact = world.state.create("contacts", {"firstname": "Ann"})
    world.clock.tick(minutes=10)
    connector = world.connector()
    cursor = world.pull(connector, "contacts", run_started_at=world.clock.now).cursor
    world.clock.tick(minutes=10)
    world.state.update("contacts", contact, {"lastname": "Lee"})
    world.state.associate("contacts", contact, "companies", company)
    world.clock.tick(seconds=30)
    pulled = world.pull(connector, "contacts", cursor, run_started_at=world.clock.now)
    assert pulled.by_id[contact].associations == {"companies": (company,)}
    assert pulled.by_id[contact].properties["lastname"] == "Lee"


def test_nothing_is_lost_at_the_search_cap_even_within_one_millisecond(world: World) -> None:
    seed(world, 3)
    connector = world.connector(page_size_search=20)
    world.state.search_cap = 50
    cursor = world.pull(connector, "contacts", run_started_at=world.clock.tick(minutes=10)).cursor

    world.clock.tick(minutes=10)
    changed: set[str] = set()
    for i in range(70):  # spread over distinct milliseconds
        world.clock.tick(milliseconds=3)
        changed.add(world.state.create("contacts", {"firstname": f"spread{i}"}))
    world.clock.tick(milliseconds=3)
    for i in range(130):  # many more than the cap in one single millisecond
        changed.add(world.state.create("contacts", {"firstname": f"same{i}"}))
    for i in range(40):
        world.clock.tick(milliseconds=1)
        changed.add(world.state.create("contacts", {"firstname": f"after{i}"}))
    world.state.record_exchanges = True
    run = world.clock.tick(seconds=30)
    pulled = world.pull(connector, "contacts", cursor, run_started_at=run)

    assert ids(pulled.records) == changed
    assert len(pulled.records) == len(changed), "each id once within a pull"
    searches = [x for x in world.state.request_log if x.path.endswith("/search")]
    assert all(x.status == 200 for x in searches), "never paged past the cap"
    assert all(x.request_json.get("after") is None for x in searches), "never an offset"
    pinned = [
        x
        for x in searches
        if any(f["operator"] == "EQ" for f in x.request_json["filterGroups"][0]["filters"])
    ]
    assert pinned, "the single crowded millisecond was read by id"
    assert pulled.cursor.updated_at == run


def test_search_lag_is_covered_by_the_lookback_on_the_next_run(world: World) -> None:
    contacts = seed(world, 4)
    world.state.search_lag = timedelta(seconds=20)
    connector = world.connector(lookback_seconds=300)
    cursor = world.pull(connector, "contacts", run_started_at=world.clock.tick(minutes=10)).cursor

    world.clock.tick(minutes=10)
    world.state.update("contacts", contacts[0], {"lastname": "early"})
    world.clock.tick(minutes=1)
    world.state.update("contacts", contacts[1], {"lastname": "late"})  # just before the run
    first_run = world.clock.tick(seconds=5)
    first = world.pull(connector, "contacts", cursor, run_started_at=first_run)
    assert ids(first.records) == {contacts[0]}, "the late update is not yet visible to search"

    second_run = world.clock.tick(minutes=2)
    second = world.pull(connector, "contacts", first.cursor, run_started_at=second_run)
    assert contacts[1] in ids(second.records)
    assert second.by_id[contacts[1]].properties["lastname"] == "late"
    assert len(second.records) == len(ids(second.records)), "de-duplicated within the pull"


def test_archived_records_arrive_in_incremental_pulls_and_old_ones_do_not_repeat(
    world: World,
) -> None:
    contacts = seed(world, 4)
    world.state.archive("contacts", contacts[0])
    connector = world.connector(archived_every_hours=0)  # the archived listing on every pull
    cursor = world.pull(connector, "contacts", run_started_at=world.clock.tick(minutes=10)).cursor

    world.clock.tick(hours=1)
    world.state.archive("contacts", contacts[2])
    pulled = world.pull(connector, "contacts", cursor, run_started_at=world.clock.tick(minutes=1))
    assert ids(pulled.records) == {contacts[2]}
    assert pulled.by_id[contacts[2]].archived is True


def test_the_archived_listing_is_read_on_its_own_slower_schedule(world: World) -> None:
    contacts = seed(world, 4)
    connector = world.connector(archived_every_hours=6)
    full_run = world.clock.tick(minutes=10)
    cursor = world.pull(connector, "contacts", run_started_at=full_run).cursor
    assert cursor.deletions_read_at == full_run

    world.state.archive("contacts", contacts[2])
    world.state.record_exchanges = True
    soon = world.pull(connector, "contacts", cursor, run_started_at=world.clock.tick(hours=5))
    listed = [x for x in world.state.request_log if x.query.get("archived") == ["True"]]
    assert listed == [], "not due: HubSpot answers the archived listing in full"
    assert contacts[2] not in ids(soon.records)
    assert soon.cursor.deletions_read_at == full_run, "not read: the mark stays"

    due_run = world.clock.tick(hours=1, seconds=1)
    due = world.pull(connector, "contacts", soon.cursor, run_started_at=due_run)
    listed = [x for x in world.state.request_log if x.query.get("archived") == ["True"]]
    assert len(listed) == 1
    assert due.by_id[contacts[2]].archived is True
    assert due.cursor.deletions_read_at == due_run


def test_merged_records_arrive_in_incremental_pulls_with_merged_into(world: World) -> None:
    contacts = seed(world, 3)
    connector = world.connector()
    cursor = world.pull(connector, "contacts", run_started_at=world.clock.tick(minutes=10)).cursor

    world.clock.tick(hours=1)
    survivor = world.state.merge("contacts", contacts[0], contacts[1])
    pulled = world.pull(connector, "contacts", cursor, run_started_at=world.clock.tick(minutes=1))
    assert pulled.by_id[survivor].merged_ids == (contacts[0], contacts[1])
    assert pulled.by_id[contacts[0]].merged_into == survivor
    assert pulled.by_id[contacts[1]].merged_into == survivor
    assert contacts[2] not in ids(pulled.records)


def test_a_cursor_is_never_moved_backwards(world: World) -> None:
    seed(world, 3)
    connector = world.connector()
    future = world.clock.now + timedelta(days=1)
    pulled = world.pull(connector, "contacts", Cursor(future), run_started_at=world.clock.now)
    assert all(b.cursor.updated_at == future for b in pulled.batches)
