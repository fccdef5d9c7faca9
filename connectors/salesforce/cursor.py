"""Cursor arithmetic for Salesforce pulls: pure functions, property-tested on their own."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum


class Deletions(Enum):
    """How an incremental pull learns what was deleted or merged since its window starts."""

    NONE = "none"
    """The window is empty (a cursor ahead of the run start): nothing to ask."""
    LOG = "log"
    """The ``deleted`` resource (its log reaches back 15 days)."""
    RECONCILE = "reconcile"
    """Further back than the log reaches: ``queryAll`` of the recycle bin since the window."""


def advance(
    current: datetime | None, seen: datetime | None, run_started_at: datetime
) -> datetime | None:
    """The cursor after reading records up to ``SystemModstamp`` ``seen``: never past
    ``run_started_at``, never behind ``current`` (which wins if it is somehow past the run
    start already: a cursor does not move backwards)."""
    if seen is None:
        return current
    candidate = min(seen, run_started_at)
    if current is None:
        return candidate
    return max(current, candidate)


def read_from(cursor: datetime, lookback: timedelta) -> datetime:
    """Where an incremental read starts: the cursor less the lookback, so records whose
    transaction committed late (with a ``SystemModstamp`` before others already read) are read
    too; what repeats is de-duplicated."""
    return cursor - lookback


def deletions(since: datetime, run_started_at: datetime, log_days: int) -> Deletions:
    """How to read deletions of the window [``since``, ``run_started_at``): the log answers
    windows of more than a minute starting within ``log_days`` (it ignores seconds)."""
    if since >= run_started_at - timedelta(minutes=1):
        return Deletions.NONE if since >= run_started_at else Deletions.RECONCILE
    if run_started_at - since > timedelta(days=log_days) - timedelta(minutes=5):
        return Deletions.RECONCILE
    return Deletions.LOG
