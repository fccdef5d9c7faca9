"""The retirement policy: stale records with nothing open are reported, tagged or archived."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime

from model.changes import Archive, Change, Flag, Snapshot, Update
from model.records import Record
from policies.retire import RetirePolicy, RetireSettings, last_activity

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
OLD = "2023-01-05T10:00:00.000Z"
RECENT = "2025-05-01T10:00:00.000Z"


def rec(
    object_type: str,
    record_id: str,
    assoc: Mapping[str, tuple[str, ...]] | None = None,
    **props: str | None,
) -> Record:
    return Record(
        object_type, record_id, props, datetime(2023, 1, 1, tzinfo=UTC), associations=assoc or {}
    )


def contact(record_id: str, **props: str | None) -> Record:
    base: dict[str, str | None] = {"last_activity_at": OLD, "updated_at": OLD}
    return rec("contacts", record_id, None, **(base | props))


def run(*records: Record, **settings: object) -> list[Change]:
    by_type: dict[str, list[Record]] = {}
    for r in records:
        by_type.setdefault(r.object_type, []).append(r)
    return RetirePolicy(RetireSettings.model_validate(settings))(Snapshot("hs", NOW, by_type))


def test_stale_contact_is_reported_with_its_last_activity() -> None:
    (flag,) = run(contact("1"), contact("2", last_activity_at=RECENT))
    assert isinstance(flag, Flag)
    assert (flag.record_id, flag.field, flag.value) == ("1", None, "2023-01-05")
    assert flag.policy == "retire"
    assert flag.reason == "no activity since 2023-01-05 (over 365 days) and nothing open"


def test_a_recent_edit_counts_as_activity() -> None:
    assert run(contact("1", updated_at=RECENT)) == []
    # no activity fields at all: the record's updated_at (2023-01-01) decides
    assert len(run(rec("contacts", "3"))) == 1


def test_open_things_keep_a_record_alive() -> None:
    lead = contact("1", lead_status="OPEN", lead_open="true")
    with_task = contact("2")
    task = rec("tasks", "50", {"contacts": ("2",)}, status="open")
    with_done_task = contact("3")
    done = rec("tasks", "51", {"contacts": ("3",)}, status="completed")
    with_deal = rec("contacts", "4", {"deals": ("60",)}, last_activity_at=OLD)
    deal = rec("deals", "60", None, stage="contractsent", is_closed="false")
    with_closed_deal = rec("contacts", "5", {"deals": ("61",)}, last_activity_at=OLD)
    closed = rec("deals", "61", None, stage="closedlost", is_closed="true")
    not_open = contact("6", lead_status="OPEN", lead_open="false")  # the CRM says: not open
    changes = run(lead, with_task, task, with_done_task, done, with_deal, deal, with_closed_deal,
                  closed, not_open)  # fmt: skip
    assert [c.record_id for c in changes] == ["3", "5", "6"]


def test_tag_action_adds_the_value_once() -> None:
    changes = run(
        contact("1", tags="vip;newsletter"),
        contact("2", tags=None),
        contact("3", tags="Stale"),
        action="tag",
    )
    assert [(c.record_id, c.old, c.new) for c in changes if isinstance(c, Update)] == [
        ("1", "vip;newsletter", "vip;newsletter;stale"),
        ("2", None, "stale"),
    ]
    assert all(c.field == "tags" and "2023-01-05" in c.reason for c in changes)  # type: ignore[union-attr]


def test_archive_action_and_other_types() -> None:
    deal = rec("deals", "9", None, stage="closedwon", is_closed="true", updated_at=OLD)
    open_deal = rec("deals", "10", None, stage="qualifiedtobuy", is_closed="false", updated_at=OLD)
    changes = run(contact("1"), deal, open_deal, action="archive", object_types=["deals"])
    assert changes == [
        Archive("hs", "deals", "retire", changes[0].reason, "9"),
    ]
    assert "since 2023-01-05" in changes[0].reason


def test_stale_after_days_is_configurable() -> None:
    assert run(contact("1", last_activity_at=RECENT, updated_at=RECENT),
               stale_after_days=10) != []  # fmt: skip
    assert run(contact("1"), stale_after_days=5000) == []


def test_last_activity_reads_epoch_milliseconds() -> None:
    record = rec("contacts", "1", None, last_activity_at="1700000000000")
    assert last_activity(record, ["last_activity_at"]) == datetime(
        2023, 11, 14, 22, 13, 20, tzinfo=UTC
    )


def test_a_moment_that_is_no_moment_falls_back_to_the_next_field() -> None:
    for raw in ("²", "9" * 30, "2024-13-45"):
        record = rec("contacts", "1", None, last_activity_at=raw, updated_at="1700000000000")
        assert last_activity(record, ["last_activity_at", "updated_at"]) == datetime(
            2023, 11, 14, 22, 13, 20, tzinfo=UTC
        )


def test_a_policy_that_remembers_retires_what_a_fresh_one_does() -> None:
    """A record's last activity is kept while its properties and update time are the same;
    the clock and what is open are read each run."""
    no_fields = rec("contacts", "3")  # its update time alone decides
    first = [contact("1"), contact("2", last_activity_at=RECENT), no_fields, contact("4")]
    memory: dict[str, object] = {}
    policy = RetirePolicy(RetireSettings())
    policy.incremental(memory)
    found = policy(Snapshot("hs", NOW, {"contacts": first}))
    assert [c.record_id for c in found] == ["1", "3", "4"]
    assert policy.notes == {"records": "4 of 4 records' activity read again"}
    # 1 unchanged, 2 unchanged but a year on (stale now), 3 touched with the same properties,
    # 4 active lately by its properties (its update time as it was)
    later_now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    touched = replace(no_fields, updated_at=datetime(2026, 5, 30, tzinfo=UTC))
    active = replace(first[3], properties={**first[3].properties, "last_activity_at": "2026-05-01"})
    later = {"contacts": [first[0], first[1], touched, active]}
    again = RetirePolicy(RetireSettings())
    again.incremental(memory)
    remembered = again(Snapshot("hs", later_now, later))
    assert again.notes == {"records": "2 of 4 records' activity read again"}
    assert remembered == RetirePolicy(RetireSettings())(Snapshot("hs", later_now, later))
    assert [c.record_id for c in remembered] == ["1", "2"]
