"""Runs and plans: the contract suite, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from model.changes import Change, CreateTask, Merge, Update
from model.errors import StateError
from state.base import RunInfo
from state.store import SqlStateStore

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


# -- runs ----------------------------------------------------------------------------------------


def test_a_run_starts_running_and_finishes_with_counts(running: SqlStateStore) -> None:
    assert running.get_run("r1") == RunInfo(
        id="r1",
        source="hs",
        started_at=T0,
        finished_at=None,
        status="running",
        dry_run=False,
        counts={},
        error=None,
    )
    counts = {"pulled": {"contacts": 10, "deals": 2}, "skipped": 1, "planned": {"update": 3}}
    running.finish_run("r1", T0 + timedelta(minutes=2), "partial", counts, error="deals: 403")
    run = running.get_run("r1")
    assert run.status == "partial"
    assert run.finished_at == T0 + timedelta(minutes=2)
    assert run.finished_at.tzinfo == UTC
    assert run.counts == counts
    assert run.error == "deals: 403"


def test_run_mistakes_are_state_errors(running: SqlStateStore) -> None:
    with pytest.raises(StateError, match="already exists"):
        running.start_run("r1", "hs", T0, dry_run=True)
    with pytest.raises(StateError, match="unknown run"):
        running.get_run("nope")
    with pytest.raises(StateError, match="unknown run"):
        running.finish_run("nope", T0, "succeeded", {})
    with pytest.raises(StateError, match="status"):
        running.finish_run("r1", T0, "done", {})
    with pytest.raises(StateError, match="timezone-aware"):
        running.finish_run("r1", datetime(2024, 1, 1), "failed", {})
    assert running.get_run("r1").status == "running"


def test_list_runs_newest_first_per_source(running: SqlStateStore) -> None:
    running.ensure_source("sf", "salesforce", T0)
    for n in range(1, 5):
        running.start_run(f"hs{n}", "hs", T0 + timedelta(hours=n), dry_run=n % 2 == 0)
    running.start_run("sf1", "sf", T0 + timedelta(hours=10), dry_run=True)
    assert [r.id for r in running.list_runs()] == ["sf1", "hs4", "hs3", "hs2", "hs1", "r1"]
    assert [r.id for r in running.list_runs("hs", limit=2)] == ["hs4", "hs3"]
    assert [r.dry_run for r in running.list_runs("hs", limit=2)] == [True, False]
    assert [r.id for r in running.list_runs("sf")] == ["sf1"]
    assert running.list_runs("nobody") == []


# -- plans ---------------------------------------------------------------------------------------

CHANGES: list[Change] = [
    Update(
        "hs", "contacts", "normalize", "e-mail lower-cased", "12", "email", "A@X.COM", "a@x.com"
    ),
    Update("hs", "contacts", "normalize", "phone cleared", "12", "phone", "n/a", None),
    Merge(
        "hs",
        "contacts",
        "dedupe",
        "same e-mail",
        primary_id="10",
        merged_ids=("11", "13"),
        confidence=0.97,
        evidence={"email": 1.0, "name": 0.875},
        field_values={"firstname": "Ann", "phone": None},
    ),
    Merge(
        "hs",
        "companies",
        "dedupe",
        "similar names",
        primary_id="20",
        merged_ids=("21",),
        confidence=0.6,
        kind="review",
    ),
    CreateTask(
        "hs",
        "contacts",
        "follow_up",
        "open lead without a task",
        record_id="12",
        subject="Follow up with Ann",
        owner_id="300",
        due=date(2024, 3, 4),
        body="Lead is open since 2024-02-01.",
    ),
    CreateTask("hs", "deals", "follow_up", "open deal", "30", "Chase", None, date(2024, 3, 5)),
]


def test_plan_round_trips_every_change_kind_in_order(running: SqlStateStore) -> None:
    baseline = running.baseline_summary("hs") | {"contacts": {"count": 3, "live": 2}}
    running.save_plan("p1", "hs", "r1", T0, baseline, CHANGES)
    plan = running.load_plan("p1")
    assert plan.id == "p1"
    assert plan.source == "hs"
    assert plan.run_id == "r1"
    assert plan.created_at == T0
    assert plan.created_at.tzinfo == UTC
    assert plan.baseline == baseline
    assert plan.status == "planned"
    assert plan.changes == CHANGES
    assert {c.kind for c in plan.changes} == {"update", "merge", "review", "create_task"}


def test_plan_text_the_bulk_path_must_escape_round_trips(running: SqlStateStore) -> None:
    # PostgreSQL takes a plan's changes by COPY, whose text format has its own escapes
    odd = "tab\there\nnew line, back\\slash \\N, quote \" ' , é 名前 \u2028, null\x01"
    changes: list[Change] = [
        Update("hs", "contacts", "normalize", odd, str(n), "firstname", odd, f"{odd} {n}")
        for n in range(300)
    ]
    changes.append(Update("hs", "contacts", "normalize", "", "999", "lastname", None, ""))
    running.save_plan("odd", "hs", "r1", T0, {}, changes)
    assert running.load_plan("odd").changes == changes


def test_plans_without_run_or_changes_and_mistakes(running: SqlStateStore) -> None:
    running.save_plan("empty", "hs", None, T0, {}, [])
    plan = running.load_plan("empty")
    assert plan.run_id is None
    assert plan.changes == []
    with pytest.raises(StateError, match="already exists"):
        running.save_plan("empty", "hs", None, T0, {}, CHANGES)
    assert running.load_plan("empty").changes == []
    with pytest.raises(StateError, match="unknown plan"):
        running.load_plan("nope")
    with pytest.raises(StateError, match="unknown source"):
        running.save_plan("p2", "nope", None, T0, {}, CHANGES)
    with pytest.raises(StateError, match="constraint"):
        running.save_plan("p3", "hs", "no-such-run", T0, {}, CHANGES)
    with pytest.raises(StateError, match="unknown plan"):
        running.load_plan("p3")


def test_closed_store_refuses_work(running: SqlStateStore) -> None:
    running.close()
    with pytest.raises(StateError, match="closed"):
        running.get_run("r1")


def test_list_plans_newest_first_with_counts_by_kind(running: SqlStateStore) -> None:
    running.ensure_source("other", "hubspot", T0)
    update = Update("hs", "contacts", "normalize", "why", "1", "email", "A@X", "a@x")
    task = CreateTask("hs", "contacts", "follow_up", "why", "1", "Call", None, date(2024, 3, 4))
    running.save_plan("old", "hs", "r1", T0, {"contacts": {"live": 1}}, [update, update, task])
    running.save_plan("undo", "hs", "r1", T0 + timedelta(hours=1), {"undo_of": "r0"}, [update])
    running.save_plan("empty", "hs", None, T0 + timedelta(hours=2), {}, [])
    running.start_run("r9", "other", T0, dry_run=True)
    running.save_plan("elsewhere", "other", "r9", T0 + timedelta(hours=3), {}, [task])

    plans = running.list_plans("hs")
    assert [p.id for p in plans] == ["empty", "undo", "old"]
    assert plans[2].kinds == {"update": 2, "create_task": 1}
    assert plans[2].baseline == {"contacts": {"live": 1}}
    assert plans[2].created_at == T0
    assert plans[2].status == "planned"
    assert plans[1].baseline == {"undo_of": "r0"}
    assert plans[0].kinds == {}
    assert plans[0].run_id is None
    assert [p.id for p in running.list_plans()][:2] == ["elsewhere", "empty"]
    assert [p.id for p in running.list_plans("hs", limit=1)] == ["empty"]
    assert running.plan_info("old") == plans[2]
    with pytest.raises(StateError, match="unknown plan"):
        running.plan_info("nope")
