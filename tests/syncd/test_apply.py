"""Apply: plans pushed to the sandbox exactly once, with conflicts, rails, audit and undo."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from connectors.hubspot.mapping import field_map
from model.changes import CreateTask, Merge, Update
from sandbox.generator import generate
from sandbox.hubspot import HubSpotSandbox, SandboxState
from sandbox.hubspot.faults import RandomFaults
from state.store import open_store
from syncd.config import Config, parse_config
from syncd.engine import Engine, PlanRefusedError
from syncd.push import expand
from syncd.rails import SafetyRailError
from syncd.sources import build_connector

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class Clock:
    """One clock for sandbox and engine; moves a millisecond per reading, or when told."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[HubSpotSandbox]:
    state = SandboxState.from_dataset(generate(records=150, seed=5, now=NOW), clock=clock)
    state.rate_limit = None  # not enforced: pacing and retries are tested in tests/connectors
    state.search_rate_limit = None
    with HubSpotSandbox(state, port=0) as running:
        yield running


def make_config(tmp_path: Path, base_url: str, **apply: Any) -> Config:
    source: dict[str, Any] = {
        "connector": "hubspot",
        "base_url": base_url,
        "token": "${HUBSPOT_TOKEN}",
        "lookback_seconds": 0,
        "retry": {
            "max_attempts": 8,
            "initial_wait_seconds": 0.001,
            "max_wait_seconds": 0.01,
            "jitter_seconds": 0.001,
        },
        "apply": {
            "limits": {
                "updates": {"share": 1.0},
                "merges": {"share": 1.0},
                "tasks": {"share": 1.0},
            },
            **apply,
        },
    }
    return parse_config(
        {
            "store": {"url": "sqlite:///state.db"},
            "logging": {"level": "error"},
            "sources": {"hubspot": source},
        },
        tmp_path,
    )


