"""A data clock that can be moved forward at run time (``POST /_sandbox/clock``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta


class SettableClock:
    """``base()`` plus an offset that only grows: time never runs backwards.

    Pass it as ``SandboxState(clock=...)``; the control endpoint then lets a client jump ahead
    (to age records past a staleness threshold, say) while the sandbox runs.
    """

    def __init__(self, base: Callable[[], datetime]) -> None:
        self._base = base
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._base() + self._offset

    def advance(self, delta: timedelta) -> datetime:
        """Move ahead by ``delta`` (not negative); return the new time."""
        if delta < timedelta(0):
            raise ValueError("the clock cannot go backwards")
        with self._lock:
            self._offset += delta
            return self._base() + self._offset

    def set(self, moment: datetime) -> datetime:
        """Jump to ``moment`` (aware, not before the current time); return it."""
        if moment.tzinfo is None:
            raise ValueError("the time must carry a timezone")
        with self._lock:
            now = self._base() + self._offset
            if moment < now:
                raise ValueError("the clock cannot go backwards")
            self._offset += moment - now
            return moment
