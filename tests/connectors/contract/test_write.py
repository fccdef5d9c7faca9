"""The connector contract, writing: reads for conflict checks, partial failures, refused values,
merges, archives and tasks created once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.base import Capability
from model.writes import FieldWrite, TaskWrite
from tests.connectors.contract.harness import (
    PEOPLE,
    ConnectorHarness,
    created_by,
    pull,
    require,
    writer,
)

DUE = datetime(2024, 5, 8, 9, 30, tzinfo=UTC)


def current(harness: ConnectorHarness, record_id: str, field: str) -> str | None:
    values = harness.current(record_id)
    assert values is not None, f"{record_id} is not in the source"
    return values.get(field)


def test_read_returns_current_values_and_none_for_an_unknown_id(harness: ConnectorHarness) -> None:
    require(harness, Capability.WRITES)
    made = harness.seed(PEOPLE)

    found = writer(harness.connector).read(
        harness.object_type, [made[0], harness.absent_id], ["firstname", "city"]
    )

    assert set(found) == {made[0], harness.absent_id}
    ann = found[made[0]]
    assert ann is not None
    assert ann.id == made[0]
    assert ann.object_type == harness.object_type
    assert ann.properties["firstname"] == "Ann"
    assert ann.properties["city"] == "Lyon"
    assert found[harness.absent_id] is None


def test_read_shows_a_persons_edit_made_after_the_pull(harness: ConnectorHarness) -> None:
    """The conflict check's input: the pull is the baseline, the read shows what changed since."""
    require(harness, Capability.WRITES, Capability.LIVE)
    made = harness.seed(PEOPLE)
    baseline = pull(harness).by_id[made[1]]
    harness.edit(made[1], {"city": "Bergen"})

    found = writer(harness.connector).read(harness.object_type, [made[1]], ["city"])

    record = found[made[1]]
    assert record is not None
    assert baseline.properties["city"] == "Oslo"
    assert record.properties["city"] == "Bergen"


def test_a_batch_update_fails_only_its_bad_input(harness: ConnectorHarness) -> None:
    require(harness, Capability.WRITES)
    made = harness.seed(PEOPLE)
    writes = [
        FieldWrite("k-ann", made[0], {"city": "Paris"}),
        FieldWrite("k-nobody", harness.absent_id, {"city": "Paris"}),
        FieldWrite("k-cy", made[2], {"city": "Madrid", harness.cleared_field: None}),
    ]

    results = writer(harness.connector).update(harness.object_type, writes)

    assert [r.key for r in results] == ["k-ann", "k-nobody", "k-cy"]
    ann, nobody, cy = results
    assert ann.ok
    assert ann.remote_id == made[0]
    assert cy.ok
    assert cy.remote_id == made[2]
    assert not nobody.ok
    assert not nobody.retriable, "retrying cannot make an unknown record appear"
    assert nobody.error
    assert current(harness, made[0], "city") == "Paris"
    assert current(harness, made[2], "city") == "Madrid"
    assert current(harness, made[2], harness.cleared_field) is None, "None clears a value"
    assert current(harness, made[1], "city") == "Oslo"


def test_a_refused_value_fails_only_its_write_which_names_it(harness: ConnectorHarness) -> None:
    """The push resends the rest of a refused write: the result must say which field it was."""
    require(harness, Capability.WRITES, Capability.REFUSED_VALUES)
    field, value = harness.refused_value
    made = harness.seed(PEOPLE)
    connector = writer(harness.connector)

    ann, bob, cy = connector.update(
        harness.object_type,
        [
            FieldWrite("k-ann", made[0], {"city": "Paris"}),
            FieldWrite("k-bob", made[1], {"city": "Bergen", field: value}),
            FieldWrite("k-cy", made[2], {"city": "Madrid"}),
        ],
    )

    assert ann.ok
    assert cy.ok
    assert not bob.ok
    assert not bob.retriable, "the same value would be refused again"
    assert bob.error is not None
    assert field in bob.fields, "the result names the refused field, canonically"
    assert current(harness, made[0], "city") == "Paris"
    assert current(harness, made[2], "city") == "Madrid"
    assert current(harness, made[1], "city") == "Oslo", "a refused write is not half applied"

    (again,) = connector.update(
        harness.object_type, [FieldWrite("k-bob", made[1], {"city": "Bergen"})]
    )

    assert again.ok, "the rest of the write goes through without the refused value"
    assert current(harness, made[1], "city") == "Bergen"


