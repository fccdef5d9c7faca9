"""Merges of a master and up to two records per Salesforce request, pushed to the sandbox.

Salesforce's ``merge()`` takes a master and up to two ``recordToMergeIds`` per request (three
records in all, the API guide's "merge()" page; ``connectors/salesforce/merge.py``), so a cluster
of three duplicates is one SOAP call on the wire; a cluster of four is two. Each absorbed record
keeps its own outbox op, outcome and audit entry. HubSpot merges one pair a call
(``tests/syncd/test_new_id_merges.py`` counts its two calls for a cluster of three).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from model.changes import Merge
from sandbox.http.faults import Fault
from sandbox.http.wire import Request
from sandbox.salesforce import SalesforceSandbox, SalesforceState
from syncd.engine import Engine
from tests.syncd.test_apply import NOW, Clock, engine_for
from tests.syncd.test_apply_salesforce import make_config

EARLIER = NOW - timedelta(days=90)


def person(state: SalesforceState, email: str | None, days: int) -> str:
    return state.create(
        "Contact",
        {
            "FirstName": "Ingrid",
            "LastName": "Solberg",
            "Phone": "+47 915 11 222",
            "MailingCity": "Bergen",
            "Email": email,
        },
        created_at=EARLIER + timedelta(days=days),
    )


def is_merge(request: Request) -> bool:
    return "/services/Soap/" in request.path and b"merge>" in request.raw


class Cluster:
    """``size`` duplicates of one person (the oldest the primary) and someone else."""

    def __init__(self, state: SalesforceState, size: int) -> None:
        emails = [
            " Ingrid.Solberg@Fjord.no ",
            "ingrid.solberg@fjord.no",
            None,
            "INGRID.SOLBERG@fjord.no ",
        ]
        self.ids = [person(state, emails[i], i) for i in range(size)]
        self.other = state.create(
            "Contact",
            {"FirstName": "Ola", "LastName": "Nordmann", "Email": "ola@nordmann.no"},
            created_at=EARLIER,
        )


class MergeCalls:
    """A fault policy counting SOAP merge calls; from call ``fail_from`` on it answers 503
    (nothing merged) or, with ``lose``, serves the call and drops the answer."""

    def __init__(self, fail_from: int | None = None, *, lose: bool = False) -> None:
        self.calls: list[bytes] = []
        self.fail_from = fail_from
        self.lose = lose

    def decide(self, request: Request) -> Fault | None:
        if not is_merge(request):
            return None
        self.calls.append(request.raw)
        if self.fail_from is not None and len(self.calls) >= self.fail_from:
            return Fault(drop_after=True) if self.lose else Fault(status=503)
        return None


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(clock: Clock) -> SalesforceState:
    return SalesforceState(clock, daily_limit=None)


@pytest.fixture
def sandbox(state: SalesforceState) -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(state, port=0) as running:
        yield running


@pytest.fixture
def engine(
    tmp_path: Path, sandbox: SalesforceSandbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    monkeypatch.setenv("SALESFORCE_PASSWORD", "sandbox")
    monkeypatch.setenv("SALESFORCE_SECURITY_TOKEN", "sandbox")
    built = engine_for(make_config(tmp_path, sandbox), clock)
    yield built
    built.store.close()


def merge_of(engine: Engine, plan_id: str, primary: str) -> Merge:
    plan = engine.store.load_plan(plan_id)
    [merge] = [
        c
        for c in plan.changes
        if isinstance(c, Merge) and c.kind == "merge" and c.primary_id == primary
    ]
    return merge


def test_a_cluster_of_three_is_one_merge_call(engine: Engine, state: SalesforceState) -> None:
    people = Cluster(state, 3)
    plan = engine.plan("sf")
    merge = merge_of(engine, plan.id, people.ids[0])
    assert set(merge.merged_ids) == set(people.ids[1:])
    calls = MergeCalls()
    state.faults = calls

    [push] = engine.apply(plan.id).pushes

    assert push.complete, push.failures
    assert len(calls.calls) == 1, "a master and two records: one request, one call"
    for gone in people.ids[1:]:
        record = state.find("Contact", gone)
        assert record is not None
        assert (record.deleted, record.master_record_id) == (True, people.ids[0])
    merges = [e for e in engine.store.outbox(plan.id) if e.kind == "merge"]
    assert len(merges) == 2
    assert {e.status for e in merges} == {"applied"}
    audit = [e for e in engine.store.audit() if e.kind == "merge"]
    assert sorted((e.before, e.after) for e in audit) == sorted(
        (i, people.ids[0]) for i in people.ids[1:]
    ), "one audit entry per absorbed record"


def test_a_cluster_of_four_resumes_after_its_second_call_failed(
    engine: Engine, state: SalesforceState
) -> None:
    people = Cluster(state, 4)
    plan = engine.plan("sf")
    merge = merge_of(engine, plan.id, people.ids[0])
    assert len(merge.merged_ids) == 3
    state.faults = MergeCalls(fail_from=2)

    [first] = engine.apply(plan.id).pushes

    assert not first.complete
    ops = [e for e in engine.store.outbox(plan.id) if e.kind == "merge"]
    assert sorted(e.status for e in ops) == ["applied", "applied", "failed"]
    [left] = [e for e in ops if e.status == "failed"]
    done = [str(e.payload["merged_id"]) for e in ops if e.status == "applied"]

    calls = MergeCalls()
    state.faults = calls
    [again] = engine.apply(plan.id).pushes

    assert again.complete, again.failures
    [call] = calls.calls
    assert str(left.payload["merged_id"]).encode() in call
    assert not [i for i in done if i.encode() in call], "what merged is never sent again"
    for gone in people.ids[1:]:
        record = state.find("Contact", gone)
        assert record is not None
        assert record.master_record_id == people.ids[0]
    audit = [e for e in engine.store.audit() if e.kind == "merge"]
    assert sorted(e.before for e in audit) == sorted(people.ids[1:]), "each once"


def test_a_lost_answer_is_settled_per_record(engine: Engine, state: SalesforceState) -> None:
    people = Cluster(state, 3)
    plan = engine.plan("sf")
    calls = MergeCalls(fail_from=1, lose=True)
    state.faults = calls

    [push] = engine.apply(plan.id).pushes

    assert push.complete, push.failures
    ops = [e for e in engine.store.outbox(plan.id) if e.kind == "merge"]
    assert len(ops) == 2
    assert {(e.status, e.result.get("survivor")) for e in ops} == {("applied", people.ids[0])}
    for gone in people.ids[1:]:
        record = state.find("Contact", gone)
        assert record is not None
        assert record.master_record_id == people.ids[0]
    assert len(set(calls.calls)) == 1, "the merge went out once; no other merge call"
