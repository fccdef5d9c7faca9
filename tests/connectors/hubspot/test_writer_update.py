"""Writer.update against the sandbox: batching, partial failures, retries, auth."""

from __future__ import annotations

import time

import pytest

from model.errors import SourceFatalError
from model.writes import FieldWrite, WriteErrorKind
from sandbox.hubspot import Fault, HubSpotSandbox, Response, ScriptedFaults
from tests.connectors.hubspot.world import (
    AllOrNothing,
    RateLimitedInputs,
    World,
    api_error,
)

pytestmark = pytest.mark.usefixtures("wire_checked")

UPDATE = "/crm/v3/objects/contacts/batch/update"


def contacts(world: World, count: int) -> list[str]:
    return [world.state.create("contacts", {"firstname": f"C{i}"}) for i in range(count)]


def value(world: World, record_id: str, name: str) -> str | None:
    record = world.state.get("contacts", record_id)
    assert record is not None
    return record.properties.get(name)


def updates(world: World) -> list[list[str]]:
    """The ids each batch update request carried, in order."""
    return [
        [str(i["id"]) for i in x.request_json["inputs"]]
        for x in world.state.request_log
        if x.path == UPDATE
    ]


def test_250_updates_take_3_calls_and_are_visible_after(world: World) -> None:
    made = contacts(world, 250)
    connector = world.connector()
    writes = [FieldWrite(f"k{i}", rid, {"city": f"City {i}"}) for i, rid in enumerate(made)]

    results = connector.update("contacts", writes)

    assert connector.calls["batch_update"] == 3
    assert [len(ids) for ids in updates(world)] == [100, 100, 50]
    assert [r.key for r in results] == [w.key for w in writes]
    assert all(r.ok and r.remote_id == w.record_id for r, w in zip(results, writes, strict=True))
    assert all(value(world, rid, "city") == f"City {i}" for i, rid in enumerate(made))
    assert results[0].response["status"] == 200
    assert results[0].response["correlationId"]  # HubSpot's X-HubSpot-Correlation-Id
    sent = world.state.request_log[0].request_json["inputs"][0]
    assert sent["objectWriteTraceId"] == "k0", "each input carries its outbox key"


def test_none_clears_a_value(world: World) -> None:
    ann = world.state.create("contacts", {"firstname": "Ann", "jobtitle": "CEO"})

    (result,) = world.connector().update("contacts", [FieldWrite("k", ann, {"jobtitle": None})])

    assert result.ok
    assert value(world, ann, "jobtitle") is None
    assert world.state.request_log[0].request_json["inputs"][0]["properties"] == {"jobtitle": ""}


def test_canonical_fields_go_out_under_hubspots_names(world: World) -> None:
    ann, bob = contacts(world, 2)
    connector = world.connector()

    owned, derived = connector.update(
        "contacts",
        [
            FieldWrite("k1", ann, {"owner_id": "77", "lead_status": "OPEN"}),
            FieldWrite("k2", bob, {"lead_open": "true"}),
        ],
    )

    assert owned.ok
    sent = world.state.request_log[0].request_json["inputs"][0]["properties"]
    assert sent == {"hubspot_owner_id": "77", "hs_lead_status": "OPEN"}
    assert value(world, ann, "hs_lead_status") == "OPEN"
    assert not derived.ok  # decided by the connector: never sent
    assert (derived.error_kind, derived.fields) == (WriteErrorKind.INVALID_VALUE, ("lead_open",))
    assert derived.error is not None
    assert "lead_open" in derived.error
    assert updates(world) == [[ann]]


def test_an_invalid_value_fails_only_its_input(world: World) -> None:
    made = contacts(world, 3)
    connector = world.connector()
    writes = [
        FieldWrite("good-1", made[0], {"lifecycle_stage": "lead"}),
        FieldWrite("bad", made[1], {"lifecycle_stage": "prospect"}),
        FieldWrite("good-2", made[2], {"lifecycle_stage": "customer"}),
    ]

    good_1, bad, good_2 = connector.update("contacts", writes)

    assert connector.calls["batch_update"] == 1
    assert world.state.request_log[0].status == 207
    assert good_1.ok
    assert good_2.ok
    assert not bad.ok
    assert not bad.retriable
    assert bad.error is not None
    assert "'prospect' was not one of the allowed options" in bad.error
    assert bad.response["category"] == "VALIDATION_ERROR"
    assert bad.response["status"] == 207
    assert bad.error_kind is WriteErrorKind.INVALID_VALUE
    assert bad.fields == ("lifecycle_stage",)  # canonical, not HubSpot's lifecyclestage
    assert value(world, made[0], "lifecyclestage") == "lead"
    assert value(world, made[1], "lifecyclestage") is None
    assert value(world, made[2], "lifecyclestage") == "customer"


