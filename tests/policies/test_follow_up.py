"""The follow-up policy: open leads and open deals without an open task get one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from model.changes import CreateTask, Snapshot
from model.records import Record
from policies.follow_up import FollowUpPolicy, FollowUpSettings, add_business_days

FRIDAY = datetime(2024, 5, 3, 15, 30, tzinfo=UTC)


def rec(
    object_type: str,
    record_id: str,
    assoc: Mapping[str, tuple[str, ...]] | None = None,
    **props: str | None,
) -> Record:
    return Record(object_type, record_id, props, FRIDAY, associations=dict(assoc or {}))


def lead(
    record_id: str, status: str | None = "NEW", *, is_open: bool = True, **props: str | None
) -> Record:
    """A contact whose CRM says it is an open lead (``lead_open``) or not."""
    lead_open = "true" if is_open else "false"
    return rec("contacts", record_id, None, lead_status=status, lead_open=lead_open, **props)


def task(record_id: str, status: str, **assoc: tuple[str, ...]) -> Record:
    return rec("tasks", record_id, assoc, status=status)


def deal(record_id: str, stage: str | None, *, closed: bool = False, **props: str | None) -> Record:
    return rec(
        "deals", record_id, None, stage=stage, is_closed="true" if closed else "false", **props
    )


def follow_up(
    *records: Record,
    now: datetime = FRIDAY,
    owners: Mapping[str, Mapping[str, str | None]] | None = None,
    **settings: object,
) -> list[CreateTask]:
    by_type: dict[str, list[Record]] = {}
    for r in records:
        by_type.setdefault(r.object_type, []).append(r)
    policy = FollowUpPolicy(FollowUpSettings.model_validate(settings))
    changes = policy(Snapshot("test", now, by_type, owners or {}))
    assert all(isinstance(c, CreateTask) for c in changes)
    return [c for c in changes if isinstance(c, CreateTask)]


def test_open_lead_without_task_gets_one() -> None:
    (created,) = follow_up(lead("1", firstname="Jane", lastname="Doe", owner_id="77"))
    assert created.object_type == "contacts"
    assert created.record_id == "1"
    assert created.policy == "follow_up"
    assert created.subject == "Follow up with Jane Doe"
    assert created.body == "Open lead Jane Doe (lead status NEW) has no open task."
    assert created.owner_id == "77"
    assert created.due == date(2024, 5, 7)  # Friday + 2 business days = Tuesday
    assert created.reason == (
        "open lead (lead status NEW) has no open task; follow-up due 2024-05-07"
    )


@pytest.mark.parametrize("status", ["NEW", "CONNECTED", "Working", None])
def test_the_crm_decides_what_an_open_lead_is_not_the_status(status: str | None) -> None:
    assert len(follow_up(lead("1", status))) == 1
    assert follow_up(lead("1", status, is_open=False)) == []
    assert follow_up(rec("contacts", "1", None, lead_status=status)) == []  # not decided


def test_open_task_on_the_task_side_suppresses() -> None:
    assert follow_up(lead("1"), task("50", "open", contacts=("1",))) == []


def test_open_task_on_the_record_side_suppresses() -> None:
    contact = rec("contacts", "1", {"tasks": ("50",)}, lead_status="OPEN", lead_open="true")
    assert follow_up(contact, task("50", "open")) == []


def test_only_completed_or_unknown_tasks_do_not_suppress() -> None:
    contact = rec("contacts", "1", {"tasks": ("50", "404")}, lead_status="OPEN", lead_open="true")
    done = task("50", "completed", contacts=("1",))
    other = task("51", "open", contacts=("2",))
    assert [c.record_id for c in follow_up(contact, done, other)] == ["1"]


def test_open_deal_gets_a_task_closed_deals_do_not() -> None:
    deals = [
        deal("10", "contractsent", dealname="Big renewal"),
        deal("11", "closedwon", closed=True, dealname="Won"),
        deal("12", "closedlost", closed=True, dealname="Lost"),
        rec("deals", "13", None, dealname=None, stage=None),
    ]
    created = follow_up(*deals)
    assert [c.record_id for c in created] == ["10", "13"]
    assert created[0].subject == "Follow up on deal Big renewal"
    assert created[0].body == "Open deal Big renewal (stage contractsent) has no open task."
    assert created[1].subject == "Follow up on deal deal 13"
    assert created[1].reason.startswith("open deal (stage not set) has no open task")


def test_deal_with_open_task_is_skipped() -> None:
    assert follow_up(deal("10", "qualifiedtobuy"), task("60", "open", deals=("10",))) == []


def test_owner_falls_back_when_missing_or_archived() -> None:
    records = [lead("1"), lead("2", owner_id="8"), lead("3", owner_id="9")]
    owners = {"8": {"archived": "true"}, "9": {"archived": "false"}}
    created = follow_up(*records, owners=owners, fallback_owner_id="42")
    assert [c.owner_id for c in created] == ["42", "42", "9"]
    assert [c.owner_id for c in follow_up(lead("1"))] == [None]


def test_templates_default_missing_fields_to_empty() -> None:
    rule = {
        "object_type": "contacts",
        "when": [{"field": "lead_open", "equals": "true"}],
        "reason": "open lead",
        "subject": "Call {firstname} {nosuchfield} at {email}",
    }
    created = follow_up(lead("1", email="x@y.com"), rules=[rule])
    assert created[0].subject == "Call at x@y.com"
    (anonymous,) = follow_up(lead("2"))
    assert anonymous.subject == "Follow up with contact 2"


def test_rules_pick_the_object_types() -> None:
    records = [lead("1", "CONNECTED"), deal("2", "appointmentscheduled")]
    leads_only = [r for r in FollowUpSettings().effective_rules() if r.object_type == "contacts"]
    created = follow_up(*records, rules=[r.model_dump(by_alias=True) for r in leads_only])
    assert [c.record_id for c in created] == ["1"]


def test_changes_are_sorted_by_type_then_id() -> None:
    records = [lead("10"), deal("3", "x"), lead("9"), lead("100")]
    assert [(c.object_type, c.record_id) for c in follow_up(*records)] == [
        ("contacts", "9"),
        ("contacts", "10"),
        ("contacts", "100"),
        ("deals", "3"),
    ]


@pytest.mark.parametrize(
    ("start", "days", "country", "expected"),
    [
        (date(2024, 5, 3), 2, None, date(2024, 5, 7)),  # Fri -> Tue across the weekend
        (date(2024, 5, 4), 1, None, date(2024, 5, 7)),  # Sat: counts from Monday
        (date(2024, 5, 6), 0, None, date(2024, 5, 6)),  # Mon, 0 days: today
        (date(2024, 5, 5), 0, None, date(2024, 5, 6)),  # Sun, 0 days: next business day
        (date(2024, 5, 1), 5, None, date(2024, 5, 8)),
        (date(2024, 5, 24), 1, "US", date(2024, 5, 28)),  # Memorial Day Monday skipped
        (date(2024, 5, 24), 1, None, date(2024, 5, 27)),
        (date(2024, 12, 24), 1, "US", date(2024, 12, 26)),  # Christmas
        (date(2024, 12, 31), 1, "US", date(2025, 1, 2)),  # New Year across the year end
    ],
)
def test_add_business_days(start: date, days: int, country: str | None, expected: date) -> None:
    assert add_business_days(start, days, country) == expected


def test_due_uses_snapshot_now_and_settings() -> None:
    (created,) = follow_up(lead("1"), now=datetime(2024, 5, 24, 9, tzinfo=UTC),
                           due_in_business_days=1, holiday_country="us")  # fmt: skip
    assert created.due == date(2024, 5, 28)


def test_settings_validation() -> None:
    with pytest.raises(ValidationError):
        FollowUpSettings(holiday_country="Atlantis")
    with pytest.raises(ValidationError):
        FollowUpSettings.model_validate({"due_in_business_days": -1})
    with pytest.raises(ValidationError):
        FollowUpSettings.model_validate({"surprise": True})


def test_a_policy_that_remembers_proposes_what_a_fresh_one_does() -> None:
    """The words of the tasks kept from the last run are reused only for a record whose
    properties are the same and that the same rule picks; owners, due dates and which records
    need a task are worked out again (a day later here: another due date)."""
    first = [lead("1", firstname="Ann"), lead("2", firstname="Bo"), lead("5"), deal("3", "open")]
    memory: dict[str, object] = {}
    policy = FollowUpPolicy(FollowUpSettings())
    policy.incremental(memory)
    policy(Snapshot("test", FRIDAY, {"contacts": first[:3], "deals": first[3:]}))
    assert policy.notes == {"tasks": "4 of 4 tasks' words written again"}
    monday = datetime(2024, 5, 6, 9, tzinfo=UTC)
    later = {
        # 1 unchanged (the very record), 2 renamed, 3 as an equal copy, 4 new, 5 no lead now
        "contacts": [
            first[0],
            lead("2", firstname="Bob"),
            lead("4", status="OPEN"),
            lead("5", is_open=False),
        ],
        "deals": [deal("3", "open")],
    }
    again = FollowUpPolicy(FollowUpSettings())
    again.incremental(memory)
    remembered = again(Snapshot("test", monday, later))
    assert again.notes == {"tasks": "2 of 4 tasks' words written again"}
    fresh = FollowUpPolicy(FollowUpSettings())(Snapshot("test", monday, later))
    assert remembered == fresh
    assert [c.subject for c in remembered if isinstance(c, CreateTask)][:2] == [
        "Follow up with Ann",
        "Follow up with Bob",
    ]
    assert {c.due for c in remembered if isinstance(c, CreateTask)} == {date(2024, 5, 8)}
    # other settings: nothing kept is used
    other = FollowUpPolicy(FollowUpSettings(due_in_business_days=1))
    other.incremental(memory)
    assert other(Snapshot("test", monday, later)) == FollowUpPolicy(
        FollowUpSettings(due_in_business_days=1)
    )(Snapshot("test", monday, later))
    assert other.notes == {"tasks": "4 of 4 tasks' words written again"}


def test_a_remembered_task_is_written_again_when_another_rule_picks_its_record() -> None:
    """The same record, unchanged, that a rule reading the clock picks from one day on."""
    settings = FollowUpSettings.model_validate(
        {
            "rules": [
                {
                    "object_type": "contacts",
                    "when": [{"field": "last_touch", "older_than_days": 3}],
                    "reason": "quiet",
                    "subject": "Wake {id}",
                },
                {"object_type": "contacts", "reason": "lead", "subject": "Lead {id}"},
            ]
        }
    )
    record = lead("1", last_touch="2024-05-02T09:00:00Z")
    memory: dict[str, object] = {}
    subjects = []
    for now in (FRIDAY, datetime(2024, 5, 7, 9, tzinfo=UTC)):
        policy = FollowUpPolicy(settings)
        policy.incremental(memory)
        [created] = policy(Snapshot("test", now, {"contacts": [record]}))
        assert isinstance(created, CreateTask)
        subjects.append(created.subject)
    assert subjects == ["Lead 1", "Wake 1"]
