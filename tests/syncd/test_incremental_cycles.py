"""The service's engine plans a cycle incrementally: the plan is the one a full run makes."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
import sqlalchemy as sa

from model.changes import Change
from policies.dedupe import DedupePolicy
from sandbox.generator import generate
from sandbox.hubspot import HubSpotSandbox, SandboxState
from state.models import plan_changes_t, plans_t
from state.store import SqlStateStore, open_store
from syncd import engine as engine_module
from syncd.config import Config, parse_config
from syncd.engine import Engine
from syncd.plan import Plan
from syncd.sources import build_connector
from tests.syncd.test_cycle import Clock

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@dataclass
class World:
    engine: Engine
    state: SandboxState
    clock: Clock
    config: Config

    def fresh_engine(self) -> Engine:
        """Another engine on the same store: nothing in memory (a restart, a CLI run)."""
        ids = count(1000)
        return Engine(
            self.config, self.engine.store, self.clock, lambda: f"fresh{next(ids)}",
            build_connector,
        )  # fmt: skip


@pytest.fixture(autouse=True)
def compare_any_share(monkeypatch: pytest.MonkeyPatch) -> None:
    """600 generated contacts share their cities and names widely: an edit makes many
    records' pairs be compared again, past the share where a real cycle goes full. Here the
    incremental path is what is tested, whatever it costs."""
    monkeypatch.setattr(DedupePolicy, "incremental_share", 1.0)


@pytest.fixture
def world(state_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    clock = Clock(NOW)
    state = SandboxState.from_dataset(generate(records=600, seed=5, now=NOW), clock=clock)
    with HubSpotSandbox(state, port=0) as sandbox:
        config = parse_config(
            {
                "store": {"url": state_url},
                "logging": {"level": "warning"},
                "sources": {
                    "hubspot": {
                        "connector": "hubspot",
                        "base_url": sandbox.base_url,
                        "token": "${HUBSPOT_TOKEN}",
                    }
                },
                "policies": {
                    "dedupe": {"min_records": 400, "u_sample_pairs": 5000, "seed": 3},
                },
            },
            tmp_path,
        )
        ids = count(1)
        engine = Engine(
            config, open_store(config.store_url()), clock, lambda: f"id{next(ids)}",
            build_connector, remember=True,
        )  # fmt: skip
        yield World(engine, state, clock, config)
        engine.store.close()


def edit(state: SandboxState, seed: int, k: int) -> None:
    """``k`` contacts and companies edited in the CRM, one archived, one copied."""
    rng = random.Random(seed)
    for object_type, fields in (
        ("contacts", ("lastname", "firstname", "phone", "email", "city")),
        ("companies", ("name", "phone", "city")),
    ):
        with state.lock:
            live = sorted(state.live_records(object_type), key=lambda r: int(r.id))
        for record in rng.sample(live, k):
            field = rng.choice(fields)
            donor = rng.choice(live).properties
            state.update(object_type, record.id, {field: donor.get(field) or "changed"})
        state.archive(object_type, rng.choice(live).id)
        copied = rng.choice(live).properties
        state.create(object_type, {f: v for f, v in copied.items() if f in fields})


def dedupe(plan: Plan) -> list[Change]:
    """The changes of the policies that run incrementally, exactly."""
    return [c for c in plan.changes if c.policy in ("dedupe", "normalize")]


def others(plan: Plan) -> list[tuple[str, str, str, str]]:
    """The other policies' changes, by what they change (a task's due date moves with the
    clock between two plans)."""
    return sorted(
        (c.policy, c.kind, c.object_type, c.reason)
        for c in plan.changes
        if c.policy not in ("dedupe", "normalize")
    )


def notes(world: World, plan: Plan) -> dict[str, str]:
    counts = world.engine.store.get_run(plan.run_id).counts
    found = counts["incremental"]["dedupe"]  # type: ignore[index]
    assert isinstance(found, dict)
    return found


def test_an_incremental_cycle_plans_what_a_full_one_does(world: World) -> None:
    first = world.engine.plan("hubspot")
    assert all(n.startswith("full: no earlier run") for n in notes(world, first).values())
    edit(world.state, seed=1, k=12)
    world.clock.now += timedelta(minutes=5)
    second = world.engine.plan("hubspot")
    said = notes(world, second)
    assert said["contacts"].startswith("incremental: 13 records changed"), said
    full = world.fresh_engine().plan("hubspot")
    assert dedupe(second) == dedupe(full)
    assert others(second) == others(full)
    normalized = world.engine.store.get_run(second.run_id or "").counts["incremental"]
    assert "normalized again" in normalized["normalize"]["records"]  # type: ignore[index]
    assert dedupe(second) != dedupe(first)
    # the second plan is stored as what differs from the first, and reads back whole
    store = world.engine.store
    assert isinstance(store, SqlStateStore)
    assert store.load_plan(second.id).changes == list(second.changes)
    assert store.load_plan(first.id).changes == list(first.changes)
    with store.engine.connect() as conn:
        based = conn.execute(sa.select(plans_t.c.id, plans_t.c.base_id)).all()
        rows = dict(
            conn.execute(
                sa.select(plan_changes_t.c.plan_id, sa.func.count()).group_by(
                    plan_changes_t.c.plan_id
                )
            ).all()
        )
    assert dict(based) == {first.id: None, second.id: first.id, full.id: None}
    assert rows[first.id] == len(first.changes)
    assert 0 < rows[second.id] < len(second.changes) / 2
    kinds = Counter(c.kind for c in second.changes)
    assert store.plan_info(second.id).kinds == dict(kinds)


def test_a_run_killed_after_planning_leaves_nothing_wrong(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.engine.plan("hubspot")
    edit(world.state, seed=2, k=10)
    world.clock.now += timedelta(minutes=5)
    store = world.engine.store

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("killed while saving the plan")

    with monkeypatch.context() as patched:
        patched.setattr(store, "save_plan", killed)
        with pytest.raises(KeyboardInterrupt):
            world.engine.plan("hubspot")
    edit(world.state, seed=3, k=10)
    world.clock.now += timedelta(minutes=5)
    resumed = world.engine.plan("hubspot")
    assert notes(world, resumed)["contacts"].startswith("incremental"), notes(world, resumed)
    assert dedupe(resumed) == dedupe(world.fresh_engine().plan("hubspot"))


def test_weights_estimated_again_run_in_full(world: World) -> None:
    first = world.engine.plan("hubspot")
    world.clock.now += timedelta(days=8)  # past reestimate_days: estimated again, the same
    same = world.engine.plan("hubspot")  # records, so the same weights: nothing to redo
    assert notes(world, same)["contacts"].startswith("incremental: 0 records changed")
    assert dedupe(same) == dedupe(first)
    edit(world.state, seed=4, k=30)
    world.clock.now += timedelta(days=8)  # other records: other weights
    later = world.engine.plan("hubspot")
    assert notes(world, later)["contacts"] == "full: the weights changed"
    assert dedupe(later) == dedupe(world.fresh_engine().plan("hubspot"))


def test_the_engine_that_remembers_settles_the_heap_after_a_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what a service keeps between runs is frozen after them (syncd.heap), a one-off run's not
    asked: list[bool] = []
    real = engine_module.collector_paused

    def spy(*, settle: bool = False) -> AbstractContextManager[None]:
        asked.append(settle)
        return real(settle=settle)

    monkeypatch.setattr(engine_module, "collector_paused", spy)
    world.engine.plan("hubspot")
    world.fresh_engine().plan("hubspot")
    assert asked == [True, False]
