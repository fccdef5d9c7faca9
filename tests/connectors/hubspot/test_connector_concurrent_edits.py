"""Incremental pulls while a person edits records: every change made before the run start is
read, by this run or (for a record edited during it) by the next one."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.records import Cursor
from sandbox.hubspot import HubSpotSandbox
from tests.connectors.hubspot.world import (
    BeforeEachSearch,
    FakeClock,
    Pull,
    World,
    ids,
    new_state,
)

LOOKBACK = timedelta(minutes=5)


def assert_cursor_rules(pull: Pull, start: datetime, run: datetime) -> None:
    """Batch cursors never move backwards, never before the stored cursor nor past the run."""
    previous = start
    for batch in pull.batches:
        moved = batch.cursor.updated_at
        assert moved is not None
        assert previous <= moved <= run
        previous = moved
    assert pull.cursor.updated_at == run


def test_edits_to_already_read_records_between_pages_lose_nothing(world: World) -> None:
    """A person edits records the pull has already read, two before each search request. Under
    offset paging each edit shifts the unread rest up by one and a record is never returned;
    every change here is older than the lookback, so no later run would read it either."""
    cursor = world.clock.now
    changed: list[str] = []  # in last-modified order
    for i in range(60):
        world.clock.tick(seconds=25)
        changed.append(world.state.create("contacts", {"firstname": f"spread{i}"}))
    world.clock.tick(seconds=25)
    for i in range(25):  # an import: many records in one millisecond
        changed.append(world.state.create("contacts", {"firstname": f"import{i}"}))
    for i in range(60):
        world.clock.tick(seconds=25)
        changed.append(world.state.create("contacts", {"firstname": f"late{i}"}))
    run = world.clock.tick(minutes=1)
    with world.state.lock:
        old = [r for r in world.state.live_records("contacts") if r.updated_at < run - LOOKBACK]
    assert len(old) > 130, "nearly every change is older than the lookback"
    connector = world.connector(lookback_seconds=int(LOOKBACK.total_seconds()), page_size_search=10)

    edited: list[str] = []

    def person_edits(search: int) -> None:
        if search == 0:
            return
        for record_id in changed[len(edited) : len(edited) + 2]:  # the oldest, already read
            world.clock.tick(seconds=1)
            world.state.update("contacts", record_id, {"lastname": "edited"})
            edited.append(record_id)

    world.state.faults = BeforeEachSearch(person_edits)
    world.state.record_exchanges = True
    first = world.pull(connector, "contacts", Cursor(cursor), run_started_at=run)
    world.state.faults = None
    assert edited, "the person edited records during the pull"
    assert_cursor_rules(first, cursor, run)
    assert set(changed) - set(edited) <= ids(first.records), "every unedited change was read"
    searches = [x.request_json for x in world.state.request_log if x.path.endswith("/search")]
    assert all("after" not in body for body in searches), "never an offset"
    assert any(
        f["operator"] == "EQ" for body in searches for f in body["filterGroups"][0]["filters"]
    ), "the import's millisecond was read by id"

    second_run = world.clock.tick(minutes=1)
    second = world.pull(connector, "contacts", first.cursor, run_started_at=second_run)
    assert set(edited) <= ids(second.records), "the edits come with the next run"
    assert {second.by_id[i].properties["lastname"] for i in edited} == {"edited"}
    assert ids(first.records) | ids(second.records) == set(changed)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    gaps_ms=st.lists(st.sampled_from([0, 0, 1, 2, 20_000]), min_size=1, max_size=40),
    page_size=st.integers(min_value=1, max_value=6),
    edits=st.lists(st.lists(st.integers(min_value=0, max_value=39), max_size=3), max_size=30),
)
def test_random_edits_during_a_pull_miss_nothing_changed_before_the_run_start(
    shared_sandbox: HubSpotSandbox, gaps_ms: list[int], page_size: int, edits: list[list[int]]
) -> None:
    """Records changed at random moments (many sharing a millisecond), and a person editing
    random records (read or not) before each search request: each change made before the run
    start is read by the run, or, for a record edited during it, its edit by the next run."""
    clock = FakeClock()
    state = new_state(clock)
    shared_sandbox.state = state
    shared_sandbox.app.state = state
    world = World(clock=clock, state=state, sandbox=shared_sandbox)
    try:
        cursor = clock.now
        changed = []
        for i, gap in enumerate(gaps_ms):
            clock.tick(milliseconds=gap)
            changed.append(state.create("contacts", {"firstname": f"c{i}"}))
        run = clock.tick(seconds=30)
        connector = world.connector(lookback_seconds=1, page_size_search=page_size)
        edited: set[str] = set()

        def person_edits(search: int) -> None:
            for which in edits[search] if search < len(edits) else ():
                clock.tick(milliseconds=1)
                record_id = changed[which % len(changed)]
                state.update("contacts", record_id, {"lastname": f"edit{search}"})
                edited.add(record_id)

        state.faults = BeforeEachSearch(person_edits)
        first = world.pull(connector, "contacts", Cursor(cursor), run_started_at=run)
        state.faults = None
        assert_cursor_rules(first, cursor, run)
        assert set(changed) - edited <= ids(first.records)
        assert all(r.updated_at < run for r in first.records), "read as it was at the run start"
        assert len(first.records) == len(ids(first.records)), "each id once within a pull"

        second_run = clock.tick(seconds=30)
        second = world.pull(connector, "contacts", first.cursor, run_started_at=second_run)
        with state.lock:
            now = {r.id: r.updated_at for r in state.live_records("contacts")}
        assert {i: second.by_id[i].updated_at for i in edited} == {i: now[i] for i in edited}
        assert ids(first.records) | ids(second.records) == set(changed)
    finally:
        world.close()
