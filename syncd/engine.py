"""The engine: one sync cycle for one source, pull → store → policies → plan → push.

The engine is the only place that knows both the connector and the policy interfaces; it knows
no vendor. Time and ids come in from the caller so tests and dry runs are exact.

Every entry point records a run: ``plan`` (a dry run), ``run_once`` (plan and push), ``apply``
(push a saved plan) and ``undo`` (push the reverse of a run's field updates). A run that raises
is recorded as failed with its error; what was stored before the failure stays (records with
their cursors, outbox results), and the next run resumes from it: an interrupted push is
finished before anything new is planned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from connectors.base import Connector, PropertyDef, Writer
from policies.base import Change, Learner, Policy, Snapshot, Update
from policies.registry import build_policies
from policies.tags import label_usage
from state.base import SourceLease, StateStore, StoredPlan
from syncd.config import ApplyConfig, Config, SourceConfig
from syncd.errors import SourceBusyError, SourceFatalError, SyncdError
from syncd.health import health
from syncd.logging import get_logger
from syncd.plan import Plan, compose, record_label
from syncd.push import Pusher, PushReport
from syncd.rails import SafetyRailError, ceiling_violations, drop_protected

log = get_logger(__name__)
#: The key of the plan's baseline that holds what the policies learned (see ``_learned``).
LEARNED = "learned"
Clock = Callable[[], datetime]
IdFactory = Callable[[], str]


class ConnectorFactory(Protocol):
    def __call__(self, config: Config, name: str, source: SourceConfig) -> Connector: ...


class PlanRefusedError(SyncdError):
    """A saved plan may not be applied (too old, or the CRM drifted since)."""


@dataclass
class _Run:
    id: str
    source: str
    config: SourceConfig
    started: datetime
    counts: dict[str, object] = field(default_factory=dict)
    status: str = "succeeded"
    epoch: int = 0  # of the run's lease on the source, once taken


@dataclass
class ApplyResult:
    """A plan and what pushing it did (``pushes`` has resumed plans first)."""

    plan: Plan | None
    pushes: list[PushReport]


@dataclass
class Engine:
    """Runs cycles against one state store.

    Each run holds its source's lease throughout; when another command holds it the run waits
    up to ``wait_seconds``, then refuses with :class:`~syncd.errors.SourceBusyError`.
    """

    config: Config
    store: StateStore
    clock: Clock
    new_id: IdFactory
    connector_factory: ConnectorFactory
    wait_seconds: float = 0.0

    # -- entry points -----------------------------------------------------------------------

    def plan(self, source_name: str) -> Plan:
        """Pull the source, store what came, run the policies and persist the plan (a dry run)."""
        with self._run(source_name, dry_run=True) as (run, connector):
            return self._pull_and_plan(run, connector)

    def run_once(self, source_name: str, *, max_changes: int | None = None) -> ApplyResult:
        """Finish interrupted pushes, then pull, plan and push a new plan within the rails."""
        with self._run(source_name, dry_run=False) as (run, connector):
            pushes = self._resume(run, connector)
            plan = self._pull_and_plan(run, connector)
            pushes.append(
                self._push_checked(run, connector, self.store.load_plan(plan.id), max_changes)
            )
            run.counts["pushed"] = [_push_counts(p) for p in pushes]
            run.status = _status(pushes)
            return ApplyResult(plan, pushes)

    def apply(self, plan_id: str, *, max_changes: int | None = None) -> ApplyResult:
        """Push a plan saved by an earlier ``plan``: the reviewed plan, nothing recomputed.

        Refused when the plan is older than ``apply.max_plan_age_hours``, or when more than
        ``apply.max_drift_share`` of the source's records changed in the CRM since it was made
        (checked after an incremental pull).
        """
        stored = self.store.load_plan(plan_id)
        with self._run(stored.source, dry_run=False) as (run, connector):
            age = self.clock() - stored.created_at
            limit = timedelta(hours=run.config.apply.max_plan_age_hours)
            if age > limit:
                raise PlanRefusedError(
                    f"plan {plan_id} is {age.total_seconds() / 3600:.1f} h old, older than "
                    f"apply.max_plan_age_hours ({run.config.apply.max_plan_age_hours} h); "
                    "make a new plan"
                )
            pushes = self._resume(run, connector, skip=plan_id)
            self._pull(run, connector)
            snapshot = self.store.snapshot(run.source, self.clock())
            drift = _drift(snapshot, stored.created_at)
            if drift > run.config.apply.max_drift_share:
                raise PlanRefusedError(
                    f"{drift:.1%} of the source's records changed in the CRM since plan "
                    f"{plan_id} was made, above apply.max_drift_share "
                    f"({run.config.apply.max_drift_share:.1%}); make a new plan"
                )
            pushes.append(self._push_checked(run, connector, stored, max_changes))
            run.counts["pushed"] = [_push_counts(p) for p in pushes]
            run.status = _status(pushes)
            return ApplyResult(None, pushes)

    def undo(self, run_id: str) -> tuple[PushReport | None, list[str]]:
        """Revert the field updates a run applied, skipping fields a person changed since.

        Returns the push of the reversing plan and the sentences about what cannot be undone.
        """
        undone_run = self.store.get_run(run_id)
        entries = [e for e in self.store.audit(run_id=run_id) if e.undone_by_run is None]
        cannot = [
            f"{e.object_type} {e.record_id}: merge of {e.before} into {e.after} cannot be "
            "undone (HubSpot merges are permanent)"
            for e in entries
            if e.kind == "merge"
        ]
        cannot += [
            f"{e.object_type} {e.record_id}: follow-up task {e.after} was created; "
            "delete it in the CRM if it is not wanted"
            for e in entries
            if e.kind == "create_task"
        ]
        updates = [e for e in entries if e.kind == "update" and e.field is not None]
        if not updates:
            return None, cannot
        with self._run(undone_run.source, dry_run=False) as (run, connector):
            changes = [
                Update(
                    run.source,
                    e.object_type,
                    "undo",
                    f"undo of run {run_id}: {e.field} back to its value before",
                    e.record_id,
                    e.field or "",
                    e.after,
                    e.before,
                )
                for e in updates
            ]
            plan_id = self.new_id()
            self.store.save_plan(
                plan_id, run.source, run.id, self.clock(), {"undo_of": run_id}, changes
            )
            pusher = self._pusher(
                run,
                connector,
                run.config.apply.model_copy(
                    update={"conflict_strategy": "crm-wins", "conflict_by_policy": {}}
                ),
            )
            report = pusher.push(self.store.load_plan(plan_id))
            applied = {e.seq for e in self.store.outbox(plan_id, statuses=["applied"])}
            self.store.mark_undone(
                [u.id for i, u in enumerate(updates) if i in applied], run.id, self.clock()
            )
            run.counts["pushed"] = [_push_counts(report)]
            run.status = _status([report])
            return report, cannot

    # -- the cycle --------------------------------------------------------------------------

    @contextmanager
    def _run(self, source_name: str, *, dry_run: bool) -> Iterator[tuple[_Run, Connector]]:
        name, source = self.config.source(source_name)
        run = _Run(self.new_id(), name, source, self.clock())
        self.store.ensure_source(name, source.connector, run.started)
        lease = self._acquire(run)
        run.started, run.epoch = lease.since, lease.epoch  # a run that waited starts now
        try:
            with self._recorded(run, source, dry_run=dry_run) as connector:
                yield run, connector
        finally:
            self.store.release_source(lease)

    def _acquire(self, run: _Run) -> SourceLease:
        """The source's lease; a busy source is waited for (up to ``wait_seconds``), and said."""
        try:
            return self.store.acquire_source(run.source, run.id, run.started)
        except SourceBusyError as busy:
            if not self.wait_seconds:
                raise
            log.warning(
                "source busy, waiting",
                source=run.source,
                holder=busy.holder,
                seconds=self.wait_seconds,
            )
        return self.store.acquire_source(run.source, run.id, run.started, self.wait_seconds)

    @contextmanager
    def _recorded(self, run: _Run, source: SourceConfig, *, dry_run: bool) -> Iterator[Connector]:
        """The run recorded from start to finish, with its connector; the lease is held."""
        name = run.source
        for stale in self.store.list_runs(name, limit=50):
            if stale.status == "running":  # the lease is ours: its process died unfinished
                self.store.finish_run(
                    stale.id,
                    run.started,
                    "failed",
                    stale.counts,
                    error=f"interrupted: superseded by run {run.id}",
                )
        self.store.start_run(run.id, name, run.started, dry_run=dry_run)
        with structlog.contextvars.bound_contextvars(run_id=run.id, source=name):
            try:
                connector = self.connector_factory(self.config, name, source)
                try:
                    yield connector
                finally:
                    connector.close()
            except BaseException as exc:  # record the failure, whatever it is, then re-raise
                self.store.finish_run(run.id, self.clock(), "failed", run.counts, error=str(exc))
                log.error("run failed", error=str(exc), error_type=type(exc).__name__)
                raise
            self.store.finish_run(run.id, self.clock(), run.status, run.counts)

    def _pull_and_plan(self, run: _Run, connector: Connector) -> Plan:
        self._pull(run, connector)
        schema = {
            object_type: {p.name: p for p in connector.properties(object_type)}
            for object_type in run.config.object_types
            if object_type != "owners"
        }
        plan = self._make_plan(run, schema)
        run.counts["planned"] = plan.summary()
        return plan

    def _pull(self, run: _Run, connector: Connector) -> None:
        pulled: dict[str, int] = {}
        skipped: dict[str, int] = {}
        for object_type in run.config.object_types:
            with structlog.contextvars.bound_contextvars(object_type=object_type):
                t0 = time.monotonic()
                cursor = self.store.get_cursor(run.source, object_type)
                mode = "full" if cursor.updated_at is None else "incremental"
                for batch in connector.pull(object_type, cursor, run_started_at=run.started):
                    self.store.store_batch(run.source, run.id, batch)
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
        run.counts["pulled"], run.counts["skipped"] = pulled, skipped

    def _make_plan(self, run: _Run, schema: Mapping[str, Mapping[str, PropertyDef]]) -> Plan:
        now = self.clock()
        decisions = {
            object_type: self.store.review_decisions(run.source, object_type)
            for object_type in run.config.object_types
        }
        snapshot = replace(self.store.snapshot(run.source, now), schema=schema, decisions=decisions)
        changes: list[Change] = []
        policies = build_policies(self.config.policies, default_region=run.config.default_region)
        learned = self._learned(run.source, snapshot, policies, now)
        snapshot = replace(snapshot, learned={k: v["parameters"] for k, v in learned.items()})
        for policy in policies:
            t0 = time.monotonic()
            proposed = policy(snapshot)
            log.info(
                "policy",
                policy=policy.name,
                changes=len(proposed),
                seconds=round(time.monotonic() - t0, 3),
            )
            changes.extend(proposed)
        kept, blocked = drop_protected(compose(changes), run.config.apply.protected_fields)
        if blocked:
            log.info(
                "protected fields",
                dropped=len(blocked),
                fields=sorted({c.field for c in blocked if isinstance(c, Update)}),
            )
        plan = Plan(
            id=self.new_id(),
            source=run.source,
            created_at=now,
            changes=tuple(kept),
            run_id=run.id,
            baseline={**self.store.baseline_summary(run.source), LEARNED: learned},
            labels=labels_for(snapshot),
            stats={
                "protected_dropped": len(blocked),
                "rare_labels": [
                    {
                        "object_type": u.object_type,
                        "field": u.field,
                        "value": u.value,
                        "label": u.label,
                        "hidden": u.hidden,
                        "records": u.records,
                    }
                    for u in label_usage(snapshot, self.config.policies.tags)
                ]
                if self.config.policies.tags.enabled
                else [],
            },
        )
        self.store.save_plan(plan.id, run.source, run.id, now, plan.baseline, plan.changes)
        measured = health(snapshot, plan.changes).metrics()
        self.store.save_health(run.id, run.source, now, measured)
        run.counts["health"] = measured.get("all", {})
        return plan

    def _learned(
        self, source: str, snapshot: Snapshot, policies: Sequence[Policy], now: datetime
    ) -> dict[str, Any]:
        """What each learning policy learned: the last plan's while fresh, else learned now.

        Kept in the plan's baseline under ``LEARNED`` (per policy: ``at`` and ``parameters``),
        so that a plan can be explained and the parameters stay frozen between re-estimations.
        """
        last = self.store.latest_plan(source)
        stored = self.store.load_plan(last).baseline.get(LEARNED) if last else None
        out: dict[str, Any] = {}
        for policy in policies:
            if not isinstance(policy, Learner):
                continue
            kept = stored.get(policy.name) if isinstance(stored, dict) else None
            if isinstance(kept, dict) and now - datetime.fromisoformat(kept["at"]) < (
                policy.relearn_after
            ):
                out[policy.name] = kept
                continue
            t0 = time.monotonic()
            out[policy.name] = {"at": now.isoformat(), "parameters": policy.learn(snapshot)}
            log.info("learned", policy=policy.name, seconds=round(time.monotonic() - t0, 3))
        return out

    def _resume(self, run: _Run, connector: Connector, skip: str | None = None) -> list[PushReport]:
        """Finish the pushes an earlier run left half done (a crash, a kill)."""
        reports = []
        for plan_id in self.store.pending_plans(run.source):
            if plan_id != skip:
                log.info("resuming interrupted push", plan_id=plan_id)
                reports.append(self._pusher(run, connector).push(self.store.load_plan(plan_id)))
        return reports

    def _push_checked(
        self, run: _Run, connector: Connector, plan: StoredPlan, max_changes: int | None
    ) -> PushReport:
        problems = ceiling_violations(
            plan.changes, run.config.apply.limits, _total_records(plan), max_changes
        )
        if problems:
            self.store.set_plan_status(plan.id, "held")
            raise SafetyRailError(f"plan {plan.id} was not pushed: " + "; ".join(problems))
        return self._pusher(run, connector).push(plan)

    def _pusher(
        self, run: _Run, connector: Connector, settings: ApplyConfig | None = None
    ) -> Pusher:
        """The one place a run's pushes are built: with the run's lease epoch."""
        return Pusher(
            self.store,
            _writer(connector),
            settings or run.config.apply,
            self.clock,
            run.source,
            run.id,
            run.epoch,
        )


