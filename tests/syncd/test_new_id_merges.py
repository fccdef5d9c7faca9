"""Merges that give the survivor a new id, pushed to the sandbox end to end.

HubSpot merges contacts and companies into a new record with a new id, both old ids resolving to
it (shared/notes/hubspot.md). A cluster of three duplicates is merged step by step; the plan's
e-mail fix and follow-up task, made on the plan-time ids, land on the last survivor; the audit
keeps the old and new ids; the store knows the new record before any pull.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from model.changes import CreateTask, Merge, Update
from sandbox.hubspot import Fault, HubSpotSandbox, Request, SandboxState, ScriptedFaults
from sandbox.hubspot.app import HubSpotApp
from syncd.engine import Engine
from tests.syncd.test_apply import NOW, Clock, engine_for, make_config

OWNER = "71"
EARLIER = NOW - timedelta(days=90)


def person(email: str | None, days: int, state: SandboxState) -> str:
    props = {
        "firstname": "Ingrid",
        "lastname": "Solberg",
        "phone": "+47 915 11 222",
        "company": "Solberg Fjord AS",
        "city": "Bergen",
        "hs_lead_status": "OPEN",
        "hubspot_owner_id": OWNER,
        "email": email,
    }
    return state.create("contacts", props, created_at=EARLIER + timedelta(days=days))


class Cluster:
    def __init__(self, state: SandboxState) -> None:
        state.add_owner(
            {"id": OWNER, "email": "ann@example.com", "firstName": "Ann", "lastName": "Lee"}
        )
        #: the primary (oldest): a messy e-mail, no task
        self.primary = person(" Ingrid.Solberg@Fjord.no ", 0, state)
        self.second = person("ingrid.solberg@fjord.no", 2, state)
        self.third = person(None, 3, state)
        self.other = state.create(
            "contacts",
            {"firstname": "Ola", "lastname": "Nordmann", "email": "ola@nordmann.no"},
            created_at=EARLIER,
        )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world(clock: Clock) -> tuple[SandboxState, Cluster]:
    state = SandboxState(clock=clock, rate_limit=None, search_rate_limit=None)
    return state, Cluster(state)


@pytest.fixture
def sandbox(world: tuple[SandboxState, Cluster]) -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(world[0], port=0) as running:
        yield running


@pytest.fixture
def engine(
    tmp_path: Path, sandbox: HubSpotSandbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    built = engine_for(make_config(tmp_path, sandbox.base_url, max_drift_share=1.0), clock)
    yield built
    built.store.close()


def test_a_cluster_is_merged_step_by_step_and_its_changes_follow_the_new_ids(
    engine: Engine, sandbox: HubSpotSandbox, world: tuple[SandboxState, Cluster]
) -> None:
    state, people = world
    state.record_exchanges = True
    plan = engine.plan("hubspot")
    [merge] = [c for c in plan.changes if isinstance(c, Merge) and c.kind == "merge"]
    assert merge.primary_id == people.primary
    assert set(merge.merged_ids) == {people.second, people.third}
    planned_tasks = [c for c in plan.changes if isinstance(c, CreateTask)]
    assert [t.record_id for t in planned_tasks] == [people.primary]
    fixes = [c for c in plan.changes if isinstance(c, Update) and c.field == "email"]
    assert [(c.record_id, c.new) for c in fixes] == [(people.primary, "ingrid.solberg@fjord.no")]

    [push] = engine.apply(plan.id).pushes

    assert push.complete, push.failures
    assert push.skipped == []
    survivor = state.get("contacts", people.primary)
    assert survivor is not None
    new_id = survivor.id
    assert new_id not in (people.primary, people.second, people.third)
    for old in (people.primary, people.second, people.third):
        assert state.resolve("contacts", old) == new_id
    # step by step: the second merge went into the survivor the first one answered
    merges = [x for x in state.request_log if x.path.endswith("/merge")]
    assert len(merges) == 2
    first_survivor = merges[0].response_json["id"]
    assert merges[1].request_json["primaryObjectId"] == first_survivor
    assert merges[1].response_json["id"] == new_id
    # the e-mail fix and the follow-up task went to the last survivor
    assert survivor.properties["email"] == "ingrid.solberg@fjord.no"
    tasks = state.associated("contacts", new_id, "tasks")
    assert len(tasks) == 1
    written_to = {
        str(i["id"])
        for x in state.request_log
        if x.path.endswith("/batch/update")
        for i in x.request_json["inputs"]
    }
    assert written_to == {new_id}, "never an old id"

    # the audit keeps the old ids and the new ones
    audit = engine.store.audit(run_id=push_run(engine, plan.id))
    merged = sorted((e.before, e.after) for e in audit if e.kind == "merge")
    assert merged == sorted([(merge.merged_ids[0], first_survivor), (merge.merged_ids[1], new_id)])
    assert all(e.record_id == people.primary for e in audit if e.kind == "merge")
    assert all(e.response["correlationId"] for e in audit)
    updates = [e for e in audit if e.kind == "update"]
    assert updates
    assert {e.record_id for e in updates} == {new_id}
    assert {e.response["planned_record_id"] for e in updates} == {people.primary}
    [task] = [e for e in audit if e.kind == "create_task"]
    assert (task.record_id, task.after) == (new_id, tasks[0])

    # the store knows the new record and the absorbed ids before any pull
    stored = engine.store.get_records(
        "hubspot", "contacts", [people.primary, people.second, people.third, new_id]
    )
    assert stored[new_id].merged_into is None
    assert {stored[i].merged_into for i in (people.primary, people.second, people.third)} == {
        new_id
    }

    # the next plan proposes nothing more for the cluster: no merge, no second task
    again = engine.plan("hubspot")
    assert not [c for c in again.changes if isinstance(c, Merge)]
    assert not [c for c in again.changes if isinstance(c, CreateTask)]


def push_run(engine: Engine, plan_id: str) -> str:
    return engine.store.outbox(plan_id, statuses=["applied"])[0].run_id


class MergedBeforeTheWrite:
    """A fault policy: just before the first batch update is served, a person merges its
    record with another in the CRM, so HubSpot answers the write with silence."""

    def __init__(self, state: SandboxState, other: str) -> None:
        self.state, self.other = state, other
        self.survivor: str | None = None

    def decide(self, request: Request) -> Fault | None:
        if self.survivor is None and HubSpotApp.route_label(request).endswith("/batch/update"):
            target = str(request.body["inputs"][0]["id"])
            self.survivor = self.state.merge("contacts", self.other, target)
        return None


def test_a_write_answered_with_silence_is_never_counted_as_applied(
    engine: Engine, sandbox: HubSpotSandbox, world: tuple[SandboxState, Cluster]
) -> None:
    state, people = world
    state.update("contacts", people.other, {"email": " OLA@nordmann.no"})
    plan = engine.plan("hubspot")
    [fix] = [
        c
        for c in plan.changes
        if isinstance(c, Update) and c.record_id == people.other and c.field == "email"
    ]
    seq = engine.store.load_plan(plan.id).changes.index(fix)
    policy = MergedBeforeTheWrite(state, people.third)
    state.faults = policy

    [push] = engine.apply(plan.id, seqs=[seq]).pushes

    assert policy.survivor is not None
    [entry] = engine.store.outbox(plan.id)
    assert entry.status == "skipped", entry
    assert entry.reason is not None
    assert f"merged into {policy.survivor}" in entry.reason
    assert not [e for e in engine.store.audit() if e.key == entry.key], "not applied"
    survivor = state.get("contacts", policy.survivor)
    assert survivor is not None
    assert survivor.properties.get("email") != "ola@nordmann.no"
    assert push.failures == []


def test_a_cluster_whose_second_step_failed_resumes_into_the_first_survivor(
    engine: Engine, sandbox: HubSpotSandbox, world: tuple[SandboxState, Cluster]
) -> None:
    state, people = world
    plan = engine.plan("hubspot")
    # the first merge goes through; the second one meets 503s until the retries run out
    state.faults = ScriptedFaults(
        Fault(), *[Fault(status=503) for _ in range(8)], match="/crm/v3/objects/contacts/merge"
    )
    [first] = engine.apply(plan.id).pushes
    assert not first.complete
    merges = {e.op_index: e for e in engine.store.outbox(plan.id) if e.kind == "merge"}
    assert (merges[1].status, merges[2].status) == ("applied", "failed")
    first_survivor = str(merges[1].result["survivor"])
    assert first_survivor not in (people.primary, people.second, people.third)

    state.faults = None
    state.record_exchanges = True
    [again] = engine.apply(plan.id).pushes

    assert again.complete, again.failures
    assert again.held == []
    [merge_call] = [x for x in state.request_log if x.path.endswith("/merge")]
    assert merge_call.request_json["primaryObjectId"] == first_survivor
    final = merge_call.response_json["id"]
    for old in (people.primary, people.second, people.third, first_survivor):
        assert state.resolve("contacts", old) == final
    survivor = state.get("contacts", final)
    assert survivor is not None
    assert survivor.properties["email"] == "ingrid.solberg@fjord.no"
