"""Client-side pacing by HubSpot's rate-limit headers, so that a steady state sees no 429.

HubSpot answers every call (errors included) with ``X-HubSpot-RateLimit-Max``, ``-Remaining``
and ``-Interval-Milliseconds``: a rolling window (10 s for private apps) shared by every client
of the token. The pacer keeps two things: the latest reading, and when each of its own calls of
the last interval completed. From them, before each call:

* **the budget**: the window's maximum, less a ``reserve`` (a fraction of the maximum, at least
  one request) kept for others, less what other clients of the token used (the reading's
  ``Max - Remaining`` minus our own calls still in the window then);
* **a hard stop**: when our calls in the window fill the budget, wait until the oldest of them
  leaves it;
* **spreading**: once our calls in the window reach ``spread_below`` of the budget, keep at least
  ``interval / budget`` between calls (the sustainable rate), so the budget lasts the whole
  window instead of being spent in a burst and then waited out. Below that, calls go at once.
* after a ``Retry-After`` (a 429), nothing before that many seconds (that answer's counts are
  not read: the server said when there is room).

Our calls are stamped when their answer (or failure) arrives, never earlier than HubSpot counted
them, so the local window never frees a slot before HubSpot's does: one client calling
sequentially never sends a request the window has no room for. Time is injectable (``clock``,
``sleep``) so tests never wait.

**Several calls in flight.** A pull keeps a few requests in flight (threads), all paced by one
pacer. :meth:`Pacer.before_call` decides under a lock and *reserves* the call at once: until it
completes it counts as one of ours in the window, and its planned start is what the next call
is spread from, so threads waiting at the same moment queue one behind the other instead of all
going when the window frees a slot. A ``Retry-After`` stops every thread: one that already
reserved looks again once its own wait is over. Called from one thread, a pacer behaves exactly
as it did before reservations (nothing is in flight when the next call asks).

Search is paced apart (:class:`SearchPacer`): it has its own limit of 5 requests per second per
account, is exempt from the 10-second window and answers without rate-limit headers, and its
429 names no policy (``shared/notes/hubspot.md``). So search calls never enter the window
above; they keep at most ``per_second`` of our searches in any rolling second, and after a
search 429 none goes out for a second.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from connectors.retry import header, retry_after_header

log = structlog.get_logger(__name__)
#: Waits at least this long are logged at info (shorter ones, the spreading, at debug).
NOTABLE_WAIT_SECONDS = 1.0


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
    """Waits before a call as the module docstring says.

    Call :meth:`before_call` before each HTTP attempt and :meth:`observe` once it completed
    (with its headers, or ``None`` when it failed without an answer).
    """

    def __init__(
        self,
        *,
        reserve: float = 0.1,
        spread_below: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= reserve < 1:
            raise ValueError("reserve must be in [0, 1)")
        if not 0 <= spread_below <= 1:
            raise ValueError("spread_below must be in [0, 1]")
        self._reserve = reserve
        self._spread_below = spread_below
        self._sleep = sleep
        self._clock = clock
        self._last: RateLimit | None = None
        self._seen_at = 0.0
        self._others = 0
        self._own: deque[float] = deque()
        self._resume_at: float | None = None
        self._lock = threading.Lock()
        self._in_flight = 0
        self._last_start = -math.inf

    @property
    def last(self) -> RateLimit | None:
        """The rate limit seen on the latest response."""
        return self._last

    @property
    def sleep(self) -> Callable[[float], None]:
        return self._sleep

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    def observe(self, headers: object, status: int | None = None) -> None:
        """Note that a call completed, and its rate-limit headers or ``Retry-After`` (either
        may be absent: a failure without an answer still counts as a call). ``status`` is the
        answer's HTTP status, when there was one (unused here)."""
        del status
        with self._lock:
            now = self._clock()
            self._in_flight = max(0, self._in_flight - 1)
            self._own.append(now)
            retry_after = retry_after_header(headers)
            if retry_after is not None:  # the server said when there is room: trust it
                self._resume_at = now + retry_after
                return
            limit = read_rate_limit(headers)
            if limit is None:
                return
            self._expire(now, limit.interval_seconds)
            self._last = limit
            self._seen_at = now
            # Our calls still in flight may already be counted by HubSpot: taking them for
            # others' would shrink the budget by as many as we keep in flight, on every reading.
            used_by_us = len(self._own) + self._in_flight
            self._others = max(0, limit.maximum - limit.remaining - used_by_us)

    def _expire(self, now: float, interval: float) -> None:
        while self._own and self._own[0] <= now - interval:
            self._own.popleft()

    def budget(self) -> int | None:
        """How many of our calls the window has room for (``None`` before any reading)."""
        with self._lock:
            return self._budget(self._clock())

    def _budget(self, now: float) -> int | None:
        limit = self._last
        if limit is None:
            return None
        floor = max(1, int(limit.maximum * self._reserve))
        stale = now - self._seen_at >= limit.interval_seconds
        others = 0 if stale else self._others
        return max(1, limit.maximum - floor - others)

    def wait_seconds(self) -> float:
        """How long the next call would wait (nothing reserved)."""
        with self._lock:
            return self._wait(self._clock())

    def _wait(self, now: float) -> float:
        waits = [0.0]
        if self._resume_at is not None:
            waits.append(self._resume_at - now)
        limit, budget = self._last, self._budget(now)
        if limit is not None and budget is not None:
            interval = limit.interval_seconds
            self._expire(now, interval)
            own = self._own
            occupied = len(own) + self._in_flight
            if occupied >= budget:
                # the oldest of ours that must leave the window first; a window filled by
                # calls still in flight waits a whole interval after the latest start
                index = occupied - budget
                waits.append(
                    own[index] + interval - now
                    if index < len(own)
                    else self._last_start + interval - now
                )
            if occupied and occupied >= math.ceil(budget * self._spread_below):
                latest = max(own[-1] if own else -math.inf, self._last_start)
                waits.append(latest + interval / budget - now)
        return max(waits)

    def before_call(self) -> None:
        """Reserve the next call and sleep as :meth:`wait_seconds` says (see the module
        docstring); after the sleep, wait out a ``Retry-After`` that came meanwhile."""
        with self._lock:
            now = self._clock()
            wait = self._wait(now)
            self._in_flight += 1
            self._last_start = now + max(wait, 0.0)
            reason = "retry-after" if self._resume_at is not None else "rate limit window"
        if wait > 0:
            _log_wait(wait, reason)
            self._sleep(wait)
        with self._lock:
            now = self._clock()
            more = self._resume_at - now if self._resume_at is not None else 0.0
        if more > 0:
            _log_wait(more, "retry-after")
            self._sleep(more)


