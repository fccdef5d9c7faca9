"""Pacing against the sandbox's real rate limiter: a burst stays under the limit, no 429 at all.

The limiter counts requests on the world's fake time, which moves only when the connector
sleeps, so a 10-second window costs nothing in wall time.
"""

from __future__ import annotations

import pytest

from connectors.hubspot.pacer import Pacer
from model.writes import FieldWrite
from sandbox.hubspot.ratelimit import RateLimiter
from tests.connectors.hubspot.world import World

pytestmark = pytest.mark.usefixtures("wire_checked")

LIMIT = 20  # requests per rolling 10 s


def limited(world: World) -> list[str]:
    world.state.rate_limiter = RateLimiter(
        per_interval=LIMIT, search_per_second=None, daily=None, timer=world.time.monotonic
    )
    return [world.state.create("contacts", {"firstname": f"C{i}"}) for i in range(10)]


def burst(world: World, pacer: Pacer | None = None) -> None:
    made = limited(world)
    connector = world.connector(pacer=pacer)
    for i in range(30):
        record_id = made[i % len(made)]
        connector.read("contacts", [record_id], ["firstname"])
        connector.update("contacts", [FieldWrite(f"k{i}", record_id, {"city": f"C{i}"})])


def test_a_burst_stays_under_the_limit_without_a_single_429(world: World) -> None:
    start = world.time.now

    burst(world)

    statuses = [x.status for x in world.state.request_log]
    assert len(statuses) == 60
    assert 429 not in statuses
    elapsed = world.time.now - start
    # 60 requests at 20 per 10 s need at least 20 s; a budget of 18 (10% kept in reserve)
    # spent at its sustainable rate after the first window needs about 33 s
    assert 20.0 <= elapsed <= 40.0


def test_the_limiter_refuses_the_same_burst_when_the_pacer_does_not_let_time_pass(
    world: World,
) -> None:
    burst(world, pacer=Pacer(sleep=lambda _: None, clock=world.time.monotonic))

    assert 429 in [x.status for x in world.state.request_log], "the limit is real"
