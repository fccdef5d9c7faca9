"""The blocks together, as ``syncd serve`` will use them, against the HubSpot sandbox.

A scheduled job reads the CRM through the real SDK; its results go through ``assess_run`` to the
alerter, whose webhook is a local receiver. While the sandbox refuses the token: one alert, however
many runs fail; when it accepts it again: one recovery message. Metrics and the heartbeat follow.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts.exceptions import ApiException
from pydantic import SecretStr

from connectors.retry import RetrySettings
from sandbox.hubspot import HubSpotSandbox, SandboxState
from syncd.service.alerts import Alerter, Notifier, WebhookChannel
from syncd.service.delivery import HttpSender
from syncd.service.heartbeat import Heartbeat
from syncd.service.incidents import (
    Action,
    IncidentTracker,
    MemoryIncidentStore,
    RunFacts,
    assess_run,
)
from syncd.service.metrics import Metrics
from syncd.service.scheduler import Every, RunResult, Scheduler
from tests.syncd.service.servers import Receiver

GUARD = 10.0
FAST = RetrySettings(max_attempts=2, initial_wait=0.0, max_wait=0.0, jitter=0.0)


class AuthRefusedError(Exception):
    pass


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    state = SandboxState(clock=lambda: datetime.now(UTC))
    state.create("contacts", {"email": "a@example.com"})
    with HubSpotSandbox(state, tokens={"good"}) as sandbox:
        yield sandbox


def _set_tokens(sandbox: HubSpotSandbox, tokens: list[str]) -> None:
    request = urllib.request.Request(
        sandbox.base_url + "/_sandbox/auth",
        data=json.dumps({"tokens": tokens}).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def test_a_refused_token_alerts_once_and_its_return_sends_a_recovery(
    sandbox: HubSpotSandbox, receiver: Receiver
) -> None:
    client = HubSpot(access_token="good", host=sandbox.base_url)
    store = MemoryIncidentStore()
    alerter = Alerter(
        store,
        IncidentTracker(timedelta(hours=4)),
        Notifier(
            [WebhookChannel("webhook", SecretStr(receiver.url("/alerts")), HttpSender())], FAST
        ),
        command=lambda source: f"syncd status -c syncd.toml --source {source}",
    )
    metrics = Metrics(
        open_incidents=lambda: {
            (i.source, i.cause.value): 1 for i in store.open_incidents("hubspot")
        }
    )
    beat = Heartbeat(SecretStr(receiver.url("/beat")), sleep=lambda s: None)
    decisions: list[Action] = []
    opened, resolved = threading.Event(), threading.Event()
    failures_after_open = 0

    def cycle(stop: threading.Event) -> None:
        try:
            client.crm.contacts.basic_api.get_page(limit=10)
        except ApiException as exc:
            if exc.status in (401, 403):
                raise AuthRefusedError(f"HubSpot answered {exc.status}") from None
            raise

    def on_result(result: RunResult) -> None:
        nonlocal failures_after_open
        auth = isinstance(result.error, AuthRefusedError)
        facts = RunFacts(
            result.source,
            result.finished,
            error=str(result.error) if result.error else None,
            auth_failure=auth,
        )
        metrics.observe_run(
            result.source,
            outcome="succeeded" if result.succeeded else "failed",
            duration_seconds=(result.finished - result.started).total_seconds(),
            finished=result.finished,
        )
        if result.succeeded:
            beat.ping()
        for decision in alerter.observe_all(assess_run(facts)):
            decisions.append(decision.action)
            if decision.action is Action.OPEN:
                opened.set()
            if decision.action is Action.UPDATE and opened.is_set():
                failures_after_open += 1
                if failures_after_open == 2:  # several failed runs, still one alert
                    _set_tokens(sandbox, ["good"])
            if decision.action is Action.RESOLVE:
                resolved.set()

    scheduler = Scheduler(on_result=on_result)
    scheduler.add("hubspot", cycle, Every(0.02), jitter=timedelta(0))
    _set_tokens(sandbox, ["rotated"])  # the token is refused from the first run on
    scheduler.start()
    try:
        assert opened.wait(GUARD)
        assert resolved.wait(GUARD)
        assert scheduler.stop(GUARD)
    finally:
        scheduler.stop(GUARD)

    alerts = [r.json() for r in receiver.requests if r.path == "/alerts"]
    assert [a["kind"] for a in alerts] == ["opened", "resolved"]
    assert (alerts[0]["source"], alerts[0]["cause"]) == ("hubspot", "auth")
    assert alerts[0]["message"] == "HubSpot answered 401"
    assert alerts[1]["count"] == 3  # the opening failure and the two after it
    assert decisions.count(Action.OPEN) == 1
    assert store.open_incidents("hubspot") == []
    beats = [r for r in receiver.requests if r.path == "/beat"]
    assert beats  # only successful cycles ping
    registry = metrics.registry
    assert (
        registry.get_sample_value("syncd_runs_total", {"source": "hubspot", "outcome": "failed"})
        == 3
    )
    assert (
        registry.get_sample_value("syncd_open_incidents", {"source": "hubspot", "cause": "auth"})
        is None
    )
