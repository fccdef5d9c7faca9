"""A portal with custom pipelines: rules name a stage by label or as ``pipeline:stage`` and see
what the pipelines say a stage means, never the spelling of its id."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from model.changes import CreateTask
from sandbox.generator import generate
from sandbox.hubspot import HubSpotSandbox, SandboxState
from state.store import open_store
from syncd.config import parse_config
from syncd.engine import Engine
from syncd.sources import build_connector
from tests.syncd.test_apply import NOW, Clock

OFF = {"enabled": False}


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    state = SandboxState.from_dataset(generate(records=200, seed=9, now=NOW), clock=Clock())
    state.rate_limit = None
    state.search_rate_limit = None
    with HubSpotSandbox(state, port=0) as running:
        yield running


def engine(tmp_path: Path, base_url: str, rules: list[dict[str, Any]]) -> Engine:
    config = parse_config(
        {
            "store": {"url": "sqlite:///state.db"},
            "logging": {"level": "error"},
            "sources": {
                "hubspot": {
                    "connector": "hubspot",
                    "base_url": base_url,
                    "token": "${HUBSPOT_TOKEN}",
                    "object_types": ["deals", "tasks", "owners"],
                }
            },
            "policies": {
                "normalize": OFF,
                "tags": OFF,
                "dedupe": OFF,
                "required": OFF,
                "retire": OFF,
                "follow_up": {"rules": rules},
            },
        },
        tmp_path,
    )
    ids = count(1)
    return Engine(
        config,
        open_store(config.store_url()),
        Clock(),
        lambda: f"id{next(ids):04d}",
        partial(build_connector, sleep=lambda _: None),
    )


def rule(*when: dict[str, Any]) -> dict[str, Any]:
    return {"object_type": "deals", "when": list(when), "reason": "r", "subject": "s"}


def untasked(state: SandboxState, pipeline: str, stages: set[str]) -> set[str]:
    """Deals at one of ``stages`` of ``pipeline`` without an open task, in the sandbox."""
    found = set()
    for deal in state.live_records("deals"):
        props = deal.properties
        if props.get("pipeline") != pipeline or props.get("dealstage") not in stages:
            continue
        tasks = [state.get("tasks", t) for t in state.associated("deals", deal.id, "tasks")]
        if any(t and t.properties.get("hs_task_status") != "COMPLETED" for t in tasks):
            continue
        found.add(deal.id)
    return found


def tasked(plan_changes: Any) -> set[str]:
    return {c.record_id for c in plan_changes if isinstance(c, CreateTask)}


def test_a_follow_up_rule_on_a_won_stage_of_a_custom_pipeline(
    tmp_path: Path, sandbox: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    state = sandbox.state
    built = engine(
        tmp_path, sandbox.base_url, [rule({"field": "stage", "equals": "Renewals:Renewed"})]
    )
    try:
        plan = built.plan("hubspot")
        renewed = untasked(state, "75100001", {"75100014"})
        assert renewed, "the generator seeds won renewals"
        assert tasked(plan.changes) == renewed
        stored = built.store.get_records("hubspot", "deals", sorted(renewed))
        for record in stored.values():
            props = record.properties
            assert (props["stage_label"], props["pipeline_label"]) == ("Renewed", "Renewals")
            assert (props["is_closed"], props["is_won"]) == ("true", "true")
    finally:
        built.store.close()


def test_a_stage_label_matches_in_every_pipeline_and_closed_comes_from_the_pipeline(
    tmp_path: Path, sandbox: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    state = sandbox.state
    rules = [
        rule({"field": "stage", "equals": "closed won"}),
        rule({"field": "is_closed", "not_in": ["true"]}),  # open deals, as the default rule
    ]
    built = engine(tmp_path, sandbox.base_url, rules)
    try:
        plan = built.plan("hubspot")
        won = untasked(state, "default", {"closedwon"}) | untasked(state, "75100002", {"75100024"})
        assert untasked(state, "75100002", {"75100024"}), "a custom pipeline's Closed Won"
        open_ = (
            untasked(state, "default", {"appointmentscheduled", "qualifiedtobuy",
                                        "presentationscheduled", "decisionmakerboughtin",
                                        "contractsent"})
            | untasked(state, "75100001", {"75100011", "75100012", "75100013"})
            | untasked(state, "75100002", {"75100021", "75100022", "75100023"})
        )  # fmt: skip
        assert tasked(plan.changes) == won | open_
        # "Renewed" and "Churned" are closed though their ids say nothing of it
        closed_custom = untasked(state, "75100001", {"75100014", "75100015"})
        assert closed_custom
        assert closed_custom.isdisjoint(tasked(plan.changes))
    finally:
        built.store.close()
