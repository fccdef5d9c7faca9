"""Plan, apply and undo against the Salesforce sandbox through the engine, as against HubSpot:
every kind of change once, a person's edit survives, faults leave nothing twice, undo works
where Salesforce allows it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from model.changes import CreateTask, Merge, Update
from sandbox.generator import generate
from sandbox.salesforce import SalesforceFaults, SalesforceSandbox, SalesforceState
from sandbox.salesforce.seed import seed_state
from syncd.config import Config, parse_config
from syncd.engine import Engine
from tests.syncd.test_apply import NOW, Clock, engine_for

CONTACT = {
    "firstname": "FirstName",
    "lastname": "LastName",
    "email": "Email",
    "phone": "Phone",
    "mobilephone": "MobilePhone",
    "jobtitle": "Title",
    "address": "MailingStreet",
    "city": "MailingCity",
    "state": "MailingState",
    "zip": "MailingPostalCode",
    "country": "MailingCountry",
}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[SalesforceSandbox]:
    state = SalesforceState(clock, daily_limit=None)
    seed_state(state, generate(records=150, seed=5, now=NOW))
    with SalesforceSandbox(state, port=0) as running:
        yield running


def make_config(tmp_path: Path, sandbox: SalesforceSandbox, **apply: Any) -> Config:
    source: dict[str, Any] = {
        "connector": "salesforce",
        "login_url": sandbox.base_url,
        "ca_file": str(sandbox.ca_file(tmp_path / "ca.pem")),
        "username": "sandbox",
        "password": "${SALESFORCE_PASSWORD}",
        "security_token": "${SALESFORCE_SECURITY_TOKEN}",
        "lookback_seconds": 0,
        "fields": {"contacts": {"Tags__c": "tags"}},
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
        "policies": {"required": {"fields": {"companies": ["name"]}}},
    }
    return parse_config(
        {"store": {"url": "sqlite:///state.db"}, "logging": {"level": "error"},
         "sources": {"sf": source}},
        tmp_path,
    )  # fmt: skip


@pytest.fixture
def engine(
    tmp_path: Path, sandbox: SalesforceSandbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    monkeypatch.setenv("SALESFORCE_PASSWORD", "sandbox")
    monkeypatch.setenv("SALESFORCE_SECURITY_TOKEN", "sandbox")
    built = engine_for(make_config(tmp_path, sandbox), clock)
    yield built
    built.store.close()


def value(state: SalesforceState, record_id: str, field: str) -> object:
    record = state.live("Contact", record_id)
    assert record is not None
    return record.values.get(CONTACT[field])


def test_run_applies_every_kind_of_change_once(engine: Engine, sandbox: SalesforceSandbox) -> None:
    state = sandbox.state
    result = engine.run_once("sf")
    plan = result.plan
    assert plan is not None
    [push] = result.pushes

    updates = [c for c in plan.changes if isinstance(c, Update)]
    merges = [c for c in plan.changes if isinstance(c, Merge) and c.kind == "merge"]
    tasks = [c for c in plan.changes if isinstance(c, CreateTask)]
    assert updates
    assert merges
    assert tasks
    assert {m.object_type for m in merges} <= {"contacts", "companies"}
    outbox = engine.store.outbox(plan.id)
    statuses = Counter(e.status for e in outbox)
    assert statuses["applied"] > 0
    refused = [e for e in outbox if e.status == "failed"]
    assert all(not e.result.get("retriable") for e in refused), "only Salesforce's refusals"
    for merge in merges:
        for merged_id in merge.merged_ids:
            gone = state.find(
                "Contact" if merge.object_type == "contacts" else "Account", merged_id
            )
            assert gone is not None
            assert gone.deleted
            assert gone.master_record_id == merge.primary_id
    for change in updates:
        applied = next(e for e in outbox if e.seq == plan.changes.index(change))
        if (
            change.object_type == "contacts"
            and applied.status == "applied"
            and state.live("Contact", change.record_id)
            and change.field in CONTACT
        ):
            assert value(state, change.record_id, change.field) == change.new
    # API economy: one sObject Collections call per object type updated (under 200 records
    # each here), one more per type for merge survivors' values, one for the tasks
    survivors = {m.object_type for m in merges if m.field_values}
    types = {u.object_type for u in updates}
    assert push.calls["collections"] <= len(types) + len(survivors) + 1
    audit = engine.store.audit(run_id=plan.run_id)
    assert {e.kind for e in audit} >= {"update", "merge", "create_task"}


def test_a_persons_edit_between_plan_and_apply_survives(
    engine: Engine, sandbox: SalesforceSandbox
) -> None:
    plan = engine.plan("sf")
    updates = [
        c
        for c in plan.changes
        if isinstance(c, Update) and c.object_type == "contacts" and c.field in ("city", "phone")
    ]
    edited = updates[:3]
    for change in edited:  # a person fixes the field their own way in Salesforce
        sandbox.state.update("Contact", change.record_id, {CONTACT[change.field]: "person's value"})

    report = engine.apply(plan.id).pushes[-1]

    for change in edited:
        assert value(sandbox.state, change.record_id, change.field) == "person's value"
    assert len(report.conflicts) >= len(edited)


def test_faults_leave_every_change_applied_once_or_failed_with_a_reason(
    engine: Engine, sandbox: SalesforceSandbox
) -> None:
    sandbox.state.faults = SalesforceFaults(fault_rate=0.15, drop_rate=0.05, seed=4)
    first = engine.run_once("sf")
    assert first.plan is not None
    sandbox.state.faults = None
    engine.apply(first.plan.id)  # finishes what the faults left

    outbox = engine.store.outbox(first.plan.id)
    for entry in outbox:
        assert entry.status in {"applied", "failed", "skipped", "conflict", "held"}
        if entry.status != "applied":
            assert entry.reason
    applied_tasks = [e for e in outbox if e.kind == "create_task" and e.status == "applied"]
    assert applied_tasks
    for entry in applied_tasks:
        marked = [
            t
            for t in sandbox.state.records("Task")
            if f"[syncd:{entry.key}]" in str(t.values.get("Description") or "")
        ]
        assert len(marked) == 1, (entry.key, len(marked))
    stats = sandbox.state.stats()
    assert stats["injected"] > 0


def test_undo_restores_fields_and_says_merges_are_permanent(
    engine: Engine, sandbox: SalesforceSandbox
) -> None:
    result = engine.run_once("sf")
    assert result.plan is not None
    run_id = result.plan.run_id or ""
    restorable = [
        e
        for e in engine.store.audit(run_id=run_id)
        if e.kind == "update"
        and e.object_type == "contacts"
        and e.field in ("city", "state", "country", "phone")
        and sandbox.state.live("Contact", e.record_id) is not None
    ]
    assert restorable

    report, cannot = engine.undo(run_id)

    assert report is not None
    restored = [
        e for e in restorable if value(sandbox.state, e.record_id, e.field or "") == e.before
    ]
    assert len(restored) == len(restorable)
    assert any("merges are permanent in the CRM" in line for line in cannot)
