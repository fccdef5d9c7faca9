"""Pulls with several requests in flight: the same batches as one at a time, within the limits.

The sandbox's rate limiter counts on the world's fake time here (``timer``), the time the
connector paces and sleeps on, so the limits hold or break exactly as they would in real time,
without waiting. The fake time is shared by every thread: a sleep moves it for all of them.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import timedelta

import pytest

from connectors.hubspot import HubSpotConnector
from connectors.hubspot.pacer import Pacer
from connectors.hubspot.settings import ASSOCIATION_BATCH_MAX
from model.records import Cursor, PullBatch
from sandbox.generator import generate
from sandbox.hubspot import Fault, Request, SandboxState, ScriptedFaults
from tests.connectors.hubspot.world import T0, FakeTime, World

CRM_TYPES = ("contacts", "companies", "deals", "tasks")


class SharedTime(FakeTime):
    """:class:`FakeTime` for several threads: a sleep moves the time by exactly its length."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


class Arrivals:
    """A fault policy that notes when each request arrived (on ``time``) and serves it, after
    the scripted faults ``then`` answer first."""

    def __init__(self, time: SharedTime, then: ScriptedFaults | None = None) -> None:
        self.time = time
        self.then = then
        self.seen: list[tuple[float, str, Fault | None]] = []
        self._lock = threading.Lock()

    def decide(self, request: Request) -> Fault | None:
        with self._lock:
            fault = self.then.decide(request) if self.then is not None else None
            self.seen.append((self.time.monotonic(), request.path, fault))
            return fault


def seeded(world: World, records: int = 150, **limits: int | None) -> SandboxState:
    """The world's sandbox holding a generated portal (contacts, companies, deals, tasks,
    owners, with their associations); ``limits`` as :class:`SandboxState` takes them."""
    dataset = generate(records=records, seed=5, now=T0 - timedelta(days=1))
    options: dict[str, int | None] = {
        "rate_limit": None,
        "search_rate_limit": None,
        "daily_limit": None,
    }
    state = SandboxState.from_dataset(dataset, clock=world.clock, **(options | limits))
    world.sandbox.state = state
    world.sandbox.app.state = state
    world.state = state
    return state


def connector_on(world: World, time: SharedTime, **overrides: object) -> HubSpotConnector:
    pacer = Pacer(sleep=time.sleep, clock=time.monotonic)
    built = HubSpotConnector(world.settings(**overrides), sleep=time.sleep, pacer=pacer)
    world._connectors.append(built)
    return built


def by_type(batches: list[PullBatch]) -> dict[str, list[PullBatch]]:
    found: dict[str, list[PullBatch]] = defaultdict(list)
    for batch in batches:
        found[batch.object_type].append(batch)
    return dict(found)


def pull_all(
    connector: HubSpotConnector, cursors: dict[str, Cursor], world: World
) -> list[PullBatch]:
    return list(connector.pull_all(cursors, run_started_at=world.clock.now))


def test_types_in_flight_give_each_type_the_batches_it_gives_alone(world: World) -> None:
    seeded(world)
    world.clock.tick(minutes=5)
    types = (*CRM_TYPES, "owners")
    alone = connector_on(world, SharedTime(), requests_in_flight=1)
    together = connector_on(world, SharedTime(), requests_in_flight=4)
    empty = dict.fromkeys(types, Cursor())

    one_at_a_time = by_type(pull_all(alone, empty, world))
    in_flight = by_type(pull_all(together, empty, world))

    assert set(in_flight) == set(types)
    assert in_flight == one_at_a_time  # every batch, its records, skipped and cursor, in order
    assert sum(len(b.records) for b in in_flight["contacts"]) >= 150

    # incremental: some edits, then both pull from the cursors the full pulls ended on
    world.clock.tick(minutes=10)
    contact = in_flight["contacts"][0].records[0].id
    world.state.update("contacts", contact, {"lastname": "Changed"})
    world.clock.tick(minutes=1)
    cursors = {t: batches[-1].cursor for t, batches in in_flight.items()}
    again_alone = by_type(pull_all(alone, cursors, world))
    again_together = by_type(pull_all(together, cursors, world))
    assert again_together == again_alone
    changed = [r for b in again_together["contacts"] for r in b.records if r.id == contact]
    assert [r.properties.get("lastname") for r in changed] == ["Changed"]


