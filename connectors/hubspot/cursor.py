"""Cursor arithmetic for HubSpot pulls: pure functions, property-tested on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_epoch_ms(moment: datetime) -> int:
    """``moment`` in epoch milliseconds, rounded down (exact integer arithmetic)."""
    return (moment - _EPOCH) // _MS


def from_epoch_ms(value: int) -> datetime:
    """Epoch milliseconds as an aware UTC datetime."""
    return _EPOCH + value * _MS


def advance(
    current: datetime | None, seen: datetime | None, run_started_at: datetime
) -> datetime | None:
    """The cursor after reading records up to last-modified ``seen``.

    Never past ``run_started_at`` and never behind ``current`` (which wins if it is somehow
    already past the run start: a cursor does not move backwards).
    """
    if seen is None:
        return current
    candidate = min(seen, run_started_at)
    if current is None:
        return candidate
    return max(current, candidate)


def read_from(cursor: datetime, lookback: timedelta) -> int:
    """Where an incremental read starts, in epoch ms: the cursor minus the lookback."""
    return to_epoch_ms(cursor - lookback)
