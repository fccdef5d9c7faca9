"""Safety rails as pure functions: drift of a saved plan."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from model.changes import CreateTask, Merge, Update
from model.records import Record
from syncd.rails import drift

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def update(record_id: str, field: str, old: str | None, new: str | None) -> Update:
    return Update("hs", "contacts", "normalize", "why", record_id, field, old, new)


def record(record_id: str, **properties: str | None) -> Record:
    return Record("contacts", record_id, properties, T0)


def current(*records: Record) -> dict[tuple[str, str], Record]:
    return {(r.object_type, r.id): r for r in records}


PLAN = [
    update("1", "phone", "555 0100", "+15550100"),
    update("2", "email", " A@X.COM", "a@x.com"),
    update("3", "city", "paris", "Paris"),
    update("4", "state", "calif", "CA"),
]


def test_values_syncd_wrote_are_not_drift() -> None:
    """A killed apply wrote half the plan: those records changed, but only to syncd's values."""
    now = current(
        record("1", phone="+15550100"),
        record("2", email="a@x.com"),
        record("3", city="paris"),
        record("4", state="calif"),
    )
    assert drift(PLAN, now) == (0, 4)


def test_a_person_s_value_is_drift_and_other_fields_are_not_counted() -> None:
    now = current(
        record("1", phone="+1 555 0100 (desk)", jobtitle="changed"),
        record("2", email=" A@X.COM", firstname="changed too"),
        record("3", city="paris"),
        record("4", state="calif"),
    )
    assert drift(PLAN, now) == (1, 4)


def test_values_written_by_another_plan_this_run_are_not_drift() -> None:
    now = current(
        record("1", phone="+1 555-0100"),
        record("2", email="a@x.com"),
        record("3", city="paris"),
        record("4", state="calif"),
    )
    assert drift(PLAN, now) == (1, 4)
    written = {("contacts", "1", "phone"): ["+1 555-0100"]}
    assert drift(PLAN, now, written) == (0, 4)


def test_records_archived_or_merged_elsewhere_drifted_unless_by_the_plan_s_merge() -> None:
    merge = Merge(
        "hs",
        "contacts",
        "dedupe",
        "same person",
        "10",
        ("11",),
        0.97,
        field_values={"phone": "+15550111"},
        field_baseline={"phone": None},
    )
    plan = [*PLAN, merge]
    now = current(
        replace(record("1", phone="555 0100"), archived=True),
        replace(record("2", email=" A@X.COM"), merged_into="99"),
        record("3", city="paris"),
        record("4", state="calif"),
        replace(record("10", phone="+15550111"), merged_into="12"),  # HubSpot's new-id merge
        replace(record("11"), merged_into="12"),
    )
    assert drift(plan, now) == (2, 4)
    assert drift(plan, {k: v for k, v in now.items() if k != ("contacts", "4")}) == (3, 4)


def test_merge_values_count_against_the_primary_s_baseline() -> None:
    merge = Merge(
        "hs",
        "contacts",
        "dedupe",
        "same person",
        "10",
        ("11",),
        0.97,
        field_values={"phone": "+15550111", "city": "Lyon"},
        field_baseline={"phone": None, "city": "lyon"},
    )
    task = CreateTask(
        "hs", "contacts", "follow_up", "no next step", "10", "Call", None, date(2026, 11, 25)
    )
    now = current(record("10", phone=None, city="Lyon, France"), record("11"))
    assert drift([merge, task], now) == (1, 2)
    assert drift([task], now) == (0, 0)
