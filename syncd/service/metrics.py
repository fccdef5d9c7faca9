"""The service's Prometheus metrics, in a registry of their own (one per :class:`Metrics`).

==========================================  =======================  ===============================
metric                                      labels                   what
==========================================  =======================  ===============================
``syncd_records_pulled_total``              source, object_type      records read from a CRM
``syncd_changes_planned_total``             source, policy, kind     changes in plans
``syncd_changes_applied_total``             source, policy, kind     changes the CRM accepted
``syncd_api_calls_total``                   vendor                   HTTP calls to a vendor's API
``syncd_api_rate_limited_total``            vendor                   of which answered 429
``syncd_runs_total``                        source, outcome          finished runs
``syncd_run_duration_seconds``              source                   run duration (histogram)
``syncd_last_success_timestamp_seconds``    source                   end of the last good run
``syncd_next_run_timestamp_seconds``        source                   when the source runs next
``syncd_api_allowance_used``                source                   daily API allowance used
``syncd_api_allowance_limit``               source                   daily API allowance
``syncd_outbox_depth``                      source                   operations waiting to be sent
``syncd_open_incidents``                    source, cause            unresolved incidents
``syncd_source_paused``                     source                   1 while paused (allowance)
==========================================  =======================  ===============================

The allowance gauges hold the latest reading a run or a probe of a paused source made (for
connectors that read one: Salesforce's ``Sforce-Limit-Info`` and ``limits/``). The last three
are read at scrape time from callables (the store); a callable that fails leaves
its metric out of that scrape (and logs why) rather than failing the scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from syncd.logging import get_logger

log = get_logger(__name__)

RUN_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
"""Seconds: from a quiet incremental cycle to a first full pull of a large account."""

OutboxDepth = Callable[[], Mapping[str, int]]
"""source -> operations waiting in the outbox."""
OpenIncidents = Callable[[], Mapping[tuple[str, str], int]]
"""(source, cause) -> open incidents."""
Paused = Callable[[], Mapping[str, int]]
"""source -> 1 when paused, 0 when not."""


class _Sampled(Collector):
    """A gauge family whose samples a callable gives at scrape time."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labels: tuple[str, ...],
        read: Callable[[], Mapping[tuple[str, ...], int]],
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._labels = labels
        self._read = read

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(self._name, self._documentation, labels=self._labels)]

    def collect(self) -> Iterable[Metric]:
        try:
            values = self._read()
        except Exception as exc:
            log.warning("metric not read", metric=self._name, error=type(exc).__name__)
            return []
        family = GaugeMetricFamily(self._name, self._documentation, labels=self._labels)
        for key, value in sorted(values.items()):
            family.add_metric(list(key), value)
        return [family]


class Metrics:
    """The metrics of one service process; see the module docstring for the list."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        outbox_depth: OutboxDepth | None = None,
        open_incidents: OpenIncidents | None = None,
        paused: Paused | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.records_pulled = Counter(
            "syncd_records_pulled",
            "Records pulled from a CRM.",
            ["source", "object_type"],
            registry=r,
        )
        self.changes_planned = Counter(
            "syncd_changes_planned",
            "Changes put in plans, by policy and kind of change.",
            ["source", "policy", "kind"],
            registry=r,
        )
        self.changes_applied = Counter(
            "syncd_changes_applied",
            "Changes the CRM accepted, by policy and kind of change.",
            ["source", "policy", "kind"],
            registry=r,
        )
        self.api_calls = Counter(
            "syncd_api_calls", "HTTP calls to a vendor's API.", ["vendor"], registry=r
        )
        self.api_rate_limited = Counter(
            "syncd_api_rate_limited",
            "HTTP calls a vendor answered 429 (rate limited).",
            ["vendor"],
            registry=r,
        )
        self.runs = Counter(
            "syncd_runs", "Finished runs, by outcome.", ["source", "outcome"], registry=r
        )
        self.run_duration = Histogram(
            "syncd_run_duration_seconds",
            "Duration of one run of one source.",
            ["source"],
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self.last_success = Gauge(
            "syncd_last_success_timestamp_seconds",
            "When the last successful run of a source ended (Unix time).",
            ["source"],
            registry=r,
        )
        self.next_run = Gauge(
            "syncd_next_run_timestamp_seconds",
            "When a source runs next (Unix time).",
            ["source"],
            registry=r,
        )
        self.allowance_used = Gauge(
            "syncd_api_allowance_used",
            "Requests counted against a source's daily API allowance, as last read.",
            ["source"],
            registry=r,
        )
        self.allowance_limit = Gauge(
            "syncd_api_allowance_limit",
            "A source's daily API allowance, as last read.",
            ["source"],
            registry=r,
        )
        if paused is not None:
            r.register(
                _Sampled(
                    "syncd_source_paused",
                    "1 while a source is paused (its CRM's daily API allowance spent).",
                    ("source",),
                    lambda: {(s,): n for s, n in paused().items()},
                )
            )
        if outbox_depth is not None:
            r.register(
                _Sampled(
                    "syncd_outbox_depth",
                    "Operations waiting in the outbox.",
                    ("source",),
                    lambda: {(s,): n for s, n in outbox_depth().items()},
                )
            )
        if open_incidents is not None:
            r.register(
                _Sampled(
                    "syncd_open_incidents",
                    "Unresolved incidents.",
                    ("source", "cause"),
                    lambda: {tuple(k): n for k, n in open_incidents().items()},
                )
            )

    def observe_run(
        self,
        source: str,
        *,
        outcome: str,
        duration_seconds: float,
        finished: datetime,
        next_run: datetime | None = None,
    ) -> None:
        """Count a finished run; ``outcome`` ``succeeded`` also moves the last success."""
        self.runs.labels(source, outcome).inc()
        self.run_duration.labels(source).observe(duration_seconds)
        if outcome == "succeeded":
            self.last_success.labels(source).set(finished.timestamp())
        if next_run is not None:
            self.next_run.labels(source).set(next_run.timestamp())

    def count_changes(self, source: str, stage: str, counts: Mapping[tuple[str, str], int]) -> None:
        """Add ``(policy, kind) -> n`` to the ``planned`` or ``applied`` counter."""
        counter = {"planned": self.changes_planned, "applied": self.changes_applied}[stage]
        for (policy, kind), n in counts.items():
            if n:
                counter.labels(source, policy, kind).inc(n)

    def count_api_calls(self, vendor: str, calls: int, rate_limited: int = 0) -> None:
        if calls:
            self.api_calls.labels(vendor).inc(calls)
        if rate_limited:
            self.api_rate_limited.labels(vendor).inc(rate_limited)