@pytest.fixture
def engine(
    tmp_path: Path, sandbox: HubSpotSandbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    built = engine_for(make_config(tmp_path, sandbox.base_url), clock)
    yield built
    built.store.close()


class FakeTime:
    """Monotonic time that moves only when the connector sleeps (retries, pacing)."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def engine_for(config: Config, clock: Clock, prefix: str = "id") -> Engine:
    ids = count(1)
    fake = FakeTime()
    return Engine(
        config,
        open_store(config.store_url()),
        clock,
        lambda: f"{prefix}{next(ids):04d}",
        partial(build_connector, sleep=fake.sleep, monotonic=fake.monotonic),
    )


def props(state: SandboxState, object_type: str, record_id: str) -> dict[str, str | None]:
    """A sandbox record's properties under canonical names (the connector's map)."""
    stored = state.get(object_type, record_id)
    assert stored is not None
    return field_map(object_type).to_canonical(stored.properties) | {
        name: value for name, value in stored.properties.items() if name.startswith("hs_task")
    }


def ids(state: SandboxState, object_type: str) -> list[str]:
    return sorted((r.id for r in state.live_records(object_type)), key=int)


def test_run_applies_every_kind_of_change_once(engine: Engine, sandbox: HubSpotSandbox) -> None:
    state = sandbox.state
    result = engine.run_once("hubspot")
    plan = result.plan
    assert plan is not None
    [push] = result.pushes
    assert push.complete, push.failures
    assert push.statuses.get("applied", 0) > 0

    updates = [c for c in plan.changes if isinstance(c, Update)]
    merges = [c for c in plan.changes if isinstance(c, Merge) and c.kind == "merge"]
    tasks = [c for c in plan.changes if isinstance(c, CreateTask)]
    assert updates
    assert merges
    assert tasks
    for change in updates:
        survivor = state.resolve(change.object_type, change.record_id)
        assert survivor is not None
        if survivor == change.record_id:
            assert props(state, change.object_type, change.record_id)[change.field] == change.new
    for merge in merges:  # into a new record (shared/notes/hubspot.md), both old ids resolving
        survivor = state.resolve(merge.object_type, merge.primary_id)
        assert survivor not in (None, merge.primary_id, *merge.merged_ids)
        for merged_id in merge.merged_ids:
            assert state.resolve(merge.object_type, merged_id) == survivor
    # API economy: U updated records cost at most ceil(U/100) batch writes per object type
    records_by_type = Counter(
        c.object_type for c in {(u.object_type, u.record_id): u for u in updates}.values()
    )
    budget = sum(math.ceil(n / 100) for n in records_by_type.values())
    primaries_with_values = sum(1 for m in merges if m.field_values)
    assert push.calls.get("batch_update", 0) <= budget + math.ceil(primaries_with_values / 100)
    assert push.calls.get("batch_create", 0) <= math.ceil(len(tasks) / 100) * 2

    audit = engine.store.audit(run_id=plan.run_id)
    assert {e.kind for e in audit} >= {"update", "merge", "create_task"}
    first = next(e for e in audit if e.kind == "update")
    assert first.field is not None
    assert first.before != first.after


def test_second_run_creates_no_second_task(engine: Engine, sandbox: HubSpotSandbox) -> None:
    first = engine.run_once("hubspot")
    assert first.plan is not None
    tasked = {c.record_id for c in first.plan.changes if isinstance(c, CreateTask)}
    assert tasked
    second = engine.run_once("hubspot")
    assert second.plan is not None
    again = {c.record_id for c in second.plan.changes if isinstance(c, CreateTask)}
    assert tasked.isdisjoint(again)
    normalize_again = [
        c for c in second.plan.changes if c.policy == "normalize" and isinstance(c, Update)
    ]
    assert normalize_again == []  # what was fixed stays fixed; nothing is re-proposed (flags
    # of invalid values that cannot be fixed stay, as findings)


def test_task_idempotent_even_when_the_state_store_is_lost(
    tmp_path: Path, sandbox: HubSpotSandbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    (tmp_path / "a").mkdir()
    a = engine_for(make_config(tmp_path / "a", sandbox.base_url), clock)
    first = a.plan("hubspot")
    # a second, empty store plans the same tasks; the first store applies its plan
    (tmp_path / "b").mkdir()
    # the drift rail would refuse b's plan (a's push changed many records): let it through, the
    # point here is that b does not create the tasks a created
    b = engine_for(make_config(tmp_path / "b", sandbox.base_url, max_drift_share=1.0), clock, "b")
    stale = b.plan("hubspot")
    a.apply(first.id)
    report = b.apply(stale.id).pushes[-1]
    planned_tasks = sum(1 for c in stale.changes if isinstance(c, CreateTask))
    assert planned_tasks > 0
    outbox = b.store.outbox(stale.id)
    task_ops = [e for e in outbox if e.kind == "create_task"]
    assert all(e.status == "skipped" for e in task_ops), Counter(e.status for e in task_ops)
    assert all("open task" in (e.reason or "") for e in task_ops)
    assert report.complete


def test_person_edit_between_plan_and_apply_survives(
    tmp_path: Path, sandbox: HubSpotSandbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    engine = engine_for(make_config(tmp_path, sandbox.base_url), clock)
    plan = engine.plan("hubspot")
    updates = [c for c in plan.changes if isinstance(c, Update) and c.object_type == "contacts"]
    edited = updates[:5]
    for change in edited:  # a person fixes the field their own way, through the API
        sandbox.state.update("contacts", change.record_id, {change.field: "person's value"})
    report = engine.apply(plan.id).pushes[-1]
    for change in edited:
        assert props(sandbox.state, "contacts", change.record_id)[change.field] == "person's value"
    assert len(report.conflicts) >= len(edited)
    untouched = updates[5]
    assert props(sandbox.state, "contacts", untouched.record_id)[untouched.field] == untouched.new


@pytest.mark.parametrize(
    ("strategy", "status", "value_wins"),
    [("syncd-wins", "applied", "syncd"), ("review", "held", "person")],
)
def test_conflict_strategies(
    tmp_path: Path,
    sandbox: HubSpotSandbox,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    strategy: str,
    status: str,
    value_wins: str,
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    engine = engine_for(
        make_config(tmp_path, sandbox.base_url, conflict_by_policy={"normalize": strategy}), clock
    )
    plan = engine.plan("hubspot")
    change = next(c for c in plan.changes if isinstance(c, Update))
    sandbox.state.update(change.object_type, change.record_id, {change.field: "person's value"})
    engine.apply(plan.id)
    entry = next(
        e
        for e in engine.store.outbox(plan.id)
        if e.record_id == change.record_id and e.kind == "update"
    )
    assert entry.status == status
    now = props(sandbox.state, change.object_type, change.record_id)[change.field]
    assert now == (change.new if value_wins == "syncd" else "person's value")


def test_deleted_and_merged_since_plan_are_skipped_with_reason(
    engine: Engine, sandbox: HubSpotSandbox
) -> None:
    plan = engine.plan("hubspot")
    updates = [c for c in plan.changes if isinstance(c, Update) and c.object_type == "contacts"]
    gone, absorbed = (
        updates[0].record_id,
        next(u.record_id for u in updates if u.record_id != updates[0].record_id),
    )
    sandbox.state.archive("contacts", gone)
    others = [r for r in ids(sandbox.state, "contacts") if r not in {gone, absorbed}]
    sandbox.state.merge("contacts", others[-1], absorbed)
    engine.apply(plan.id, max_changes=None)
    reasons = {
        e.record_id: e.reason or ""
        for e in engine.store.outbox(plan.id)
        if e.kind == "update" and e.status == "skipped"
    }
    assert "deleted" in reasons[gone]
    assert "merged into" in reasons[absorbed]


def test_saved_plan_refused_when_old_or_drifted(
    tmp_path: Path, sandbox: HubSpotSandbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    engine = engine_for(
        make_config(tmp_path, sandbox.base_url, max_plan_age_hours=1, max_drift_share=0.05), clock
    )
    plan = engine.plan("hubspot")
    clock.advance(hours=2)
    with pytest.raises(PlanRefusedError, match=r"older than apply\.max_plan_age_hours"):
        engine.apply(plan.id)
    plan = engine.plan("hubspot")
    for record_id in ids(sandbox.state, "contacts")[:60]:  # fields the plan does not write
        sandbox.state.update("contacts", record_id, {"jobtitle": "Changed by a person"})
    updates = [c for c in plan.changes if isinstance(c, Update) and c.object_type == "contacts"]
    edited = updates[: len(updates) // 10 + 1]  # 10%: more than max_drift_share of its fields
    for change in edited:
        sandbox.state.update("contacts", change.record_id, {change.field: "Changed by a person"})
    with pytest.raises(PlanRefusedError, match=r"apply\.max_drift_share") as refused:
        engine.apply(plan.id)
    assert str(refused.value).startswith(f"{len(edited)} of the ")  # the job titles do not count
    assert (
        sandbox.state.stats()["requests"].get("POST /crm/v3/objects/{objectType}/batch/update", 0)
        == 0
    )


def test_ceiling_stops_the_run_before_anything_is_pushed(
    tmp_path: Path, sandbox: HubSpotSandbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    engine = engine_for(
        make_config(tmp_path, sandbox.base_url, limits={"merges": {"max": 1}}), clock
    )
    with pytest.raises(SafetyRailError, match=r"merges exceed the ceiling of 1"):
        engine.run_once("hubspot")
    [run] = engine.store.list_runs("hubspot")
    assert run.status == "failed"
    assert "apply.limits.merges.max" in (run.error or "")
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(SafetyRailError, match="--max-changes 3"):
        engine_for(make_config(other, sandbox.base_url), clock).run_once("hubspot", max_changes=3)
    writes = [
        k
        for k in sandbox.state.stats()["requests"]
        if k.startswith(
            (
                "PATCH",
                "POST /crm/v3/objects/{objectType}/batch/update",
                "POST /crm/v3/objects/{objectType}/batch/create",
                "POST /crm/v3/objects/{objectType}/merge",
            )
        )
    ]
    assert writes == []


def test_protected_fields_are_never_planned(
    tmp_path: Path, sandbox: HubSpotSandbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    engine = engine_for(
        make_config(tmp_path, sandbox.base_url, protected_fields=["phone", "email"]), clock
    )
    plan = engine.plan("hubspot")
    assert plan.stats["protected_dropped"]
    for change in plan.changes:
        if isinstance(change, Update):
            assert change.field not in {"phone", "email"}
        if isinstance(change, Merge):
            assert not {"phone", "email"} & change.field_values.keys()


def test_undo_restores_fields_and_skips_later_edits(
    engine: Engine, sandbox: HubSpotSandbox
) -> None:
    result = engine.run_once("hubspot")
    assert result.plan is not None
    run_id = result.plan.run_id or ""
    applied = [e for e in engine.store.audit(run_id=run_id) if e.kind == "update"]
    contact_updates = [
        e
        for e in applied
        if e.object_type == "contacts"
        and sandbox.state.resolve("contacts", e.record_id) == e.record_id
    ]
    edited = contact_updates[0]
    vendor = field_map("contacts").vendor_name(edited.field or "")
    sandbox.state.update("contacts", edited.record_id, {vendor: "edited later"})
    report, cannot = engine.undo(run_id)
    assert report is not None
    refused = "\n".join(cannot)
    restored = 0
    for entry in contact_updates[1:]:
        now = props(sandbox.state, "contacts", entry.record_id)[entry.field or ""]
        if now == entry.before:
            restored += 1
        else:  # HubSpot refuses some old values (an e-mail with stray spaces is invalid)
            assert entry.field == "email", entry
            assert f"contacts {entry.record_id} email: {entry.before!r} refused" in refused
            assert "INVALID_EMAIL" in refused
    assert not report.failures  # refused old values are not undoable, not failures
    assert restored > len(contact_updates) / 2
    assert props(sandbox.state, "contacts", edited.record_id)[edited.field or ""] == "edited later"
    assert any("cannot be undone" in line for line in cannot)
    assert report.conflicts  # the later edit is reported, not overwritten
    # undoing again does nothing more: every revertible entry is marked undone
    again, _ = engine.undo(run_id)
    assert again is None or not again.statuses.get("applied")


def test_faults_every_change_applied_once_or_failed_with_reason(
    engine: Engine, sandbox: HubSpotSandbox
) -> None:
    sandbox.state.faults = RandomFaults(fault_rate=0.2, drop_rate=0.02, seed=3)
    result = engine.run_once("hubspot")
    assert result.plan is not None
    sandbox.state.faults = None
    outbox = engine.store.outbox(result.plan.id)
    assert outbox
    for entry in outbox:
        assert entry.status in {"applied", "failed", "skipped", "conflict", "held"}
        if entry.status != "applied":
            assert entry.reason
    task_keys = [e for e in outbox if e.kind == "create_task" and e.status == "applied"]
    assert task_keys
    per_record: Counter[str] = Counter()
    for entry in task_keys:  # on the record as it is now (a merge's survivor has a new id)
        record_id = sandbox.state.resolve(entry.object_type, entry.record_id) or entry.record_id
        tasks = sandbox.state.associated(entry.object_type, record_id, "tasks")
        marked = [
            t
            for t in tasks
            if f"[syncd:{entry.key}]"
            in (props(sandbox.state, "tasks", t).get("hs_task_body") or "")
        ]
        per_record[entry.key] = len(marked)
    assert set(per_record.values()) == {1}, per_record
    stats = sandbox.state.stats()
    assert stats["injected"] > 0


def test_survivor_values_are_written_and_a_later_edit_still_wins(
    tmp_path: Path, sandbox: HubSpotSandbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With most_recent survivorship the primary's own value is replaced by a fresher one.

    The write carries the primary's plan-time value as its baseline: without it, the primary's
    own value would look like a person's edit and the merge would lose the fresher value.
    """
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    config = make_config(tmp_path, sandbox.base_url)
    config = config.model_copy(
        update={
            "policies": config.policies.model_copy(
                update={
                    "dedupe": config.policies.dedupe.model_copy(
                        update={"survivorship": "most_recent"}
                    )
                }
            )
        }
    )
    engine = engine_for(config, clock)
    plan = engine.plan("hubspot")
    replacing = [
        (c, name)
        for c in plan.changes
        if isinstance(c, Merge) and c.kind == "merge"
        for name in sorted(c.field_values)
        if c.field_baseline.get(name)
    ]
    assert len(replacing) >= 2
    (edited, edited_field), (kept, kept_field) = replacing[0], replacing[-1]
    assert (edited.primary_id, edited_field) != (kept.primary_id, kept_field)
    typed = {field_map("contacts").vendor_name(edited_field): "typed by a person"}
    sandbox.state.update("contacts", edited.primary_id, typed)
    engine.apply(plan.id)
    now = props(sandbox.state, kept.object_type, kept.primary_id)
    assert now[kept_field] == kept.field_values[kept_field]
    assert props(sandbox.state, "contacts", edited.primary_id)[edited_field] == (
        "typed by a person"
    )


