"""A source whose CRM's daily API allowance is spent is paused, probed hourly and resumed.

The service runs its cycles by hand on a fake clock that the Salesforce sandbox shares: the
org's allowance is a rolling 24 hours counted on that clock (``/work/shared/notes/
salesforce.md``: every answer carries ``Sforce-Limit-Info: api-usage=N/M``; a spent allowance
answers 403 ``REQUEST_LIMIT_EXCEEDED``; ``limits/`` reads it). Nothing sleeps.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sandbox.hubspot import Fault, HubSpotSandbox, Response, SandboxState, ScriptedFaults
from sandbox.salesforce import SalesforceSandbox, SalesforceState
from state.base import SourcePause
from state.store import SqlStateStore, open_store
from syncd.config import Config, load_config
from syncd.service.incidents import Cause
from syncd.service.scheduler import Deferred
from syncd.service.service import ServeOptions, Service
from syncd.service.status import render_status, source_status
from syncd.sources import build_connector
from tests.connectors.hubspot.world import FakeClock
from tests.syncd.cli_support import write_config
from tests.syncd.service.support import get
from tests.syncd.service.test_service_parts import Inbox

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def org(clock: FakeClock) -> Iterator[tuple[SalesforceSandbox, SalesforceState]]:
    state = SalesforceState(clock, daily_limit=100)
    state.create("Contact", {"FirstName": "Ann", "LastName": "Doe"})
    with SalesforceSandbox(state, port=0) as sandbox:
        yield sandbox, state


def salesforce_config(
    tmp_path: Path, sandbox: SalesforceSandbox, monkeypatch: pytest.MonkeyPatch
) -> Config:
    monkeypatch.setenv("SALESFORCE_PASSWORD", "sandbox")
    monkeypatch.setenv("SALESFORCE_SECURITY_TOKEN", "sandbox")
    ca = sandbox.ca_file(tmp_path / "ca.pem")
    text = (
        '[store]\nurl = "sqlite:///state.db"\n[logging]\nlevel = "warning"\n'
        "[sources.sf]\n"
        f'connector = "salesforce"\nlogin_url = "{sandbox.base_url}"\nca_file = "{ca}"\n'
        'username = "sandbox"\npassword = "${SALESFORCE_PASSWORD}"\n'
        'security_token = "${SALESFORCE_SECURITY_TOKEN}"\nobject_types = ["contacts"]\n'
        "bulk_poll_seconds = 0\n"
        "[sources.sf.retry]\nmax_attempts = 2\ninitial_wait_seconds = 0.01\n"
        "max_wait_seconds = 0.02\njitter_seconds = 0\n"
        "[sources.sf.completeness]\nenabled = false\n"
    )
    path = tmp_path / "syncd.toml"
    path.write_text(text)
    return load_config(path)


def service(
    config: Config, store: SqlStateStore, clock: FakeClock, inbox: Inbox, every: float = 900
) -> Service:
    return Service(
        config,
        store,
        ServeOptions(Path("syncd.toml"), every=every, dry_run=True),
        connector_builder=build_connector,
        clock=clock,
        new_id=iter(f"run{n}" for n in range(1000)).__next__,
        rng=random.Random(1),
        channels=[inbox],
    )


def limits_probes(state: SalesforceState) -> int:
    requests = state.stats()["requests"]
    return sum(n for label, n in requests.items() if label.rstrip("/").endswith("/limits"))


def runs(store: SqlStateStore, source: str) -> list[str]:
    return [r.status for r in store.list_runs(source, limit=100)]


def deferred_until(watching: Service, source: str) -> datetime:
    with pytest.raises(Deferred) as deferred:
        watching.cycle(source)
    return deferred.value.until


def test_a_source_at_the_reserve_pauses_is_probed_hourly_and_resumes(
    tmp_path: Path,
    org: tuple[SalesforceSandbox, SalesforceState],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, state = org
    config = salesforce_config(tmp_path, sandbox, monkeypatch)
    store = open_store(config.store_url())
    inbox = Inbox()
    try:
        watching = service(config, store, clock, inbox)
        store.ensure_source("sf", "salesforce", T0)
        state.use_allowance(85)  # others used 85 of 100: the reserve (20 %) is reached

        assert deferred_until(watching, "sf") == T0 + HOUR
        pause = store.source_pause("sf")
        assert pause is not None
        assert (pause.since, pause.next_probe_at) == (T0, T0 + HOUR)
        assert (pause.used, pause.limit) == (86, 100)
        assert "86 of 100 requests used" in pause.reason
        assert [(a.kind.value, a.cause) for a in inbox.alerts] == [("opened", Cause.PAUSED)]
        assert [i.cause for i in store.open_incidents("sf")] == ["paused"], "not auth"
        assert runs(store, "sf") == ["failed"]
        assert store.next_run("sf") == T0 + HOUR
        samples = watching.metrics.registry.get_sample_value
        assert samples("syncd_source_paused", {"source": "sf"}) == 1
        assert samples("syncd_api_allowance_used", {"source": "sf"}) == 86
        assert samples("syncd_api_allowance_limit", {"source": "sf"}) == 100
        assert samples("syncd_api_calls_total", {"vendor": "salesforce"}) >= 2
        probes_before = limits_probes(state)

        # within the hour: neither a run nor a probe
        clock.tick(minutes=30)
        assert deferred_until(watching, "sf") == T0 + HOUR
        assert limits_probes(state) == probes_before
        assert runs(store, "sf") == ["failed"]

        # every hour: one probe of limits/, no run, no alert, however long it lasts
        for hour in range(1, 24):
            clock.now = T0 + hour * HOUR
            assert deferred_until(watching, "sf") == T0 + (hour + 1) * HOUR
            assert limits_probes(state) == probes_before + hour
        assert runs(store, "sf") == ["failed"]
        assert len(inbox.alerts) == 1, "one alert for the whole pause"
        paused = store.source_pause("sf")
        assert paused is not None
        assert paused.probes == 23
        assert state.api_usage()[0] == 86, "probing spends nothing"
        status = source_status(config, store, "sf", depth=0)
        assert status["paused"]["next_probe"] == (T0 + 24 * HOUR).isoformat()
        text = render_status([status])
        assert "PAUSED since 2026-03-02 09:00:00 UTC, 86 of 100 daily API requests used" in text
        assert "next probe:    2026-03-03 09:00:00 UTC (23 made)" in text

        # the rolling 24 hours let the morning's requests go: room again, the run goes
        clock.now = T0 + 24 * HOUR
        watching.cycle("sf")
        assert store.source_pause("sf") is None
        assert runs(store, "sf") == ["succeeded", "failed"]
        assert [(a.kind.value, a.cause) for a in inbox.alerts] == [
            ("opened", Cause.PAUSED),
            ("resolved", Cause.PAUSED),
        ]
        assert store.open_incidents("sf") == []
        assert samples("syncd_source_paused", {"source": "sf"}) == 0
        assert samples("syncd_api_allowance_used", {"source": "sf"}) < 80
        watching.check_staleness()
        assert len(inbox.alerts) == 2, "a resumed source is not stale"
    finally:
        store.close()


def test_request_limit_exceeded_pauses_and_a_restart_keeps_the_pause(
    tmp_path: Path,
    org: tuple[SalesforceSandbox, SalesforceState],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, state = org
    config = salesforce_config(tmp_path, sandbox, monkeypatch)
    store = open_store(config.store_url())
    inbox = Inbox()
    try:
        store.ensure_source("sf", "salesforce", T0)
        state.use_allowance(100)  # all of it: Salesforce refuses every call
        first = service(config, store, clock, inbox)
        assert deferred_until(first, "sf") == T0 + HOUR
        assert state.stats()["rate_limited"] == 1, "refused once, never retried"
        pause = store.source_pause("sf")
        assert pause is not None
        assert "REQUEST_LIMIT_EXCEEDED" in pause.reason
        assert [(a.kind.value, a.cause) for a in inbox.alerts] == [("opened", Cause.PAUSED)]
        first.check_staleness()
        clock.tick(hours=5)
        first.check_staleness()  # a paused source is not stale: its pause says why
        assert len(inbox.alerts) == 1

        # the service restarts: the new one finds the pause and keeps it
        clock.now = T0 + timedelta(minutes=20)
        again = service(config, store, clock, inbox)
        probes = limits_probes(state)
        assert deferred_until(again, "sf") == T0 + HOUR
        assert limits_probes(state) == probes, "no probe before its time"
        assert store.source_pause("sf") == pause
        assert again.metrics.registry.get_sample_value("syncd_source_paused", {"source": "sf"}) == 1
        assert len(inbox.alerts) == 1, "the restart alerts nobody again"
        assert runs(store, "sf") == ["failed"]
    finally:
        store.close()


def test_a_restarted_service_schedules_a_paused_source_at_its_next_probe(
    tmp_path: Path,
    org: tuple[SalesforceSandbox, SalesforceState],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, _ = org
    config = salesforce_config(tmp_path, sandbox, monkeypatch)
    store = open_store(config.store_url())
    now = datetime.now(UTC)
    try:
        store.ensure_source("sf", "salesforce", now)
        probe = now + timedelta(minutes=50)
        store.save_pause(SourcePause("sf", now - HOUR, "spent", probe, used=90, limit=100))
        store.set_next_run("sf", now + timedelta(minutes=5), now)  # an older plan
        serving = Service(
            config,
            store,
            ServeOptions(Path("syncd.toml"), every=300, http_port=0),
            connector_builder=build_connector,
            clock=lambda: datetime.now(UTC),
            new_id=lambda: "x",
            rng=random.Random(1),
            channels=[],
        )
        serving.start()
        try:
            assert serving.scheduler.next_run("sf") == probe
            answer = get(serving.http.base_url + "/readyz")
            assert answer is not None
            status, body = answer
            assert status == 200, "one paused source does not make the service unready"
            assert json.loads(body)["paused_sources"]["sf"] == {
                "since": (now - HOUR).isoformat(),
                "reason": "spent",
                "next_probe": probe.isoformat(),
            }
        finally:
            serving.stop()
    finally:
        store.close()


def test_hubspots_daily_limit_pauses_and_a_run_probes_it(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    state = SandboxState(clock=clock)
    state.create("contacts", {"email": "a@example.com"})
    daily = {
        "status": "error",
        "message": "You have reached your daily limit.",
        "category": "RATE_LIMITS",
        "policyName": "DAILY",
    }
    with HubSpotSandbox(state, tokens={"sandbox"}) as sandbox:
        extra = "[sources.crm.completeness]\nenabled = false\n"
        # one request at a time: each run meets exactly one of the scripted refusals
        path = write_config(
            tmp_path, {"crm": sandbox.base_url}, extra=extra, source_keys="requests_in_flight = 1\n"
        )
        config = load_config(path)
        store = open_store(config.store_url())
        inbox = Inbox()
        try:
            store.ensure_source("crm", "hubspot", T0)
            # runs every 4 hours: the hourly probe, not the schedule, says when a paused
            # source tries again
            watching = service(config, store, clock, inbox, every=4 * 3600)
            state.faults = ScriptedFaults(
                *[Fault(response=Response(429, daily)) for _ in range(3)], match="/crm/"
            )
            assert deferred_until(watching, "crm") == T0 + HOUR
            pause = store.source_pause("crm")
            assert pause is not None
            assert "DAILY" in pause.reason
            assert [(a.kind.value, a.cause) for a in inbox.alerts] == [("opened", Cause.PAUSED)]
            samples = watching.metrics.registry.get_sample_value
            assert samples("syncd_api_rate_limited_total", {"vendor": "hubspot"}) == 1

            # HubSpot has no probe that spends nothing: at the probe time a run is the probe,
            # and before it nothing is sent
            calls = state.stats()["total"]
            clock.now = T0 + timedelta(minutes=40)
            assert deferred_until(watching, "crm") == T0 + HOUR
            assert state.stats()["total"] == calls
            clock.now = T0 + HOUR
            assert deferred_until(watching, "crm") == T0 + 2 * HOUR  # still refused
            assert len(inbox.alerts) == 1
            clock.now = T0 + 2 * HOUR
            assert deferred_until(watching, "crm") == T0 + 3 * HOUR
            paused = store.source_pause("crm")
            assert paused is not None
            assert paused.since == T0
            clock.now = T0 + 3 * HOUR  # the portal's day turned: the faults are spent
            watching.cycle("crm")
            assert store.source_pause("crm") is None
            assert [(a.kind.value, a.cause) for a in inbox.alerts] == [
                ("opened", Cause.PAUSED),
                ("resolved", Cause.PAUSED),
            ]
            assert runs(store, "crm")[0] == "succeeded"
        finally:
            store.close()
