"""Upgrading a state store the previous release filled: nothing lost, and the sync goes on.

The previous release stored HubSpot's property names as the canonical ones: its connector was
this one with identity field maps. A store filled that way (a full pull, a push killed halfway,
an applied run) is upgraded by the 0006 migration; then the interrupted push finishes, the old
run is undone, and the next incremental run sees exactly what a fresh store's full pull sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.mapping import FieldMap
from model.changes import Update, change_to_dict
from model.records import Cursor
from sandbox.generator import generate
from sandbox.hubspot import HubSpotSandbox, SandboxState
from state import migrate
from state.base import AuditRecord, OpOutcome, OutboxOp
from state.db import make_engine
from state.store import SqlStateStore, open_store
from syncd.config import Config, parse_config
from syncd.engine import Engine
from syncd.sources import build_connector
from tests.state.old_schema import read_old_record, write_old_plan, write_old_records

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
BEFORE = ScriptDirectory.from_config(migrate.alembic_config()).get_revision("0006").down_revision
assert isinstance(BEFORE, str)


class Clock:
    """One clock for sandbox and engine; moves a millisecond per reading."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[HubSpotSandbox]:
    state = SandboxState.from_dataset(generate(records=80, seed=3, now=NOW), clock=clock)
    state.rate_limit = None
    state.search_rate_limit = None
    with HubSpotSandbox(state, port=0) as running:
        yield running


def config(tmp_path: Path, base_url: str) -> Config:
    source: dict[str, Any] = {
        "connector": "hubspot",
        "base_url": base_url,
        "token": "${HUBSPOT_TOKEN}",
        "lookback_seconds": 0,
        "retry": {"max_attempts": 3, "initial_wait_seconds": 0.001, "max_wait_seconds": 0.01},
        "apply": {"limits": {"updates": {"share": 1.0}}},
    }
    return parse_config(
        {"store": {"url": "sqlite:///state.db"}, "sources": {"hubspot": source}}, tmp_path
    )


def engine_for(cfg: Config, clock: Clock, prefix: str) -> Engine:
    ids = count(1)
    return Engine(
        cfg,
        open_store(cfg.store_url()),
        clock,
        lambda: f"{prefix}{next(ids):04d}",
        partial(build_connector, sleep=lambda _: None),
    )


def fill_as_the_previous_release(
    cfg: Config, sandbox: HubSpotSandbox, clock: Clock
) -> dict[str, str]:
    """A store at the revision before 0006, filled as the previous release did; returns the
    ids and values the test follows."""
    engine = make_engine(cfg.store_url())
    with engine.begin() as conn:
        alembic = migrate.alembic_config()
        alembic.attributes["connection"] = conn
        command.upgrade(alembic, BEFORE)
    store = SqlStateStore(engine)
    started = clock()
    store.ensure_source("hubspot", "hubspot", started)
    store.start_run("old-pull", "hubspot", started, dry_run=True)
    name, source = cfg.source("hubspot")
    connector = build_connector(cfg, name, source)
    assert isinstance(connector, HubSpotConnector)
    # the previous release's connector: HubSpot's names were the canonical ones
    connector._fields = {t: FieldMap.identity(m.vendor_names) for t, m in connector._fields.items()}
    for object_type in source.object_types:
        for batch in connector.pull(object_type, Cursor(), run_started_at=started):
            # its cursors had no deletions_read_at (0008)
            old = replace(batch, records=(), cursor=Cursor(batch.cursor.updated_at))
            write_old_records(engine, "hubspot", "old-pull", batch.records)  # no write number
            store.store_batch("hubspot", "old-pull", old)  # the cursor
    connector.close()
    store.finish_run("old-pull", clock(), "succeeded", {})

    state = sandbox.state
    contacts = [r for r in state.live_records("contacts") if r.properties.get("hs_lead_status")]
    lead, other = contacts[0], contacts[1]
    status = "CONNECTED" if lead.properties["hs_lead_status"] != "CONNECTED" else "NEW"
    stage = str(other.properties.get("lifecyclestage") or "")
    later = "customer" if stage != "customer" else "opportunity"
    # an old run applied a lifecycle stage (HubSpot now holds it) and was killed while its second
    # operation was in flight
    state.update("contacts", other.id, {"lifecyclestage": later})
    made = clock()
    lease = store.acquire_source("hubspot", "old-push", made)
    store.start_run("old-push", "hubspot", made, dry_run=False)
    was = lead.properties["hs_lead_status"]
    changes = [
        Update("hubspot", "contacts", "tags", "x", lead.id, "hs_lead_status", was, status),
        Update(
            "hubspot", "contacts", "tags", "x", other.id, "lifecyclestage", stage or None, later
        ),
    ]
    write_old_plan(store.engine, "old-plan", "hubspot", "old-push", made, {}, changes)
    ops = [
        OutboxOp(
            f"old-plan:{seq}:0",
            seq,
            0,
            "update",
            "contacts",
            c.record_id,
            {"policy": "tags", "reason": "x", "fields": {c.field: {"old": c.old, "new": c.new}}},
        )
        for seq, c in enumerate(changes)
    ]
    store.enqueue("old-plan", "old-push", ops, made)
    store.set_plan_status("old-plan", "applying")
    audit = AuditRecord("old-push", "old-plan", "old-plan:1:0", "hubspot", "tags", "update",
                        "contacts", other.id, "lifecyclestage", stage or None, later, made,
                        {"status": 200})  # fmt: skip
    store.record_results(
        [OpOutcome("old-plan:1:0", "applied", audit=[audit])], made, epoch=lease.epoch
    )
    store.mark_sending(["old-plan:0:0"], made, epoch=lease.epoch)
    store.release_source(lease)  # killed: its lock goes with the process, the run stays 'running'
    engine.dispose()
    return {"lead": lead.id, "status": status, "other": other.id, "stage": stage}