def test_a_write_that_landed_before_a_kill_is_audited_once_beside_a_conflict(
    engine: Engine, sandbox: HubSpotSandbox, clock: Clock
) -> None:
    """A merge's survivor values go in one op; a kill left it sending with one value written.

    The resumed push records what landed (with its audit entry) and keeps the person's edit
    of the other value.
    """
    plan = engine.plan("hubspot")
    seq, merge = next(
        (n, c)
        for n, c in enumerate(plan.changes)
        if isinstance(c, Merge)
        and c.kind == "merge"
        and sum(1 for v in c.field_values.values() if v) >= 2
    )
    landed, edited = sorted(k for k, v in merge.field_values.items() if v)[:2]
    ops = expand(engine.store.load_plan(plan.id))
    [op] = [o for o in ops if o.seq == seq and o.kind == "update"]
    engine.store.enqueue(plan.id, plan.run_id or "", ops, clock())
    lease = engine.store.acquire_source("hubspot", "killed", clock())
    engine.store.mark_sending([op.key], clock(), epoch=lease.epoch)  # killed with it in flight
    engine.store.release_source(lease)
    sandbox.state.update("contacts", merge.primary_id, {landed: merge.field_values[landed]})
    sandbox.state.update("contacts", merge.primary_id, {edited: "typed by a person"})

    engine.apply(plan.id)

    [entry] = [e for e in engine.store.outbox(plan.id) if e.key == op.key]
    assert entry.status == "applied"
    assert edited in (entry.reason or "")
    audited = [e for e in engine.store.audit(source="hubspot") if e.key == op.key]
    assert {e.field for e in audited} >= {landed}
    assert edited not in {e.field for e in audited}
    assert props(sandbox.state, "contacts", merge.primary_id)[edited] == "typed by a person"


