"""``/_sandbox/`` control endpoints: fault settings, traffic counters, the data clock, auth.

No authentication, JSON in and out, never subject to faults or rate limits, never counted.

- ``GET /_sandbox/faults``: ``{"policy": "random"|"none"|<class name>, ...settings}`` (the
  settings of :class:`~sandbox.hubspot.faults.RandomFaults` when that is the policy).
- ``PUT /_sandbox/faults``: any of ``fault_rate``, ``drop_rate``, ``latency_ms``, ``seed``,
  ``status_mix``, ``drop_after_share``, ``retry_after_s``; updates the running
  ``RandomFaults`` (a ``seed`` restarts its sequence) or installs a new one over any other
  policy. Answers as GET; 400 for a bad setting (nothing changes then).
- ``DELETE /_sandbox/faults``: no more faults (204).
- ``GET /_sandbox/stats``: :meth:`~sandbox.hubspot.stats.TrafficStats.snapshot`;
  ``DELETE /_sandbox/stats`` resets the counters (204).
- ``GET /_sandbox/clock``: ``{"now": iso, "settable": bool}``; ``POST /_sandbox/clock`` with
  ``{"advance_s": seconds}`` or ``{"now": iso}`` moves a
  :class:`~sandbox.hubspot.clock.SettableClock` forward (400 backwards, 409 when the state's
  clock is not settable).
- ``GET``/``PUT /_sandbox/auth``: the bearer tokens accepted; served by
  :meth:`~sandbox.hubspot.app.HubSpotApp.auth_control` (the tokens belong to the app, not to
  the account state).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sandbox.hubspot.clock import SettableClock
from sandbox.hubspot.faults import RandomFaults
from sandbox.hubspot.model import iso
from sandbox.hubspot.store import SandboxState
from sandbox.hubspot.wire import ApiError, Request, Response, invalid

Params = Mapping[str, str]


def _faults_body(state: SandboxState) -> dict[str, Any]:
    policy = state.faults
    if isinstance(policy, RandomFaults):
        settings = policy.settings()
        settings["status_mix"] = {str(k): v for k, v in settings["status_mix"].items()}
        return {"policy": "random", **settings}
    if policy is None:
        return {"policy": "none"}
    return {"policy": type(policy).__name__}


def get_faults(state: SandboxState, request: Request, params: Params) -> Response:
    return Response(200, _faults_body(state))


def put_faults(state: SandboxState, request: Request, params: Params) -> Response:
    changes = request.json_object()
    current = state.faults
    try:
        if isinstance(current, RandomFaults):
            current.configure(**changes)
        else:
            fresh = RandomFaults()
            fresh.configure(**changes)
            state.faults = fresh
    except (TypeError, ValueError) as error:
        raise invalid(str(error)) from None
    return Response(200, _faults_body(state))


def delete_faults(state: SandboxState, request: Request, params: Params) -> Response:
    state.faults = None
    return Response(204)


def get_stats(state: SandboxState, request: Request, params: Params) -> Response:
    return Response(200, state.stats())


def delete_stats(state: SandboxState, request: Request, params: Params) -> Response:
    state.reset_stats()
    return Response(204)


def get_clock(state: SandboxState, request: Request, params: Params) -> Response:
    settable = isinstance(state.clock, SettableClock)
    return Response(200, {"now": iso(state.clock()), "settable": settable})


def post_clock(state: SandboxState, request: Request, params: Params) -> Response:
    clock = state.clock
    if not isinstance(clock, SettableClock):
        raise ApiError(409, "CONFLICT", "This sandbox's clock is not settable")
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
        raise invalid(str(error)) from None
    return Response(200, {"now": iso(now), "settable": True})


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
