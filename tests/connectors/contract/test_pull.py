"""The connector contract, pulling: full and incremental pulls, cursors, deletions and merges."""

from __future__ import annotations

from datetime import datetime, timedelta

from connectors.base import Capability
from model.fields import field_names
from model.records import Cursor
from tests.connectors.contract.harness import PEOPLE, ConnectorHarness, Pulled, pull, require

LATER = timedelta(hours=1)
"""Longer than any connector's lookback (the window before the cursor that a pull re-reads)."""


def assert_cursors_within(pulled: Pulled, start: datetime | None, run_started_at: datetime) -> None:
    """Every batch's cursor: never before ``start`` (the cursor pulled from), never past the run
    start; a connector without incremental pulls keeps an empty cursor."""
    for cursor in pulled.cursors():
        if cursor.updated_at is None:
            assert start is None, "a cursor never moves back to empty"
            continue
        assert cursor.updated_at <= run_started_at, "never past the run start"
        if start is not None:
            assert cursor.updated_at >= start, "never backwards"


def test_a_full_pull_returns_every_live_record_once(harness: ConnectorHarness) -> None:
    made = harness.seed(PEOPLE)
    run_started_at = harness.now()

    pulled = pull(harness)

    assert pulled.batches, "at least one batch, to carry the cursor"
    assert {b.object_type for b in pulled.batches} == {harness.object_type}
    assert dict(pulled.times_seen) == dict.fromkeys(made, 1)
    canonical = set(field_names(harness.object_type))
    for record_id, fields in zip(made, PEOPLE, strict=True):
        record = pulled.by_id[record_id]
        assert record.object_type == harness.object_type
        assert {k: record.properties.get(k) for k in fields} == fields
        assert set(record.properties) <= canonical, "canonical field names only"
        assert not record.archived
        assert record.merged_into is None
        assert record.updated_at <= run_started_at
    assert [s for b in pulled.batches for s in b.skipped] == []
    assert_cursors_within(pulled, None, run_started_at)


def test_an_empty_source_pulls_one_empty_batch_with_a_cursor(harness: ConnectorHarness) -> None:
    run_started_at = harness.now()

    pulled = pull(harness)

    assert pulled.records == []
    assert len(pulled.batches) >= 1
    assert_cursors_within(pulled, None, run_started_at)


def test_an_incremental_pull_returns_what_was_edited_since_the_cursor(
    harness: ConnectorHarness,
) -> None:
    require(harness, Capability.INCREMENTAL)
    made = harness.seed(PEOPLE)
    harness.advance(LATER)
    first = pull(harness)
    harness.advance(LATER)
    harness.edit(made[1], {"city": "Bergen"})
    harness.advance(timedelta(minutes=1))
    second_run = harness.now()

    second = pull(harness, first.cursor)

    assert set(second.by_id) == {made[1]}, "only what changed since the cursor"
    assert second.by_id[made[1]].properties["city"] == "Bergen"
    assert second.by_id[made[1]].properties["firstname"] == "Bob"
    assert first.cursor.updated_at is not None
    assert_cursors_within(second, first.cursor.updated_at, second_run)


def test_a_cursor_ahead_of_the_run_start_is_not_moved_back(harness: ConnectorHarness) -> None:
    require(harness, Capability.INCREMENTAL)
    harness.seed(PEOPLE)
    ahead = harness.now() + timedelta(days=1)

    pulled = pull(harness, Cursor(ahead))

    assert all(c.updated_at == ahead for c in pulled.cursors())


def test_deleted_records_are_pulled_archived(harness: ConnectorHarness) -> None:
    require(harness, Capability.DELETIONS)
    made = harness.seed(PEOPLE)
    harness.delete(made[0])
    harness.advance(timedelta(minutes=1))

    pulled = pull(harness)

    assert dict(pulled.times_seen) == dict.fromkeys(made, 1)
    assert pulled.by_id[made[0]].archived
    assert not pulled.by_id[made[1]].archived
    assert not pulled.by_id[made[2]].archived


def test_records_deleted_since_the_cursor_are_pulled_archived(harness: ConnectorHarness) -> None:
    require(harness, Capability.DELETIONS, Capability.INCREMENTAL)
    made = harness.seed(PEOPLE)
    harness.advance(LATER)
    first = pull(harness)
    harness.advance(LATER)
    harness.delete(made[2])
    harness.advance(max(timedelta(minutes=1), harness.deletions_every))

    second = pull(harness, first.cursor)

    assert set(second.by_id) == {made[2]}
    assert second.by_id[made[2]].archived


def test_merged_records_are_pulled_merged_into_their_survivor(harness: ConnectorHarness) -> None:
    require(harness, Capability.MERGED_RECORDS)
    made = harness.seed(PEOPLE)
    survivor = harness.merge(made[0], made[1])
    harness.advance(timedelta(minutes=1))

    pulled = pull(harness)

    assert survivor not in (made[1], made[2]), "the primary's id, or a new one (HubSpot today)"
    for gone in {made[0], made[1]} - {survivor}:
        assert pulled.by_id[gone].merged_into == survivor
        assert gone in pulled.by_id[survivor].merged_ids
    assert pulled.by_id[survivor].merged_into is None
    assert not pulled.by_id[survivor].archived
    assert pulled.by_id[made[2]].merged_into is None


def test_records_merged_since_the_cursor_are_pulled_merged_into_their_survivor(
    harness: ConnectorHarness,
) -> None:
    require(harness, Capability.MERGED_RECORDS, Capability.INCREMENTAL)
    made = harness.seed(PEOPLE)
    harness.advance(LATER)
    first = pull(harness)
    harness.advance(LATER)
    survivor = harness.merge(made[2], made[1])
    harness.advance(timedelta(minutes=1))

    second = pull(harness, first.cursor)

    assert second.by_id[made[1]].merged_into == survivor
    assert made[1] in second.by_id[survivor].merged_ids
    assert made[0] not in second.by_id