def test_refused_values_are_told_apart_by_kind_and_canonical_field(
    engine: Engine, sandbox: HubSpotSandbox, clock: Clock
) -> None:
    """A duplicate e-mail is skipped for review, an invalid option fails, and each record's other
    fields are written in one more batch call: the push reads the connector's typed answer
    (kind, canonical fields), not HubSpot's message text or property names."""
    engine.plan("hubspot")
    state = sandbox.state
    ann = state.create("contacts", {"firstname": "Ann", "email": "ann@example.com"})
    bob = state.create("contacts", {"firstname": "Bob", "email": "bob@example.com"})
    changes = [
        Update(
            "hubspot", "contacts", "t", "dup", bob, "email", "bob@example.com", "ann@example.com"
        ),
        Update("hubspot", "contacts", "t", "ok", bob, "city", None, "Oslo"),
        Update("hubspot", "contacts", "t", "bad", ann, "lifecycle_stage", None, "prospect"),
        Update("hubspot", "contacts", "t", "ok", ann, "jobtitle", None, "CEO"),
    ]
    engine.store.save_plan("typed", "hubspot", None, clock(), {}, changes)

    [report] = engine.apply("typed").pushes

    outcome = {e.seq: e for e in engine.store.outbox("typed")}
    assert outcome[0].status == "skipped"
    assert outcome[0].result["error_kind"] == "duplicate_value"
    assert "duplicate" in (outcome[0].reason or "")
    assert outcome[2].status == "failed"
    assert outcome[2].result["error_kind"] == "invalid_value"
    assert (outcome[1].status, outcome[3].status) == ("applied", "applied")
    assert props(state, "contacts", bob)["city"] == "Oslo"
    assert props(state, "contacts", bob)["email"] == "bob@example.com"
    assert props(state, "contacts", ann)["jobtitle"] == "CEO"
    assert props(state, "contacts", ann)["lifecycle_stage"] is None
    assert report.calls["batch_update"] == 2  # the batch, then the refused records' other fields
    assert report.failures
    assert not report.complete
