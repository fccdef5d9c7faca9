"""Injected failures: one decision per request, made before dispatch.

Set a sandbox state's ``faults`` to any object with a ``decide(request)`` method. The server
asks it about every API request (never ``/_sandbox/`` control requests) before authentication,
rate limiting and dispatch, and applies the answer: wait ``latency_s``, then

- ``drop``: close the connection without answering; nothing was processed;
- ``response``: answer it instead of the API (nothing processed);
- ``status``: answer the vendor's error for that status instead of the API (nothing processed;
  what it looks like is the vendor's sandbox's business, e.g.
  :func:`sandbox.hubspot.faults.injected_error`);
- otherwise serve the request as usual, and with ``drop_after`` close the connection instead of
  sending the answer: the write happened, the client never hears of it.

:class:`ScriptedFaults` answers from a queue (for tests that need one exact failure);
:class:`RandomFaults` fails a seeded, reproducible share of requests (for soak runs and the CLI);
a vendor subclasses it to say which statuses it can inject and how often by default.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sandbox.http.wire import Request, Response

#: Statuses the base :class:`RandomFaults` can inject, and the default weights of each.
INJECTABLE_STATUSES: tuple[int, ...] = (429, 500, 502, 503, 504)
DEFAULT_STATUS_MIX: Mapping[int, float] = {429: 4.0, 500: 1.0, 502: 1.0, 503: 1.0, 504: 1.0}


@dataclass(frozen=True, slots=True)
class Fault:
    """What to do to one request. The default (all zero) changes nothing.

    ``status`` is one the vendor's sandbox can inject; ``retry_after_s`` adds ``Retry-After``
    to an injected 429.
    """

    latency_s: float = 0.0
    drop: bool = False
    response: Response | None = None
    status: int | None = None
    retry_after_s: int | None = None
    drop_after: bool = False

    @property
    def injects(self) -> bool:
        """Whether the fault changes what the client gets (latency alone does not)."""
        return self.drop or self.drop_after or self.response is not None or self.status is not None


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


class RandomFaults:
    """Fail a seeded share of requests, as an unreliable network and a busy vendor would.

    Per request, one draw from ``random.Random(seed)``: with probability ``drop_rate`` the
    connection is dropped (a ``drop_after_share`` of those after the request was processed,
    the rest before), with probability ``fault_rate`` an error status is answered instead,
    drawn from ``status_mix`` (status -> weight, statuses among :attr:`injectable`; a 429 gets
    ``Retry-After: retry_after_s`` when that is set), otherwise the request is served. Every
    request, failed or not, waits ``latency_ms`` first. The same seed and the same sequence of
    requests give the same faults; decisions are serialized, so concurrent clients share one
    sequence.

    Raises ValueError for rates outside [0, 1], ``drop_rate + fault_rate > 1``, a negative
    latency, or a status mix that is empty, negative or names a status not injectable.
    A vendor's subclass sets :attr:`injectable` and :attr:`default_mix`.
    """

    injectable: tuple[int, ...] = INJECTABLE_STATUSES
    default_mix: Mapping[int, float] = DEFAULT_STATUS_MIX

    def __init__(
        self,
        fault_rate: float = 0.0,
        drop_rate: float = 0.0,
        latency_ms: int = 0,
        seed: int = 0,
        *,
        status_mix: Mapping[int, float] | None = None,
        drop_after_share: float = 0.5,
        retry_after_s: int | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self.fault_rate = 0.0
        self.drop_rate = 0.0
        self.latency_ms = 0
        self.seed = seed
        self.status_mix: dict[int, float] = dict(self.default_mix)
        self.drop_after_share = 0.5
        self.retry_after_s: int | None = None
        self._rng = random.Random(seed)
        self.configure(
            fault_rate=fault_rate,
            drop_rate=drop_rate,
            latency_ms=latency_ms,
            status_mix=self.default_mix if status_mix is None else status_mix,
            drop_after_share=drop_after_share,
            retry_after_s=retry_after_s,
        )

    def configure(self, **changes: Any) -> None:
        """Change any of the constructor's settings at run time; all or nothing.

        A ``seed`` restarts the random sequence; without one the sequence carries on.
        Raises ValueError as the constructor does, and for unknown settings.
        """
        unknown = set(changes) - set(_SETTINGS)
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        merged = {**self.settings(), **changes}
        checked = _checked_settings(merged, self.injectable)
        with self._lock:
            for name, value in checked.items():
                setattr(self, name, value)
            if "seed" in changes:
                self._rng = random.Random(self.seed)

    def settings(self) -> dict[str, Any]:
        """The current settings, as :meth:`configure` takes them (JSON-ready but the mix keys)."""
        return {
            "fault_rate": self.fault_rate,
            "drop_rate": self.drop_rate,
            "latency_ms": self.latency_ms,
            "seed": self.seed,
            "status_mix": dict(self.status_mix),
            "drop_after_share": self.drop_after_share,
            "retry_after_s": self.retry_after_s,
        }

    def decide(self, request: Request) -> Fault | None:
        with self._lock:
            latency = self.latency_ms / 1000
            draw = self._rng.random()
            if draw < self.drop_rate:
                after = self._rng.random() < self.drop_after_share
                return Fault(latency_s=latency, drop=not after, drop_after=after)
            if draw < self.drop_rate + self.fault_rate:
                statuses = list(self.status_mix)
                weights = [self.status_mix[s] for s in statuses]
                status = self._rng.choices(statuses, weights)[0]
                retry = self.retry_after_s if status == 429 else None
                return Fault(latency_s=latency, status=status, retry_after_s=retry)
            return Fault(latency_s=latency) if latency > 0 else None


_SETTINGS = (
    "fault_rate",
    "drop_rate",
    "latency_ms",
    "seed",
    "status_mix",
    "drop_after_share",
    "retry_after_s",
)


def _rate(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number; got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1; got {value}")
    return float(value)


def _whole(name: str, value: object, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {value!r}")
    return value


def _mix(value: object, injectable: tuple[int, ...]) -> dict[int, float]:
    if not isinstance(value, Mapping) or not value:
        raise ValueError("status_mix must map statuses to weights")
    mix: dict[int, float] = {}
    for key, weight in value.items():
        try:
            status = int(key)
        except (TypeError, ValueError):
            raise ValueError(f"status_mix: {key!r} is not a status") from None
        if status not in injectable:
            raise ValueError(f"status_mix: {status} is not one of {list(injectable)}")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise ValueError(f"status_mix: the weight of {status} must be a non-negative number")
        mix[status] = float(weight)
    if sum(mix.values()) <= 0:
        raise ValueError("status_mix: at least one weight must be positive")
    return mix


def _checked_settings(raw: Mapping[str, Any], injectable: tuple[int, ...]) -> dict[str, Any]:
    checked: dict[str, Any] = {
        "fault_rate": _rate("fault_rate", raw["fault_rate"]),
        "drop_rate": _rate("drop_rate", raw["drop_rate"]),
        "drop_after_share": _rate("drop_after_share", raw["drop_after_share"]),
        "latency_ms": _whole("latency_ms", raw["latency_ms"]),
        "seed": _whole("seed", raw["seed"]),
        "status_mix": _mix(raw["status_mix"], injectable),
        "retry_after_s": _whole("retry_after_s", raw["retry_after_s"], optional=True),
    }
    if checked["fault_rate"] + checked["drop_rate"] > 1.0:
        raise ValueError("fault_rate + drop_rate must not exceed 1")
    return checked
