"""Plan composition and the report formats."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from model.changes import CreateTask, Merge, Update, change_from_dict, change_to_dict
from syncd.plan import Plan, compose, record_label
from syncd.report import render

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def upd(record_id: str, field: str, old: str | None, new: str | None) -> Update:
    return Update("hs", "contacts", "normalize", f"{field} fix", record_id, field, old, new)


def task(record_id: str) -> CreateTask:
    return CreateTask(
        "hs",
        "contacts",
        "follow_up",
        "open lead, no task",
        record_id,
        "Follow up",
        "7",
        date(2026, 11, 26),
    )


def merge(
    primary: str, *merged: str, values: dict[str, str | None] | None = None, kind: str = "merge"
) -> Merge:
    return Merge(
        "hs",
        "contacts",
        "dedupe",
        "same e-mail",
        primary,
        merged,
        0.97,
        {"email": 1.0},
        values or {},
        kind="merge" if kind == "merge" else "review",
    )


def test_updates_on_survivor_and_unrelated_records_are_kept() -> None:
    changes = [
        upd("1", "phone", "555 1234", "+15551234"),
        upd("9", "email", " A@x.com", "a@x.com"),
        merge("1", "2"),
    ]
    assert compose(changes) == changes


def test_normalization_of_absorbed_record_lands_on_survivor() -> None:
    changes = [
        upd("2", "phone", "(555) 123-4567", "+15551234567"),
        upd("2", "email", "B@X.COM", "b@x.com"),
        merge("1", "2", values={"phone": "(555) 123-4567"}),
    ]
    composed = compose(changes)
    assert len(composed) == 1
    survivor = composed[0]
    assert isinstance(survivor, Merge)
    assert survivor.field_values == {"phone": "+15551234567"}


def test_task_for_absorbed_record_is_dropped_and_survivor_keeps_its_own() -> None:
    changes = [merge("1", "2", "3"), task("2"), task("1"), task("3")]
    assert compose(changes) == [merge("1", "2", "3"), task("1")]


def test_review_pairs_do_not_absorb() -> None:
    changes = [merge("1", "2", kind="review"), task("2"), upd("2", "email", "X@y.z", "x@y.z")]
    assert compose(changes) == changes


def test_change_dict_round_trip() -> None:
    for change in (
        upd("1", "phone", None, "+1555"),
        merge("1", "2", values={"city": "Oslo"}),
        merge("1", "2", kind="review"),
        task("4"),
    ):
        assert change_from_dict(json.loads(json.dumps(change_to_dict(change)))) == change


def make_plan() -> Plan:
    changes = (
        upd("101", "phone", "(555) 123-4567", "+15551234567"),
        merge("101", "102"),
        task("101"),
    )
    return Plan(
        "p1",
        "hs",
        NOW,
        changes,
        run_id="r1",
        labels={
            ("contacts", "101"): "Jane Doe",
            ("contacts", "102"): "Jane Do",
            ("owners", "7"): "Ann Lee",
        },
    )


def test_json_report_has_the_contract_keys() -> None:
    doc = json.loads(render(make_plan(), "json"))
    assert doc["plan_id"] == "p1"
    assert doc["created_at"] == NOW.isoformat()
    kinds = [c["kind"] for c in doc["changes"]]
    assert kinds == ["update", "merge", "create_task"]
    update, merged, created = doc["changes"]
    assert {"record_id", "field", "old", "new"} <= update.keys()
    assert merged["primary_id"] == "101"
    assert merged["merged_ids"] == ["102"]
    assert merged["confidence"] == 0.97
    assert created["due"] == "2026-11-26"
    assert created["owner_id"] == "7"
    for change in doc["changes"]:
        assert {"source", "object_type", "policy", "reason"} <= change.keys()
    assert doc["summary"]["merges"] == 1


def test_table_report_text() -> None:
    text = render(make_plan(), "table", width=160)
    assert "Plan p1 · source hs · 2026-11-24 09:00 UTC" in text
    assert "contacts 101 (Jane Doe)" in text
    assert "'(555) 123-4567' → '+15551234567'" in text
    assert "absorbs contacts 102 (Jane Do)" in text
    assert "'Follow up' · owner Ann Lee (7) · due 2026-11-26" in render(make_plan(), "markdown")
    assert text.rstrip().endswith(
        "Summary: 1 field updates on 1 records · 1 merges absorbing 1 records · "
        "0 pairs for review · 1 follow-up tasks"
    )


def test_table_report_limits_rows_and_says_how_many_are_hidden() -> None:
    changes = tuple(upd(str(i), "email", f"A{i}@X.COM", f"a{i}@x.com") for i in range(5))
    text = render(Plan("p2", "hs", NOW, changes), "table", limit=2)
    assert "… and 3 more normalize changes" in text


def test_markdown_report() -> None:
    text = render(make_plan(), "markdown")
    assert text.startswith("# Plan p1")
    assert "## Duplicates (dedupe): 1" in text
    assert "| contacts 101 (Jane Doe) | phone | '(555) 123-4567' → '+15551234567' |" in text


def test_record_labels() -> None:
    assert record_label("contacts", {"firstname": "Jane", "lastname": " Doe"}) == "Jane Doe"
    assert record_label("contacts", {"email": "j@x.com"}) == "j@x.com"
    assert record_label("deals", {"dealname": "Big deal"}) == "Big deal"


def test_one_field_is_written_once_first_policy_wins() -> None:
    first = upd("1", "state", "N.Y.", "NY")
    same = Update("hs", "contacts", "tags", "synonym", "1", "state", "N.Y.", "NY")
    other = Update("hs", "contacts", "tags", "synonym", "1", "state", "N.Y.", "New York")
    assert compose([first, same, other]) == [first]


def test_rare_picklist_options_are_listed_in_the_reports() -> None:
    rare = [
        {
            "object_type": "contacts",
            "field": "tags",
            "value": "vip_customer",
            "label": "VIP customer",
            "hidden": True,
            "records": 0,
        }
    ]
    plan = Plan("p3", "hs", NOW, (), stats={"rare_labels": rare})
    expected = "contacts.tags = 'vip_customer' (VIP customer) [hidden]: 0 records"
    assert expected in render(plan, "table", width=200)
    escaped = r"contacts.tags = 'vip\_customer' (VIP customer) \[hidden\]: 0 records"
    assert f"- {escaped}" in render(plan, "markdown")
