"""The engine: one sync cycle for one source, pull → store → policies → plan (→ push, later).

The engine is the only place that knows both the connector and the policy interfaces; it knows
no vendor. Time and ids come in from the caller so tests and dry runs are exact.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog

from connectors.base import Connector
from policies.base import Change, Snapshot
from policies.registry import build_policies
from state.base import StateStore
from syncd.config import Config, SourceConfig
from syncd.logging import get_logger
from syncd.plan import Plan, compose, record_label

log = get_logger(__name__)
Clock = Callable[[], datetime]
IdFactory = Callable[[], str]


class ConnectorFactory(Protocol):
    def __call__(self, config: Config, name: str, source: SourceConfig) -> Connector: ...


@dataclass
class Engine:
    """Runs cycles against one state store."""

    config: Config
    store: StateStore
    clock: Clock
    new_id: IdFactory
    connector_factory: ConnectorFactory

    def plan(self, source_name: str) -> Plan:
        """Pull the source, store what came, run the policies and persist the plan (a dry run).

        The run is recorded as failed, with the error, if anything raises; what was stored
        before the failure (records with their cursors) stays and the next run resumes from it.
        """
        name, source = self.config.source(source_name)
        run_id = self.new_id()
        started = self.clock()
        self.store.ensure_source(name, source.connector, started)
        self.store.start_run(run_id, name, started, dry_run=True)
        counts: dict[str, object] = {}
        with structlog.contextvars.bound_contextvars(run_id=run_id, source=name):
            try:
                connector = self.connector_factory(self.config, name, source)
                try:
                    counts["pulled"], counts["skipped"] = self._pull(
                        connector, name, run_id, source.object_types, started
                    )
                finally:
                    connector.close()
                plan = self._make_plan(name, run_id)
                counts["planned"] = plan.summary()
            except BaseException as exc:  # record the failure, whatever it is, then re-raise
                self.store.finish_run(run_id, self.clock(), "failed", counts, error=str(exc))
                log.error("run failed", error=str(exc), error_type=type(exc).__name__)
                raise
            self.store.finish_run(run_id, self.clock(), "succeeded", counts)
        return plan

    def _pull(
        self,
        connector: Connector,
        source: str,
        run_id: str,
        object_types: tuple[str, ...],
        started: datetime,
    ) -> tuple[dict[str, int], dict[str, int]]:
        pulled: dict[str, int] = {}
        skipped: dict[str, int] = {}
        for object_type in object_types:
            with structlog.contextvars.bound_contextvars(object_type=object_type):
                t0 = time.monotonic()
                cursor = self.store.get_cursor(source, object_type)
                mode = "full" if cursor.updated_at is None else "incremental"
                for batch in connector.pull(object_type, cursor, run_started_at=started):
                    self.store.store_batch(source, run_id, batch)
                    pulled[object_type] = pulled.get(object_type, 0) + len(batch.records)
                    skipped[object_type] = skipped.get(object_type, 0) + len(batch.skipped)
                    for record_id, why in batch.skipped:
                        log.warning("record skipped", record_id=record_id, reason=why)
                log.info(
                    "pulled",
                    mode=mode,
                    records=pulled.get(object_type, 0),
                    skipped=skipped.get(object_type, 0),
                    seconds=round(time.monotonic() - t0, 3),
                )
        return pulled, skipped

    def _make_plan(self, source: str, run_id: str) -> Plan:
        now = self.clock()
        snapshot = self.store.snapshot(source, now)
        _, config = self.config.source(source)
        changes: list[Change] = []
        for policy in build_policies(self.config.policies, default_region=config.default_region):
            t0 = time.monotonic()
            proposed = policy(snapshot)
            log.info(
                "policy",
                policy=policy.name,
                changes=len(proposed),
                seconds=round(time.monotonic() - t0, 3),
            )
            changes.extend(proposed)
        plan = Plan(
            id=self.new_id(),
            source=source,
            created_at=now,
            changes=tuple(compose(changes)),
            run_id=run_id,
            baseline=self.store.baseline_summary(source),
            labels=labels_for(snapshot),
        )
        self.store.save_plan(plan.id, source, run_id, now, plan.baseline, plan.changes)
        return plan


def labels_for(snapshot: Snapshot) -> dict[tuple[str, str], str]:
    """Human names of the snapshot's records, for reports."""
    return {
        (object_type, record.id): record_label(object_type, record.properties)
        for object_type, records in snapshot.records.items()
        for record in records
    }
