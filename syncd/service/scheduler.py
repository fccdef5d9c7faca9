"""Run each source's cycle on a schedule: APScheduler 3 behind a small interface of ours.

Rules, each kept by one piece below:

- A source runs on an interval (:class:`Every`) or a crontab expression (:class:`Cron`); ``serve
  --every`` replaces every source's schedule (:meth:`ScheduleSettings.schedule`).
- Never two runs of one source at once (``max_instances=1``: a run still going at its next fire
  time makes APScheduler skip that fire time). Runs missed while the process was busy or down
  are coalesced into one, however late (``coalesce=True``, ``misfire_grace_time=None``).
- Each fire time is delayed by a random jitter so that sources (and replicas) do not hit a
  vendor in lockstep.
- A run that raises does not stop the others; its source backs off: the n-th failure in a row
  moves the next run to ``min(interval * 2**n, cap)`` after the failure, where the cap is the
  smaller of 15 minutes and 5 intervals (:func:`backoff_delay`). For intervals longer than 15
  minutes the cap is shorter than the interval: a failing hourly source is retried every 15
  minutes instead of waiting an hour. The first success resets the count.
- A job is called with the scheduler's stop flag (a :class:`threading.Event`); waits inside it
  (a 429 window) should use ``stop.wait(seconds)`` so that :meth:`Scheduler.stop` interrupts them.
  ``stop(grace_seconds)`` starts no new run and waits that long for the runs in flight.
- A job that finds it has nothing to do now (another replica holds or just ran the source)
  raises :class:`Deferred`: its next run moves to the time given, and it counts as neither a
  success nor a failure.

Each run goes in a daemon thread of its own (one per source at most), so a run that outlives
the grace period never keeps the process from exiting. The clock is injectable for what we
compute (backoff, run results); APScheduler 3 reads the wall clock for its own fire times.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.executors.base import BaseExecutor, run_job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from syncd.logging import get_logger

log = get_logger(__name__)

Clock = Callable[[], datetime]
Job = Callable[[threading.Event], None]
"""One cycle of one source. It gets the stop flag; it raises to report a failed run."""

DEFAULT_INTERVAL = timedelta(minutes=15)
BACKOFF_CAP = timedelta(minutes=15)
BACKOFF_CAP_INTERVALS = 5
MAX_DEFAULT_JITTER = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Every:
    """Run every ``seconds`` (the first run one interval after the start)."""

    seconds: float

    def __post_init__(self) -> None:
        if not self.seconds > 0:
            raise ValueError("an interval must be positive")


@dataclass(frozen=True, slots=True)
class Cron:
    """Run at the times of a five-field crontab expression, read in ``timezone``.

    Day-of-week numbers follow APScheduler 3 (0 is Monday); names (``mon-fri``) avoid the doubt.
    """

    expression: str
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        CronTrigger.from_crontab(self.expression, timezone=_zone(self.timezone))


Schedule = Every | Cron


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; expected an IANA name such as UTC") from None


def _trigger(schedule: Schedule, jitter: float | None) -> IntervalTrigger | CronTrigger:
    if isinstance(schedule, Every):
        return IntervalTrigger(seconds=schedule.seconds, timezone=UTC, jitter=jitter)
    trigger = CronTrigger.from_crontab(schedule.expression, timezone=_zone(schedule.timezone))
    trigger.jitter = jitter
    return trigger


def interval_of(schedule: Schedule, now: datetime) -> timedelta:
    """The gap between runs: the interval, or for a cron schedule the gap after ``now``'s next."""
    if isinstance(schedule, Every):
        return timedelta(seconds=schedule.seconds)
    trigger = _trigger(schedule, None)
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + timedelta(microseconds=1))
    gap: timedelta = second - first
    return gap


def default_jitter(interval: timedelta) -> timedelta:
    """A tenth of the interval, at most 30 seconds."""
    return min(interval / 10, MAX_DEFAULT_JITTER)