def _writer(connector: Connector) -> Writer:
    if not isinstance(connector, Writer):
        raise SourceFatalError(f"connector {connector.name} cannot write to its CRM")
    return connector


def _total_records(plan: StoredPlan) -> int:
    """Live records of the source when the plan was made (owners are not CRM records)."""
    return sum(
        int(str(v.get("live", 0)))
        for k, v in plan.baseline.items()
        if k != "owners" and isinstance(v, dict)
    )


def _drift(snapshot: Snapshot, since: datetime) -> float:
    records = [r for records in snapshot.records.values() for r in records]
    if not records:
        return 0.0
    return sum(1 for r in records if r.updated_at > since) / len(records)


def _push_counts(report: PushReport) -> dict[str, object]:
    return {"plan_id": report.plan_id, "statuses": report.statuses, "calls": report.calls}


def _status(reports: list[PushReport]) -> str:
    return "succeeded" if all(r.complete for r in reports) else "partial"


def labels_for(snapshot: Snapshot) -> dict[tuple[str, str], str]:
    """Human names of the snapshot's records and owners, for reports."""
    labels = {
        (object_type, record.id): record_label(object_type, record.properties)
        for object_type, records in snapshot.records.items()
        for record in records
    }
    for owner_id, owner in snapshot.owners.items():
        name = " ".join(p for p in (owner.get("firstName"), owner.get("lastName")) if p)
        labels[("owners", owner_id)] = name or (owner.get("email") or "")
    return labels