def test_a_store_of_the_previous_release_upgrades_and_syncs_on(
    tmp_path: Path, sandbox: HubSpotSandbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    (tmp_path / "old").mkdir()
    cfg = config(tmp_path / "old", sandbox.base_url)
    follow = fill_as_the_previous_release(cfg, sandbox, clock)

    upgraded = engine_for(cfg, clock, "up")  # opening the store upgrades it
    try:
        stored = upgraded.store.get_records("hubspot", "contacts", [follow["lead"]])
        assert "lead_status" in stored[follow["lead"]].properties
        assert "hs_lead_status" not in stored[follow["lead"]].properties

        # the push killed across the upgrade finishes, in HubSpot's names on the wire
        [report] = upgraded.apply("old-plan").pushes
        assert report.statuses == {"applied": 2}, report
        lead = sandbox.state.get("contacts", follow["lead"])
        assert lead is not None
        assert lead.properties["hs_lead_status"] == follow["status"]

        # the old run can still be undone
        undo, _ = upgraded.undo("old-push")
        assert undo is not None
        assert undo.statuses == {"applied": 1}, undo
        other = sandbox.state.get("contacts", follow["other"])
        assert other is not None
        assert (other.properties.get("lifecyclestage") or "") == follow["stage"]

        # the next incremental run sees and proposes what a fresh store's full pull does
        plan = upgraded.plan("hubspot")
        (tmp_path / "fresh").mkdir()
        fresh = engine_for(config(tmp_path / "fresh", sandbox.base_url), clock, "fresh")
        try:
            expected = fresh.plan("hubspot")
            now = clock()
            mine = upgraded.store.snapshot("hubspot", now)
            theirs = fresh.store.snapshot("hubspot", now)
            assert mine.records == theirs.records
            assert mine.owners == theirs.owners
            assert [change_to_dict(c) for c in plan.changes] == [
                change_to_dict(c) for c in expected.changes
            ]
            assert plan.changes  # the comparison is not vacuous
        finally:
            fresh.store.close()
    finally:
        upgraded.store.close()


def test_the_previous_release_store_is_what_the_migration_reads(
    tmp_path: Path, sandbox: HubSpotSandbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fixture above really holds the previous release's names (guards the test itself)."""
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    cfg = config(tmp_path, sandbox.base_url)
    follow = fill_as_the_previous_release(cfg, sandbox, clock)
    engine = sa.create_engine(cfg.store_url())
    try:
        record = read_old_record(engine, "hubspot", "contacts", follow["lead"])
        assert {"hs_lead_status", "hubspot_owner_id", "hs_object_id"} <= set(record.properties)
    finally:
        engine.dispose()