def _log_wait(seconds: float, reason: str) -> None:
    level = log.info if seconds >= NOTABLE_WAIT_SECONDS else log.debug
    level("waiting", seconds=round(seconds, 3), reason=reason)


#: How long search stays quiet after its 429 ("You have reached your secondly limit."): the
#: limit is per second (``shared/notes/hubspot.md``).
SEARCH_BACKOFF_SECONDS = 1.0


class SearchPacer:
    """Paces search calls by HubSpot's per-second search limit (see the module docstring).

    Calls are stamped when they complete, as :class:`Pacer` does, and reserved when they are
    let go, as :class:`Pacer` does: before a call, wait until fewer than ``per_second`` of ours
    completed in the last second or are in flight, and until a second has passed since a
    search 429.
    """

    def __init__(
        self,
        *,
        per_second: int,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_second < 1:
            raise ValueError("per_second must be at least 1")
        self._per_second = per_second
        self._sleep = sleep
        self._clock = clock
        self._own: deque[float] = deque()
        self._resume_at: float | None = None
        self._lock = threading.Lock()
        self._in_flight = 0
        self._starts: deque[float] = deque()

    def observe(self, headers: object, status: int | None = None) -> None:
        """Note that a search completed (``status`` 429: HubSpot refused it for the second)."""
        del headers
        with self._lock:
            now = self._clock()
            self._in_flight = max(0, self._in_flight - 1)
            self._own.append(now)
            if status == 429:
                self._resume_at = now + SEARCH_BACKOFF_SECONDS

    def wait_seconds(self) -> float:
        with self._lock:
            return self._wait(self._clock())

    def _wait(self, now: float) -> float:
        while self._own and self._own[0] <= now - 1.0:
            self._own.popleft()
        while self._starts and self._starts[0] <= now - 1.0:
            self._starts.popleft()
        waits = [0.0]
        if self._resume_at is not None:
            waits.append(self._resume_at - now)
        occupied = len(self._own) + self._in_flight
        if occupied >= self._per_second:
            index = occupied - self._per_second
            if index < len(self._own):
                waits.append(self._own[index] + 1.0 - now)
            else:  # the second is full of searches still in flight: a second after the latest
                waits.append(max(self._starts, default=now) + 1.0 - now)
        return max(waits)

    def before_call(self) -> None:
        with self._lock:
            now = self._clock()
            wait = self._wait(now)
            self._in_flight += 1
            self._starts.append(now + max(wait, 0.0))
        if wait > 0:
            _log_wait(wait, "search limit")
            self._sleep(wait)
