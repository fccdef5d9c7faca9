"""HubSpot's rate limits: a rolling 10-second window, a per-second search limit, a daily quota.

Search has its own limit (5 requests per second per account) and is exempt from the 10-second
window: a search request neither counts in it nor is refused by it (``shared/notes/hubspot.md``).

The limiter counts real requests in real time (``time.monotonic`` unless a ``timer`` is passed),
not in the data clock of :class:`~sandbox.hubspot.store.SandboxState`: a client that paces
itself by sleeping must see the window drain even when the data clock is frozen.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

INTERVAL_MS = 10_000
#: How long a portal locked by heavy writes stays locked (HubSpot: "wait at least 2 s";
#: ``shared/notes/hubspot.md``). The window the load is counted over (one second) is invented.
LOCK_SECONDS = 2.0
LOAD_WINDOW_SECONDS = 1.0
DEFAULT_PER_INTERVAL = 190
"""Private apps on Professional and Enterprise accounts: 190 requests per 10 s (HubSpot developer
changelog, "Increasing our API limits"; ``shared/notes/hubspot.md``)."""
DEFAULT_DAILY = 650_000


@dataclass(frozen=True, slots=True)
class Verdict:
    """The limiter's answer for one request.

    ``policy`` is None when the request may proceed, else the HubSpot policy it broke
    (``TEN_SECONDLY_ROLLING``, ``SECONDLY`` for search, ``DAILY``). ``headers`` are the
    ``X-HubSpot-RateLimit-*`` headers to send either way.
    """

    policy: str | None
    retry_after_s: float
    headers: dict[str, str]


class RateLimiter:
    """Rolling-window request counting with HubSpot's headers.

    ``per_interval``, ``search_per_second`` and ``daily`` are the limits; None means that limit
    is not enforced (the headers then report the default figures). Requests that are refused
    do not count.
    """

    def __init__(
        self,
        *,
        per_interval: int | None = DEFAULT_PER_INTERVAL,
        search_per_second: int | None = 5,
        daily: int | None = DEFAULT_DAILY,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_interval = per_interval
        self.search_per_second = search_per_second
        self.daily = daily
        self.timer = timer
        self._lock = threading.Lock()
        self._window: deque[float] = deque()
        self._search_window: deque[float] = deque()
        self._day: date | None = None
        self._day_count = 0
        #: Writes per second past which the portal answers 423 Locked for LOCK_SECONDS
        #: (None: never). HubSpot documents no figure; tests and rehearsals choose one.
        self.write_lock_threshold: int | None = None
        self._writes: deque[float] = deque()
        self._locked_until: float | None = None

    def check(self, *, search: bool, today: date) -> Verdict:
        """Count one request (if allowed) and say whether it may proceed."""
        with self._lock:
            now = self.timer()
            _expire(self._window, now - INTERVAL_MS / 1000)
            _expire(self._search_window, now - 1.0)
            if self._day != today:
                self._day, self._day_count = today, 0
            policy: str | None = None
            retry = 0.0
            if self.daily is not None and self._day_count >= self.daily:
                policy = "DAILY"
                retry = 3600.0
            elif (
                not search
                and self.per_interval is not None
                and len(self._window) >= self.per_interval
            ):
                policy = "TEN_SECONDLY_ROLLING"
                retry = self._window[len(self._window) - self.per_interval] + 10.0 - now
            elif (
                search
                and self.search_per_second is not None
                and len(self._search_window) >= self.search_per_second
            ):
                policy = "SECONDLY"
                oldest = self._search_window[len(self._search_window) - self.search_per_second]
                retry = oldest + 1.0 - now
            if policy is None:
                self._day_count += 1
                if search:
                    self._search_window.append(now)
                else:
                    self._window.append(now)
            return Verdict(policy, max(retry, 0.0), self._headers())

    def check_write(self) -> float | None:
        """Count one write; the seconds the portal stays locked when it must answer 423 Locked
        (the write is refused and not counted), else None."""
        with self._lock:
            now = self.timer()
            if self._locked_until is not None and now < self._locked_until:
                return self._locked_until - now
            threshold = self.write_lock_threshold
            if threshold is None:
                return None
            _expire(self._writes, now - LOAD_WINDOW_SECONDS)
            if len(self._writes) >= threshold:
                self._locked_until = now + LOCK_SECONDS
                self._writes.clear()
                return LOCK_SECONDS
            self._writes.append(now)
            return None

    def _headers(self) -> dict[str, str]:
        per_interval = self.per_interval or DEFAULT_PER_INTERVAL
        daily = self.daily or DEFAULT_DAILY
        return {
            "X-HubSpot-RateLimit-Max": str(per_interval),
            "X-HubSpot-RateLimit-Remaining": str(max(per_interval - len(self._window), 0)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(INTERVAL_MS),
            "X-HubSpot-RateLimit-Daily": str(daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(daily - self._day_count, 0)),
        }

    def headers(self) -> dict[str, str]:
        """The current headers without counting a request."""
        with self._lock:
            _expire(self._window, self.timer() - INTERVAL_MS / 1000)
            return self._headers()


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


def _expire(window: deque[float], cutoff: float) -> None:
    while window and window[0] <= cutoff:
        window.popleft()
