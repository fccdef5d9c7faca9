"""Writer.merge and Writer.archive against the sandbox: idempotent merges, batch archives."""

from __future__ import annotations

import pytest

from model.errors import SourceFatalError
from sandbox.hubspot import Fault, HubSpotSandbox, Response, ScriptedFaults
from tests.connectors.hubspot.world import World, api_error

pytestmark = pytest.mark.usefixtures("wire_checked")


def merges(world: World) -> int:
    return sum(1 for x in world.state.request_log if x.path.endswith("/merge"))


@pytest.mark.parametrize("object_type", ["contacts", "companies", "deals"])
def test_merge_then_merge_again_is_idempotent(world: World, object_type: str) -> None:
    primary = world.state.create(object_type, {})
    absorbed = world.state.create(object_type, {})
    connector = world.connector()

    first = connector.merge(object_type, primary, absorbed, "m1")
    again = connector.merge(object_type, primary, absorbed, "m1")

    assert first.ok
    assert not first.already
    survivor = first.remote_id  # read back under both old ids
    assert survivor is not None
    if object_type == "deals":  # the primary keeps its id
        assert survivor == primary
    else:  # a new record (shared/notes/hubspot.md)
        assert survivor not in (primary, absorbed)
    assert world.state.resolve(object_type, primary) == survivor
    assert world.state.resolve(object_type, absorbed) == survivor
    assert first.response["status"] == 200
    assert first.response["correlationId"]  # from X-HubSpot-Correlation-Id
    assert (first.response["merged"], first.response["survivor"]) == (
        [primary, absorbed],
        survivor,
    )
    assert again.ok
    assert again.already, "the second call merged nothing"
    assert again.remote_id == survivor
    assert again.response["status"] == 400
    assert connector.calls["merge"] == 2


def test_a_legacy_merge_keeps_the_primary_id(world: World) -> None:
    world.state.legacy_merge = True  # older portals (shared/notes/hubspot.md)
    primary = world.state.create("contacts", {})
    absorbed = world.state.create("contacts", {})

    result = world.connector().merge("contacts", primary, absorbed, "m1")

    assert result.ok
    assert result.remote_id == primary


def test_a_merge_past_250_merged_identities_fails_for_good(world: World) -> None:
    many = ";".join(str(900_000 + n) for n in range(250))
    crowded = world.state.create("contacts", {"hs_merged_object_ids": many})
    other = world.state.create("contacts", {})
    connector = world.connector()

    result = connector.merge("contacts", crowded, other, "m1")

    assert not result.ok
    assert not result.retriable
    assert result.error is not None
    assert "250 merged identities" in result.error
    assert result.response["status"] == 414
    assert connector.calls["merge"] == 1, "not retried"
    assert world.state.resolve("contacts", other) == other


def test_a_merge_whose_answer_was_lost_is_recognised_when_retried(world: World) -> None:
    primary = world.state.create("contacts", {"firstname": "Ann"})
    absorbed = world.state.create("contacts", {"firstname": "Anne"})
    world.state.faults = ScriptedFaults(Fault(drop_after=True), match="/crm/v3/objects/contacts")
    connector = world.connector()

    result = connector.merge("contacts", primary, absorbed, "m1")

    assert result.ok
    assert result.already  # the retry was answered "already merged": which call did it is unknown
    survivor = world.state.get("contacts", primary)
    assert survivor is not None
    assert result.remote_id == survivor.id != primary
    assert connector.calls["merge"] == 2
    assert world.state.resolve("contacts", absorbed) == survivor.id
    assert survivor.merged_ids == [primary, absorbed], "merged once"


def test_merging_into_a_record_merged_since_reports_the_survivor(world: World) -> None:
    keeper = world.state.create("contacts", {})
    primary = world.state.create("contacts", {})
    absorbed = world.state.create("contacts", {})
    world.state.merge("contacts", primary, absorbed)
    keeper = world.state.merge("contacts", keeper, primary)

    result = world.connector().merge("contacts", primary, absorbed, "m1")

    assert result.ok
    assert result.remote_id == keeper


