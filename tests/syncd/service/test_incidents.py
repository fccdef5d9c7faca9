"""Incidents: the pure decision (open, update, remind, resolve) and what a run or clock says."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.service.incidents import (
    Action,
    Cause,
    Incident,
    IncidentTracker,
    MemoryIncidentStore,
    Recovery,
    RunFacts,
    Symptom,
    assess_run,
    assess_staleness,
)

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
tracker = IncidentTracker(quiet_period=timedelta(hours=4))


def _symptom(minutes: float, cause: Cause = Cause.AUTH, source: str = "crm") -> Symptom:
    return Symptom(source, cause, f"401 at +{minutes} min", T0 + timedelta(minutes=minutes))


def test_a_first_symptom_opens_an_incident_and_alerts() -> None:
    decision = tracker.decide([], _symptom(0))
    assert decision.action is Action.OPEN
    assert decision.notify
    assert decision.incident == Incident(
        source="crm",
        cause=Cause.AUTH,
        first_seen=T0,
        last_seen=T0,
        count=1,
        message="401 at +0 min",
        last_notified=T0,
    )


def test_later_symptoms_update_silently_until_the_quiet_period_then_remind() -> None:
    opened = tracker.decide([], _symptom(0)).incident
    assert opened is not None
    update = tracker.decide([opened], _symptom(30))
    assert (update.action, update.notify) == (Action.UPDATE, False)
    assert update.incident is not None
    assert (update.incident.count, update.incident.last_seen) == (2, T0 + timedelta(minutes=30))
    assert update.incident.message == "401 at +30 min"
    assert update.incident.last_notified == T0

    remind = tracker.decide([update.incident], _symptom(240))
    assert (remind.action, remind.notify) == (Action.REMIND, True)
    assert remind.incident is not None
    assert remind.incident.count == 3
    assert remind.incident.last_notified == T0 + timedelta(hours=4)
    assert remind.incident.first_seen == T0

    # the quiet period starts again at the reminder
    again = tracker.decide([remind.incident], _symptom(300))
    assert again.action is Action.UPDATE


def test_a_recovery_resolves_the_open_incident_and_tells() -> None:
    opened = tracker.decide([], _symptom(0)).incident
    assert opened is not None
    decision = tracker.decide([opened], Recovery("crm", Cause.AUTH, T0 + timedelta(hours=1)))
    assert (decision.action, decision.notify) == (Action.RESOLVE, True)
    assert decision.incident is not None
    assert decision.incident.resolved_at == T0 + timedelta(hours=1)
    assert decision.incident.resolved


def test_a_recovery_with_nothing_open_does_nothing() -> None:
    decision = tracker.decide([], Recovery("crm", Cause.AUTH, T0))
    assert (decision.action, decision.incident, decision.notify) == (Action.NOTHING, None, False)


def test_other_sources_and_causes_and_resolved_incidents_are_not_this_one() -> None:
    other_source = tracker.decide([], _symptom(0, source="other")).incident
    other_cause = tracker.decide([], _symptom(0, cause=Cause.STALE)).incident
    opened = tracker.decide([], _symptom(0)).incident
    assert other_source is not None
    assert other_cause is not None
    assert opened is not None
    resolved = tracker.decide([opened], Recovery("crm", Cause.AUTH, T0)).incident
    assert resolved is not None
    decision = tracker.decide([other_source, other_cause, resolved], _symptom(10))
    assert decision.action is Action.OPEN
    assert decision.incident is not None
    assert decision.incident.first_seen == T0 + timedelta(minutes=10)


def test_the_quiet_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        IncidentTracker(timedelta(0))


@given(st.lists(st.integers(min_value=0, max_value=60 * 24 * 3), min_size=1, max_size=40))
def test_a_lasting_cause_alerts_once_then_at_most_once_per_quiet_period(
    offsets: list[int],
) -> None:
    open_: list[Incident] = []
    notified: list[datetime] = []
    for minutes in sorted(offsets):
        decision = tracker.decide(open_, _symptom(minutes))
        assert decision.incident is not None
        open_ = [decision.incident]
        if decision.notify:
            notified.append(decision.incident.last_seen)
    assert open_[0].count == len(offsets)
    assert notified[0] == T0 + timedelta(minutes=min(offsets))
    gaps = [b - a for a, b in itertools.pairwise(notified)]
    assert all(gap >= timedelta(hours=4) for gap in gaps)


def test_the_memory_store_keeps_open_incidents_per_source() -> None:
    store = MemoryIncidentStore()
    opened = tracker.decide([], _symptom(0)).incident
    assert opened is not None
    store.save_incident(opened)
    store.save_incident(tracker.decide([], _symptom(0, source="other")).incident)  # type: ignore[arg-type]
    assert store.open_incidents("crm") == [opened]
    resolved = tracker.decide([opened], Recovery("crm", Cause.AUTH, T0)).incident
    assert resolved is not None
    assert not store.save_incident(resolved)  # an update names what it updates
    assert store.save_incident(resolved, previous=opened)
    assert store.open_incidents("crm") == []
    assert len(store.open_incidents("other")) == 1
    assert not store.save_incident(resolved, previous=opened)  # it changed meanwhile


# -- what a run says --------------------------------------------------------------------------


def _kinds(events: list[Symptom | Recovery]) -> set[tuple[str, Cause]]:
    return {(type(e).__name__, e.cause) for e in events}


def test_an_auth_failure_is_one_symptom_of_its_own_cause() -> None:
    events = assess_run(RunFacts("crm", T0, error="401 INVALID_AUTHENTICATION", auth_failure=True))
    assert _kinds(events) == {("Symptom", Cause.AUTH)}
    assert isinstance(events[0], Symptom)
    assert events[0].message == "401 INVALID_AUTHENTICATION"


def test_a_spent_allowance_is_a_pause_not_an_auth_failure() -> None:
    events = assess_run(
        RunFacts("crm", T0, error="REQUEST_LIMIT_EXCEEDED", auth_failure=True, paused=True)
    )
    assert _kinds(events) == {("Symptom", Cause.PAUSED)}


def test_a_pause_never_reminds() -> None:
    first = Symptom("crm", Cause.PAUSED, "allowance spent", T0)
    opened = tracker.decide([], first).incident
    assert opened is not None
    day_later = Symptom("crm", Cause.PAUSED, "allowance spent", T0 + timedelta(hours=23))
    decision = tracker.decide([opened], day_later)
    assert decision.action is Action.UPDATE
    assert not decision.notify


def test_a_failed_run_is_a_run_failed_symptom_and_recovers_nothing() -> None:
    events = assess_run(RunFacts("crm", T0, error="HTTP 502 after 5 attempts"))
    assert _kinds(events) == {("Symptom", Cause.RUN_FAILED)}


def test_a_completed_run_recovers_and_checks_the_failed_share() -> None:
    clean = assess_run(RunFacts("crm", T0, operations=100, failed_operations=5))
    assert _kinds(clean) == {
        ("Recovery", Cause.RUN_FAILED),
        ("Recovery", Cause.AUTH),
        ("Recovery", Cause.PAUSED),
        ("Recovery", Cause.STALE),
        ("Recovery", Cause.FAILED_OPERATIONS),
        ("Recovery", Cause.SAFETY_RAIL),
    }
    over = assess_run(RunFacts("crm", T0, operations=100, failed_operations=6))
    symptom = next(e for e in over if isinstance(e, Symptom))
    assert symptom.cause is Cause.FAILED_OPERATIONS
    assert symptom.message == "6 of 100 operations failed (6.0%; the limit is 5%)"
    stricter = assess_run(RunFacts("crm", T0, operations=100, failed_operations=2), 0.01)
    assert ("Symptom", Cause.FAILED_OPERATIONS) in _kinds(stricter)


def test_a_tripped_rail_is_a_symptom_even_when_the_run_completed() -> None:
    events = assess_run(RunFacts("crm", T0, rail="merges: 300 planned, the ceiling is 100"))
    assert ("Symptom", Cause.SAFETY_RAIL) in _kinds(events)
    assert ("Recovery", Cause.RUN_FAILED) in _kinds(events)


def test_staleness_after_the_configured_number_of_intervals() -> None:
    interval = timedelta(minutes=15)
    fresh = assess_staleness("crm", T0, interval, T0 + timedelta(minutes=45))
    assert isinstance(fresh, Recovery)
    stale = assess_staleness("crm", T0, interval, T0 + timedelta(minutes=46))
    assert isinstance(stale, Symptom)
    assert stale.cause is Cause.STALE
    assert stale.message == (
        "no successful sync since 2024-05-01 09:00 UTC (46 min; the limit is 45 min)"
    )
    assert isinstance(assess_staleness("crm", T0, interval, T0 + timedelta(hours=2), 10), Recovery)
