"""Parts of the service on their own: two replicas alerting about one source, staleness,
pruning, the lease keeper, the log's redaction."""

from __future__ import annotations

import io
import json
import logging
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from model.errors import LeaseLostError
from state.base import CompletenessCheck
from state.store import SqlStateStore, open_store
from syncd import logging as slog
from syncd.config import Config, load_config
from syncd.fence import LeaseKeeper, RunInterruptedError
from syncd.logging import get_logger
from syncd.observer import RunSummary
from syncd.rails import SafetyRailError
from syncd.service.alerts import Alert, Alerter, Notifier
from syncd.service.incidents import Cause, IncidentTracker, Symptom
from syncd.service.service import ServeOptions, Service, StoreIncidents
from syncd.sources import build_connector
from tests.syncd.cli_support import write_config
from tests.syncd.service.support import wait_for

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Inbox:
    name: str = "inbox"
    alerts: list[Alert] = field(default_factory=list)

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    extra = "[service.retention]\nruns_days = 10\n"
    return load_config(write_config(tmp_path, {"crm": "http://127.0.0.1:9"}, extra=extra))


@pytest.fixture
def store(config: Config) -> Iterator[SqlStateStore]:
    opened = open_store(config.store_url())
    opened.ensure_source("crm", "hubspot", T0)
    yield opened
    opened.close()


def test_two_replicas_seeing_one_failure_alert_once(config: Config, store: SqlStateStore) -> None:
    """Each replica decides against what the store holds; the one that saves second reads again
    and updates the incident instead of opening another."""
    other = open_store(config.store_url())
    try:
        inbox = Inbox()
        alerters = [
            Alerter(StoreIncidents(s), IncidentTracker(), Notifier([inbox]), command=str)
            for s in (store, other)
        ]
        event = Symptom("crm", Cause.AUTH, "HubSpot answered 401", T0)
        barrier = threading.Barrier(2)

        def observe(alerter: Alerter) -> None:
            barrier.wait()
            alerter.observe(event)

        threads = [threading.Thread(target=observe, args=(a,)) for a in alerters]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [a.kind.value for a in inbox.alerts] == ["opened"]
        (incident,) = store.open_incidents("crm")
        assert incident.count == 2
    finally:
        other.close()


def service(config: Config, store: SqlStateStore, clock: list[datetime], inbox: Inbox) -> Service:
    return Service(
        config,
        store,
        ServeOptions(Path("syncd.toml"), every=60),
        connector_builder=build_connector,
        clock=lambda: clock[0],
        new_id=lambda: "x",
        rng=random.Random(1),
        channels=[inbox],
    )


def test_a_source_without_success_for_three_intervals_is_stale(
    config: Config, store: SqlStateStore
) -> None:
    clock, inbox = [T0], Inbox()
    watching = service(config, store, clock, inbox)
    clock[0] = T0 + timedelta(minutes=2)
    watching.check_staleness()
    assert inbox.alerts == []
    clock[0] = T0 + timedelta(minutes=3, seconds=1)  # 3 intervals of 60 s since the start
    watching.check_staleness()
    watching.check_staleness()  # the same incident goes on: no second alert
    assert [(a.kind.value, a.cause) for a in inbox.alerts] == [("opened", Cause.STALE)]
    assert "no successful sync since 2026-03-01 12:00 UTC" in inbox.alerts[0].message

    store.start_run("r1", "crm", clock[0], dry_run=True)
    store.finish_run("r1", clock[0], "succeeded", {})
    watching.check_staleness()
    assert [a.kind.value for a in inbox.alerts] == ["opened", "resolved"]


def test_the_service_prunes_once_per_period(config: Config, store: SqlStateStore) -> None:
    clock, inbox = [T0], Inbox()
    pruning = service(config, store, clock, inbox)
    for n in range(3):
        store.start_run(f"r{n}", "crm", T0 - timedelta(days=30 - n), dry_run=True)
        store.finish_run(f"r{n}", T0 - timedelta(days=30 - n), "succeeded", {})
    pruning.prune_if_due()
    assert [r.id for r in store.list_runs("crm")] == ["r2"]  # the last success stays
    store.start_run("r3", "crm", T0 - timedelta(days=29), dry_run=True)  # an old failure
    store.finish_run("r3", T0 - timedelta(days=29), "failed", {})
    clock[0] = T0 + timedelta(hours=1)
    pruning.prune_if_due()  # not due yet
    assert len(store.list_runs("crm")) == 2
    store.save_completeness(CompletenessCheck("crm", "contacts", "counts", T0, True, 0, {}))
    clock[0] = T0 + timedelta(hours=25)
    pruning.prune_if_due()
    assert [r.id for r in store.list_runs("crm")] == ["r2"]


