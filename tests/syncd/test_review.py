"""The review queue end to end: plan against the sandbox, decide, plan again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

import pytest

from model.changes import Merge
from sandbox.generator import generate
from sandbox.hubspot import HubSpotSandbox, SandboxState
from state.store import open_store
from syncd.config import parse_config
from syncd.engine import Engine
from syncd.plans import latest_policy_plan
from syncd.review import (
    ReviewError,
    ReviewItem,
    decide,
    pending_reviews,
    render_reviews,
)
from syncd.sources import build_connector
from tests.syncd.test_cycle import Clock

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def engine(clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    state = SandboxState.from_dataset(generate(records=600, seed=11, now=NOW), clock=clock)
    with HubSpotSandbox(state, port=0) as sandbox:
        config = parse_config(
            {
                "store": {"url": "sqlite:///s.db"},
                "logging": {"level": "warning"},
                "sources": {
                    "hubspot": {
                        "connector": "hubspot",
                        "base_url": sandbox.base_url,
                        "token": "${HUBSPOT_TOKEN}",
                    }
                },
            },
            tmp_path,
        )
        ids = count(1)
        running = Engine(
            config, open_store(config.store_url()), clock, lambda: f"id{next(ids)}",
            build_connector,
        )  # fmt: skip
        yield running
        running.store.close()


def proposed(changes: object, kind: str) -> list[Merge]:
    assert isinstance(changes, list)
    return [c for c in changes if isinstance(c, Merge) and c.kind == kind]


def first_review(engine: Engine) -> ReviewItem:
    store = engine.store
    assert latest_policy_plan(store, "hubspot") is None
    assert pending_reviews(store, "hubspot") == []
    first = engine.plan("hubspot")
    assert latest_policy_plan(store, "hubspot") == first.id
    items = pending_reviews(store, "hubspot")
    assert items, "the generated data gave no review to test with"
    assert [(i.primary_id, i.merged_ids) for i in items] == [
        (c.primary_id, c.merged_ids) for c in proposed(list(first.changes), "review")
    ]
    assert all(i.plan_id == first.id and i.names for i in items)
    return items[0]


def groups_of(changes: list[object], object_type: str) -> list[tuple[str, frozenset[str], str]]:
    return [
        (m.kind, frozenset((m.primary_id, *m.merged_ids)), m.reason)
        for m in proposed(changes, "merge") + proposed(changes, "review")
        if m.object_type == object_type
    ]


def test_a_rejected_review_is_not_proposed_again(engine: Engine, clock: Clock) -> None:
    item = first_review(engine)
    decide(engine.store, "hubspot", item.object_type, item.ids, "rejected", clock(), by="ann")
    assert item.ids not in {i.ids for i in pending_reviews(engine.store, "hubspot")}
    second = engine.plan("hubspot")
    groups = groups_of(list(second.changes), item.object_type)
    assert groups  # the other duplicates are still proposed
    assert all(len(item.ids & ids) < 2 for _, ids, _ in groups)
    assert item.ids not in {i.ids for i in pending_reviews(engine.store, "hubspot")}


def test_an_approved_review_is_merged_next_time(engine: Engine, clock: Clock) -> None:
    item = first_review(engine)
    decide(engine.store, "hubspot", item.object_type, item.ids, "approved", clock(), note="ok")
    second = engine.plan("hubspot")
    groups = groups_of(list(second.changes), item.object_type)
    (found,) = [(kind, reason) for kind, ids, reason in groups if item.ids <= ids]
    assert found[0] == "merge"
    assert found[1].startswith("approved by a person")
    assert item.ids not in {i.ids for i in pending_reviews(engine.store, "hubspot")}


def test_decide_validates_the_group(engine: Engine, clock: Clock) -> None:
    store = engine.store
    with pytest.raises(ReviewError, match="no plan"):
        decide(store, "hubspot", "contacts", ["1", "2"], "rejected", clock())
    engine.plan("hubspot")
    item = pending_reviews(store, "hubspot")[0]
    with pytest.raises(ReviewError, match="decision must be"):
        decide(store, "hubspot", item.object_type, item.ids, "maybe", clock())
    with pytest.raises(ReviewError, match="at least two"):
        decide(store, "hubspot", item.object_type, [item.primary_id], "rejected", clock())
    with pytest.raises(ReviewError, match="no pending review"):
        decide(store, "hubspot", item.object_type, [item.primary_id, "999999"], "rejected",
               clock())  # fmt: skip
    other = "companies" if item.object_type == "contacts" else "contacts"
    with pytest.raises(ReviewError, match="no pending review"):
        decide(store, "hubspot", other, item.ids, "rejected", clock())
    assert store.review_decisions("hubspot", item.object_type) == {}
    # A pair out of the group is fine, and so is changing one's mind.
    pair = [item.primary_id, item.merged_ids[0]]
    assert decide(store, "hubspot", item.object_type, pair, "rejected", clock()) == item
    decide(store, "hubspot", item.object_type, pair, "approved", clock())
    assert store.review_decisions("hubspot", item.object_type) == {frozenset(pair): "approved"}


def test_render_reviews_shows_primary_merged_confidence_and_reason() -> None:
    item = ReviewItem(
        plan_id="p1",
        object_type="contacts",
        primary_id="101",
        merged_ids=("202", "303"),
        confidence=0.8123,
        reason="possible duplicates, to review of 101: same name 'Maria Garcia'",
        names={"101": "Maria Garcia", "202": "María García"},
    )
    text = render_reviews([item], width=300)
    assert "Reviews pending: 1" in text
    assert "101 (Maria Garcia)" in text
    assert "202 (María García), 303" in text
    assert "0.81" in text
    assert "same name 'Maria Garcia'" in text
    assert render_reviews([]).strip() == "No reviews pending."