def backoff_delay(interval: timedelta, failures: int) -> timedelta:
    """How long after its ``failures``-th failure in a row a source waits before the next run.

    ``min(interval * 2**failures, cap)`` with the cap the smaller of 15 minutes and 5 intervals.
    """
    if failures < 1:
        raise ValueError("failures counts from 1")
    cap = min(BACKOFF_CAP, interval * BACKOFF_CAP_INTERVALS)
    if failures >= 32 or interval * (1 << failures) > cap:  # 2**32 intervals: capped anyway
        return cap
    return interval * (1 << failures)


class ScheduleSettings(BaseModel):
    """A source's ``schedule`` section: ``every_seconds`` or ``cron``, and the jitter.

    With neither, the source runs every 15 minutes. ``jitter_seconds`` defaults to a tenth of
    the interval, at most 30 seconds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    every_seconds: float | None = Field(default=None, gt=0)
    cron: str | None = Field(
        default=None, description='Five crontab fields, e.g. "*/10 * * * *" or "0 6 * * mon-fri".'
    )
    timezone: str = "UTC"
    jitter_seconds: float | None = Field(default=None, ge=0)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        _zone(value)
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                CronTrigger.from_crontab(value)
            except ValueError as exc:
                raise ValueError(
                    f"five crontab fields (minute hour day month day-of-week): {exc}"
                ) from None
        return value

    @model_validator(mode="after")
    def _one_schedule(self) -> ScheduleSettings:
        if self.every_seconds is not None and self.cron is not None:
            raise ValueError("give either every_seconds or cron, not both")
        return self

    def schedule(self, every_override: float | None = None) -> Schedule:
        """The schedule to run on; ``every_override`` (``serve --every``) wins over the file."""
        if every_override is not None:
            return Every(every_override)
        if self.cron is not None:
            return Cron(self.cron, self.timezone)
        if self.every_seconds is not None:
            return Every(self.every_seconds)
        return Every(DEFAULT_INTERVAL.total_seconds())


class Deferred(Exception):  # noqa: N818  (an outcome, not an error)
    """Raised by a job that did not run: run it again at ``until``."""

    def __init__(self, until: datetime, why: str = "") -> None:
        super().__init__(why or f"deferred until {until.isoformat()}")
        self.until = until


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one scheduled run did, handed to ``on_result`` (to keep the next run in the store)."""

    source: str
    started: datetime
    finished: datetime
    error: Exception | None
    failures: int
    """Failures in a row, this run included (0 after a success)."""
    next_run: datetime | None
    """When the source runs next (None when the scheduler is stopping)."""

    @property
    def succeeded(self) -> bool:
        return self.error is None


@dataclass
class _Source:
    name: str
    job: Job
    schedule: Schedule
    failures: int = 0


