"""Incidents: one per source and root cause, and the pure function that says what to tell whom.

Rules of :meth:`IncidentTracker.decide`, given the source's open incidents and one event:

1. A symptom of a cause with no open incident opens one and alerts (``OPEN``).
2. A later symptom of the same cause updates that incident (count, last seen, latest message)
   without alerting (``UPDATE``), unless the quiet period has passed since the incident last
   alerted: then it reminds (``REMIND``) and the quiet period starts again. A pause
   (``PAUSED``) never reminds: it is the vendor's doing, it ends by itself, and its end is
   the news.
3. A recovery of a cause with an open incident resolves it and sends a recovery message
   (``RESOLVE``); a recovery with nothing open does nothing (``NOTHING``).

What counts as a symptom or a recovery after a run is decided by :func:`assess_run` (a failed
run, an authentication or permission failure, a vendor's daily allowance spent, too large a
share of failed operations, a tripped safety rail) and :func:`assess_staleness` (no successful
run for too long); a failed
completeness audit is a :class:`Symptom` of :attr:`Cause.COMPLETENESS` made by the audit. No
I/O and no clock here: every time comes in with the event. Incidents are kept by an
:class:`IncidentStore` so that they survive restarts and fail-over; it saves compare-and-set, so
that of two replicas deciding about one source at once only one alerts (the other reads again
and decides again).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Cause(enum.StrEnum):
    """The root cause an incident is about; one open incident per source and cause."""

    RUN_FAILED = "run_failed"
    AUTH = "auth"
    FAILED_OPERATIONS = "failed_operations"
    SAFETY_RAIL = "safety_rail"
    STALE = "stale"
    COMPLETENESS = "completeness"
    PAUSED = "paused"

    @property
    def describe(self) -> str:
        """What went wrong, in a few words a person reads in an alert."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Cause.RUN_FAILED: "sync runs fail",
    Cause.AUTH: "the CRM refuses the credentials (authentication or permission)",
    Cause.FAILED_OPERATIONS: "too many write operations fail",
    Cause.SAFETY_RAIL: "a safety rail stopped the push",
    Cause.STALE: "no successful sync for too long",
    Cause.COMPLETENESS: "the store drifted from the CRM (completeness audit)",
    Cause.PAUSED: "paused: the CRM's daily API allowance is at syncd's reserve or spent",
}

#: Causes whose incidents never remind (rule 2).
NO_REMINDERS = frozenset({Cause.PAUSED})


@dataclass(frozen=True, slots=True)
class Incident:
    """One root cause at one source, from its first symptom until it is resolved."""

    source: str
    cause: Cause
    first_seen: datetime
    last_seen: datetime
    count: int
    """Symptoms seen, the first included."""
    message: str
    """The latest symptom's message."""
    last_notified: datetime
    """When the channels were last told (opened or reminded)."""
    resolved_at: datetime | None = None

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None


@dataclass(frozen=True, slots=True)
class Symptom:
    """Something is wrong at ``source`` because of ``cause``, seen at ``at``."""

    source: str
    cause: Cause
    message: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Recovery:
    """``cause`` is no longer seen at ``source`` (e.g. a run succeeded), at ``at``."""

    source: str
    cause: Cause
    at: datetime


Event = Symptom | Recovery


class Action(enum.StrEnum):
    OPEN = "open"
    UPDATE = "update"
    REMIND = "remind"
    RESOLVE = "resolve"
    NOTHING = "nothing"


