"""The scheduler: intervals and cron, one run per source at a time, backoff, coalescing, stop.

No test sleeps for a duration it then asserts on: runs are awaited through events (with a
generous guard timeout), and times are compared with each other, never with a stopwatch.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from syncd.service.scheduler import (
    Cron,
    Every,
    RunResult,
    Scheduler,
    ScheduleSettings,
    backoff_delay,
    default_jitter,
    interval_of,
)

GUARD = 10.0  # seconds: only ever reached when the behaviour under test is broken


@pytest.fixture
def results() -> list[RunResult]:
    return []


@pytest.fixture
def scheduler(results: list[RunResult]) -> Iterator[Scheduler]:
    sched = Scheduler(on_result=results.append)
    yield sched
    sched.stop(grace_seconds=GUARD)


def _wait(event: threading.Event) -> None:
    assert event.wait(GUARD), "the scheduler did not get there"


# -- pure parts -------------------------------------------------------------------------------


def test_backoff_doubles_per_failure_up_to_five_intervals_for_short_intervals() -> None:
    minute = timedelta(minutes=1)
    delays = [backoff_delay(minute, n) for n in (1, 2, 3, 4, 40)]
    assert delays == [2 * minute, 4 * minute, 5 * minute, 5 * minute, 5 * minute]


def test_backoff_is_capped_at_fifteen_minutes_for_long_intervals() -> None:
    assert backoff_delay(timedelta(minutes=5), 1) == timedelta(minutes=10)
    assert backoff_delay(timedelta(minutes=5), 2) == timedelta(minutes=15)
    assert backoff_delay(timedelta(hours=1), 1) == timedelta(minutes=15)
    assert backoff_delay(timedelta(days=1), 7) == timedelta(minutes=15)
    with pytest.raises(ValueError, match="from 1"):
        backoff_delay(timedelta(minutes=1), 0)


def test_settings_every_override_wins_and_cron_or_interval_otherwise() -> None:
    assert ScheduleSettings().schedule() == Every(900)
    assert ScheduleSettings(every_seconds=60).schedule() == Every(60)
    cron = ScheduleSettings(cron="*/10 * * * *", timezone="Europe/Berlin")
    assert cron.schedule() == Cron("*/10 * * * *", "Europe/Berlin")
    assert cron.schedule(every_override=5) == Every(5)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"every_seconds": 60, "cron": "* * * * *"}, "not both"),
        ({"cron": "61 * * * *"}, "five crontab fields.*61"),
        ({"cron": "* * * *"}, "Wrong number of fields"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"every_seconds": 0}, "greater than 0"),
        ({"every": 60}, "Extra inputs"),
    ],
)
def test_settings_refuse_what_cannot_run(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ScheduleSettings.model_validate(data)


def test_a_cron_interval_is_the_gap_between_its_next_two_times() -> None:
    now = datetime(2024, 5, 1, 12, 3, tzinfo=UTC)
    assert interval_of(Cron("*/10 * * * *"), now) == timedelta(minutes=10)
    assert interval_of(Cron("0 6 * * *"), now) == timedelta(days=1)
    assert interval_of(Every(90), now) == timedelta(seconds=90)
    assert default_jitter(timedelta(seconds=60)) == timedelta(seconds=6)
    assert default_jitter(timedelta(hours=1)) == timedelta(seconds=30)


# -- running ----------------------------------------------------------------------------------


def test_a_source_runs_again_and_again_and_gets_the_stop_flag(scheduler: Scheduler) -> None:
    flags: list[threading.Event] = []
    three = threading.Event()

    def job(stop: threading.Event) -> None:
        flags.append(stop)
        if len(flags) == 3:
            three.set()

    scheduler.add("crm", job, Every(0.02), jitter=timedelta(0))
    scheduler.start()
    assert scheduler.running
    _wait(three)
    assert all(flag is scheduler.stop_flag for flag in flags)


def test_never_two_runs_of_one_source_at_once(scheduler: Scheduler) -> None:
    interval = 0.01
    inside = 0
    most_inside = 0
    calls = 0
    guard = threading.Lock()
    second_run = threading.Event()

    def job(stop: threading.Event) -> None:
        nonlocal inside, most_inside, calls
        with guard:
            inside += 1
            calls += 1
            most_inside = max(most_inside, inside)
            first = calls == 1
        if first:
            # stay in flight while at least five fire times of this source pass
            due = scheduler.next_run("crm")
            assert due is not None
            while (now := scheduler.next_run("crm")) is not None and now < due + timedelta(
                seconds=5 * interval
            ):
                stop.wait(0.005)
        else:
            second_run.set()
        with guard:
            inside -= 1

    scheduler.add("crm", job, Every(interval), jitter=timedelta(0))
    scheduler.start()
    _wait(second_run)
    assert most_inside == 1


def test_a_failing_source_backs_off_and_the_others_go_on() -> None:
    far = datetime(2100, 1, 1, tzinfo=UTC)
    results: list[RunResult] = []
    failed = threading.Event()
    good_runs = threading.Event()
    count = 0

    def on_result(result: RunResult) -> None:
        nonlocal count
        results.append(result)
        if result.source == "bad":
            failed.set()
        else:
            count += 1
            if count == 3:
                good_runs.set()

    def bad(stop: threading.Event) -> None:
        raise RuntimeError("401 from the CRM")

    sched = Scheduler(clock=lambda: far, on_result=on_result)
    try:
        sched.add("bad", bad, Every(0.02), jitter=timedelta(0))
        sched.add("good", lambda stop: None, Every(0.02), jitter=timedelta(0))
        sched.start()
        _wait(failed)
        _wait(good_runs)
        failure = next(r for r in results if r.source == "bad")
        assert isinstance(failure.error, RuntimeError)
        assert failure.failures == 1
        expected = far + backoff_delay(timedelta(seconds=0.02), 1)
        assert failure.next_run == expected
        assert sched.next_run("bad") == expected
        assert sched.failures("bad") == 1
        assert [r.succeeded for r in results if r.source == "good"][:3] == [True] * 3
    finally:
        assert sched.stop(GUARD)


def test_failures_in_a_row_double_the_wait_up_to_the_cap_and_a_success_resets() -> None:
    interval = timedelta(seconds=0.02)
    outcomes = iter([False, False, False, True])
    results: list[RunResult] = []
    done = threading.Event()

    def job(stop: threading.Event) -> None:
        if not next(outcomes, True):
            raise RuntimeError("vendor down")

    def on_result(result: RunResult) -> None:
        results.append(result)
        if result.succeeded:
            done.set()

    scheduler = Scheduler(on_result=on_result)
    scheduler.add("crm", job, Every(interval.total_seconds()), jitter=timedelta(0))
    scheduler.start()
    try:
        _wait(done)
    finally:
        scheduler.stop(GUARD)
    first = results[:4]
    assert [r.failures for r in first] == [1, 2, 3, 0]
    waits = [r.next_run - r.finished for r in first[:3] if r.next_run is not None]
    assert waits == [2 * interval, 4 * interval, 5 * interval]
    # APScheduler honoured each backed-off time: no run started before it was due
    for before, after in itertools.pairwise(first):
        assert before.next_run is not None
        assert after.started >= before.next_run


def test_missed_runs_are_coalesced_into_one_late_run() -> None:
    now = datetime.now(UTC)
    results: list[RunResult] = []
    ran = threading.Event()

    def on_result(result: RunResult) -> None:
        results.append(result)
        ran.set()

    scheduler = Scheduler(on_result=on_result)
    scheduler.add(
        "crm",
        lambda stop: None,
        Every(3600),
        jitter=timedelta(0),
        next_run=now - timedelta(hours=3, minutes=30),  # four hourly runs missed while down
    )
    scheduler.start()
    _wait(ran)
    assert scheduler.stop(GUARD)  # waits for any further call of the same submission
    assert len(results) == 1
    assert results[0].next_run is not None
    assert results[0].next_run > now


def test_cron_sources_run_on_the_expression(scheduler: Scheduler) -> None:
    scheduler.add("crm", lambda stop: None, Cron("*/5 * * * *"), jitter=timedelta(0))
    scheduler.start()
    when = scheduler.next_run("crm")
    assert when is not None
    assert when > datetime.now(UTC) - timedelta(seconds=1)
    assert (when.minute % 5, when.second, when.microsecond) == (0, 0, 0)


@pytest.mark.parametrize("schedule", [Every(3600), Cron("0 * * * *")])
def test_jitter_spreads_the_runs_within_its_bound(
    scheduler: Scheduler, schedule: Every | Cron
) -> None:
    scheduler.start()
    now = datetime.now(UTC)
    for n in range(12):
        scheduler.add(f"s{n}", lambda stop: None, schedule, jitter=timedelta(seconds=60))
    later = datetime.now(UTC)
    if isinstance(schedule, Every):  # the first run is one interval after it was added
        earliest, latest = now + timedelta(hours=1), later + timedelta(hours=1)
    else:
        earliest = latest = (now + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    times = [scheduler.next_run(f"s{n}") for n in range(12)]
    assert all(t is not None and earliest <= t <= latest + timedelta(seconds=60) for t in times)
    assert len(set(times)) > 1


def test_stop_lets_the_run_in_flight_finish_and_interrupts_its_waits(
    scheduler: Scheduler, results: list[RunResult]
) -> None:
    started = threading.Event()
    seen: list[bool] = []

    def job(stop: threading.Event) -> None:
        started.set()
        seen.append(stop.wait(GUARD * 10))  # a long 429 window: the stop flag ends it

    scheduler.add("crm", job, Every(0.01), jitter=timedelta(0))
    scheduler.start()
    _wait(started)
    assert scheduler.stop(grace_seconds=GUARD)
    assert seen == [True]
    assert not scheduler.running
    assert scheduler.next_run("crm") is None
    assert [r.succeeded for r in results] == [True]
    assert results[0].next_run is None


def test_stop_says_when_a_run_outlives_the_grace_period(scheduler: Scheduler) -> None:
    started = threading.Event()
    release = threading.Event()

    def stubborn(stop: threading.Event) -> None:
        started.set()
        release.wait(GUARD)  # ignores the stop flag

    scheduler.add("crm", stubborn, Every(0.01), jitter=timedelta(0))
    scheduler.start()
    _wait(started)
    try:
        assert scheduler.stop(grace_seconds=0.05) is False
    finally:
        release.set()
    assert scheduler.stop(grace_seconds=GUARD) is True


def test_a_failing_result_hook_does_not_stop_the_source() -> None:
    twice = threading.Event()
    calls = 0

    def hook(result: RunResult) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            twice.set()
        raise RuntimeError("store down")

    sched = Scheduler(on_result=hook)
    sched.add("crm", lambda stop: None, Every(0.01), jitter=timedelta(0))
    sched.start()
    try:
        _wait(twice)
    finally:
        sched.stop(GUARD)


def test_one_source_once() -> None:
    sched = Scheduler()
    sched.add("crm", lambda stop: None, Every(60))
    with pytest.raises(ValueError, match="already"):
        sched.add("crm", lambda stop: None, Every(60))
    assert sched.sources() == ["crm"]
    assert sched.next_run("crm") is None  # not started
