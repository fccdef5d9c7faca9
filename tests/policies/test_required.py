"""The required-fields policy: findings per missing field, or one task per record."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from model.changes import Change, CreateTask, Flag, Snapshot
from model.records import PropertyDef, Record
from policies.required import RequiredPolicy, RequiredSettings

FRIDAY = datetime(2024, 5, 3, 15, 30, tzinfo=UTC)


def rec(object_type: str, record_id: str, **props: str | None) -> Record:
    return Record(object_type, record_id, props, FRIDAY)


def run(*records: Record, **settings: object) -> list[Change]:
    by_type: dict[str, list[Record]] = {}
    for r in records:
        by_type.setdefault(r.object_type, []).append(r)
    schema = {"deals": {"closedate": PropertyDef("closedate", "Close Date", "datetime")}}
    policy = RequiredPolicy(RequiredSettings.model_validate(settings))
    return policy(Snapshot("hs", FRIDAY, by_type, schema=schema))


def test_defaults_flag_each_missing_field_with_a_reason() -> None:
    changes = run(
        rec("contacts", "2", email="a@x.com", lastname="Doe"),
        rec("contacts", "10", email="  ", lastname=None),
        rec("companies", "5", name="Acme", domain="acme.com"),
    )
    assert all(isinstance(c, Flag) for c in changes)
    assert [(c.record_id, c.field) for c in changes if isinstance(c, Flag)] == [
        ("10", "email"),
        ("10", "lastname"),
    ]
    assert changes[0].policy == "required"
    assert changes[0].reason == "required field email is empty (contacts need email, lastname)"


def test_stage_rules_add_fields_only_at_their_stage() -> None:
    early = rec("deals", "1", dealname="Small", stage="qualifiedtobuy", is_won="false")
    late = rec("deals", "2", dealname="Big", stage="closedwon", is_won="true", amount="10")
    changes = run(early, late)
    assert [(c.record_id, c.field) for c in changes if isinstance(c, Flag)] == [("2", "closedate")]
    assert "at is_won true" in changes[0].reason
    stages = {"by": "stage", "stages": {"contractsent": ["amount", "closedate"]}}
    late = rec("deals", "2", dealname="Big", stage="ContractSent ", amount="10")
    changes = run(early, late, fields={"deals": stages})
    assert [(c.record_id, c.field) for c in changes if isinstance(c, Flag)] == [("2", "closedate")]
    assert "at stage ContractSent" in changes[0].reason


def test_stage_rules_name_a_stage_by_label_in_every_pipeline_or_as_pipeline_stage() -> None:
    def deal(record_id: str, pipeline: str, stage: str, label: str) -> Record:
        return rec(
            "deals",
            record_id,
            dealname="D",
            pipeline=pipeline,
            pipeline_label={"default": "Sales Pipeline"}.get(pipeline, "Renewals"),
            stage=stage,
            stage_label=label,
        )

    deals = (
        deal("1", "default", "contractsent", "Contract Sent"),
        deal("2", "75100001", "75100023", "Contract Sent"),
        deal("3", "75100001", "75100012", "Quote Sent"),
        deal("4", "default", "qualifiedtobuy", "Qualified To Buy"),
    )
    by_label = {"by": "stage", "stages": {"contract sent": ["amount"]}}
    changes = run(*deals, fields={"deals": by_label})
    assert [c.record_id for c in changes] == ["1", "2"]
    assert "at stage Contract Sent" in changes[0].reason
    by_pair = {"by": "stage", "stages": {"Renewals:Quote Sent": ["amount"]}}
    assert [c.record_id for c in run(*deals, fields={"deals": by_pair})] == ["3"]


def test_configured_list_and_table_forms() -> None:
    settings = {
        "fields": {
            "contacts": ["phone"],
            "deals": {"by": "stage", "stages": {"closedwon": ["amount"]}},
        }
    }
    changes = run(
        rec("contacts", "1", phone=None, email=None),
        rec("deals", "2", stage="closedwon"),
        rec("deals", "3", stage="closedlost"),
        rec("companies", "4"),  # not configured: nothing required
        **settings,
    )
    assert [(c.object_type, c.record_id, c.field) for c in changes if isinstance(c, Flag)] == [
        ("contacts", "1", "phone"),
        ("deals", "2", "amount"),
    ]


def test_as_tasks_gives_the_owner_one_task_in_business_days() -> None:
    deal = rec("deals", "7", dealname="Big deal", stage="closedwon", is_won="true", owner_id="42")
    orphan = rec("contacts", "8", firstname="Jane", lastname="Doe")
    changes = run(deal, orphan, as_tasks=True, due_in_business_days=2, fallback_owner_id="9")
    tasks = [c for c in changes if isinstance(c, CreateTask)]
    assert len(tasks) == len(changes) == 2
    by_id = {t.record_id: t for t in tasks}
    assert by_id["7"].subject == "Fill in amount, Close Date on deal Big deal"
    assert by_id["7"].owner_id == "42"
    assert by_id["7"].due == date(2024, 5, 7)  # Friday + 2 business days
    assert "amount, closedate" in by_id["7"].reason
    assert by_id["8"].subject == "Fill in email on contact Jane Doe"
    assert by_id["8"].owner_id == "9"


def test_complete_records_and_disabled_types_yield_nothing() -> None:
    assert run(rec("contacts", "1", email="a@x.com", lastname="Doe")) == []


def test_settings_are_validated() -> None:
    with pytest.raises(ValidationError):
        RequiredSettings.model_validate({"fields": {"deals": {"stages": {"x": ["amount"]}}}})
    with pytest.raises(ValidationError):
        RequiredSettings.model_validate({"as_task": True})


def test_a_policy_that_remembers_flags_what_a_fresh_one_does() -> None:
    """Flags kept from the last run are reused only for a record whose properties are the
    same; tasks (their due date reads the clock) are worked out each run."""
    first = [rec("contacts", "1", email=None), rec("contacts", "2", email="a@x.com")]
    memory: dict[str, object] = {}
    policy = RequiredPolicy(RequiredSettings())
    policy.incremental(memory)
    policy(Snapshot("hs", FRIDAY, {"contacts": first}))
    assert policy.notes == {"records": "2 of 2 checked again"}
    # 1 unchanged (the very record), 2 lost its e-mail, 3 new
    later = {"contacts": [first[0], rec("contacts", "2", email=""), rec("contacts", "3")]}
    again = RequiredPolicy(RequiredSettings())
    again.incremental(memory)
    remembered = again(Snapshot("hs", FRIDAY, later))
    assert again.notes == {"records": "2 of 3 checked again"}
    assert remembered == RequiredPolicy(RequiredSettings())(Snapshot("hs", FRIDAY, later))
    assert [(c.record_id, c.field) for c in remembered if isinstance(c, Flag)] == [
        ("1", "email"),
        ("1", "lastname"),
        ("2", "email"),
        ("2", "lastname"),
        ("3", "email"),
        ("3", "lastname"),
    ]
    # as tasks, on Friday then on Monday: Monday's due date, whatever Friday's run kept
    due = []
    for now in (FRIDAY, datetime(2024, 5, 6, 9, tzinfo=UTC)):
        tasks = RequiredPolicy(RequiredSettings(as_tasks=True, due_in_business_days=1))
        tasks.incremental(memory)
        due.append({c.due for c in tasks(Snapshot("hs", now, later)) if isinstance(c, CreateTask)})
    assert due == [{date(2024, 5, 6)}, {date(2024, 5, 7)}]
