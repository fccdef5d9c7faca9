"""Test helpers for the HubSpot connector: a sandbox on loopback with a fake clock.

The SDK talks urllib3, so tests run it against the HubSpot sandbox over HTTP. The sandbox's
data clock is a :class:`FakeClock`; its rate limiter is off unless a test turns it on (it counts
real time, and the connector's injected sleep does not wait).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import Cursor, PullBatch, Record
from connectors.hubspot import HubSpotConnector, HubSpotSettings
from connectors.hubspot.pacer import Pacer
from connectors.retry import RetrySettings
from sandbox.hubspot import Fault, HubSpotSandbox, Request, Response, SandboxState

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
TOKEN = "pat-test-token"


@dataclass
class FakeClock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Pull:
    """The batches of one pull, and what they add up to."""

    batches: list[PullBatch]

    @property
    def records(self) -> list[Record]:
        return [r for b in self.batches for r in b.records]

    @property
    def by_id(self) -> dict[str, Record]:
        """The newest record per id (as the engine keeps them)."""
        found: dict[str, Record] = {}
        for record in self.records:
            if record.id not in found or record.updated_at >= found[record.id].updated_at:
                found[record.id] = record
        return found

    @property
    def cursor(self) -> Cursor:
        return self.batches[-1].cursor

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return [s for b in self.batches for s in b.skipped]


@dataclass
class World:
    """A sandbox, its clock, and a way to build connectors against it."""

    clock: FakeClock
    state: SandboxState
    sandbox: HubSpotSandbox
    sleeps: list[float] = field(default_factory=list)
    _connectors: list[HubSpotConnector] = field(default_factory=list)

    def settings(self, **overrides: Any) -> HubSpotSettings:
        base = HubSpotSettings(
            token=TOKEN,
            base_url=self.sandbox.base_url,
            retry=RetrySettings(max_attempts=4, initial_wait=0.5, max_wait=4.0, jitter=0.0),
        )
        return replace(base, **overrides)

    def connector(self, *, pacer: Pacer | None = None, **overrides: Any) -> HubSpotConnector:
        """A connector on this sandbox; ``overrides`` replace settings fields."""
        connector = HubSpotConnector(
            self.settings(**overrides), sleep=self.sleeps.append, pacer=pacer
        )
        self._connectors.append(connector)
        return connector

    def pull(
        self,
        connector: HubSpotConnector,
        object_type: str,
        cursor: Cursor | None = None,
        run_started_at: datetime | None = None,
    ) -> Pull:
        started = run_started_at or self.clock.now
        return Pull(list(connector.pull(object_type, cursor or Cursor(), run_started_at=started)))

    def close(self) -> None:
        for connector in self._connectors:
            connector.close()


def new_state(clock: Callable[[], datetime]) -> SandboxState:
    return SandboxState(clock=clock, rate_limit=None, search_rate_limit=None, daily_limit=None)


def ids(records: Iterable[Record]) -> set[str]:
    return {r.id for r in records}


class Corrupting:
    """A fault policy that serves the real answer with some results broken (malformed JSON
    objects, as a misbehaving proxy or API regression would send them)."""

    def __init__(
        self, sandbox: HubSpotSandbox, breaks: dict[str, dict[str, Any]], match: str = ""
    ) -> None:
        self.sandbox = sandbox
        self.breaks = breaks
        self.match = match

    def decide(self, request: Request) -> Fault | None:
        if not request.path.startswith(self.match):
            return None
        self.sandbox.state.faults = None  # serve the real answer without asking ourselves again
        try:
            answer = self.sandbox.app.handle(request)
        finally:
            self.sandbox.state.faults = self
        body = copy.deepcopy(answer.body)
        for result in body.get("results", []) if isinstance(body, dict) else []:
            result.update(self.breaks.get(str(result.get("id")), {}))
        return Fault(response=Response(answer.status, body, answer.headers))
