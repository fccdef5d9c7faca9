"""A merge the CRM answers "already merged" is done, but it is no merge of syncd's to audit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import count
from pathlib import Path

import pytest

from model.changes import Merge
from sandbox.generator import generate
from sandbox.hubspot import HubSpotSandbox, SandboxState
from sandbox.hubspot.app import HubSpotApp
from sandbox.hubspot.faults import Fault
from sandbox.hubspot.wire import Request
from state.store import open_store
from syncd.config import parse_config
from syncd.engine import Engine
from syncd.sources import build_connector

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
MERGE_ROUTE = "POST /crm/v3/objects/{objectType}/merge"


class MergedMeanwhile:
    """A fault policy: just before the merge of ``merged_id`` is served, someone else merges
    the pair in the CRM (between syncd's check and its merge call), so HubSpot refuses it."""

    def __init__(self, state: SandboxState, object_type: str, primary: str, merged: str) -> None:
        self.state, self.object_type = state, object_type
        self.primary, self.merged = primary, merged
        self.done = False
        self.survivor: str | None = None

    def decide(self, request: Request) -> Fault | None:
        if HubSpotApp.route_label(request) != MERGE_ROUTE or self.done:
            return None
        if str(request.body.get("objectIdToMerge")) == self.merged:
            self.survivor = self.state.merge(self.object_type, self.primary, self.merged)
            self.done = True
        return None


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    ticks = count()
    state = SandboxState.from_dataset(
        generate(records=150, seed=5, now=NOW),
        clock=lambda: NOW + timedelta(milliseconds=next(ticks)),
    )
    state.rate_limit = None
    state.search_rate_limit = None
    with HubSpotSandbox(state, port=0) as running:
        yield running


def test_a_merge_answered_already_merged_is_not_in_the_audit(
    tmp_path: Path, sandbox: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    limits = {k: {"share": 1.0} for k in ("updates", "merges", "tasks")}
    config = parse_config(
        {
            "store": {"url": "sqlite:///state.db"},
            "logging": {"level": "error"},
            "sources": {
                "hubspot": {
                    "connector": "hubspot",
                    "base_url": sandbox.base_url,
                    "token": "${HUBSPOT_TOKEN}",
                    "lookback_seconds": 0,
                    "apply": {"limits": limits},
                }
            },
        },
        tmp_path,
    )
    ticks, ids = count(), count(1)
    engine = Engine(
        config,
        open_store(config.store_url()),
        lambda: NOW + timedelta(seconds=next(ticks)),
        lambda: f"id{next(ids):04d}",
        partial(build_connector, sleep=lambda _: None),
    )
    try:
        plan = engine.plan("hubspot")
        merges = [c for c in plan.changes if isinstance(c, Merge) and c.kind == "merge"]
        assert len(merges) > 1
        target = merges[0]
        merged = target.merged_ids[0]
        policy = MergedMeanwhile(sandbox.state, target.object_type, target.primary_id, merged)
        sandbox.state.faults = policy

        [push] = engine.apply(plan.id).pushes

        assert policy.done, "the pair was merged by someone else just before syncd's call"
        assert push.complete, push.failures
        [entry] = [
            e
            for e in engine.store.outbox(plan.id)
            if e.kind == "merge" and e.payload["merged_id"] == merged
        ]
        assert entry.status == "applied"
        assert entry.result["already"] is True
        assert entry.reason is not None
        # into the survivor the other merge made: a new record (shared/notes/hubspot.md)
        assert policy.survivor not in (None, target.primary_id)
        assert f"{merged} was already merged into {policy.survivor}" in entry.reason
        audited = engine.store.audit()
        assert entry.key not in {a.key for a in audited}
        # the merges syncd did make are in the audit log, once each
        merge_keys = [a.key for a in audited if a.kind == "merge"]
        assert merge_keys
        assert len(merge_keys) == len(set(merge_keys))
    finally:
        engine.store.close()
