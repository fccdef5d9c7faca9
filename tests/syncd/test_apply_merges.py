"""Merges and the changes around them, pushed to the sandbox: order, unique e-mails, follow-ups.

A hand-made account: duplicates whose clean e-mail only one of them holds, a duplicate with the
open task its survivor lacks, and a pair a person rejected.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from model.changes import CreateTask, Flag, Merge, Update
from sandbox.hubspot import HubSpotSandbox, SandboxState
from syncd.config import Config
from syncd.engine import Engine
from tests.syncd.test_apply import NOW, Clock, engine_for, make_config

EARLIER = NOW - timedelta(days=60)
OWNER = "71"


def person(first: str, last: str, phone: str, **more: str | None) -> dict[str, str | None]:
    return {
        "firstname": first,
        "lastname": last,
        "phone": phone,
        "company": f"{last} GmbH",
        "city": "Oslo",
        "hs_lead_status": "OPEN",
        "hubspot_owner_id": OWNER,
        **more,
    }


class Account:
    """The records of the account, by role."""

    def __init__(self, state: SandboxState) -> None:
        state.add_owner(
            {"id": OWNER, "email": "ann@example.com", "firstName": "Ann", "lastName": "Lee"}
        )

        def create(
            props: dict[str, str | None], days: int, links: dict[str, list[str]] | None = None
        ) -> str:
            return state.create("contacts", props, links, created_at=EARLIER + timedelta(days))

        jane = person("Jane", "Doerring", "+47 912 34 567")
        #: the primary (older) holds a messy e-mail whose clean form its duplicate holds
        self.messy = create({**jane, "email": " Jane.Doerring@Acme.com "}, 0)
        self.clean = create({**jane, "email": "jane.doerring@acme.com"}, 1)
        ravi = person("Ravi", "Kowalczyk", "+47 913 55 001", email="ravi@kowalczyk.no")
        #: the primary has no task; its duplicate has an open one, and its company
        self.lead = create(ravi, 0)
        self.company = state.create("companies", {"name": "Kowalczyk GmbH"})
        self.tasked = create(
            {**ravi, "email": "RAVI@kowalczyk.no "}, 2, {"companies": [self.company]}
        )
        self.task = state.create(
            "tasks",
            {
                "hs_task_subject": "Call Ravi",
                "hs_task_status": "NOT_STARTED",
                "hs_timestamp": "2026-12-01T15:00:00Z",
                "hubspot_owner_id": OWNER,
            },
            {"contacts": [self.tasked]},
            created_at=EARLIER,
        )
        #: the primary has no e-mail: its survivor value is the duplicate's address
        mona = person("Mona", "Haugland", "+47 915 20 300")
        self.bare = create(mona, 0)
        self.mailed = create({**mona, "email": "mona@haugland.no"}, 3)


@pytest.fixture
def account(clock: Clock) -> tuple[SandboxState, Account]:
    state = SandboxState(clock=clock, rate_limit=None, search_rate_limit=None)
    return state, Account(state)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(account: tuple[SandboxState, Account]) -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(account[0], port=0) as running:
        yield running


def config(tmp_path: Path, sandbox: HubSpotSandbox, **dedupe: Any) -> Config:
    # four records in all: one edit by a person is more drift than the default rail allows
    made = make_config(tmp_path, sandbox.base_url, max_drift_share=1.0)
    if not dedupe:
        return made
    policies = made.policies.model_copy(
        update={"dedupe": made.policies.dedupe.model_copy(update=dedupe)}
    )
    return made.model_copy(update={"policies": policies})


@pytest.fixture
def engine(
    tmp_path: Path, sandbox: HubSpotSandbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    built = engine_for(config(tmp_path, sandbox), clock)
    yield built
    built.store.close()


def merged_pairs(changes: Any) -> set[tuple[str, tuple[str, ...]]]:
    return {
        (c.primary_id, c.merged_ids) for c in changes if isinstance(c, Merge) and c.kind == "merge"
    }


def test_email_fix_whose_duplicate_holds_the_address_is_applied_after_the_merge(
    engine: Engine, sandbox: HubSpotSandbox, account: tuple[SandboxState, Account]
) -> None:
    state, people = account
    result = engine.run_once("hubspot")
    plan = result.plan
    assert plan is not None
    assert merged_pairs(plan.changes) >= {
        (people.messy, (people.clean,)),
        (people.bare, (people.mailed,)),
    }
    fix = [
        c
        for c in plan.changes
        if isinstance(c, Update) and c.record_id == people.messy and c.field == "email"
    ]
    assert [c.new for c in fix] == ["jane.doerring@acme.com"]
    [push] = result.pushes
    assert push.complete, push.failures
    assert push.skipped == [], push.skipped  # no "Contact already exists", no review asked
    assert push.held == []
    assert push.conflicts == []
    jane = state.get("contacts", people.messy)  # the survivor, a new record
    assert jane is not None
    assert jane.id != people.messy
    assert jane.properties["email"] == "jane.doerring@acme.com"
    assert state.resolve("contacts", people.clean) == jane.id
    mona = state.get("contacts", people.bare)
    assert mona is not None
    assert mona.properties["email"] == "mona@haugland.no"
    assert state.resolve("contacts", people.mailed) == mona.id


def test_no_follow_up_for_a_survivor_whose_duplicate_has_an_open_task(
    engine: Engine, account: tuple[SandboxState, Account]
) -> None:
    _, people = account
    plan = engine.plan("hubspot")
    assert (people.lead, (people.tasked,)) in merged_pairs(plan.changes)
    tasked = {c.record_id for c in plan.changes if isinstance(c, CreateTask)}
    assert people.lead not in tasked
    assert people.tasked not in tasked
    assert people.messy in tasked  # an open lead whose cluster has no task still gets one
    [health] = engine.store.health_history("hubspot")
    assert health.metrics["contacts"]["open_without_next_action"] == len(
        [c for c in plan.changes if isinstance(c, CreateTask) and c.object_type == "contacts"]
    )


def test_the_store_knows_a_merge_before_the_next_pull(
    engine: Engine, account: tuple[SandboxState, Account]
) -> None:
    state, people = account
    first = engine.run_once("hubspot")
    assert first.plan is not None
    assert (people.lead, (people.tasked,)) in merged_pairs(first.plan.changes)
    live = state.get("contacts", people.lead)  # the survivor: a new record with a new id
    assert live is not None
    new_id = live.id
    assert new_id != people.lead
    ids = [people.lead, people.tasked, new_id]
    stored = engine.store.get_records("hubspot", "contacts", ids)
    survivor, absorbed, primary = stored[new_id], stored[people.tasked], stored[people.lead]
    assert absorbed.merged_into == new_id
    assert primary.merged_into == new_id
    assert absorbed.properties.get("firstname") == "Ravi"  # its baseline is kept
    assert {people.lead, people.tasked} <= set(survivor.merged_ids)
    assert survivor.associations["companies"] == (people.company,)  # read again with it
    assert survivor.updated_at == live.updated_at
    assert survivor.properties["phone"] == live.properties["phone"]

    # search has not caught up with the merge: the next pull does not see it, the store does
    state.search_lag = timedelta(hours=1)
    again = engine.plan("hubspot")
    assert not merged_pairs(again.changes)
    tasked = {c.record_id for c in again.changes if isinstance(c, CreateTask)}
    assert tasked.isdisjoint({people.lead, new_id})


def test_after_a_merge_an_incremental_plan_proposes_what_a_full_pull_does(
    tmp_path: Path,
    engine: Engine,
    sandbox: HubSpotSandbox,
    clock: Clock,
    account: tuple[SandboxState, Account],
) -> None:
    _, people = account
    first = engine.run_once("hubspot")
    assert first.plan is not None
    assert (people.lead, (people.tasked,)) in merged_pairs(first.plan.changes)

    clock.advance(minutes=5)
    again = engine.plan("hubspot")
    fresh_dir = tmp_path / "fresh"
    fresh_dir.mkdir()
    fresh = engine_for(config(fresh_dir, sandbox), clock, "f")
    full = fresh.plan("hubspot")
    fresh.store.close()

    def tasks(changes: Any) -> set[str]:
        return {c.record_id for c in changes if isinstance(c, CreateTask)}

    assert people.lead not in tasks(again.changes)
    assert tasks(again.changes) == tasks(full.changes)
    [_, latest] = engine.store.health_history("hubspot")
    assert latest.metrics["contacts"]["open_without_next_action"] == len(tasks(full.changes))


def test_email_fix_colliding_with_a_rejected_duplicate_is_a_finding(
    engine: Engine, clock: Clock, account: tuple[SandboxState, Account]
) -> None:
    _, people = account
    engine.store.ensure_source("hubspot", "hubspot", clock())
    engine.store.record_review(
        "hubspot", "contacts", [people.messy, people.clean], "rejected", clock()
    )
    plan = engine.plan("hubspot")
    assert (people.messy, (people.clean,)) not in merged_pairs(plan.changes)
    assert not [
        c
        for c in plan.changes
        if isinstance(c, Update) and c.record_id == people.messy and c.field == "email"
    ]
    [flag] = [
        c
        for c in plan.changes
        if isinstance(c, Flag) and c.record_id == people.messy and c.field == "email"
    ]
    assert flag.value == "jane.doerring@acme.com"
    assert f"contacts {people.clean} (Jane Doerring) already holds it" in flag.reason
    assert "a person judged them different records" in flag.reason
    result = engine.run_once("hubspot")
    assert result.pushes[-1].complete
    assert result.pushes[-1].skipped == []  # nothing sent that the CRM refuses


def test_email_fix_colliding_with_a_pair_to_review_is_a_finding(
    tmp_path: Path,
    sandbox: HubSpotSandbox,
    clock: Clock,
    account: tuple[SandboxState, Account],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, people = account
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    engine = engine_for(config(tmp_path, sandbox, merge_threshold=1.0), clock)
    plan = engine.plan("hubspot")
    reviews = {
        (c.primary_id, c.merged_ids)
        for c in plan.changes
        if isinstance(c, Merge) and c.kind == "review"
    }
    assert (people.messy, (people.clean,)) in reviews
    assert not merged_pairs(plan.changes)
    [flag] = [
        c
        for c in plan.changes
        if isinstance(c, Flag) and c.record_id == people.messy and c.field == "email"
    ]
    assert flag.policy == "dedupe"
    assert f"contacts {people.clean}" in flag.reason
    assert "merge them in syncd review" in flag.reason
    assert not [
        c
        for c in plan.changes
        if isinstance(c, Update) and c.record_id == people.messy and c.field == "email"
    ]
    engine.store.close()


def test_survivor_values_wait_for_the_merge(
    engine: Engine, account: tuple[SandboxState, Account]
) -> None:
    """A merge that does not happen writes none of its survivor's values."""
    state, people = account
    plan = engine.plan("hubspot")
    [merge] = [
        c
        for c in plan.changes
        if isinstance(c, Merge) and c.kind == "merge" and c.primary_id == people.bare
    ]
    assert merge.field_values.get("email") == "mona@haugland.no"
    state.archive("contacts", people.mailed)  # a person deletes the duplicate meanwhile
    engine.apply(plan.id)
    outbox = [e for e in engine.store.outbox(plan.id) if e.record_id == people.bare]
    [merged] = [e for e in outbox if e.kind == "merge"]
    assert merged.status == "skipped"
    [values] = [e for e in outbox if e.kind == "update" and e.seq == merged.seq]
    assert values.status == "skipped"
    assert f"the merge of {people.mailed} into {people.bare} is skipped" in (values.reason or "")
    mona = state.get("contacts", people.bare)
    assert mona is not None
    assert mona.properties.get("email") is None