def test_a_merged_id_reads_back_as_the_survivor(harness: ConnectorHarness) -> None:
    require(harness, Capability.MERGES)
    made = harness.seed(PEOPLE)
    connector = writer(harness.connector)

    merged = connector.merge(harness.object_type, made[0], made[1], "k-merge")
    again = connector.merge(harness.object_type, made[0], made[1], "k-merge")
    found = connector.read(harness.object_type, [made[1], made[0]], ["firstname"])

    assert merged.ok
    # the survivor keeps the primary's id, or is a new record with a new id (HubSpot today)
    new_id = merged.remote_id
    assert new_id is not None
    assert new_id not in (made[1], made[2])
    assert again.ok, "merging again is harmless"
    assert again.remote_id == new_id
    survivor, primary = found[made[1]], found[made[0]]
    assert survivor is not None
    assert survivor.id == new_id, "the caller can tell 'merged since' from 'deleted'"
    assert survivor.properties["firstname"] == "Ann"
    assert primary is not None
    assert primary.id == new_id, "both old ids read as the survivor"
    # in the source, the absorbed id is gone or stands for the survivor
    assert harness.current(made[1]) in (None, harness.current(new_id))


def test_a_merge_call_absorbs_as_many_records_as_it_declares(harness: ConnectorHarness) -> None:
    """``merge_group`` takes up to ``max_merged_per_call`` records (1 by default; Salesforce 2)
    and answers each with its own result; a group larger than that is refused unsent."""
    require(harness, Capability.MERGES)
    made = harness.seed(PEOPLE)
    connector = writer(harness.connector)
    size = connector.max_merged_per_call
    assert size >= 1
    absorbed = made[1 : 1 + min(size, len(made) - 1)]
    keys = [f"k-group-{n}" for n in range(len(absorbed))]

    with pytest.raises(ValueError, match="at most"):
        connector.merge_group(
            harness.object_type,
            made[0],
            [*absorbed, *made[1:]][: size + 1],
            [f"k-big-{n}" for n in range(size + 1)],
        )
    results = connector.merge_group(harness.object_type, made[0], absorbed, keys)

    assert [r.key for r in results] == keys, "one result per merged record, in order"
    assert all(r.ok for r in results)
    survivor = results[-1].remote_id
    assert survivor is not None
    found = connector.read(harness.object_type, [made[0], *absorbed], ["firstname"])
    assert {r.id for r in found.values() if r is not None} == {survivor}
    assert all(found[i] is not None for i in (made[0], *absorbed))


def test_a_merge_made_in_the_source_reads_back_as_the_survivor(
    harness: ConnectorHarness,
) -> None:
    require(harness, Capability.WRITES, Capability.MERGED_RECORDS)
    made = harness.seed(PEOPLE)
    survivor = harness.merge(made[2], made[0])

    found = writer(harness.connector).read(harness.object_type, [made[0]], ["firstname"])

    record = found[made[0]]
    assert record is not None
    assert record.id == survivor


def test_archived_records_read_as_gone_and_archiving_again_is_harmless(
    harness: ConnectorHarness,
) -> None:
    require(harness, Capability.WRITES)
    made = harness.seed(PEOPLE)
    connector = writer(harness.connector)

    (archived,) = connector.archive(harness.object_type, [made[1]], ["k-archive"])
    (again,) = connector.archive(harness.object_type, [made[1]], ["k-archive"])

    assert archived.ok
    assert archived.key == "k-archive"
    assert again.ok
    assert connector.read(harness.object_type, [made[1]], ["city"]) == {made[1]: None}
    assert harness.current(made[1]) is None
    assert current(harness, made[0], "city") == "Lyon"


def task(key: str, harness: ConnectorHarness, record_id: str) -> TaskWrite:
    return TaskWrite(
        key=key,
        object_type=harness.object_type,
        record_id=record_id,
        subject="Call back",
        body="No activity for 30 days.",
        owner_id=None,
        due=DUE,
    )


def test_a_task_whose_answer_was_lost_is_found_by_its_key(harness: ConnectorHarness) -> None:
    require(harness, Capability.TASKS)
    made = harness.seed(PEOPLE)
    connector = writer(harness.connector)

    (created,) = connector.create_tasks([task("k-task", harness, made[0])])
    assert created.ok
    assert created.remote_id
    # the answer is lost here (a crash before the outbox recorded it): find it again
    found = connector.find_tasks(harness.object_type, [made[0], made[1]])

    assert found[made[1]] == []
    (mine,) = found[made[0]]
    assert mine.id == created.remote_id
    assert mine.object_type == "tasks"
    assert mine.associations.get(harness.object_type) == (made[0],)
    assert created_by(connector, mine, "k-task")
    assert not created_by(connector, mine, "k-other")


def test_a_task_is_found_again_after_the_state_store_is_lost(harness: ConnectorHarness) -> None:
    """The next run (a new connector, no memory of the first) finds the task by its key, so the
    push does not create it twice."""
    require(harness, Capability.TASKS, Capability.LIVE)
    made = harness.seed(PEOPLE)
    (created,) = writer(harness.connector).create_tasks([task("k-task", harness, made[2])])
    assert created.ok

    next_run = writer(harness.new_connector())
    found = next_run.find_tasks(harness.object_type, [made[2]])

    marked = [t for t in found[made[2]] if created_by(next_run, t, "k-task")]
    assert [t.id for t in marked] == [created.remote_id], "exactly the one task, found again"