def test_pacing_in_flight_never_breaks_the_ten_second_window(world: World) -> None:
    time = SharedTime()
    state = seeded(world, records=400, rate_limit=10)
    state.rate_limiter.timer = time.monotonic
    connector = connector_on(world, time, requests_in_flight=4, page_size_list=10)

    batches = pull_all(connector, dict.fromkeys((*CRM_TYPES, "owners"), Cursor()), world)

    usage = connector.usage()
    assert usage.calls > 3 * 10  # three windows' worth at least: the limit was in play
    assert usage.rate_limited == 0
    assert state.stats()["rate_limited"] == 0
    assert time.sleeps  # and it was paced to keep it so
    assert sum(len(b.records) for b in batches if b.object_type == "contacts") >= 400


def test_searches_in_flight_stay_within_five_per_second(world: World) -> None:
    time = SharedTime()
    state = seeded(world, records=200, search_rate_limit=5)
    state.rate_limiter.timer = time.monotonic
    arrivals = Arrivals(time)
    connector = connector_on(
        world, time, requests_in_flight=4, page_size_search=10, search_requests_per_second=5
    )
    full = by_type(pull_all(connector, dict.fromkeys(CRM_TYPES, Cursor()), world))
    world.clock.tick(minutes=10)
    for object_type in CRM_TYPES:  # every record edited since: the whole portal is searched
        for record in (r for b in full[object_type] for r in b.records if not r.archived):
            if record.merged_into is None:
                world.state.update(object_type, record.id, {"hubspot_owner_id": ""})
    world.clock.tick(minutes=1)
    state.faults = arrivals

    pull_all(connector, {t: batches[-1].cursor for t, batches in full.items()}, world)

    searches = sorted(t for t, path, _ in arrivals.seen if path.endswith("/search"))
    assert len(searches) > 20
    assert connector.usage().rate_limited == 0
    assert state.stats()["rate_limited"] == 0
    # no rolling second (on the time the limiter counts) ever held more than five searches
    assert all(later - searches[i] >= 1.0 for i, later in enumerate(searches[5:]))


def test_a_retry_after_stops_every_thread(world: World) -> None:
    time = SharedTime()
    seeded(world, records=300)
    faults = ScriptedFaults(Fault(status=429, retry_after_s=3), match="/crm/v3/objects/contacts")
    arrivals = Arrivals(time, faults)
    world.state.faults = arrivals
    connector = connector_on(world, time, requests_in_flight=4)
    quiet = connector_on(world, SharedTime(), requests_in_flight=1)
    empty = dict.fromkeys(CRM_TYPES, Cursor())

    batches = by_type(pull_all(connector, empty, world))

    assert connector.usage().rate_limited == 1
    assert 3 in time.sleeps  # HubSpot's Retry-After, waited out
    refused_at = next(t for t, _, fault in arrivals.seen if fault is not None)
    later = [t for t, _, fault in arrivals.seen if fault is None and t > refused_at]
    assert later
    assert min(later) >= refused_at + 3  # no thread called before it was over
    world.state.faults = None
    assert batches == by_type(pull_all(quiet, empty, world))


def test_incremental_associations_are_read_a_thousand_ids_a_call(world: World) -> None:
    company = world.state.create("companies", {"name": "Acme"})
    world.clock.tick(minutes=10)
    connector = world.connector()
    cursor = world.pull(connector, "contacts", run_started_at=world.clock.now).cursor
    world.clock.tick(minutes=10)
    made = []
    for i in range(ASSOCIATION_BATCH_MAX + 200):
        contact = world.state.create("contacts", {"firstname": f"C{i}"})
        world.state.associate("contacts", contact, "companies", company)
        made.append(contact)
    world.clock.tick(minutes=1)
    world.state.record_exchanges = True

    pulled = world.pull(connector, "contacts", cursor, run_started_at=world.clock.now)

    reads = [
        len(x.request_json["inputs"])
        for x in world.state.request_log
        if x.path.endswith("/batch/read") and "associations" in x.path
    ]
    assert reads == [ASSOCIATION_BATCH_MAX, 200]
    assert all(pulled.by_id[c].associations == {"companies": (company,)} for c in made)


@pytest.mark.parametrize("in_flight", [1, 4])
def test_closing_a_pull_midway_stops_its_threads(world: World, in_flight: int) -> None:
    seeded(world, records=300)
    connector = connector_on(world, SharedTime(), requests_in_flight=in_flight, page_size_list=10)
    batches = connector.pull_all(dict.fromkeys(CRM_TYPES, Cursor()), run_started_at=T0)
    first = next(batches)
    pulling = [t for t in threading.enumerate() if t.name.startswith("pull-")]
    batches.close()  # type: ignore[attr-defined]  # a generator: the engine closes it so
    assert first.records
    assert bool(pulling) == (in_flight > 1)
    assert not any(t.is_alive() for t in pulling)
