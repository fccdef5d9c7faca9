"""Learned dedupe weights are stored with the plan, frozen, and estimated again on schedule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest

from model.changes import Merge
from sandbox.generator import generate
from sandbox.hubspot import HubSpotSandbox, SandboxState
from state.store import open_store
from syncd.config import parse_config
from syncd.engine import LEARNED, Engine
from syncd.sources import build_connector
from tests.syncd.test_cycle import Clock

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def engine(clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    state = SandboxState.from_dataset(generate(records=500, seed=5, now=NOW), clock=clock)
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
                "policies": {
                    "dedupe": {
                        "object_types": ["contacts"],
                        "min_records": 350,
                        "u_sample_pairs": 5000,
                        "reestimate_days": 7,
                        "seed": 3,
                    },
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


def learned(engine: Engine, plan_id: str) -> dict[str, object]:
    stored = engine.store.load_plan(plan_id).baseline[LEARNED]
    assert isinstance(stored, dict)
    entry = stored["dedupe"]
    assert isinstance(entry, dict)
    return entry


def test_weights_are_stored_with_the_plan_kept_frozen_and_estimated_again(
    engine: Engine, clock: Clock
) -> None:
    first = engine.plan("hubspot")
    entry = learned(engine, first.id)
    model = entry["parameters"]["contacts"]  # type: ignore[index]
    version, seed = model["version"], model["seed"]
    assert seed == 3
    merges = [c for c in first.changes if isinstance(c, Merge)]
    assert merges
    assert all(f"[weights {version}, seed 3]" in m.reason for m in merges)

    clock.now += timedelta(days=3)  # within reestimate_days: the stored weights, as they were
    second = engine.plan("hubspot")
    assert learned(engine, second.id) == entry

    clock.now += timedelta(days=5)  # past it: estimated again from the current snapshot
    third = engine.plan("hubspot")
    again = learned(engine, third.id)
    assert again["at"] != entry["at"]
    assert datetime.fromisoformat(str(again["at"])) > datetime.fromisoformat(str(entry["at"]))
