"""``syncd serve``: the engine on a schedule, with alerts, metrics, health checks, the
completeness audit and retention, for months without attention.

How the pieces meet:

- Each source is a job of the :class:`~syncd.service.scheduler.Scheduler` on its schedule
  (``--every`` overrides all). A job runs the engine's cycle: ``run_once`` (pull, plan, push
  within the rails), or ``plan`` when the source says ``mode = "plan"`` or ``--dry-run`` is
  given; then the completeness audit when one is due (:mod:`syncd.service.completeness`).
- The next run of each source is kept in the store, so a restart, and every replica, keep one
  schedule: a job that finds the source's next run still ahead (another replica just ran it)
  or the source held by another command defers to then (to the holder's lease expiry and a
  moment), which is also how a replica takes over the sources of one that died: within one
  lease time to live of its last renewal. The engine runs with leases that lapse unless
  renewed, and its pushes are fenced by the lease's epoch in the store.
- The engine tells :meth:`Service.observe` about every finished run: metrics, then alerts
  (:func:`~syncd.service.incidents.assess_run` through the :class:`~syncd.service.alerts.
  Alerter`, incidents kept in the store), then the heartbeat after a success. A run the service
  interrupted, or one whose lease another replica took, alerts nobody.
- A run that ends with :class:`~model.errors.SourcePausedError` (the CRM's daily API allowance
  spent, or at the reserve syncd keeps) pauses its source: the pause is kept in the store (a
  restart and every replica keep it), one ``PAUSED`` incident alerts once (never reminded), and
  no run goes until a probe every ``pause_probe_minutes`` (``Connector.allowance``, which
  spends nothing) shows usage below the ceiling: then the pause ends, the incident is resolved
  and the run goes at once. A connector that cannot probe gets a run every probe interval
  instead; a completed run ends the pause. A paused source is neither stale nor a reason for
  the service to report itself unready.
- A housekeeping thread checks staleness every ``staleness_check_seconds`` and prunes the store
  every ``retention.every_hours``.
- :meth:`Service.stop` (SIGTERM, SIGINT) sets the stop flag: connectors' waits (a 429 window)
  end at once, each run stops before its next batch and is recorded as interrupted; runs still
  going after ``grace_seconds`` are recorded as interrupted by the service itself. The next
  start (or another replica) finishes what their outboxes hold.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import structlog

from connectors.base import AllowanceReading, Connector
from model.errors import (
    LeaseLostError,
    SourceBusyError,
    SourceFatalError,
    SourcePausedError,
    SyncdError,
)
from state.base import SourcePause, StateStore, StoredIncident
from state.migrate import head_revision
from syncd.config import Config, SourceConfig
from syncd.engine import Engine
from syncd.fence import RunInterruptedError
from syncd.logging import get_logger
from syncd.observer import RunSummary
from syncd.rails import SafetyRailError
from syncd.service.alerts import Alerter, Channel, Notifier
from syncd.service.completeness import Auditor
from syncd.service.http import ServiceHttp
from syncd.service.incidents import (
    Cause,
    Incident,
    Recovery,
    RunFacts,
    assess_run,
    assess_staleness,
)
from syncd.service.metrics import Metrics
from syncd.service.scheduler import (
    BACKOFF_CAP,
    BACKOFF_CAP_INTERVALS,
    Deferred,
    RunResult,
    Schedule,
    Scheduler,
    interval_of,
)

log = get_logger(__name__)
Clock = Callable[[], datetime]

#: A job finding the stored next run this much ahead of its own fire time defers to it.
DEFER_SLACK = timedelta(seconds=1)
#: A job finding the source held retries this long after the holder's lease expires.
TAKEOVER_MARGIN = timedelta(seconds=0.25)


class ConnectorBuilder(Protocol):
    """:func:`syncd.sources.build_connector`: a source's connector, sleeping on ``sleep``."""

    def __call__(
        self, config: Config, name: str, source: SourceConfig, *, sleep: Callable[[float], None]
    ) -> Connector: ...


