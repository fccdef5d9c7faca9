"""The connector against a sandbox answering as a live portal does: search's own limit, 423
Locked, 403 MISSING_SCOPES, 530 for a malformed token, correlation ids in the log, the
account id, and deal stages from custom pipelines.

The sandbox's limiter counts on the world's fake time, which moves only when the connector
sleeps: a second of backoff costs nothing in wall time.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import structlog

from connectors.hubspot import HubSpotConnector
from connectors.hubspot.pacer import SearchPacer
from model.errors import SourceFatalError
from model.records import Cursor
from model.writes import FieldWrite
from sandbox.hubspot.pipelines import pipeline
from sandbox.hubspot.ratelimit import RateLimiter
from sandbox.hubspot.store import portal_id_for
from tests.connectors.hubspot.world import TOKEN, World, ids


def _searches(world: World) -> list[int]:
    return [x.status for x in world.state.request_log if x.path.endswith("/search")]


def _limited(world: World, *, search_per_second: int | None) -> None:
    world.state.rate_limiter = RateLimiter(
        per_interval=None,
        search_per_second=search_per_second,
        daily=None,
        timer=world.time.monotonic,
    )
    world.state.record_exchanges = True


def _incremental(world: World, connector: HubSpotConnector, records: int) -> list[str]:
    made = [world.state.create("contacts", {"firstname": f"C{i}"}) for i in range(records)]
    for n, record_id in enumerate(made):  # one millisecond apart: every page a new window
        world.clock.tick(milliseconds=1)
        world.state.update("contacts", record_id, {"lastname": f"L{n}"})
    run = world.clock.tick(minutes=1)
    pulled = world.pull(connector, "contacts", Cursor(run - timedelta(hours=1)), run)
    return sorted(ids(pulled.records) & set(made))


def test_search_is_paced_by_its_own_per_second_limit_and_sees_no_429(world: World) -> None:
    _limited(world, search_per_second=5)
    connector = world.connector(page_size_search=2, search_requests_per_second=5)
    start = world.time.now

    pulled = _incremental(world, connector, 24)

    statuses = _searches(world)
    assert len(pulled) == 24
    assert len(statuses) >= 12
    assert 429 not in statuses
    assert world.time.now - start >= (len(statuses) - 5) / 5, "at most 5 a second"
    headers = [x.response_headers for x in world.state.request_log if x.path.endswith("/search")]
    assert not [h for hs in headers for h in hs if h.startswith("X-HubSpot-RateLimit")]


def test_search_backs_off_about_a_second_on_its_429(world: World) -> None:
    _limited(world, search_per_second=2)
    # paced as if the limit were 5: HubSpot refuses the third search of a second
    connector = world.connector(page_size_search=2, search_requests_per_second=5)

    pulled = _incremental(world, connector, 12)

    statuses = _searches(world)
    assert len(pulled) == 12, "nothing lost"
    assert 429 in statuses
    assert statuses[-1] == 200
    waits = [s for s in world.sleeps if s > 0]
    assert any(0.9 <= s <= 1.6 for s in waits), waits  # about a second, not the 10-s window
    assert all(s < 5 for s in waits)


def test_the_search_pacer_keeps_per_second_calls_in_any_second() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = SearchPacer(per_second=3, sleep=sleep, clock=lambda: now[0])
    stamps = []
    for _ in range(9):
        pacer.before_call()
        stamps.append(now[0])
        pacer.observe(None, 200)
    assert all(stamps[i + 3] - stamps[i] >= 1.0 for i in range(len(stamps) - 3))
    pacer.observe(None, 429)
    assert pacer.wait_seconds() == pytest.approx(1.0)


def test_a_write_to_a_locked_portal_waits_two_seconds_and_goes_through(world: World) -> None:
    _limited(world, search_per_second=None)
    world.state.rate_limiter.write_lock_threshold = 1
    made = [world.state.create("contacts", {"firstname": f"C{i}"}) for i in range(3)]
    connector = world.connector()

    results = [
        connector.update("contacts", [FieldWrite(f"k{i}", rid, {"city": "Oslo"})])[0]
        for i, rid in enumerate(made)
    ]

    assert all(r.ok for r in results)
    statuses = [x.status for x in world.state.request_log]
    assert 423 in statuses
    assert min(s for s in world.sleeps if s > 0) >= 2.0, "at least 2 s after a 423"
    assert all(
        (record := world.state.get("contacts", rid)) is not None
        and record.properties["city"] == "Oslo"
        for rid in made
    )


def test_a_token_without_a_scope_stops_the_source_naming_the_scope(world: World) -> None:
    world.sandbox.app.scopes = {TOKEN: frozenset({"crm.objects.contacts.read"})}
    try:
        connector = world.connector()
        with pytest.raises(SourceFatalError, match=r"crm\.objects\.deals\.read") as stopped:
            world.pull(connector, "deals")
        assert "MISSING_SCOPES" in str(stopped.value)
        assert connector.calls["list"] == 1, "not retried"
    finally:
        world.sandbox.app.scopes = None


def test_a_malformed_token_is_an_authentication_failure_not_retried(world: World) -> None:
    connector = HubSpotConnector(
        world.settings().with_token("pat na1 broken!"), sleep=world.time.sleep
    )
    try:
        with pytest.raises(SourceFatalError, match="530") as stopped:
            world.pull(connector, "contacts")
        assert "malformed" in str(stopped.value)
        assert connector.calls["list"] == 1
    finally:
        connector.close()


def test_every_failed_call_is_logged_with_its_correlation_id(world: World) -> None:
    world.sandbox.app.scopes = {TOKEN: frozenset()}
    try:
        connector = world.connector()
        with structlog.testing.capture_logs() as logs, pytest.raises(SourceFatalError):
            world.pull(connector, "contacts")
    finally:
        world.sandbox.app.scopes = None
    [failed] = [e for e in logs if e["event"] == "request failed"]
    assert failed["status"] == 403
    assert failed["correlation_id"]
    assert failed["correlation_id"] in failed["error"]


def test_the_account_id_is_the_portal_s(world: World) -> None:
    connector = world.connector()
    assert connector.account_id() == str(portal_id_for(0))
    assert connector.calls["account"] == 1


def test_deals_take_their_stage_s_meaning_from_custom_pipelines(world: World) -> None:
    world.state.add_pipeline(
        "deals",
        pipeline(
            "75000001",
            "Renewals",
            1,
            [
                ("75000011", "Due", 0.5, False),
                ("75000012", "Renewed", 1.0, True),
                ("75000013", "Churned", 0.0, True),
            ],
        ),
    )
    won = world.state.create("deals", {"pipeline": "75000001", "dealstage": "75000012"})
    lost = world.state.create("deals", {"pipeline": "75000001", "dealstage": "75000013"})
    due = world.state.create("deals", {"pipeline": "75000001", "dealstage": "75000011"})
    default = world.state.create("deals", {"pipeline": "default", "dealstage": "closedwon"})
    connector = world.connector()

    pulled = world.pull(connector, "deals").by_id

    def meaning(record_id: str) -> tuple[str | None, ...]:
        p = pulled[record_id].properties
        return (p["stage_label"], p["pipeline_label"], p["is_closed"], p["is_won"])

    assert meaning(won) == ("Renewed", "Renewals", "true", "true")
    assert meaning(lost) == ("Churned", "Renewals", "true", "false")
    assert meaning(due) == ("Due", "Renewals", "false", "false")
    assert meaning(default) == ("Closed Won", "Sales Pipeline", "true", "true")
    assert pulled[won].properties["stage_order"] == "1"
    assert connector.calls["pipelines"] == 1, "read once"
    again = connector.read("deals", [won], ["is_won", "stage_label"])[won]
    assert again is not None
    assert (again.properties["is_won"], again.properties["stage_label"]) == ("true", "Renewed")
    assert connector.calls["pipelines"] == 1
