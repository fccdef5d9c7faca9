"""Follow-up rules from configuration: conditions, owners (round robin), templates, due dates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from model.changes import CreateTask, Snapshot
from model.records import Record
from policies.follow_up import Condition, FollowUpPolicy, FollowUpSettings

FRIDAY = datetime(2024, 5, 3, 15, 30, tzinfo=UTC)


def rec(object_type: str, record_id: str, **props: str | None) -> Record:
    return Record(object_type, record_id, props, FRIDAY)


def holds(condition: Mapping[str, object], **props: str | None) -> bool:
    return Condition.model_validate(condition).holds(rec("contacts", "1", **props), FRIDAY)


def run(
    records: list[Record],
    rules: list[dict[str, object]] | None = None,
    owners: Mapping[str, Mapping[str, str | None]] | None = None,
    **settings: object,
) -> list[CreateTask]:
    by_type: dict[str, list[Record]] = {}
    for r in records:
        by_type.setdefault(r.object_type, []).append(r)
    if rules is not None:
        settings["rules"] = rules
    policy = FollowUpPolicy(FollowUpSettings.model_validate(settings))
    changes = policy(Snapshot("test", FRIDAY, by_type, owners or {}))
    return [c for c in changes if isinstance(c, CreateTask)]


def test_equals_ignores_case_and_whitespace() -> None:
    cond = {"field": "lead_status", "equals": "open"}
    assert holds(cond, lead_status=" OPEN ")
    assert not holds(cond, lead_status="OPEN_DEAL")
    assert not holds(cond)


def test_in_and_not_in() -> None:
    assert holds({"field": "lead_status", "in": ["NEW", "OPEN"]}, lead_status="new")
    assert not holds({"field": "lead_status", "in": ["NEW", "OPEN"]}, lead_status="CONNECTED")
    assert not holds({"field": "lead_status", "in": ["NEW"]})
    closed = {"field": "stage", "not_in": ["closedwon", "closedlost"]}
    assert holds(closed, stage="qualifiedtobuy")
    assert not holds(closed, stage="ClosedWon")
    assert holds(closed)  # a missing stage is in no list


def test_contains_looks_at_each_value_of_a_multi_value_field() -> None:
    cond = {"field": "tags", "contains": "vip"}
    assert holds(cond, tags="newsletter; VIP;partner")
    assert not holds(cond, tags="vip_lounge;newsletter")
    assert not holds(cond)


def test_older_than_days_reads_last_activity() -> None:
    cond = {"field": "last_activity_at", "older_than_days": 30}
    assert holds(cond, last_activity_at="2024-03-01T10:00:00.000Z")
    assert not holds(cond, last_activity_at="2024-04-20T10:00:00Z")
    assert holds(cond, last_activity_at="1709287200000")  # epoch ms, 2024-03-01
    assert holds(cond)  # never any activity
    assert holds(cond, last_activity_at="garbage")
    # digits to str.isdigit that are no number, a count of milliseconds past year 9999: no
    # moment (read as no activity), not a crash of the run
    assert holds(cond, last_activity_at="²")
    assert holds(cond, last_activity_at="9" * 30)


def test_a_condition_needs_exactly_one_operator() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        Condition.model_validate({"field": "x"})
    with pytest.raises(ValidationError, match="exactly one"):
        Condition.model_validate({"field": "x", "equals": "a", "in": ["a"]})
    with pytest.raises(ValidationError):
        Condition.model_validate({"field": "x", "equals": "a", "surprise": 1})


STALE_VIP: dict[str, object] = {
    "object_type": "contacts",
    "when": [
        {"field": "tags", "contains": "vip"},
        {"field": "last_activity_at", "older_than_days": 14},
    ],
    "reason": "VIP {firstname} quiet since {last_activity_at}",
    "subject": "Check in with {display_name} ({company})",
    "body": "Last activity {last_activity_at}; status {lead_status}.",
    "due_in_business_days": 0,
}
STALLED_DEAL: dict[str, object] = {
    "object_type": "deals",
    "when": [{"field": "stage", "in": ["contractsent"]}],
    "reason": "contract out for {dealname}",
    "subject": "Chase the contract: {dealname}",
}


def test_rules_pick_records_and_fill_templates() -> None:
    records = [
        rec(
            "contacts",
            "1",
            firstname="Ann",
            lastname="Lee",
            tags="vip",
            company="Acme",
            last_activity_at="2024-04-01T00:00:00Z",
            owner_id="7",
        ),
        rec("contacts", "2", tags="vip", last_activity_at="2024-05-01T00:00:00Z"),
        rec("contacts", "3", tags="newsletter", last_activity_at="2024-01-01T00:00:00Z"),
        rec("deals", "4", dealname="Big one", stage="contractsent", owner_id="7"),
        rec("deals", "5", dealname="Other", stage="qualifiedtobuy"),
    ]
    created = run(records, [STALE_VIP, STALLED_DEAL])
    assert [(c.object_type, c.record_id) for c in created] == [("contacts", "1"), ("deals", "4")]
    vip, deal = created
    assert vip.subject == "Check in with Ann Lee (Acme)"
    assert vip.body == "Last activity 2024-04-01T00:00:00Z; status ."
    assert vip.reason == (
        "VIP Ann quiet since 2024-04-01T00:00:00Z has no open task; follow-up due 2024-05-03"
    )
    assert vip.due == date(2024, 5, 3)  # rule's 0 business days: today (a Friday)
    assert (deal.subject, deal.body, deal.due) == ("Chase the contract: Big one", "",
                                                   date(2024, 5, 7))  # fmt: skip


def test_first_matching_rule_wins_and_open_tasks_still_suppress() -> None:
    broad: dict[str, object] = {
        "object_type": "deals",
        "reason": "any deal",
        "subject": "Any {dealname}",
    }
    records = [
        rec("deals", "4", dealname="A", stage="contractsent"),
        rec("deals", "5", dealname="B", stage="closedwon"),
        Record("tasks", "9", {"status": "open"}, FRIDAY, associations={"deals": ("5",)}),
    ]
    created = run(records, [STALLED_DEAL, broad])
    assert [(c.record_id, c.subject) for c in created] == [("4", "Chase the contract: A")]


def test_companies_can_have_rules() -> None:
    rule: dict[str, object] = {
        "object_type": "companies",
        "when": [{"field": "industry", "equals": "SOFTWARE"}],
        "reason": "software firm",
        "subject": "Call {display_name}",
    }
    created = run([rec("companies", "3", name="Globex", industry="software")], [rule])
    assert [(c.object_type, c.subject) for c in created] == [("companies", "Call Globex")]


def test_the_keys_rules_replaced_are_gone() -> None:
    for key in ("contact_subject", "object_types", "open_lead_statuses", "closed_deal_stages"):
        with pytest.raises(ValidationError, match="Extra inputs"):
            FollowUpSettings.model_validate({key: "x"})
    assert FollowUpSettings.model_validate({"rules": []}).effective_rules() == ()


def test_default_rules_are_open_leads_and_open_deals() -> None:
    rules = FollowUpSettings().effective_rules()
    assert [r.object_type for r in rules] == ["contacts", "leads", "deals"]
    created = run([rec("deals", "1", dealname="X")])
    assert (
        created[0].reason == "open deal (stage not set) has no open task; follow-up due 2024-05-07"
    )


OWNERS: dict[str, dict[str, str | None]] = {
    "30": {"archived": "false"},
    "4": {"archived": "false"},
    "100": {"archived": "true"},
    "20": {"archived": None},
}


def test_round_robin_over_active_owners_by_owner_id_then_record_id() -> None:
    leads = [rec("contacts", rid, lead_open="true") for rid in ("15", "3", "200", "40", "8")]
    deal = rec("deals", "9", dealname="D")
    owned = rec("contacts", "1", lead_open="true", owner_id="100")  # archived owner
    created = run([*leads, deal, owned], owners=OWNERS)
    owner_of = {c.record_id: c.owner_id for c in created}
    # Active owners 4, 20, 30; records needing one in id order: 1, 3, 8, 9, 15, 40, 200.
    assert owner_of == {"1": "4", "3": "20", "8": "30", "9": "4", "15": "20", "40": "30",
                        "200": "4"}  # fmt: skip


def test_record_owner_and_fallback_come_before_round_robin() -> None:
    records = [
        rec("contacts", "1", lead_open="true", owner_id="30"),
        rec("contacts", "2", lead_open="true"),
    ]
    assert [c.owner_id for c in run(records, owners=OWNERS)] == ["30", "4"]
    assert [c.owner_id for c in run(records, owners=OWNERS, fallback_owner_id="77")] == [
        "30",
        "77",
    ]
    assert [c.owner_id for c in run(records, owners=OWNERS, round_robin=False)] == ["30", None]
    assert [c.owner_id for c in run(records, owners={"5": {"archived": "true"}})] == ["30", None]


def deal(record_id: str, pipeline: str, pipeline_label: str, stage: str, label: str) -> Record:
    return rec(
        "deals",
        record_id,
        dealname=f"D{record_id}",
        pipeline=pipeline,
        pipeline_label=pipeline_label,
        stage=stage,
        stage_label=label,
    )


#: Deals across pipelines: "Closed Won" is a label in two of them; custom ids are numbers.
DEALS = [
    deal("1", "default", "Sales Pipeline", "closedwon", "Closed Won"),
    deal("2", "75100002", "Partner Channel", "75100024", "Closed Won"),
    deal("3", "75100001", "Renewals", "75100014", "Renewed"),
    deal("4", "75100001", "Renewals", "75100012", "Quote Sent"),
]


def task_records(rule_when: list[dict[str, object]]) -> list[str]:
    rule = {"object_type": "deals", "when": rule_when, "reason": "r", "subject": "s"}
    return [t.record_id for t in run(DEALS, [rule])]


def test_a_stage_named_by_label_matches_it_in_every_pipeline() -> None:
    assert task_records([{"field": "stage", "equals": "closed won"}]) == ["1", "2"]


def test_a_stage_named_as_pipeline_and_stage_matches_that_pipeline_only() -> None:
    assert task_records([{"field": "stage", "equals": "Renewals:Renewed"}]) == ["3"]
    assert task_records([{"field": "stage", "equals": "75100001:75100014"}]) == ["3"]
    assert task_records([{"field": "stage", "equals": "Partner Channel:Closed Won"}]) == ["2"]
    assert task_records([{"field": "stage", "in": ["Renewals:Renewed", "closedwon"]}]) == [
        "1",
        "3",
    ]
    assert task_records([{"field": "stage", "not_in": ["Closed Won", "Renewals:Renewed"]}]) == ["4"]