def test_merging_an_unknown_record_fails(world: World) -> None:
    primary = world.state.create("contacts", {})

    result = world.connector().merge("contacts", primary, "424242", "m1")

    assert not result.ok
    assert not result.retriable
    assert result.error is not None
    assert "404" in result.error
    assert result.response["category"] == "OBJECT_NOT_FOUND"


def test_a_refused_merge_of_two_live_records_fails_with_hubspots_message(world: World) -> None:
    primary = world.state.create("contacts", {})
    other = world.state.create("contacts", {})
    world.state.faults = ScriptedFaults(
        Fault(response=Response(400, api_error(400, "VALIDATION_ERROR", "Merge limit reached"))),
        match="/crm/v3/objects/contacts/merge",
    )

    result = world.connector().merge("contacts", primary, other, "m1")

    assert not result.ok
    assert not result.retriable
    assert result.error is not None
    assert "Merge limit reached" in result.error
    assert world.state.resolve("contacts", other) == other


def test_a_merge_that_keeps_failing_is_retriable(world: World) -> None:
    primary = world.state.create("deals", {})
    other = world.state.create("deals", {})
    world.state.faults = ScriptedFaults(
        *[Fault(status=503) for _ in range(4)], match="/crm/v3/objects/deals/merge"
    )
    connector = world.connector()

    result = connector.merge("deals", primary, other, "m1")

    assert not result.ok
    assert result.retriable
    assert connector.calls["merge"] == 4


def test_tasks_cannot_be_merged(world: World) -> None:
    connector = world.connector()

    result = connector.merge("tasks", "1", "2", "m1")

    assert not result.ok
    assert sum(connector.calls.values()) == 0


def test_merge_with_a_rejected_token_stops_the_source(world: World) -> None:
    primary = world.state.create("contacts", {})
    absorbed = world.state.create("contacts", {})
    with HubSpotSandbox(world.state, port=0, tokens={"the-right-token"}) as strict:
        connector = world.connector(base_url=strict.base_url)
        with pytest.raises(SourceFatalError, match="401"):
            connector.merge("contacts", primary, absorbed, "m1")
    assert merges(world) == 1


def test_archive_archives_in_batches_and_again_is_harmless(world: World) -> None:
    made = [
        world.state.create("tasks", {"hs_task_subject": f"T{i}", "hs_timestamp": "2024-05-02"})
        for i in range(120)
    ]
    connector = world.connector()
    keys = [f"k{i}" for i in range(120)]

    results = connector.archive("tasks", made, keys)
    again = connector.archive("tasks", made[:3], keys[:3])

    assert connector.calls["batch_archive"] == 3
    assert [r.key for r in results] == keys
    assert all(r.ok and r.remote_id == rid for r, rid in zip(results, made, strict=True))
    assert results[0].response["status"] == 204
    assert results[0].response["correlationId"]
    assert world.state.count("tasks") == 0
    assert world.state.count("tasks", archived=True) == 120
    assert all(r.ok for r in again)


def test_archive_retries_and_gives_up_per_input(world: World) -> None:
    made = [
        world.state.create("tasks", {"hs_task_subject": "T", "hs_timestamp": "2024-05-02"})
        for _ in range(2)
    ]
    world.state.faults = ScriptedFaults(*[Fault(status=500) for _ in range(4)])
    connector = world.connector()

    results = connector.archive("tasks", made, ["a", "b"])

    assert [r.retriable and not r.ok for r in results] == [True, True]
    assert world.state.count("tasks") == 2
    assert world.sleeps == [0.5, 1.0, 2.0]


def test_archive_needs_one_key_per_id(world: World) -> None:
    with pytest.raises(ValueError, match="key"):
        world.connector().archive("tasks", ["1", "2"], ["a"])
