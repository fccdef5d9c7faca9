"""Shared pieces of the sandbox tests: a fixed moment and a clock that stays there until moved."""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Clock:
    """The sandbox's clock in tests: reads ``now``, which a test moves by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now