def test_a_missing_record_fails_only_its_input(world: World) -> None:
    (ann,) = contacts(world, 1)
    gone = world.state.create("contacts", {"firstname": "Gone"})
    world.state.archive("contacts", gone)

    kept, lost = world.connector().update(
        "contacts",
        [FieldWrite("a", ann, {"city": "Rome"}), FieldWrite("b", gone, {"city": "Rome"})],
    )

    assert kept.ok
    assert value(world, ann, "city") == "Rome"
    assert not lost.ok
    assert not lost.retriable
    assert lost.response["category"] == "OBJECT_NOT_FOUND"


def test_a_whole_batch_refusal_is_narrowed_down_to_the_bad_input(
    world: World,
) -> None:
    made = contacts(world, 16)
    world.state.faults = AllOrNothing(world.sandbox, UPDATE)
    connector = world.connector()
    writes = [FieldWrite(f"k{i}", rid, {"lifecycle_stage": "lead"}) for i, rid in enumerate(made)]
    writes[11] = FieldWrite("k11", made[11], {"lifecycle_stage": "prospect"})

    results = connector.update("contacts", writes)

    assert [r.ok for r in results] == [i != 11 for i in range(16)]
    assert results[11].error is not None
    assert "'prospect' was not one of the allowed options" in results[11].error
    assert results[11].response["status"] == 400
    assert not results[11].retriable
    assert all(value(world, rid, "lifecyclestage") == "lead" for rid in made if rid != made[11])
    # halving 16 down to 1: the whole, then two halves per level
    assert connector.calls["batch_update"] == 1 + 2 * 4


def test_an_update_of_a_merged_id_lands_on_the_survivor_in_a_legacy_portal(world: World) -> None:
    world.state.legacy_merge = True
    primary, absorbed = contacts(world, 2)
    world.state.merge("contacts", primary, absorbed)

    (result,) = world.connector().update("contacts", [FieldWrite("k", absorbed, {"city": "Bern"})])

    assert result.ok
    assert result.remote_id == primary
    assert value(world, primary, "city") == "Bern"


def test_an_update_of_a_merged_id_answered_with_silence_is_not_applied(world: World) -> None:
    primary, absorbed, other = contacts(world, 3)
    survivor = world.state.merge("contacts", primary, absorbed)
    connector = world.connector()

    results = connector.update(
        "contacts",
        [FieldWrite("k1", absorbed, {"city": "Bern"}), FieldWrite("k2", other, {"city": "Bern"})],
    )

    merged, written = results
    assert written.ok
    assert not merged.ok, "neither a result nor an error: never applied"
    assert merged.error_kind is WriteErrorKind.MERGED
    assert not merged.retriable
    assert merged.remote_id == survivor
    assert merged.error is not None
    assert survivor in merged.error
    assert value(world, survivor, "city") is None
    assert connector.calls["batch_update"] == 1, "an absorbed id is not sent again"
    assert connector.calls["batch_read"] == 1


def test_a_record_written_twice_goes_in_two_batches_in_order(world: World) -> None:
    ann, bob = contacts(world, 2)

    results = world.connector().update(
        "contacts",
        [
            FieldWrite("1", ann, {"city": "Old"}),
            FieldWrite("2", bob, {"city": "Bob"}),
            FieldWrite("3", ann, {"city": "New"}),
        ],
    )

    assert all(r.ok for r in results)
    assert updates(world) == [[ann, bob], [ann]]
    assert value(world, ann, "city") == "New"


def test_server_errors_and_rate_limits_are_retried_with_backoff(world: World) -> None:
    made = contacts(world, 3)
    world.state.faults = ScriptedFaults(
        Fault(status=503),
        Fault(status=429, retry_after_s=3),
        Fault(status=502),
        match=UPDATE,
    )
    connector = world.connector()

    results = connector.update(
        "contacts", [FieldWrite(f"k{i}", rid, {"city": "X"}) for i, rid in enumerate(made)]
    )

    assert all(r.ok for r in results)
    assert connector.calls["batch_update"] == 4
    # backoff 0.5, then Retry-After 3 s (longer than the 1 s backoff), then 2 s
    assert world.sleeps == [0.5, 3.0, 2.0]
    assert all(value(world, rid, "city") == "X" for rid in made)


