"""The seam for injected failures: one decision per request, made before dispatch.

Set ``SandboxState.faults`` to any object with a ``decide(request)`` method. The server asks it
about every API request (not ``/_sandbox/`` control requests) before authentication, rate
limiting and dispatch, and applies the answer: wait ``latency_s``, then either drop the
connection without answering, answer ``response`` instead of the API, or go on as usual.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sandbox.hubspot.wire import Request, Response


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to one request. The default (all zero) changes nothing."""

    latency_s: float = 0.0
    drop: bool = False
    response: Response | None = None


class FaultPolicy(Protocol):
    """Decides, per request, whether and how it fails."""

    def decide(self, request: Request) -> Fault | None:
        """The fault for ``request``, or None to serve it normally."""
        ...


class ScriptedFaults:
    """A fault policy that answers from a queue, then serves normally (for tests).

    ``match`` optionally restricts which requests consume the queue (a path prefix).
    """

    def __init__(self, *faults: Fault, match: str = "") -> None:
        self._queue = list(faults)
        self.match = match

    def decide(self, request: Request) -> Fault | None:
        if self._queue and request.path.startswith(self.match):
            return self._queue.pop(0)
        return None
