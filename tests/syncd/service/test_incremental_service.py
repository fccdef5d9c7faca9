"""The service's engine remembers what a cycle's dedupe left, so its next cycle compares only
what changed; a one-off engine (the CLI's) keeps nothing and plans in full each time."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from sandbox.hubspot import HubSpotSandbox
from state.store import SqlStateStore
from syncd.config import Config
from syncd.engine import Engine
from syncd.service.service import ServeOptions, Service
from syncd.sources import build_connector
from tests.syncd.service import test_completeness as audit
from tests.syncd.service.test_completeness import Clock

# the completeness tests' fixtures: a small HubSpot sandbox, its config and a SQLite store
sandbox, config, store = audit.sandbox, audit.config, audit.store


def _notes(store: SqlStateStore) -> dict[str, object]:
    (run,) = store.list_runs("crm", limit=1)
    incremental = run.counts.get("incremental", {})
    assert isinstance(incremental, dict)
    notes = incremental.get("dedupe", {})
    assert isinstance(notes, dict)
    return notes


def test_the_services_second_cycle_is_incremental(
    config: Config, store: SqlStateStore, sandbox: HubSpotSandbox
) -> None:
    ids, clock = iter(range(10**6)), Clock()
    service = Service(
        config,
        store,
        ServeOptions(Path("syncd.toml"), dry_run=True),
        connector_builder=build_connector,
        clock=clock,
        new_id=lambda: f"id{next(ids)}",
        rng=random.Random(7),
        channels=[],
    )
    service.cycle("crm")
    assert str(_notes(store)["contacts"]).startswith("full: no earlier run in memory")
    assert service.engine.snapshots["crm"].whole
    (contact, *_) = sorted(r.id for r in sandbox.state.live_records("contacts"))
    sandbox.state.update("contacts", contact, {"city": "Somewhere Else"})
    # A pull reads what was modified before its run started, to the millisecond: an edit in the
    # very millisecond the next cycle starts is the cycle after's (its lookback reads it). Start
    # this one clearly after the edit, as a scheduled cycle would.
    clock.offset += timedelta(seconds=1)
    service.cycle("crm")
    assert str(_notes(store)["contacts"]).startswith("incremental: 1 records changed")
    # the snapshot too: the kept one and the records written since, not every record again
    kept = service.engine.snapshots["crm"]
    (run,) = store.list_runs("crm", limit=1)
    pulled = run.counts["pulled"]
    assert isinstance(pulled, dict)
    assert not kept.whole
    assert 1 <= kept.read <= sum(pulled.values())
    assert kept.snapshot.records == store.snapshot("crm", clock()).records


def test_a_one_off_engine_keeps_nothing(config: Config, store: SqlStateStore) -> None:
    ids = iter(range(10**6))
    engine = Engine(config, store, Clock(), lambda: f"id{next(ids)}", build_connector)
    engine.plan("crm")
    engine.plan("crm")
    assert engine.memory == {"crm": {}}
    assert str(_notes(store)["contacts"]).startswith("full: no earlier run in memory")