NOTIFYING = frozenset({Action.OPEN, Action.REMIND, Action.RESOLVE})


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do about one event: the incident to save (None: nothing) and whether to tell."""

    action: Action
    incident: Incident | None

    @property
    def notify(self) -> bool:
        return self.action in NOTIFYING


DEFAULT_QUIET_PERIOD = timedelta(hours=4)


class IncidentTracker:
    """Decides, per event, between open, update, remind, resolve and nothing (module rules)."""

    def __init__(self, quiet_period: timedelta = DEFAULT_QUIET_PERIOD) -> None:
        if quiet_period <= timedelta(0):
            raise ValueError("the quiet period must be positive")
        self.quiet_period = quiet_period

    def decide(self, open_incidents: Sequence[Incident], event: Event) -> Decision:
        """The decision for ``event`` given the open incidents (others' are ignored)."""
        current = current_incident(open_incidents, event.source, event.cause)
        if isinstance(event, Recovery):
            if current is None:
                return Decision(Action.NOTHING, None)
            return Decision(Action.RESOLVE, replace(current, resolved_at=event.at))
        if current is None:
            opened = Incident(
                source=event.source,
                cause=event.cause,
                first_seen=event.at,
                last_seen=event.at,
                count=1,
                message=event.message,
                last_notified=event.at,
            )
            return Decision(Action.OPEN, opened)
        updated = replace(
            current,
            last_seen=max(current.last_seen, event.at),
            count=current.count + 1,
            message=event.message,
        )
        quiet = event.cause in NO_REMINDERS
        if not quiet and event.at - current.last_notified >= self.quiet_period:
            return Decision(Action.REMIND, replace(updated, last_notified=event.at))
        return Decision(Action.UPDATE, updated)


def current_incident(incidents: Sequence[Incident], source: str, cause: Cause) -> Incident | None:
    """The open incident of ``source`` and ``cause``; the oldest if a store holds several."""
    matching = [i for i in incidents if i.source == source and i.cause == cause and not i.resolved]
    return min(matching, key=lambda i: i.first_seen, default=None)


class IncidentStore(Protocol):
    """Where incidents are kept (a table of the state store; :class:`MemoryIncidentStore`)."""

    def open_incidents(self, source: str) -> list[Incident]:
        """The unresolved incidents of ``source``."""
        ...

    def save_incident(self, incident: Incident, previous: Incident | None = None) -> bool:
        """Save the incident of (source, cause, first_seen), compare-and-set.

        With ``previous`` (the open incident the decision started from), it replaces it only
        while the stored one still equals it. Without, the incident is new: saved only when no
        incident of its source and cause is open and none has its key. False (nothing saved)
        when someone else saved first.
        """
        ...


class MemoryIncidentStore:
    """An :class:`IncidentStore` in a dict, for tests and for a service without a store."""

    def __init__(self) -> None:
        self.incidents: dict[tuple[str, Cause, datetime], Incident] = {}

    def open_incidents(self, source: str) -> list[Incident]:
        return [i for i in self.incidents.values() if i.source == source and not i.resolved]

    def save_incident(self, incident: Incident, previous: Incident | None = None) -> bool:
        key = (incident.source, incident.cause, incident.first_seen)
        if previous is not None:
            if self.incidents.get(key) != previous:
                return False
        elif key in self.incidents or any(
            i.cause == incident.cause for i in self.open_incidents(incident.source)
        ):
            return False
        self.incidents[key] = incident
        return True


# -- what a run or a clock reading says ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What the engine reports of one finished run, in the terms alerts need."""

    source: str
    at: datetime
    error: str | None = None
    """Why the run failed (None: it completed, perhaps with failed operations)."""
    auth_failure: bool = False
    """The failure was the CRM refusing the credentials or their scopes."""
    paused: bool = False
    """The failure was the CRM's daily API allowance spent (or at syncd's reserve)."""
    operations: int = 0
    """Write operations attempted."""
    failed_operations: int = 0
    rail: str | None = None
    """The safety rail that stopped the push, if one did."""


DEFAULT_FAILED_SHARE = 0.05
DEFAULT_STALE_INTERVALS = 3.0


def assess_run(facts: RunFacts, failed_share: float = DEFAULT_FAILED_SHARE) -> list[Event]:
    """The symptoms and recoveries one run shows.

    A failed run is one symptom: ``PAUSED`` when the CRM's daily allowance is spent, ``AUTH``
    when the credentials were refused, ``RUN_FAILED`` otherwise (one root cause, one
    incident). A completed run recovers all three and ``STALE``. A
    completed run with more than ``failed_share`` of its operations failed is a
    ``FAILED_OPERATIONS`` symptom, otherwise its recovery; a tripped rail is a ``SAFETY_RAIL``
    symptom, a completed run without one its recovery.
    """
    src, at = facts.source, facts.at
    events: list[Event] = []
    if facts.error is not None:
        cause = Cause.RUN_FAILED
        if facts.paused:
            cause = Cause.PAUSED
        elif facts.auth_failure:
            cause = Cause.AUTH
        events.append(Symptom(src, cause, facts.error, at))
    else:
        recovered = (Cause.RUN_FAILED, Cause.AUTH, Cause.PAUSED, Cause.STALE)
        events += [Recovery(src, c, at) for c in recovered]
        share = facts.failed_operations / facts.operations if facts.operations else 0.0
        if share > failed_share:
            message = (
                f"{facts.failed_operations} of {facts.operations} operations failed "
                f"({share:.1%}; the limit is {failed_share:.0%})"
            )
            events.append(Symptom(src, Cause.FAILED_OPERATIONS, message, at))
        else:
            events.append(Recovery(src, Cause.FAILED_OPERATIONS, at))
    if facts.rail is not None:
        events.append(Symptom(src, Cause.SAFETY_RAIL, facts.rail, at))
    elif facts.error is None:
        events.append(Recovery(src, Cause.SAFETY_RAIL, at))
    return events


def assess_staleness(
    source: str,
    last_success: datetime,
    interval: timedelta,
    now: datetime,
    intervals: float = DEFAULT_STALE_INTERVALS,
) -> Event:
    """``STALE`` when the last success (or the start, before any) is over ``intervals`` ago."""
    limit = interval * intervals
    age = now - last_success
    if age > limit:
        message = (
            f"no successful sync since {last_success.astimezone(UTC):%Y-%m-%d %H:%M} UTC "
            f"({_span(age)}; the limit is {_span(limit)})"
        )
        return Symptom(source, Cause.STALE, message, now)
    return Recovery(source, Cause.STALE, now)


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes / 60
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"