def test_a_429_without_retry_after_waits_for_the_rate_limit_window(world: World) -> None:
    (ann,) = contacts(world, 1)
    world.state.faults = ScriptedFaults(Fault(status=429), match=UPDATE)

    (result,) = world.connector().update("contacts", [FieldWrite("k", ann, {"city": "X"})])

    assert result.ok
    assert world.sleeps == [10.0], "one wait: the retry's, which the pacer does not repeat"


def test_retries_give_up_with_retriable_failures_carrying_hubspots_message(
    world: World,
) -> None:
    made = contacts(world, 2)
    world.state.faults = ScriptedFaults(*[Fault(status=503) for _ in range(4)], match=UPDATE)
    connector = world.connector()

    results = connector.update(
        "contacts", [FieldWrite(f"k{i}", rid, {"city": "X"}) for i, rid in enumerate(made)]
    )

    assert connector.calls["batch_update"] == 4, "max_attempts in all"
    for result in results:
        assert not result.ok
        assert result.retriable
        assert result.error is not None
        assert "503" in result.error
        assert "temporarily unavailable" in result.error
        assert result.response["category"] == "INTERNAL_ERROR"
    assert all(value(world, rid, "city") is None for rid in made)


def test_only_the_inputs_that_failed_transiently_are_sent_again(world: World) -> None:
    made = contacts(world, 4)
    world.state.faults = RateLimitedInputs(world.sandbox, UPDATE, {made[2]})
    connector = world.connector()

    results = connector.update(
        "contacts", [FieldWrite(f"k{i}", rid, {"city": "Y"}) for i, rid in enumerate(made)]
    )

    assert all(r.ok for r in results)
    assert updates(world) == [made, [made[2]]]
    assert world.sleeps == [0.5]
    assert all(value(world, rid, "city") == "Y" for rid in made)


def test_dropped_connections_are_retried(world: World) -> None:
    (ann,) = contacts(world, 1)
    world.state.faults = ScriptedFaults(Fault(drop=True), Fault(drop_after=True), match=UPDATE)
    connector = world.connector()

    (result,) = connector.update("contacts", [FieldWrite("k", ann, {"city": "Z"})])

    assert result.ok
    assert connector.calls["batch_update"] == 3
    assert value(world, ann, "city") == "Z"


def test_a_rejected_token_stops_the_source(world: World) -> None:
    (ann,) = contacts(world, 1)
    with HubSpotSandbox(world.state, port=0, tokens={"the-right-token"}) as strict:
        connector = world.connector(base_url=strict.base_url)
        with pytest.raises(SourceFatalError, match="401"):
            connector.update("contacts", [FieldWrite("k", ann, {"city": "Z"})])
    assert world.sleeps == [], "auth failures are not retried"
    assert value(world, ann, "city") is None


def test_missing_scopes_stop_the_source(world: World) -> None:
    (ann,) = contacts(world, 1)
    world.state.faults = ScriptedFaults(
        Fault(response=Response(403, api_error(403, "MISSING_SCOPES", "This app lacks scopes")))
    )
    with pytest.raises(SourceFatalError, match="MISSING_SCOPES"):
        world.connector().update("contacts", [FieldWrite("k", ann, {"city": "Z"})])


def test_a_timed_out_update_is_sent_again(world: World) -> None:
    (ann,) = contacts(world, 1)
    world.state.faults = ScriptedFaults(Fault(latency_s=0.3), match=UPDATE)
    connector = world.connector(request_timeout_seconds=0.1)

    (result,) = connector.update("contacts", [FieldWrite("k", ann, {"city": "Late"})])

    assert result.ok
    assert connector.calls["batch_update"] == 2
    assert value(world, ann, "city") == "Late"
    # the slow first request still lands (late, and harmlessly: an update is idempotent);
    # wait for it so that it cannot touch the next test's sandbox account
    deadline = time.monotonic() + 5
    while len(updates(world)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(updates(world)) == 2


def test_an_email_another_contact_holds_is_a_duplicate_value(world: World) -> None:
    world.state.create("contacts", {"firstname": "Ann", "email": "ann@example.com"})
    bob = world.state.create("contacts", {"firstname": "Bob", "email": "bob@example.com"})

    (taken,) = world.connector().update(
        "contacts", [FieldWrite("k", bob, {"email": "ann@example.com"})]
    )

    assert not taken.ok
    assert not taken.retriable
    assert (taken.error_kind, taken.fields) == (WriteErrorKind.DUPLICATE_VALUE, ("email",))
    assert value(world, bob, "email") == "bob@example.com"
