"""``/_sandbox/`` control endpoints every emulator serves: faults, traffic counters, the clock.

No authentication, JSON in and out, never subject to faults or rate limits, never counted.
Invented (no vendor has them): they stand for the network and the vendor misbehaving, and for
time passing, so a test or a rehearsal can turn them on and watch syncd cope.

- ``GET /_sandbox/faults``: ``{"policy": "random"|"none"|<class name>, ...settings}`` (the
  settings of :class:`~sandbox.http.faults.RandomFaults` when that is the policy).
- ``PUT /_sandbox/faults``: any of ``fault_rate``, ``drop_rate``, ``latency_ms``, ``seed``,
  ``status_mix``, ``drop_after_share``, ``retry_after_s``; updates the running
  ``RandomFaults`` (a ``seed`` restarts its sequence) or installs a new one of the vendor's kind
  over any other policy. Answers as GET; 400 for a bad setting (nothing changes then).
- ``DELETE /_sandbox/faults``: no more faults (204).
- ``GET /_sandbox/stats``: :meth:`~sandbox.http.stats.TrafficStats.snapshot`;
  ``DELETE /_sandbox/stats`` resets the counters (204).
- ``GET /_sandbox/clock``: ``{"now": iso, "settable": bool}``; ``POST /_sandbox/clock`` with
  ``{"advance_s": seconds}`` or ``{"now": iso}`` moves a
  :class:`~sandbox.http.clock.SettableClock` forward (400 backwards, 409 when the state's
  clock is not settable).

Handlers take ``(state, request, params)`` like a vendor's route handlers and raise
:class:`~sandbox.http.wire.BadRequestError`, which the vendor's app answers in its own error shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sandbox.http.clock import SettableClock
from sandbox.http.faults import FaultPolicy, RandomFaults
from sandbox.http.wire import BadRequestError, Request, Response

Params = Mapping[str, str]


class Controlled(Protocol):
    """What the control endpoints read and change of a vendor's sandbox state."""

    faults: FaultPolicy | None
    clock: Callable[[], datetime]

    def stats(self) -> dict[str, Any]: ...

    def reset_stats(self) -> None: ...


def iso(moment: datetime) -> str:
    """The control API's timestamps: UTC, millisecond precision, ``Z`` suffix."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


class ControlApi:
    """The control handlers for one vendor: ``random_faults`` is the vendor's
    :class:`RandomFaults` kind, installed by ``PUT /_sandbox/faults`` over another policy."""

    def __init__(self, random_faults: type[RandomFaults] = RandomFaults) -> None:
        self.random_faults = random_faults

    @staticmethod
    def faults_body(state: Controlled) -> dict[str, Any]:
        policy = state.faults
        if isinstance(policy, RandomFaults):
            settings = policy.settings()
            settings["status_mix"] = {str(k): v for k, v in settings["status_mix"].items()}
            return {"policy": "random", **settings}
        if policy is None:
            return {"policy": "none"}
        return {"policy": type(policy).__name__}

    def get_faults(self, state: Controlled, request: Request, params: Params) -> Response:
        return Response(200, self.faults_body(state))

    def put_faults(self, state: Controlled, request: Request, params: Params) -> Response:
        changes = request.json_object()
        current = state.faults
        try:
            if isinstance(current, RandomFaults):
                current.configure(**changes)
            else:
                fresh = self.random_faults()
                fresh.configure(**changes)
                state.faults = fresh
        except (TypeError, ValueError) as error:
            raise BadRequestError(str(error)) from None
        return Response(200, self.faults_body(state))

    @staticmethod
    def delete_faults(state: Controlled, request: Request, params: Params) -> Response:
        state.faults = None
        return Response(204)

    @staticmethod
    def get_stats(state: Controlled, request: Request, params: Params) -> Response:
        return Response(200, state.stats())

    @staticmethod
    def delete_stats(state: Controlled, request: Request, params: Params) -> Response:
        state.reset_stats()
        return Response(204)

    @staticmethod
    def get_clock(state: Controlled, request: Request, params: Params) -> Response:
        settable = isinstance(state.clock, SettableClock)
        return Response(200, {"now": iso(state.clock()), "settable": settable})

    @staticmethod
    def post_clock(state: Controlled, request: Request, params: Params) -> Response:
        clock = state.clock
        if not isinstance(clock, SettableClock):
            raise BadRequestError("This sandbox's clock is not settable", status=409)
        body = request.json_object()
        try:
            seconds = body.get("advance_s")
            if set(body) == {"advance_s"} and _is_number(seconds):
                now = clock.advance(timedelta(seconds=float(body["advance_s"])))
            elif set(body) == {"now"} and isinstance(body["now"], str):
                now = clock.set(datetime.fromisoformat(body["now"].replace("Z", "+00:00")))
            else:
                raise ValueError('send either {"advance_s": seconds} or {"now": "<ISO time>"}')
        except ValueError as error:
            raise BadRequestError(str(error)) from None
        return Response(200, {"now": iso(now), "settable": True})


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
