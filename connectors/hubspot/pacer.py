"""Client-side pacing by HubSpot's rate-limit headers (a seam; the full pacer comes later).

HubSpot answers every call with ``X-HubSpot-RateLimit-Max``, ``-Remaining`` and
``-Interval-Milliseconds`` (a rolling window, 10 s for private apps). When few requests remain in
the window, the pacer sleeps before the next call rather than walking into a 429.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from connectors.retry import header


@dataclass(frozen=True, slots=True)
class RateLimit:
    """What one response said about the rolling window."""

    maximum: int
    remaining: int
    interval_seconds: float


def read_rate_limit(headers: object) -> RateLimit | None:
    """The rate-limit headers of a response, or ``None`` when any is missing or unreadable."""
    raw = [
        header(headers, f"X-HubSpot-RateLimit-{name}")
        for name in ("Max", "Remaining", "Interval-Milliseconds")
    ]
    if any(value is None for value in raw):
        return None
    try:
        maximum, remaining, interval_ms = (int(str(value)) for value in raw)
    except ValueError:
        return None
    return RateLimit(maximum, remaining, interval_ms / 1000)


class Pacer:
    """Sleeps before a call when the last response left too little of the window.

    ``reserve`` is the fraction of the window's maximum kept free for other clients of the same
    token (at least one request). The wait is the window's length scaled by how far past the
    reserve the budget is spent: a simple, conservative rule until the full pacer lands.
    """

    def __init__(
        self, *, reserve: float = 0.1, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        if not 0 <= reserve < 1:
            raise ValueError("reserve must be in [0, 1)")
        self._reserve = reserve
        self._sleep = sleep
        self._last: RateLimit | None = None

    @property
    def last(self) -> RateLimit | None:
        """The rate limit seen on the latest response."""
        return self._last

    def observe(self, headers: object) -> None:
        """Note the rate-limit headers of a response (ignored when absent)."""
        limit = read_rate_limit(headers)
        if limit is not None:
            self._last = limit

    def wait_seconds(self) -> float:
        """How long to wait before the next call, given the latest headers."""
        limit = self._last
        if limit is None or limit.maximum <= 0:
            return 0.0
        floor = max(1, int(limit.maximum * self._reserve))
        if limit.remaining > floor:
            return 0.0
        spent_past_floor = (floor - limit.remaining + 1) / (floor + 1)
        return limit.interval_seconds * min(1.0, spent_past_floor)

    def before_call(self) -> None:
        """Sleep as :meth:`wait_seconds` says, then forget the reading (the window moved)."""
        wait = self.wait_seconds()
        if wait > 0:
            self._sleep(wait)
            self._last = None
