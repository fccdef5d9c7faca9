"""Errors against the sandbox: auth failures, retries on 5xx/429/drops, malformed records."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.hubspot import HubSpotConnector
from connectors.hubspot.pacer import Pacer
from model.errors import RetriableError, SourceFatalError, SourcePausedError, SyncdError
from model.records import Cursor
from sandbox.hubspot import Fault, HubSpotSandbox, Response, ScriptedFaults
from tests.connectors.hubspot.world import Corrupting, World, ids


def error(status: int, category: str, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "status": "error",
        "message": message,
        "correlationId": "c0ffee",
        "category": category,
        **extra,
    }


def seed(world: World, count: int = 3) -> list[str]:
    made = [world.state.create("contacts", {"firstname": f"C{i}"}) for i in range(count)]
    world.clock.tick(minutes=1)
    return made


def test_a_rejected_token_stops_the_source(world: World) -> None:
    with HubSpotSandbox(world.state, port=0, tokens={"the-right-token"}) as strict:
        connector = world.connector(base_url=strict.base_url)
        with pytest.raises(SourceFatalError, match="401") as caught:
            world.pull(connector, "contacts")
        assert "INVALID_AUTHENTICATION" in str(caught.value)
    assert world.sleeps == [], "auth failures are not retried"


def test_missing_scopes_stop_the_source(world: World) -> None:
    seed(world)
    world.state.faults = ScriptedFaults(
        Fault(response=Response(403, error(403, "MISSING_SCOPES", "This app lacks scopes"))),
    )
    with pytest.raises(SourceFatalError, match="MISSING_SCOPES"):
        world.pull(world.connector(), "contacts")


def test_server_errors_and_rate_limits_are_retried_with_backoff(world: World) -> None:
    made = seed(world)
    rate_limited = error(
        429,
        "RATE_LIMITS",
        "You have reached your ten_secondly_rolling limit.",
        policyName="TEN_SECONDLY_ROLLING",
    )
    world.state.faults = ScriptedFaults(
        Fault(response=Response(502, error(502, "INTERNAL_ERROR", "Bad gateway"))),
        Fault(response=Response(429, rate_limited, headers={"Retry-After": "3"})),
        Fault(response=Response(503, error(503, "INTERNAL_ERROR", "Unavailable"))),
        match="/crm/v3/objects/contacts",
    )
    pulled = world.pull(world.connector(), "contacts")
    assert ids(pulled.records) == set(made)
    # backoff 0.5, then Retry-After 3 s (longer than the 1 s backoff), then 2 s
    assert world.sleeps == [0.5, 3.0, 2.0]


def test_a_429_without_retry_after_waits_for_the_rate_limit_window(world: World) -> None:
    seed(world)
    world.state.faults = ScriptedFaults(
        Fault(
            response=Response(
                429,
                error(429, "RATE_LIMITS", "limit", policyName="TEN_SECONDLY_ROLLING"),
                headers={"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"},
            )
        ),
    )
    world.pull(world.connector(), "contacts")
    assert world.sleeps == [10.0]


def test_retries_give_up_with_a_retriable_error_carrying_hubspots_message(world: World) -> None:
    seed(world)
    world.state.faults = ScriptedFaults(
        *[
            Fault(response=Response(503, error(503, "INTERNAL_ERROR", "Try later")))
            for _ in range(9)
        ]
    )
    with pytest.raises(RetriableError, match="Try later"):
        world.pull(world.connector(), "contacts")
    assert len(world.sleeps) == 3  # four attempts in all


def test_the_daily_quota_pauses_the_source_without_retrying(world: World) -> None:
    seed(world)
    daily = error(429, "RATE_LIMITS", "You have reached your daily limit.", policyName="DAILY")
    world.state.faults = ScriptedFaults(Fault(response=Response(429, daily)))
    connector = world.connector()
    with pytest.raises(SourcePausedError, match="DAILY") as paused:
        world.pull(connector, "contacts")
    assert "resets at midnight in the portal's time zone" in str(paused.value)
    assert world.sleeps == []
    assert connector.usage().rate_limited == 1


def test_dropped_connections_are_retried(world: World) -> None:
    made = seed(world)
    # more drops than urllib3's own three retries, so the connector's retry must step in
    world.state.faults = ScriptedFaults(*[Fault(drop=True) for _ in range(5)])
    pulled = world.pull(world.connector(), "contacts")
    assert ids(pulled.records) == set(made)
    assert world.sleeps, "the connector retried after urllib3 gave up"


def test_a_bad_request_fails_loudly(world: World) -> None:
    seed(world)
    world.state.faults = ScriptedFaults(
        Fault(response=Response(400, error(400, "VALIDATION_ERROR", "Invalid input JSON"))),
    )
    with pytest.raises(SyncdError, match="VALIDATION_ERROR") as caught:
        world.pull(world.connector(), "contacts")
    assert type(caught.value) is SyncdError
    assert world.sleeps == []


def test_a_malformed_record_is_skipped_and_reported(world: World) -> None:
    made = seed(world, 4)
    world.state.faults = Corrupting(
        world.sandbox, {made[1]: {"updatedAt": "not a date"}, made[2]: {"id": None}}
    )
    pulled = world.pull(world.connector(), "contacts")
    assert ids(pulled.records) == {made[0], made[3]}
    assert sorted(pulled.skipped) == sorted(
        [(made[1], "unparseable updatedAt 'not a date'"), ("?", "missing id")]
    )


def test_a_malformed_search_result_is_skipped_and_the_cursor_still_advances(
    world: World,
) -> None:
    made = seed(world, 3)
    connector = world.connector()
    cursor = world.pull(connector, "contacts", run_started_at=world.clock.tick(minutes=10)).cursor
    world.clock.tick(minutes=10)
    for contact in made:
        world.clock.tick(seconds=1)
        world.state.update("contacts", contact, {"lastname": "x"})
    world.state.faults = Corrupting(world.sandbox, {made[0]: {"properties": None}})
    run = world.clock.tick(minutes=1)
    pulled = world.pull(connector, "contacts", cursor, run_started_at=run)
    assert ids(pulled.records) == {made[1], made[2]}
    assert pulled.skipped == [(made[0], "missing properties")]
    assert pulled.cursor.updated_at == run


def test_the_pacer_reads_rate_limit_headers_from_successful_calls(world: World) -> None:
    seed(world)
    pacer = Pacer(sleep=world.sleeps.append)
    connector = world.connector(pacer=pacer)
    world.pull(connector, "contacts")
    limit = pacer.last
    assert limit is not None
    assert limit.maximum == 190
    assert limit.interval_seconds == 10.0


def test_unknown_object_types_are_refused(world: World) -> None:
    connector = world.connector(object_types=("contacts",))
    with pytest.raises(SyncdError, match="deals"):
        connector.pull("deals", Cursor(), run_started_at=world.clock.now)


def test_connector_declares_itself() -> None:
    assert HubSpotConnector.name == "hubspot"
    assert HubSpotConnector.object_types == ("contacts", "companies", "deals", "tasks", "owners")
