"""The completeness audit against the sandbox: what incremental syncing silently missed (a record
the CRM dates before the cursor, a deletion dated before it, a value changed without a new
last-modified time) fails its check and opens one incident; agreement recovers it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sandbox.generator import generate
from sandbox.hubspot import HubSpotSandbox, SandboxState
from state.base import CompletenessCheck
from state.store import SqlStateStore, open_store
from syncd.config import Config, load_config
from syncd.service.alerts import Alert
from syncd.service.completeness import EPOCH, bucket_edges
from syncd.service.incidents import Cause, Recovery, Symptom
from syncd.service.service import ServeOptions, Service
from syncd.sources import build_connector
from tests.syncd.cli_support import write_config

AUDIT = """
[sources.crm.completeness]
every_hours = 6
archived_every_hours = 24
sample_size = 500
max_drift_share = 0.001
min_drift_records = 1
settle_minutes = 0
"""


@dataclass
class Inbox:
    """An alert channel that keeps what it is sent."""

    name: str = "inbox"
    alerts: list[Alert] = field(default_factory=list)

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


class Clock:
    """The wall clock, moved forward on demand (audits fall due)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    state = SandboxState.from_dataset(
        generate(records=120, seed=11, now=datetime.now(UTC)), clock=lambda: datetime.now(UTC)
    )
    state.rate_limit = None
    state.search_rate_limit = None
    with HubSpotSandbox(state, port=0) as running:
        yield running


@pytest.fixture
def config(tmp_path: Path, sandbox: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    path = write_config(tmp_path, {"crm": sandbox.base_url}, extra=AUDIT)
    text = path.read_text().replace(
        'token = "${HUBSPOT_TOKEN}"\n',
        'token = "${HUBSPOT_TOKEN}"\nobject_types = ["contacts", "owners"]\n',
    )
    path.write_text(text)
    return load_config(path)


@pytest.fixture
def store(config: Config) -> Iterator[SqlStateStore]:
    opened = open_store(config.store_url())
    yield opened
    opened.close()


def test_a_silent_gap_fails_the_audit_and_alerts_once(
    config: Config, store: SqlStateStore, sandbox: HubSpotSandbox
) -> None:
    clock, inbox, ids = Clock(), Inbox(), iter(range(10**6))
    service = Service(
        config,
        store,
        ServeOptions(Path("syncd.toml"), dry_run=True),
        connector_builder=build_connector,
        clock=clock,
        new_id=lambda: f"id{next(ids)}",
        rng=random.Random(7),
        channels=[inbox],
    )
    service.cycle("crm")
    first = store.completeness("crm", "contacts")
    assert {c.kind for c in first} == {"counts", "sample", "archived"}
    assert all(c.ok for c in first), first
    assert inbox.alerts == []

    # what an incremental pull cannot see: dated before the cursor, or no new date at all
    state = sandbox.state
    long_ago = datetime.now(UTC) - timedelta(days=40)
    state.create("contacts", {"email": "late@example.com"}, created_at=long_ago)
    live = sorted(r.id for r in state.live_records("contacts"))
    state.archive("contacts", live[0], at=long_ago)
    quiet = state.get("contacts", live[1])
    assert quiet is not None
    quiet.properties["city"] = "Changed Without A Trace"

    clock.offset = timedelta(hours=7)  # the counts and sample checks are due again
    service.cycle("crm")
    latest = {c.kind: c for c in store.completeness("crm", "contacts", limit=3)}
    assert not latest["counts"].ok
    assert latest["counts"].details["missing"] == 1
    assert not latest["sample"].ok
    assert latest["sample"].details["wrong"] == [{"id": live[1], "fields": ["city"]}]
    assert latest["archived"].ok  # not due yet: the one from the first audit

    clock.offset = timedelta(hours=25)  # now the archived check too
    service.cycle("crm")
    archived = store.completeness("crm", "contacts", limit=3)
    found = next(c for c in archived if c.kind == "archived")
    assert found.details["live_in_store"] == [live[0]]

    # one incident: opened once, and reminded of once its quiet period (4 h) passed
    assert [(a.kind.value, a.cause) for a in inbox.alerts] == [
        ("opened", Cause.COMPLETENESS),
        ("reminder", Cause.COMPLETENESS),
    ]
    assert "contacts: the store misses 1 of the" in inbox.alerts[0].message
    (incident,) = store.open_incidents("crm")
    assert (incident.cause, incident.count) == ("completeness", 2)
    assert "Changed Without A Trace" not in str(store.completeness("crm"))  # never values


def test_the_latest_checks_decide_between_symptom_and_recovery(
    config: Config, store: SqlStateStore
) -> None:
    service = Service(
        config,
        store,
        ServeOptions(Path("syncd.toml")),
        connector_builder=build_connector,
        clock=lambda: datetime.now(UTC),
        new_id=lambda: "x",
        rng=random.Random(1),
        channels=[],
    )
    now = datetime.now(UTC)
    store.ensure_source("crm", "hubspot", now)
    bad = CompletenessCheck("crm", "deals", "counts", now, False, 0.5, {"missing": 3, "crm": 6})
    store.save_completeness(bad)
    event = service.auditor.assess("crm", now)
    assert isinstance(event, Symptom)
    assert (
        event.message
        == "deals: the store misses 3 of the 6 records the CRM counts below the cursor"
    )
    fixed = CompletenessCheck("crm", "deals", "counts", now + timedelta(hours=6), True, 0, {})
    store.save_completeness(fixed)
    assert service.auditor.assess("crm", now) == Recovery("crm", Cause.COMPLETENESS, now)


def test_buckets_double_back_from_the_end() -> None:
    end = datetime(2026, 1, 1, tzinfo=UTC)
    edges = bucket_edges(end)
    assert edges[0] == EPOCH
    assert edges[-1] == end
    assert [end - e for e in edges[-3:]] == [timedelta(days=2), timedelta(days=1), timedelta(0)]
    assert edges == sorted(edges)
