"""What every vendor emulator shares: the HTTP(S) server, requests and responses, injected
faults, traffic counters, a settable data clock and the ``/_sandbox/`` control endpoints.

A vendor's sandbox (:mod:`sandbox.hubspot`, :mod:`sandbox.salesforce`) is an *app*: an object
with ``decide(request) -> Fault | None`` (the fault-injection seam, asked first) and
``answer(request, fault) -> Response | None`` (None closes the connection unanswered), served by
:class:`~sandbox.http.server.SandboxServer` over HTTP or, with a certificate, HTTPS.
Everything vendor-specific (routes, error bodies, what an injected 503 looks like) stays in the
vendor's package.
"""

from __future__ import annotations

from sandbox.http.clock import SettableClock
from sandbox.http.faults import Fault, FaultPolicy, RandomFaults, ScriptedFaults
from sandbox.http.server import SandboxServer
from sandbox.http.stats import TrafficStats
from sandbox.http.wire import BadRequestError, Request, Response

__all__ = [
    "BadRequestError",
    "Fault",
    "FaultPolicy",
    "RandomFaults",
    "Request",
    "Response",
    "SandboxServer",
    "ScriptedFaults",
    "SettableClock",
    "TrafficStats",
]
