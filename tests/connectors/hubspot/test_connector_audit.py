"""What the completeness audit asks of HubSpot: search totals per last-modified range, the
archived ids, and the calls (and 429s) made."""

from __future__ import annotations

from datetime import timedelta

from sandbox.hubspot import Fault, Request
from tests.connectors.hubspot.world import T0, World


def test_count_is_the_search_total_of_a_last_modified_range(world: World) -> None:
    early = [world.state.create("contacts", {"email": f"a{i}@x.com"}) for i in range(3)]
    world.clock.tick(hours=1)
    late = [world.state.create("contacts", {"email": f"b{i}@x.com"}) for i in range(2)]
    world.state.create("deals", {"dealname": "D"})
    world.clock.tick(hours=1)
    world.state.archive("contacts", early[0])  # archived: no longer found by search
    connector = world.connector()
    world.state.record_exchanges = True

    assert connector.count("contacts", T0, T0 + timedelta(minutes=30)) == 2
    assert connector.count("contacts", T0 + timedelta(minutes=30), world.clock.now) == len(late)
    assert connector.count("deals", T0, world.clock.now + timedelta(hours=1)) == 1
    assert connector.count("owners", T0, world.clock.now) is None
    searches = [e for e in world.state.request_log if e.path.endswith("/search")]
    assert all(e.request_json["limit"] == 1 for e in searches)  # type: ignore[index]


def test_archived_ids_pages_through_the_archived_listing(world: World) -> None:
    made = [world.state.create("contacts", {"email": f"a{i}@x.com"}) for i in range(6)]
    for record_id in made[:3]:
        world.state.archive("contacts", record_id)
    cut = world.clock.tick(minutes=5)
    world.state.archive("contacts", made[3], at=cut + timedelta(seconds=1))
    connector = world.connector(page_size_list=2)
    assert connector.archived_ids("contacts", cut) == set(made[:3])
    assert connector.archived_ids("contacts", cut + timedelta(minutes=1)) == set(made[:4])
    assert connector.archived_ids("companies", cut) == set()
    assert connector.archived_ids("owners", cut) is None


class FirstTooMany:
    def __init__(self) -> None:
        self.sent = False

    def decide(self, request: Request) -> Fault | None:
        if self.sent:
            return None
        self.sent = True
        return Fault(status=429, retry_after_s=1)


def test_usage_counts_calls_and_rate_limited_answers(world: World) -> None:
    world.state.create("contacts", {"email": "a@x.com"})
    connector = world.connector()
    world.state.faults = FirstTooMany()
    assert connector.count("contacts", T0, world.clock.now + timedelta(hours=1)) == 1
    usage = connector.usage()
    assert (usage.calls, usage.rate_limited) == (2, 1)
