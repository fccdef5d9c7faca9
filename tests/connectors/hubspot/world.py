"""Test helpers for the HubSpot connector: a sandbox on loopback with a fake clock.

The SDK talks urllib3, so tests run it against the HubSpot sandbox over HTTP. The sandbox's
data clock is a :class:`FakeClock`; its rate limiter is off unless a test turns it on (it counts
real time unless given the world's :class:`FakeTime`). Connectors sleep and pace on a
:class:`FakeTime`: sleeping records the wait and moves that time on, never waits.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.hubspot import HubSpotConnector, HubSpotSettings
from connectors.hubspot.pacer import Pacer
from model.records import Cursor, PullBatch, Record
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
class FakeTime:
    """Monotonic time that moves only when someone sleeps (each sleep is recorded)."""

    sleeps: list[float] = field(default_factory=list)
    now: float = 1_000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


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

    def __post_init__(self) -> None:
        self.time = FakeTime(self.sleeps)

    def settings(self, **overrides: Any) -> HubSpotSettings:
        """Settings on this sandbox (validated, ``overrides`` included), the token resolved."""
        retry = {"max_attempts": 4, "initial_wait_seconds": 0.5, "max_wait_seconds": 4.0}
        base = {
            "token": "${HUBSPOT_TOKEN}",
            "base_url": self.sandbox.base_url,
            "retry": {**retry, "jitter_seconds": 0.0},
        }
        return HubSpotSettings.model_validate(base | overrides).with_token(TOKEN)

    def connector(self, *, pacer: Pacer | None = None, **overrides: Any) -> HubSpotConnector:
        """A connector on this sandbox, sleeping and pacing on the world's fake time;
        ``overrides`` replace settings fields."""
        if pacer is None:
            pacer = Pacer(sleep=self.time.sleep, clock=self.time.monotonic)
        connector = HubSpotConnector(self.settings(**overrides), sleep=self.time.sleep, pacer=pacer)
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


def api_error(status: int, category: str, message: str, **extra: Any) -> dict[str, Any]:
    """HubSpot's error body."""
    return {
        "status": "error",
        "message": message,
        "correlationId": "c0ffee00-0000-4000-8000-000000000000",
        "category": category,
        **extra,
    }


class _Rewriting:
    """A fault policy that serves the real answer to a request it may rewrite first, and may
    rewrite the answer (a proxy, or HubSpot behaving another documented way)."""

    def __init__(self, sandbox: HubSpotSandbox, match: str) -> None:
        self.sandbox = sandbox
        self.match = match

    def request(self, request: Request) -> Request:
        return request

    def response(self, request: Request, answer: Response) -> Response:
        return answer

    def decide(self, request: Request) -> Fault | None:
        if not request.path.startswith(self.match):
            return None
        state = self.sandbox.state
        recording, state.record_exchanges = state.record_exchanges, False
        state.faults = None  # serve the real answer without asking ourselves again
        try:
            answer = self.sandbox.app.handle(self.request(request))
        finally:
            state.faults = self
            state.record_exchanges = recording
        return Fault(response=self.response(request, answer))


class AllOrNothing(_Rewriting):
    """HubSpot without multi-status writes: inputs lose their ``objectWriteTraceId``, so one
    invalid input makes HubSpot refuse the whole batch (400)."""

    def request(self, request: Request) -> Request:
        body = copy.deepcopy(request.body)
        for item in body.get("inputs", []) if isinstance(body, dict) else []:
            item.pop("objectWriteTraceId", None)
        return replace(request, body=body)


class Reversed(_Rewriting):
    """Batch results in reverse order and without their trace ids (HubSpot does not promise
    results in input order): only the task marker can tie a result to its input."""

    def response(self, request: Request, answer: Response) -> Response:
        body = copy.deepcopy(answer.body)
        if isinstance(body, dict) and isinstance(body.get("results"), list):
            body["results"].reverse()
            for result in body["results"]:
                result.pop("objectWriteTraceId", None)
        return Response(answer.status, body, answer.headers)


class RateLimitedInputs(_Rewriting):
    """The first matching batch answers 207 with a ``RATE_LIMITS`` error for ``ids`` (left
    unwritten) and the rest written; later requests are served as usual."""

    def __init__(self, sandbox: HubSpotSandbox, match: str, ids: set[str]) -> None:
        super().__init__(sandbox, match)
        self.ids = ids
        self.spent = False

    def request(self, request: Request) -> Request:
        if self.spent:
            return request
        body = copy.deepcopy(request.body)
        body["inputs"] = [i for i in body["inputs"] if str(i.get("id")) not in self.ids]
        return replace(request, body=body)

    def response(self, request: Request, answer: Response) -> Response:
        if self.spent:
            return answer
        self.spent = True
        body = copy.deepcopy(answer.body)
        body.setdefault("errors", []).append(
            {
                "status": "429",
                "category": "RATE_LIMITS",
                "message": "You have reached your secondly limit.",
                "context": {"ids": sorted(self.ids)},
                "errors": [],
                "links": {},
            }
        )
        body["numErrors"] = len(body["errors"])
        return Response(207, body, answer.headers)


class BeforeEachSearch:
    """A fault policy that injects nothing: before the sandbox serves the ``n``-th search
    request (0-based), it calls ``act(n)`` (a person editing records while a pull pages)."""

    def __init__(self, act: Callable[[int], None]) -> None:
        self.act = act
        self.searches = 0

    def decide(self, request: Request) -> Fault | None:
        if request.method == "POST" and request.path.endswith("/search"):
            self.act(self.searches)
            self.searches += 1
        return None