def test_the_lease_keeper_renews_and_notices_a_lost_lease(store: SqlStateStore) -> None:
    now = [datetime.now(UTC)]
    lease = store.acquire_source("crm", "r1", now[0], ttl_seconds=0.3)
    keeper = LeaseKeeper(store, lease, 0.3, lambda: now[0]).start()
    try:
        now[0] += timedelta(seconds=0.1)

        def renewed() -> bool:
            held = store.source_lease("crm")
            return held is not None and held.expires_at == now[0] + timedelta(seconds=0.3)

        wait_for(renewed, "a renewal")
        keeper.check()  # renewed: still ours
        store.release_source(lease)  # another command's doing, as far as the keeper knows

        def lost() -> bool:
            try:
                keeper.check()
            except LeaseLostError:
                return True
            return False

        wait_for(lost, "the keeper to notice")
    finally:
        keeper.stop()


def test_a_lease_that_could_not_be_renewed_lapses_on_the_clock(store: SqlStateStore) -> None:
    now = [T0]
    lease = store.acquire_source("crm", "r1", T0, ttl_seconds=30)
    keeper = LeaseKeeper(store, lease, 30, lambda: now[0])  # never started: no renewal
    keeper.check()
    now[0] = T0 + timedelta(seconds=30)
    with pytest.raises(LeaseLostError, match="expired at 12:00:30 UTC without renewal"):
        keeper.check()


def test_the_log_never_shows_a_secret() -> None:
    out = io.StringIO()
    slog.configure("info", "json", stream=out, secrets=["pat-na1-abcdef", "https://hooks/xyz"])
    log = get_logger("test")
    log.info(
        "request",
        url="https://hooks/xyz",
        detail="answered 401 for pat-na1-abcdef",
        token="anything",
        nested={"authorization": "Bearer pat-na1-abcdef"},
    )
    logging.getLogger("urllib3").warning("retrying https://hooks/xyz")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["url"] == "[redacted]"
    assert lines[0]["detail"] == "answered 401 for [redacted]"
    assert lines[0]["token"] == "[redacted]"
    assert lines[0]["nested"] == {"authorization": "Bearer [redacted]"}
    assert lines[1]["event"] == "retrying [redacted]"
    assert lines[1]["level"] == "warning"
    assert "abcdef" not in out.getvalue()


def summary(**changes: object) -> RunSummary:
    base = RunSummary(
        run_id="r1",
        source="crm",
        kind="run",
        dry_run=False,
        status="succeeded",
        started=T0,
        finished=T0 + timedelta(seconds=5),
        vendor="hubspot",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_what_a_run_reports_opens_the_right_incidents(config: Config, store: SqlStateStore) -> None:
    clock, inbox = [T0], Inbox()
    watching = service(config, store, clock, inbox)
    watching.observe(summary(status="failed", error=SafetyRailError("plan p1 was not pushed")))
    watching.observe(summary(status="partial", operations=100, failed_operations=6))
    watching.observe(summary(status="failed", error=RunInterruptedError("interrupted: stop")))
    watching.observe(summary(status="failed", error=LeaseLostError("taken over")))
    assert [(a.kind.value, a.cause) for a in inbox.alerts] == [
        ("opened", Cause.SAFETY_RAIL),
        ("opened", Cause.FAILED_OPERATIONS),
        ("resolved", Cause.SAFETY_RAIL),  # the partial run pushed: no rail tripped
    ]
    assert inbox.alerts[0].message == "plan p1 was not pushed"
    assert inbox.alerts[1].message.startswith("6 of 100 operations failed (6.0%")
    samples = watching.metrics.registry.get_sample_value
    assert samples("syncd_runs_total", {"source": "crm", "outcome": "interrupted"}) == 1
    assert samples("syncd_runs_total", {"source": "crm", "outcome": "failed"}) == 2


def test_a_stored_next_run_from_another_schedule_is_not_waited_for(
    config: Config, store: SqlStateStore
) -> None:
    now = datetime.now(UTC)
    store.set_next_run("crm", now + timedelta(hours=5), now)  # planned on a 15-minute schedule
    trial = Service(
        config,
        store,
        ServeOptions(Path("syncd.toml"), every=60, http_port=0),
        connector_builder=build_connector,
        clock=lambda: datetime.now(UTC),
        new_id=lambda: "x",
        rng=random.Random(1),
        channels=[],
    )
    trial.start()
    try:
        first = trial.scheduler.next_run("crm")
        assert first is not None
        assert first <= now + timedelta(seconds=60 + 6 + 1)  # --every 60, its jitter, a second
    finally:
        trial.stop()