class StoreIncidents:
    """The :class:`~syncd.service.incidents.IncidentStore` of the state store."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def open_incidents(self, source: str) -> list[Incident]:
        return [_incident(i) for i in self.store.open_incidents(source)]

    def save_incident(self, incident: Incident, previous: Incident | None = None) -> bool:
        return self.store.save_incident(
            _stored(incident), None if previous is None else _stored(previous)
        )


def _incident(stored: StoredIncident) -> Incident:
    return Incident(
        source=stored.source,
        cause=Cause(stored.cause),
        first_seen=stored.first_seen,
        last_seen=stored.last_seen,
        count=stored.count,
        message=stored.message,
        last_notified=stored.last_notified,
        resolved_at=stored.resolved_at,
    )


def _stored(incident: Incident) -> StoredIncident:
    return StoredIncident(
        source=incident.source,
        cause=incident.cause.value,
        first_seen=incident.first_seen,
        last_seen=incident.last_seen,
        count=incident.count,
        message=incident.message,
        last_notified=incident.last_notified,
        resolved_at=incident.resolved_at,
    )


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What ``syncd serve`` was asked on its command line."""

    config_path: Path
    every: float | None = None
    dry_run: bool = False
    http_port: int | None = None


class Service:
    """One ``syncd serve`` process; see the module docstring."""

    def __init__(
        self,
        config: Config,
        store: StateStore,
        options: ServeOptions,
        *,
        connector_builder: ConnectorBuilder,
        clock: Clock,
        new_id: Callable[[], str],
        rng: random.Random,
        channels: Sequence[Channel] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.options = options
        self.clock = clock
        self._builder = connector_builder
        self.scheduler = Scheduler(clock=clock, on_result=self._on_result)
        self.stop_flag = self.scheduler.stop_flag
        ttl = config.service.lease_ttl_seconds
        self.engine = Engine(
            config,
            store,
            clock,
            new_id,
            self._connector,
            stop=self.stop_flag,
            lease_ttl=ttl,
            observer=self.observe,
            remember=True,  # cycles of a living service compare only what changed
        )
        self.auditor = Auditor(
            config,
            store,
            connector_factory=self._connector,
            clock=clock,
            rng=rng,
            new_id=new_id,
            lease_ttl=ttl,
        )
        self.metrics = Metrics(
            outbox_depth=store.outbox_depth,
            open_incidents=self._open_counts,
            paused=self._paused_flags,
        )
        alerts = config.alerts
        if channels is None:
            channels = alerts.build_channels(config.base_dir)
        self.alerter = Alerter(
            StoreIncidents(store),
            alerts.tracker(),
            Notifier(channels, alerts.retry.settings()),
            command=self.command,
        )
        self.heartbeat = alerts.heartbeat(config.base_dir)
        http = config.service.http
        self.http = ServiceHttp(
            self.metrics.registry,
            {
                "store": lambda: self.store.schema_revision() is not None,
                "scheduler": lambda: self.scheduler.running,
                "migrations": lambda: self.store.schema_revision() == head_revision(),
            },
            host=http.host,
            port=http.port if options.http_port is None else options.http_port,
            details=self._readiness_details,
        )
        self.started = clock()
        self._done = threading.Event()
        self._housekeeping = threading.Thread(
            target=self._keep_house, name="syncd-housekeeping", daemon=True
        )
        self._last_prune: datetime | None = None
        #: When each source's pause last ended (staleness counts from then).
        self._resumed: dict[str, datetime] = {}

    # -- what the service does with each source ------------------------------------------------

    def schedule(self, name: str) -> Schedule:
        return self.config.sources[name].schedule.schedule(self.options.every)

    def longest_wait(self, name: str, now: datetime) -> timedelta:
        """The furthest ahead a next run of ``name`` can rightly be: an interval, or a backoff.
        A stored next run further ahead was planned on another schedule (``--every``, an edited
        configuration): it is not waited for."""
        interval = interval_of(self.schedule(name), now)
        return max(interval, min(BACKOFF_CAP, interval * BACKOFF_CAP_INTERVALS))

    def plans_only(self, name: str) -> bool:
        """Whether ``name``'s plans are only made, never pushed."""
        return self.options.dry_run or self.config.sources[name].mode == "plan"

    @property
    def probe_interval(self) -> timedelta:
        """How often a paused source's allowance is probed."""
        return timedelta(minutes=self.config.service.pause_probe_minutes)

    def command(self, source: str) -> str:
        """The command that shows more about ``source`` (in alerts)."""
        return f"syncd status -c {self.options.config_path} --source {source}"

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule every source, serve HTTP, start the housekeeping; returns at once."""
        now = self.clock()
        writes = [n for n in self.config.sources if not self.plans_only(n)]
        plans = [n for n in self.config.sources if self.plans_only(n)]
        log.info(
            "syncd serve starting",
            writes_to=writes,
            plans_only=plans,
            dry_run=self.options.dry_run,
            pid=os.getpid(),
            host=socket.gethostname(),
        )
        for name, source in self.config.sources.items():
            self.store.ensure_source(name, source.connector, now)
            settings = source.schedule
            jitter = None
            if settings.jitter_seconds is not None:
                jitter = timedelta(seconds=settings.jitter_seconds)
            stored = self.store.next_run(name)
            first = now  # never run, or missed runs while down: one now
            if stored is not None and stored > now:  # at most an interval away (a new --every)
                first = min(stored, now + interval_of(self.schedule(name), now))
            pause = self.store.source_pause(name)
            if pause is not None:  # paused before the restart: its next probe
                first = max(now, pause.next_probe_at)
                log.info("source paused", source=name, since=pause.since, next_probe=first)
            self.scheduler.add(
                name, self._job(name), self.schedule(name), jitter=jitter, next_run=first
            )
            self.metrics.next_run.labels(name).set(first.timestamp())
        self.http.start()
        self.scheduler.start()
        self._housekeeping.start()

    def stop(self) -> bool:
        """Stop as the module docstring says; True when every run finished within the grace."""
        grace = self.config.service.grace_seconds
        log.info("syncd serve stopping", grace_seconds=grace)
        finished = self.scheduler.stop(grace)
        if not finished:
            self._record_interrupted()
        self._done.set()
        if self._housekeeping.is_alive():
            self._housekeeping.join(timeout=grace)
        self.http.stop()
        log.info("syncd serve stopped", runs_finished=finished)
        return finished

    def _record_interrupted(self) -> None:
        """Record the runs still going (their threads die with the process) as interrupted."""
        me = (socket.gethostname(), os.getpid())
        for name in self.config.sources:
            try:
                lease = self.store.source_lease(name)
                if lease is None or (lease.host, lease.pid) != me:
                    continue
                run = self.store.get_run(lease.run_id)
                if run.status == "running":
                    self.store.finish_run(
                        run.id,
                        self.clock(),
                        "failed",
                        run.counts,
                        error="interrupted: the service stopped before the run reached the "
                        "end of a batch",
                    )
                    log.warning("run interrupted", source=name, run_id=run.id)
            except SyncdError as exc:
                log.error("could not record an interrupted run", source=name, detail=str(exc))

    # -- one scheduled run ----------------------------------------------------------------------

    def _connector(self, config: Config, name: str, source: SourceConfig) -> Connector:
        """The source's connector, its waits cut short when the service stops."""
        return self._builder(config, name, source, sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        if self.stop_flag.wait(seconds):
            raise RunInterruptedError("interrupted: the service is stopping")

    def _job(self, name: str) -> Callable[[threading.Event], None]:
        def job(stop: threading.Event) -> None:
            with structlog.contextvars.bound_contextvars(source=name):
                self.cycle(name)

        return job

    def cycle(self, name: str) -> None:
        """One scheduled run of ``name`` (the scheduler calls it; raises for a failed run).

        A paused source defers to its next probe; at that time it is probed and, with room
        again, resumed and run (module docstring)."""
        now = self.clock()
        pause = self.store.source_pause(name)
        if pause is not None:  # the pause's next probe, not the schedule, says when to run
            self._probe(name, pause, now)
        else:
            planned = self.store.next_run(name)
            if planned is not None and now + DEFER_SLACK < planned <= now + self.longest_wait(
                name, now
            ):
                raise Deferred(planned, "another replica ran the source; its next run is ahead")
        try:
            if self.plans_only(name):
                self.engine.plan(name)
            else:
                self.engine.run_once(name)
        except SourceBusyError:
            lease = self.store.source_lease(name)
            if lease is not None and lease.expires_at is not None:
                until = max(lease.expires_at, now) + TAKEOVER_MARGIN
            else:
                until = now + interval_of(self.schedule(name), now)
            log.info("source held by another command; trying again later", until=until)
            raise Deferred(until, "the source is held by another command") from None
        except SourcePausedError:  # observe() recorded the pause: wait for its next probe
            paused = self.store.source_pause(name)
            until = paused.next_probe_at if paused is not None else now + self.probe_interval
            self._defer_to(name, until)
            raise Deferred(until, "paused: the CRM's daily API allowance is spent") from None
        self._audit(name)

    # -- pauses ---------------------------------------------------------------------------------

    def _probe(self, name: str, pause: SourcePause, now: datetime) -> None:
        """Probe a paused source when its probe is due. Returns when the source may run (the
        pause ended, or the connector cannot probe and a run is the probe); raises
        :class:`Deferred` to the next probe otherwise."""
        if now + DEFER_SLACK < pause.next_probe_at:
            raise Deferred(pause.next_probe_at, "paused; the next probe is ahead")
        following = now + self.probe_interval
        reading: AllowanceReading | None = None
        try:
            connector = self._connector(self.config, name, self.config.sources[name])
            try:
                reading = connector.allowance()
            finally:
                connector.close()
        except RunInterruptedError:
            raise
        except SyncdError as exc:
            log.warning("allowance not probed; the source stays paused", detail=str(exc))
            self._keep_paused(name, pause, now, following, None)
            raise Deferred(following, "paused; the probe failed") from None
        if reading is None:  # the connector cannot probe: a run is the probe
            log.info("paused source cannot be probed; trying a run", source=name)
            self._keep_paused(name, pause, now, following, None)
            return
        self._show_allowance(name, reading)
        if not reading.has_room:
            log.info(
                "source still paused",
                used=reading.used,
                limit=reading.limit,
                ceiling=reading.ceiling,
                next_probe=following,
            )
            self._keep_paused(name, pause, now, following, reading)
            raise Deferred(following, "paused; the allowance has no room yet")
        self._resume(
            name,
            now,
            f"the CRM's daily API allowance has room again: {reading.used} of {reading.limit} "
            f"requests used, below syncd's ceiling of {reading.ceiling}",
        )

    def _keep_paused(
        self,
        name: str,
        pause: SourcePause,
        now: datetime,
        following: datetime,
        reading: AllowanceReading | None,
    ) -> None:
        """Record a probe of a paused source, and its next one."""
        self.store.save_pause(
            replace(
                pause,
                next_probe_at=following,
                probes=pause.probes + 1,
                probed_at=now,
                used=pause.used if reading is None else reading.used,
                limit=pause.limit if reading is None else reading.limit,
            )
        )
        self._defer_to(name, following)

    def _defer_to(self, name: str, when: datetime) -> None:
        """Keep ``when`` as the source's next run (a deferral is no run result)."""
        self.store.set_next_run(name, when, self.clock())
        self.metrics.next_run.labels(name).set(when.timestamp())

    def _pause(self, name: str, error: SourcePausedError, at: datetime) -> None:
        """Record (or keep) the pause a run ended with; its incident is the run's symptom."""
        current = self.store.source_pause(name)
        following = at + self.probe_interval
        pause = SourcePause(
            source=name,
            since=at if current is None else current.since,
            reason=str(error) or type(error).__name__,
            next_probe_at=following,
            used=error.used,
            limit=error.limit,
            probes=0 if current is None else current.probes,
            probed_at=None if current is None else current.probed_at,
        )
        if current is None:
            log.warning(
                "source paused",
                source=name,
                reason=pause.reason,
                used=pause.used,
                limit=pause.limit,
                next_probe=following,
            )
        self.store.save_pause(pause)

    def _resume(self, name: str, now: datetime, why: str) -> None:
        """End the pause of ``name``: the store, the incident's resolution, the metrics."""
        if self.store.clear_pause(name):
            log.info("source resumed", source=name, detail=why)
        self._resumed[name] = now
        self.alerter.observe(Recovery(name, Cause.PAUSED, now))

    def _show_allowance(self, name: str, reading: AllowanceReading) -> None:
        self.metrics.allowance_used.labels(name).set(reading.used)
        self.metrics.allowance_limit.labels(name).set(reading.limit)

    def _paused_flags(self) -> dict[str, int]:
        paused = {p.source for p in self.store.paused_sources()}
        return {name: int(name in paused) for name in self.config.sources}

    def _readiness_details(self) -> dict[str, object]:
        """What ``/readyz`` adds to its checks: the paused sources (they never make the
        service unready: the CRM asked for the pause, and the rest of the sources run)."""
        return {
            "paused_sources": {
                p.source: {
                    "since": p.since.isoformat(),
                    "reason": p.reason,
                    "next_probe": p.next_probe_at.isoformat(),
                }
                for p in self.store.paused_sources()
            }
        }

    def _audit(self, name: str) -> None:
        """The completeness audit of ``name`` when due; its troubles never fail the run."""
        try:
            if not self.auditor.audit(name):
                return
            self.alerter.observe(self.auditor.assess(name, self.clock()))
        except RunInterruptedError:
            return
        except SyncdError as exc:
            log.warning("completeness audit failed", detail=str(exc))

    def _on_result(self, result: RunResult) -> None:
        """After each scheduled run: keep its next run in the store (and the metric). A run
        ended by the stop leaves the one stored before: the next start, or another replica,
        runs the source when that time comes (or at once, when it is past)."""
        when = result.next_run
        if when is None:
            return
        self.store.set_next_run(result.source, when, self.clock())
        self.metrics.next_run.labels(result.source).set(when.timestamp())

    # -- what a run tells ----------------------------------------------------------------------

    def observe(self, summary: RunSummary) -> None:
        """The engine's observer: metrics, alerts, heartbeat (module docstring)."""
        m = self.metrics
        source = summary.source
        for object_type, n in summary.pulled.items():
            if n:
                m.records_pulled.labels(source, object_type).inc(n)
        m.count_changes(source, "planned", summary.planned)
        m.count_changes(source, "applied", summary.applied)
        m.count_api_calls(summary.vendor, summary.usage.calls, summary.usage.rate_limited)
        if summary.usage.allowance is not None:
            self._show_allowance(source, summary.usage.allowance)
        outcome = "interrupted" if summary.interrupted else summary.status
        m.observe_run(
            source,
            outcome=outcome,
            duration_seconds=summary.seconds,
            finished=summary.finished,
        )
        if summary.interrupted or isinstance(summary.error, LeaseLostError):
            return  # the service stopped it, or another replica took the source: no alert
        if isinstance(summary.error, SourcePausedError):
            self._pause(source, summary.error, summary.finished)
        elif summary.error is None and self.store.source_pause(source) is not None:
            self._resume(source, summary.finished, "a run completed")
        facts = self._facts(summary)
        self.alerter.observe_all(assess_run(facts, self.config.alerts.failed_operations_share))
        if summary.error is None and self.heartbeat is not None:
            self.heartbeat.ping()

    @staticmethod
    def _facts(summary: RunSummary) -> RunFacts:
        error = summary.error
        if isinstance(error, SafetyRailError):  # the sync went through; the push was held
            return RunFacts(summary.source, summary.finished, rail=str(error))
        paused = isinstance(error, SourcePausedError)
        return RunFacts(
            summary.source,
            summary.finished,
            error=None if error is None else str(error) or type(error).__name__,
            auth_failure=isinstance(error, SourceFatalError) and not paused,
            paused=paused,
            operations=summary.operations,
            failed_operations=summary.failed_operations,
        )

    def _open_counts(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for incident in self.store.open_incidents():
            key = (incident.source, incident.cause)
            counts[key] = counts.get(key, 0) + 1
        return counts

    # -- housekeeping -------------------------------------------------------------------------

    def _keep_house(self) -> None:
        period = self.config.service.staleness_check_seconds
        while not self._done.wait(period):
            self.check_staleness()
            self.prune_if_due()

    def check_staleness(self) -> None:
        """A ``STALE`` symptom or recovery for every source (module docstring)."""
        now = self.clock()
        for name in self.config.sources:
            try:
                if self.store.source_pause(name) is not None:
                    continue  # the pause's own incident says why nothing syncs
                last = self.store.last_success(name)
                since = self.started if last is None else max(last, self.started)
                since = max(since, self._resumed.get(name, since))
                event = assess_staleness(
                    name,
                    since,
                    interval_of(self.schedule(name), now),
                    now,
                    self.config.alerts.staleness_intervals,
                )
                self.alerter.observe(event)
            except SyncdError as exc:
                log.warning("staleness not checked", source=name, detail=str(exc))

    def prune_if_due(self) -> None:
        """Prune the store once every ``retention.every_hours`` (the first time at once)."""
        settings = self.config.service.retention
        now = self.clock()
        if self._last_prune is not None and now - self._last_prune < timedelta(
            hours=settings.every_hours
        ):
            return
        self._last_prune = now
        t0 = time.monotonic()
        try:
            pruned = self.store.prune(settings.retention(now))
        except SyncdError as exc:
            log.warning("store not pruned", detail=str(exc))
            return
        log.info(
            "store pruned",
            plans=pruned.plans,
            runs=pruned.runs,
            audit=pruned.audit,
            outbox=pruned.outbox,
            incidents=pruned.incidents,
            seconds=round(time.monotonic() - t0, 3),
        )
