"""The daily API allowance, read from ``Sforce-Limit-Info`` and kept above a reserve.

Salesforce answers every REST call with ``Sforce-Limit-Info: api-usage=USED/MAX``: the org's
requests in the last 24 hours (a rolling window shared by every user and tool of the org) and
its allowance. Spending it all makes every call answer 403 ``REQUEST_LIMIT_EXCEEDED`` for
everyone, people's own integrations included, until the window rolls on. So syncd keeps a
``reserve`` (a share of ``MAX``, 20 % by default) for them: once a reading shows the usage at
``MAX * (1 - reserve)`` or more, the next call first probes ``limits/`` (others' usage may have
rolled out of the window), and when that still shows no room the source pauses
(:class:`~connectors.salesforce.errors.AllowanceSpentError`, a
:class:`~model.errors.SourcePausedError`: the service pauses the source, raises one incident
and probes ``limits/`` through ``Connector.allowance`` every ``service.pause_probe_minutes``
until the rolling window has freed room below the ceiling). Within a day there is nothing to
spread: the allowance is counted per 24 hours, not per second, so calls go as fast as answers
come.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from connectors.retry import header
from connectors.salesforce.errors import AllowanceSpentError

log = structlog.get_logger(__name__)
_USAGE = re.compile(r"[^-]?api-usage=(\d+)/(\d+)")  # simple-salesforce's own pattern


@dataclass(frozen=True, slots=True)
class Usage:
    """Requests counted in the rolling 24 hours, and the allowance."""

    used: int
    limit: int

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)


def read_usage(headers: object) -> Usage | None:
    """The ``api-usage`` of ``Sforce-Limit-Info`` (``None`` when absent or unreadable)."""
    raw = header(headers, "Sforce-Limit-Info")
    match = _USAGE.match(raw) if raw else None
    if match is None:
        return None
    return Usage(int(match.group(1)), int(match.group(2)))


def usage_of_limits(body: Mapping[str, Any]) -> Usage | None:
    """The ``DailyApiRequests`` of a ``limits/`` answer."""
    daily = body.get("DailyApiRequests")
    if not isinstance(daily, Mapping):
        return None
    try:
        limit, remaining = int(daily["Max"]), int(daily["Remaining"])
    except (KeyError, TypeError, ValueError):
        return None
    return Usage(limit - remaining, limit)


class Allowance:
    """The latest reading of the allowance and the reserve kept (see the module docstring)."""

    def __init__(self, reserve: float = 0.2) -> None:
        if not 0 <= reserve < 1:
            raise ValueError("reserve must be in [0, 1)")
        self.reserve = reserve
        self.last: Usage | None = None
        self._lock = threading.Lock()

    def observe(self, headers: object) -> None:
        """Note the ``Sforce-Limit-Info`` of an answer (any answer carries it)."""
        usage = read_usage(headers)
        if usage is not None:
            with self._lock:
                self.last = usage

    def note(self, usage: Usage | None) -> None:
        """Keep ``usage`` (a ``limits/`` reading) as the latest reading."""
        if usage is not None:
            with self._lock:
                self.last = usage

    def ceiling(self, usage: Usage) -> int:
        """The usage at which syncd stops: the allowance less the reserve."""
        return int(usage.limit * (1 - self.reserve))

    def at_reserve(self) -> bool:
        last = self.last
        return last is not None and last.used >= self.ceiling(last)

    def check(self, probe: Callable[[], Usage | None]) -> None:
        """Before a call: when the last reading is at the reserve, ``probe`` (``limits/``) for a
        fresh one; raise :class:`AllowanceSpentError` when there is still no room."""
        if not self.at_reserve():
            return
        self.note(probe())
        last = self.last
        if last is not None and last.used >= self.ceiling(last):
            log.warning(
                "api allowance at the reserve",
                used=last.used,
                limit=last.limit,
                reserve=self.reserve,
            )
            raise spent(last, self.reserve)


def spent(usage: Usage | None, reserve: float, *, refused: bool = False) -> AllowanceSpentError:
    """The error that pauses the source, with what the org said; ``refused``: Salesforce
    answered ``REQUEST_LIMIT_EXCEEDED`` (``usage``, when known, is the reading it came with)."""
    if refused or usage is None:
        counted = "" if usage is None else f": {usage.used} of {usage.limit} requests used"
        return AllowanceSpentError(
            f"Salesforce's daily API allowance is spent (REQUEST_LIMIT_EXCEEDED){counted}; the "
            "source pauses until the rolling 24 hours free some of it",
            used=None if usage is None else usage.used,
            limit=None if usage is None else usage.limit,
        )
    return AllowanceSpentError(
        f"Salesforce's daily API allowance is at syncd's reserve: {usage.used} of "
        f"{usage.limit} requests used in the last 24 hours, {reserve:.0%} kept for people and "
        "other tools; the source pauses until the rolling window frees some",
        used=usage.used,
        limit=usage.limit,
    )