class _ThreadPerRunExecutor(BaseExecutor):  # type: ignore[misc]  # APScheduler 3 is untyped
    """Runs each job in a daemon thread of its own, and can wait for them with a deadline.

    ``max_instances=1`` bounds the threads by the number of sources, and a run that overstays
    the grace period never blocks the interpreter's exit (a pool's threads would).
    """

    def __init__(self) -> None:
        super().__init__()
        self._threads: set[threading.Thread] = set()
        self._guard = threading.Lock()

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        def target() -> None:
            try:
                events = run_job(job, job._jobstore_alias, run_times, self._logger.name)
            except BaseException as exc:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, events)
            finally:
                with self._guard:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=target, name=f"syncd-run-{job.id}", daemon=True)
        with self._guard:
            self._threads.add(thread)
        thread.start()

    def join(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` seconds for the runs in flight; True when none is left."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._guard:
                threads = list(self._threads)
            if not threads:
                return True
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            threads[0].join(remaining)
            if threads[0].is_alive():
                return False

    def shutdown(self, wait: bool = True) -> None:
        if wait:
            self.join(None)


class Scheduler:
    """Runs jobs per source; see the module docstring for the rules.

    ``on_result`` is called in the run's thread after every run (its errors are logged).
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        on_result: Callable[[RunResult], None] | None = None,
    ) -> None:
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._on_result = on_result
        # "skipped: maximum number of running instances reached" is the rule working (a run
        # still going at its next fire time), not news; our own lines say what runs
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
        self._stop = threading.Event()
        self._executor = _ThreadPerRunExecutor()
        self._scheduler = BackgroundScheduler(
            timezone=UTC, executors={"default": self._executor}, daemon=True
        )
        self._sources: dict[str, _Source] = {}
        self._lock = threading.Lock()

    @property
    def stop_flag(self) -> threading.Event:
        """Set once :meth:`stop` is called; every job gets it."""
        return self._stop

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop` (a readiness check)."""
        return bool(self._scheduler.running) and not self._stop.is_set()

    def add(
        self,
        source: str,
        job: Job,
        schedule: Schedule,
        *,
        jitter: timedelta | None = None,
        next_run: datetime | None = None,
    ) -> None:
        """Schedule ``job`` for ``source``.

        ``jitter`` defaults to :func:`default_jitter` of the interval. ``next_run`` (an aware
        time, e.g. the one kept in the store before a restart) sets the first run; one in the
        past runs at once, and the runs missed since count as one.
        """
        if source in self._sources:
            raise ValueError(f"source {source!r} is scheduled already")
        if jitter is None:
            jitter = default_jitter(interval_of(schedule, self._clock()))
        self._sources[source] = _Source(source, job, schedule)
        options: dict[str, Any] = {}
        if next_run is not None:
            options["next_run_time"] = next_run
        self._scheduler.add_job(
            self._run,
            trigger=_trigger(schedule, jitter.total_seconds() or None),
            args=(source,),
            id=source,
            name=f"sync {source}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            **options,
        )

    def sources(self) -> list[str]:
        return sorted(self._sources)

    def next_run(self, source: str) -> datetime | None:
        """When ``source`` runs next (None before :meth:`start` or after :meth:`stop`)."""
        if source not in self._sources:
            raise KeyError(source)
        if not self._scheduler.running:
            return None
        job = self._scheduler.get_job(source)
        when: datetime | None = None if job is None else job.next_run_time  # None: stopping
        return when

    def failures(self, source: str) -> int:
        """Failed runs of ``source`` in a row."""
        return self._sources[source].failures

    def start(self) -> None:
        """Start scheduling in a background thread."""
        self._scheduler.start()

    def stop(self, grace_seconds: float) -> bool:
        """Start no new run, set the stop flag and wait for the runs in flight.

        Returns True when every run finished within ``grace_seconds``; False when some are
        still going (the caller records them as interrupted and exits; their threads are
        daemons).
        """
        self._stop.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        return self._executor.join(grace_seconds)

    # -- one run ------------------------------------------------------------------------------

    def _run(self, source: str) -> None:
        entry = self._sources[source]
        started = self._clock()
        error: Exception | None = None
        bound = log.bind(source=source)
        bound.debug("scheduled run starts")
        try:
            entry.job(self._stop)
        except Deferred as deferred:
            if not self._stop.is_set():
                with contextlib.suppress(JobLookupError):  # stopped meanwhile
                    self._scheduler.modify_job(source, next_run_time=deferred.until)
                bound.debug("scheduled run deferred", reason=str(deferred))
            return
        except Exception as exc:
            error = exc
        finished = self._clock()
        with self._lock:
            entry.failures = 0 if error is None else entry.failures + 1
            failures = entry.failures
        next_run: datetime | None = None
        if error is not None and not self._stop.is_set():
            delay = backoff_delay(interval_of(entry.schedule, finished), failures)
            next_run = finished + delay
            try:
                self._scheduler.modify_job(source, next_run_time=next_run)
            except JobLookupError:  # stopped meanwhile
                next_run = None
            bound.warning(
                "scheduled run failed; backing off",
                error=type(error).__name__,
                detail=str(error),
                failures=failures,
                retry_in_seconds=math.ceil(delay.total_seconds()),
            )
        elif not self._stop.is_set():
            next_run = self.next_run(source)
        result = RunResult(source, started, finished, error, failures, next_run)
        if self._on_result is not None:
            try:
                self._on_result(result)
            except Exception as exc:
                bound.error("on_result failed", error=type(exc).__name__, detail=str(exc))
