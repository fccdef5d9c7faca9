"""The engine: one sync cycle for one source, pull → store → policies → plan → push.

The engine is the only place that knows both the connector and the policy interfaces; it knows
no vendor. Time and ids come in from the caller so tests and dry runs are exact.

Every entry point records a run: ``plan`` (a dry run), ``run_once`` (plan and push), ``apply``
(push a saved plan) and ``undo`` (push the reverse of a run's field updates). A run that raises
is recorded as failed with its error; what was stored before the failure stays (records with
their cursors, outbox results), and the next run resumes from it: an interrupted push is
finished before anything new is planned, and ``apply`` of the same plan finishes it.

Every plan leaves out what syncd wrote before and someone changed back since
(:mod:`syncd.reverts`), until a person releases it.

For the service: a run checks in between batches (:mod:`syncd.fence`) and stops when ``stop``
is set (recorded as interrupted) or its lease is lost; with ``lease_ttl`` its lease lapses
unless renewed, which a thread does while it runs; ``observer`` hears of every finished run
(:mod:`syncd.observer`).
"""

from __future__ import annotations

import resource
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from connectors.base import ApiUsage, Connector, Writer
from model.changes import Change, Snapshot, Update
from model.errors import AccountMismatchError, SourceBusyError, SourceFatalError, SyncdError
from model.fields import record_label
from model.records import PropertyDef, PullBatch, Record
from model.writes import FieldChange
from policies.base import Incremental, Learner, Policy
from policies.registry import build_policies
from policies.tags import label_usage
from state.base import (
    OUTBOX_UNFINISHED,
    PLAN_PLANNED,
    AuditEntry,
    KeptPlan,
    KeptSnapshot,
    OpOutcome,
    Revert,
    SourceLease,
    StateStore,
    StoredPlan,
)
from state.rows import as_stored, baseline_of, newest_per_id, snapshot_of
from syncd.ahead import Worker, working_ahead
from syncd.config import ApplyConfig, Config, SourceConfig
from syncd.fence import CheckedWriter, Checkpoint, LeaseKeeper
from syncd.heap import collector_paused, give_back_free_memory
from syncd.logging import get_logger
from syncd.memo import PerRecord
from syncd.observer import Observer, RunSummary, operations
from syncd.plan import Plan, after_merges, compose
from syncd.plans import UNDO_OF, latest_policy_plan
from syncd.push import Pusher, PushReport, expand
from syncd.quality import health, key_fields_filled
from syncd.rails import (
    SafetyRailError,
    ceiling_violations,
    drift,
    drop_protected,
    written_fields,
)
from syncd.reverts import hold_reverts, needs_lookup, revert_to_dict

log = get_logger(__name__)
#: The key of the plan's baseline that holds what the policies learned (see ``_learned``).
LEARNED = "learned"
Clock = Callable[[], datetime]
#: The outbox result key of an undo operation whose old value the CRM refused, and its reason.
NOT_UNDOABLE = "not_undoable"
NOT_UNDOABLE_REASON = "not undoable: "
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
    dry_run: bool = False
    checkpoint: Checkpoint = field(default_factory=Checkpoint)
    planned: Counter[tuple[str, str]] = field(default_factory=Counter)
    usage: ApiUsage = field(default_factory=ApiUsage)
    #: The records pulled, as the store would give them back, where they are not stored
    #: (``Engine.keep_run`` off); None where they are.
    pulled: list[Record] | None = None


@dataclass
class ApplyResult:
    """A plan and what pushing it did (``pushes`` has resumed plans first), by run ``run_id``
    (the id ``undo`` takes)."""

    plan: Plan | None
    pushes: list[PushReport]
    run_id: str = ""
    #: Set when nothing was pushed because the plan is already fully applied: says so, in words.
    note: str | None = None


@dataclass
class Engine:
    """Runs cycles against one state store.

    Each run holds its source's lease throughout; when another command holds it the run waits
    up to ``wait_seconds``, then refuses with :class:`~model.errors.SourceBusyError`.
    """

    config: Config
    store: StateStore
    clock: Clock
    new_id: IdFactory
    connector_factory: ConnectorFactory
    wait_seconds: float = 0.0
    #: Set to stop every run at its next batch (the service is stopping).
    stop: threading.Event | None = None
    #: Leases lapse this many seconds after their last renewal (replicas); None: never.
    lease_ttl: float | None = None
    observer: Observer | None = None
    #: Whether incremental policies keep what a run left for the next (the service's engine:
    #: a cycle then compares only what changed). A one-off run (the CLI) keeps nothing: its
    #: features and key indexes would only add to its peak memory.
    remember: bool = False
    #: What incremental policies left from the last run, per source then policy (see
    #: :class:`~policies.base.Incremental`): kept while this engine lives, so a cycle compares
    #: only what changed; a new engine (a CLI run, a restart) starts full.
    memory: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: The last snapshot of each source, when ``remember``: the next cycle reads only the
    #: records written since (:meth:`StateStore.kept_snapshot`).
    snapshots: dict[str, KeptSnapshot] = field(default_factory=dict)
    #: The last plan of each source stored whole, when ``remember``: the next plans store what
    #: differs from it (:meth:`StateStore.save_plan`).
    plans: dict[str, KeptPlan] = field(default_factory=dict)
    #: Per source, what reports and health figures work out from one record alone, kept by
    #: record when ``remember`` (:class:`syncd.memo.PerRecord`): labels, key fields filled.
    per_record: dict[str, _PerRecord] = field(default_factory=dict)
    #: Whether the store keeps what a run pulls and plans: its records (the snapshot read back
    #: from the store) and the plan's changes (the plan's header, baseline and figures always
    #: are kept). Off only where the store is new and thrown away with the process and nothing
    #: reads the run back (``plan --csv`` without ``--apply``): the records pulled are the
    #: snapshot, as the store would have given them back (:func:`state.rows.as_stored`); a
    #: million of them are neither written (16 s) nor read again (17 s).
    keep_run: bool = True

    # -- entry points -----------------------------------------------------------------------

    def plan(self, source_name: str) -> Plan:
        """Pull the source, store what came, run the policies and persist the plan (a dry run)."""
        with self._run(source_name, dry_run=True, kind="plan") as (run, connector):
            return self._pull_and_plan(run, connector)

    def run_once(self, source_name: str, *, max_changes: int | None = None) -> ApplyResult:
        """Finish interrupted pushes, then pull, plan and push a new plan within the rails."""
        with self._run(source_name, dry_run=False, kind="run") as (run, connector):
            pushes = self._resume(run, connector)
            plan = self._pull_and_plan(run, connector)
            pushes.append(
                self._push_checked(run, connector, self.store.load_plan(plan.id), max_changes)
            )
            run.counts["pushed"] = [_push_counts(p) for p in pushes]
            run.status = _status(pushes)
            return ApplyResult(plan, pushes, run.id)

    def apply(
        self,
        plan_id: str,
        *,
        max_changes: int | None = None,
        seqs: Collection[int] | None = None,
    ) -> ApplyResult:
        """Push a plan saved by an earlier ``plan``: the reviewed plan, nothing recomputed.

        ``seqs`` keeps only those changes of the plan (their positions in it; a reviewer's
        selection); the others are not pushed, and a later ``apply`` may push them.
        Refused when the plan is older than ``apply.max_plan_age_hours``, or when more than
        ``apply.max_drift_share`` of the fields it writes were changed in the CRM by someone
        else since it was made (checked after an incremental pull; :func:`syncd.rails.drift`).
        Applying a plan again finishes what an interrupted apply left (each change once); a
        plan with nothing left to send is not pushed again and ``ApplyResult.note`` says so.
        """
        stored = self.store.load_plan(plan_id)
        done = self._already_applied(stored)
        if done is not None:
            log.info("plan already applied", plan_id=plan_id)
            return ApplyResult(None, [], note=done)
        with self._run(stored.source, dry_run=False, kind="apply") as (run, connector):
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
            drifted, counted = self._drift(run, stored)
            share = drifted / counted if counted else 0.0
            log.info("drift", plan_id=plan_id, drifted=drifted, fields=counted)
            if share > run.config.apply.max_drift_share:
                raise PlanRefusedError(
                    f"{drifted} of the {counted} fields plan {plan_id} writes ({share:.1%}) were "
                    "changed in the CRM by someone else since it was made, above "
                    f"apply.max_drift_share ({run.config.apply.max_drift_share:.1%}); "
                    "make a new plan"
                )
            pushes.append(self._push_checked(run, connector, stored, max_changes, seqs))
            run.counts["pushed"] = [_push_counts(p) for p in pushes]
            run.status = _status(pushes)
            return ApplyResult(None, pushes, run.id)

    def undo(self, run_id: str) -> tuple[PushReport | None, list[str]]:
        """Revert the field updates a run applied, skipping fields a person changed since.

        Returns the push of the reversing plan and the sentences about what cannot be undone.
        An old value the CRM refuses to take back (an e-mail it now finds invalid) is not
        undoable: it is said once, recorded in the undo plan's outbox as skipped (not
        failed), and never sent again by a later undo of the same run.
        """
        undone_run = self.store.get_run(run_id)
        entries = [e for e in self.store.audit(run_id=run_id) if e.undone_by_run is None]
        cannot = [
            f"{e.object_type} {e.record_id}: merge of {e.before} into {e.after} cannot be "
            "undone (merges are permanent in the CRM)"
            for e in entries
            if e.kind == "merge"
        ]
        cannot += [
            f"{e.object_type} {e.record_id}: follow-up task {e.after} was created; "
            "delete it in the CRM if it is not wanted"
            for e in entries
            if e.kind == "create_task"
        ]
        refused_before = self._not_undoable(undone_run.source, run_id)
        updates = [
            e
            for e in entries
            if e.kind == "update"
            and e.field is not None
            and (e.object_type, e.record_id, e.field) not in refused_before
        ]
        if refused_before:
            cannot.append(
                f"{len(refused_before)} field value(s) an earlier undo of run {run_id} found "
                "not undoable (the CRM refuses their old value) are left as they are"
            )
        if not updates:
            return None, cannot
        with self._run(undone_run.source, dry_run=False, kind="undo") as (run, connector):
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
                plan_id, run.source, run.id, self.clock(), {UNDO_OF: run_id}, changes
            )
            pusher = self._pusher(
                run,
                connector,
                run.config.apply.model_copy(
                    update={"conflict_strategy": "crm-wins", "conflict_by_policy": {}}
                ),
            )
            report = pusher.push(self.store.load_plan(plan_id))
            refused = [
                e
                for e in self.store.outbox(plan_id, statuses=["failed"])
                if not e.result.get("retriable")
            ]
            if refused:
                self.store.record_results(
                    [
                        OpOutcome(
                            e.key,
                            "skipped",
                            attempts_increment=0,
                            result={**e.result, NOT_UNDOABLE: True},
                            reason=f"{NOT_UNDOABLE_REASON}{e.reason}",
                        )
                        for e in refused
                    ],
                    self.clock(),
                    epoch=run.epoch,
                )
                report = pusher.report(plan_id)
                said = f"): {NOT_UNDOABLE_REASON}"
                report.skipped = [line for line in report.skipped if said not in line]
                cannot.append(
                    f"{len(refused)} old value(s) the CRM refuses to take back keep the value "
                    "syncd wrote; they are recorded as not undoable and later undos leave them. "
                    f"The CRM said of the first: {refused[0].reason}"
                )
                cannot += [_refusal(updates[e.seq]) for e in refused]
                log.info("not undoable", values=len(refused), undo_of=run_id)
            applied = {e.seq for e in self.store.outbox(plan_id, statuses=["applied"])}
            self.store.mark_undone(
                [u.id for i, u in enumerate(updates) if i in applied], run.id, self.clock()
            )
            run.counts["pushed"] = [_push_counts(report)]
            run.status = _status([report])
            return report, cannot

    def _not_undoable(self, source: str, run_id: str) -> set[tuple[str, str, str]]:
        """(object type, record, field) of ``run_id``'s updates an earlier undo found refused."""
        found: set[tuple[str, str, str]] = set()
        for info in self.store.list_plans(source, limit=1000):
            if info.baseline.get(UNDO_OF) != run_id:
                continue
            for entry in self.store.outbox(info.id, statuses=["skipped"]):
                fields = entry.payload.get("fields")
                if entry.result.get(NOT_UNDOABLE) and isinstance(fields, dict):
                    found.update((entry.object_type, entry.record_id, str(f)) for f in fields)
        return found

    # -- the cycle --------------------------------------------------------------------------

    @contextmanager
    def _run(
        self, source_name: str, *, dry_run: bool, kind: str
    ) -> Iterator[tuple[_Run, Connector]]:
        name, source = self.config.source(source_name)
        run = _Run(self.new_id(), name, source, self.clock(), counts={"kind": kind})
        run.dry_run = dry_run
        self.store.ensure_source(name, source.connector, run.started)
        lease = self._acquire(run)
        run.started, run.epoch = lease.since, lease.epoch  # a run that waited starts now
        keeper = None
        if self.lease_ttl is not None:
            keeper = LeaseKeeper(self.store, lease, self.lease_ttl, self.clock).start()
        run.checkpoint = Checkpoint(self.stop, keeper)
        try:
            with self._recorded(run, source, dry_run=dry_run) as connector:
                yield run, connector
        finally:
            if keeper is not None:
                keeper.stop()
            self.store.release_source(lease)

    def _acquire(self, run: _Run) -> SourceLease:
        """The source's lease; a busy source is waited for (up to ``wait_seconds``), and said."""
        ttl = self.lease_ttl
        try:
            return self.store.acquire_source(run.source, run.id, run.started, ttl_seconds=ttl)
        except SourceBusyError as busy:
            if not self.wait_seconds:
                raise
            log.warning(
                "source busy, waiting",
                source=run.source,
                holder=busy.holder,
                seconds=self.wait_seconds,
            )
        return self.store.acquire_source(
            run.source, run.id, run.started, self.wait_seconds, ttl_seconds=ttl
        )

    @contextmanager
    def _recorded(self, run: _Run, source: SourceConfig, *, dry_run: bool) -> Iterator[Connector]:
        """The run recorded from start to finish, with its connector; the lease is held."""
        name = run.source
        for stale in self.store.list_runs(name, limit=50):
            # Every run holds the lease, and the lease is ours now: a run still recorded as
            # running is one whose holder died, or was taken over (its lease lapsed; the epoch
            # fences it off, and it cannot record itself finished after this).
            if stale.status == "running":
                self.store.finish_run(
                    stale.id,
                    run.started,
                    "failed",
                    stale.counts,
                    error=f"interrupted: superseded by run {run.id}",
                )
        self.store.start_run(run.id, name, run.started, dry_run=dry_run)
        with structlog.contextvars.bound_contextvars(run_id=run.id, source=name):
            log.info("run started", kind=run.counts.get("kind"), dry_run=dry_run)
            t0, cpu0 = time.monotonic(), time.process_time()
            vendor = source.connector
            try:
                connector = self.connector_factory(self.config, name, source)
                vendor = connector.name
                try:
                    self._check_account(run, connector)
                    yield connector
                finally:
                    run.usage = connector.usage()
                    connector.close()
            except BaseException as exc:  # record the failure, whatever it is, then re-raise
                finished = self.clock()
                if not self.store.finish_run(
                    run.id, finished, "failed", run.counts, error=str(exc)
                ):
                    log.warning("run was recorded as interrupted by another holder meanwhile")
                log.error("run failed", error=str(exc), error_type=type(exc).__name__)
                self._observe(run, vendor, "failed", finished, exc)
                raise
            finished = self.clock()
            if not self.store.finish_run(run.id, finished, run.status, run.counts):
                log.warning("run was recorded as interrupted by another holder meanwhile")
            log.info(
                "run finished",
                status=run.status,
                seconds=round(time.monotonic() - t0, 3),
                cpu_seconds=round(time.process_time() - cpu0, 3),
                peak_mb=peak_mb(),
                **run_totals(run.counts),
            )
            self._observe(run, vendor, run.status, finished, None)

    def _observe(
        self,
        run: _Run,
        vendor: str,
        status: str,
        finished: datetime,
        error: BaseException | None,
    ) -> None:
        """Tell the observer (if any) what the run did; its failures are only logged."""
        if self.observer is None:
            return
        try:
            applied: Counter[tuple[str, str]] = Counter()
            if not run.dry_run:
                entries = {e.key: e for e in self.store.audit(run_id=run.id)}
                applied.update((e.policy, e.kind) for e in entries.values())
            attempted, failed = operations(run.counts)
            pulled = run.counts.get("pulled")
            self.observer(
                RunSummary(
                    run_id=run.id,
                    source=run.source,
                    kind=str(run.counts.get("kind", "")),
                    dry_run=run.dry_run,
                    status=status,
                    started=run.started,
                    finished=finished,
                    vendor=vendor,
                    error=error,
                    pulled=dict(pulled) if isinstance(pulled, Mapping) else {},
                    planned=dict(run.planned),
                    applied=dict(applied),
                    operations=attempted,
                    failed_operations=failed,
                    usage=run.usage,
                )
            )
        except Exception as exc:
            log.error("run observer failed", error=type(exc).__name__, detail=str(exc))

    def _check_account(self, run: _Run, connector: Connector) -> None:
        """One store, one account per source: the first account a source's connector names is
        recorded; a run whose connector names another is refused before anything is pulled or
        pushed (:class:`~model.errors.AccountMismatchError`). A connector that names none
        (``Connector.account_id`` is ``None``) is not checked."""
        reached = connector.account_id()
        if reached is None:
            return
        stored = self.store.bind_account(run.source, reached)
        if stored != reached:
            raise AccountMismatchError(run.source, stored, reached)

    def reset_source(self, source_name: str) -> dict[str, int]:
        """Forget what a source pulled, on purpose (:meth:`StateStore.reset_source`): its
        records, cursors and account, so the next run pulls in full, from whatever account
        its connector reaches. Holds the source's lease (a busy source waits up to
        ``wait_seconds``, then :class:`~model.errors.SourceBusyError`). Returns the rows
        forgotten, per kind."""
        name, source = self.config.source(source_name)
        now = self.clock()
        self.store.ensure_source(name, source.connector, now)
        run = _Run(self.new_id(), name, source, now)
        lease = self._acquire(run)
        try:
            counts = self.store.reset_source(name, self.clock())
            self.memory.pop(name, None)
            self.snapshots.pop(name, None)
            self.plans.pop(name, None)
            self.per_record.pop(name, None)
        finally:
            self.store.release_source(lease)
        log.info("source reset", source=name, **{k.replace(" ", "_"): v for k, v in counts.items()})
        return counts

    def _pull_and_plan(self, run: _Run, connector: Connector) -> Plan:
        # millions of objects built, few of them in cycles; what a service keeps is settled
        with collector_paused(settle=self.remember):
            self._pull(run, connector)
            schema = {
                object_type: {p.name: p for p in connector.properties(object_type)}
                for object_type in run.config.object_types
                if object_type != "owners"
            }
            run.checkpoint()
            plan = self._make_plan(run, schema, connector)
        run.counts["planned"] = plan.summary()
        run.planned.update((c.policy, c.kind) for c in plan.changes)
        return plan

    def _pull(self, run: _Run, connector: Connector) -> None:
        """Store every batch of every object type as it comes (:meth:`Connector.pull_all`:
        a connector may pull several types at once; each batch is stored, with its type's
        cursor, in one transaction on this thread)."""
        pulled: dict[str, int] = {}
        skipped: dict[str, int] = {}
        t0, cpu0 = time.monotonic(), time.process_time()
        cursors = {t: self.store.get_cursor(run.source, t) for t in run.config.object_types}
        finished: dict[str, tuple[float, float]] = {}  # wall and CPU at the type's last batch
        batches = connector.pull_all(cursors, run_started_at=run.started)
        run.pulled = None if self.keep_run else []
        try:
            for batch in batches:
                object_type = batch.object_type
                if run.pulled is not None:  # nothing stored before, nothing vanished
                    run.pulled.extend(map(as_stored, batch.records))
                else:
                    self.store.store_batch(run.source, run.id, batch)
                    if batch.live_ids is not None:
                        vanished = self._vanished(run, batch)
                        pulled[object_type] = pulled.get(object_type, 0) + vanished
                run.checkpoint()  # the batch in hand is stored; a stop comes before the next
                pulled[object_type] = pulled.get(object_type, 0) + len(batch.records)
                skipped[object_type] = skipped.get(object_type, 0) + len(batch.skipped)
                finished[object_type] = (time.monotonic(), time.process_time())
                for record_id, why in batch.skipped:
                    log.warning(
                        "record skipped", object_type=object_type, record_id=record_id, reason=why
                    )
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()  # stops the pulls still running when a batch could not be stored
        if run.pulled is not None:  # one version per id, as the store's upsert keeps
            run.pulled = newest_per_id(run.pulled)
        for object_type, cursor in cursors.items():
            log.info(
                "pulled",
                object_type=object_type,
                mode="full" if cursor.updated_at is None else "incremental",
                records=pulled.get(object_type, 0),
                skipped=skipped.get(object_type, 0),
                seconds=round(finished.get(object_type, (t0, cpu0))[0] - t0, 3),
                # the process's CPU while the pulls ran: types pulled at once share it
                cpu_seconds=round(finished.get(object_type, (t0, cpu0))[1] - cpu0, 3),
                peak_mb=peak_mb(),
            )
        run.counts["pulled"], run.counts["skipped"] = pulled, skipped

    def _vanished(self, run: _Run, batch: PullBatch) -> int:
        """Store archived the records stored live whose ids ``batch.live_ids`` (every id the
        source holds live, listed when it can no longer list its deletions) lacks; how many.
        Their deletion time is unknown: the run's start stands for it."""
        assert batch.live_ids is not None
        gone = sorted(self.store.live_ids(run.source, batch.object_type) - batch.live_ids)
        if not gone:
            return 0
        records = tuple(
            Record(batch.object_type, record_id, {}, run.started, archived=True)
            for record_id in gone
        )
        self.store.store_batch(
            run.source, run.id, PullBatch(batch.object_type, records, batch.cursor)
        )
        log.info(
            "gone from the source, their deletion no longer listed",
            object_type=batch.object_type,
            records=len(gone),
        )
        return len(gone)

    def _make_plan(
        self,
        run: _Run,
        schema: Mapping[str, Mapping[str, PropertyDef]],
        connector: Connector,
    ) -> Plan:
        now = self.clock()
        decisions = {
            object_type: self.store.review_decisions(run.source, object_type)
            for object_type in run.config.object_types
        }
        with _timed("snapshot") as said:
            if run.pulled is not None:
                snapshot = snapshot_of(run.source, now, run.pulled)
            elif self.remember:
                last = self.store.kept_snapshot(run.source, now, self.snapshots.get(run.source))
                self.snapshots[run.source] = last
                snapshot = last.snapshot
                said.update(read=last.read, whole=last.whole)
            else:
                snapshot = self.store.snapshot(run.source, now)
            said["records"] = sum(len(r) for r in snapshot.records.values())
        snapshot = replace(snapshot, schema=schema, decisions=decisions)
        settings = self.config.policies_for(run.source)
        policies = build_policies(settings, default_region=run.config.default_region)
        kept_for = self.memory.setdefault(run.source, {})
        for policy in policies if self.remember else ():
            if isinstance(policy, Incremental):
                policy.incremental(kept_for.setdefault(policy.name, {}))
        per_policy: dict[str, dict[str, object]] = {}
        # the per-record work of the policies after the merges, on the other core meanwhile
        with working_ahead(policies, snapshot) as worker:
            learned = self._learned(run.source, snapshot, policies, now)
            give_back_free_memory()  # what learning's arrays and worker threads left free
            snapshot = replace(snapshot, learned={k: v["parameters"] for k, v in learned.items()})
            proposed = _proposals(policies, snapshot, per_policy, worker)
        allowed, blocked = drop_protected(proposed, run.config.apply.protected_fields)
        run.counts["policies"] = per_policy
        notes: dict[str, object] = {
            p.name: dict(p.notes) for p in policies if isinstance(p, Incremental)
        }
        if notes:
            run.counts["incremental"] = notes
            for policy in policies:
                if isinstance(policy, Incremental):
                    log.info("incremental", policy=policy.name, **policy.notes)
        kept = compose(allowed, snapshot, connector.unique_fields)
        if blocked:
            log.info(
                "protected fields",
                dropped=len(blocked),
                fields=sorted({c.field for c in blocked if isinstance(c, Update)}),
            )
        memo = self.per_record.setdefault(run.source, _PerRecord()) if self.remember else None
        labels = labels_for(snapshot, None if memo is None else memo.labels)
        kept, reverts = self._hold_reverts(run, connector, kept, snapshot)
        plan = Plan(
            id=self.new_id(),
            source=run.source,
            created_at=now,
            changes=tuple(kept),
            run_id=run.id,
            baseline={**self._baseline(run), LEARNED: learned},
            labels=labels,
            stats={
                "protected_dropped": len(blocked),
                # what each policy proposed and counted; the times are in the run's counts
                "policies": {
                    name: {k: v for k, v in got.items() if not k.endswith("seconds")}
                    for name, got in per_policy.items()
                },
                "reverts": [
                    revert_to_dict(r, labels.get((r.object_type, r.record_id))) for r in reverts
                ],
                "rare_labels": [
                    {
                        "object_type": u.object_type,
                        "field": u.field,
                        "value": u.value,
                        "label": u.label,
                        "hidden": u.hidden,
                        "records": u.records,
                    }
                    for u in label_usage(snapshot, settings.tags)
                ]
                if settings.tags.enabled
                else [],
            },
        )
        with _timed("plan saved", changes=len(plan.changes)) as said:
            base = self.plans.get(run.source) if self.remember else None
            changes = plan.changes if self.keep_run else ()
            whole = self.store.save_plan(
                plan.id, run.source, run.id, now, plan.baseline, changes, base=base
            )
            if self.remember:
                self.plans[run.source] = whole
                said["whole"] = whole is not base
        measured = health(snapshot, plan.changes, None if memo is None else memo.filled).metrics()
        self.store.save_health(run.id, run.source, now, measured)
        run.counts["health"] = measured.get("all", {})
        return plan

    def _baseline(self, run: _Run) -> dict[str, object]:
        """What the plan is made from: the records per object type, the live ones, the newest."""
        if run.pulled is not None:
            return baseline_of(run.pulled)
        return self.store.baseline_summary(run.source)

    def _hold_reverts(
        self, run: _Run, connector: Connector, changes: list[Change], snapshot: Snapshot
    ) -> tuple[list[Change], list[Revert]]:
        """Leave out of the plan what syncd wrote before and someone changed back
        (:mod:`syncd.reverts`); store the new reverts with who changed them, where the CRM
        says. Returns the changes kept and the reverts held out."""
        wanted: dict[str, set[str]] = {}
        for change in changes:
            if isinstance(change, Update):
                wanted.setdefault(change.object_type, set()).add(change.record_id)
        writes = {
            (object_type, record_id, name): entry
            for object_type, ids in sorted(wanted.items())
            for (record_id, name), entry in self.store.field_writes(
                run.source, object_type, ids
            ).items()
        }
        if not writes:
            return changes, []
        # What this very run wrote (a resumed push, before it pulled) is not in the snapshot:
        # the pull stops at the run's start. Such a change is done, not changed back by someone.
        ours = {k for k, w in writes.items() if w.run_id == run.id}
        changes = [c for c in changes if not (isinstance(c, Update) and _written(c, ours, writes))]
        known = {(r.object_type, r.record_id, r.field): r for r in self.store.reverts(run.source)}
        kept, held = hold_reverts(changes, writes, known)
        if not held:
            return kept, []
        key = {id(u): (u.object_type, u.record_id, u.field) for u, _ in held}
        stale = [(u, w) for u, w in held if needs_lookup(u, w, known.get(key[id(u)]))]
        who = self._who_changed(connector, [key[id(u)] for u, _ in stale])
        now = self.clock()
        fresh = {
            key[id(u)]: _revert(
                run.source, u, w, now=now, change=who.get(key[id(u)]), snapshot=snapshot
            )
            for u, w in stale
        }
        self.store.save_reverts(list(fresh.values()))
        reverts = [fresh.get(key[id(u)]) or known[key[id(u)]] for u, _ in held]
        run.counts["reverts_held"] = len(reverts)
        log.info("changed back by someone: not proposed again", held=len(reverts), new=len(fresh))
        return kept, reverts

    def _who_changed(
        self, connector: Connector, fields: list[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], FieldChange]:
        """Who set each field's current value, where the CRM says (empty when it cannot)."""
        if not fields or not isinstance(connector, Writer):
            return {}
        by_type: dict[str, list[tuple[str, str]]] = {}
        for object_type, record_id, name in fields:
            by_type.setdefault(object_type, []).append((record_id, name))
        found: dict[tuple[str, str, str], FieldChange] = {}
        try:
            for object_type, pairs in sorted(by_type.items()):
                for (record_id, name), change in connector.field_changes(
                    object_type, pairs
                ).items():
                    found[(object_type, record_id, name)] = change
        except SyncdError as exc:  # who is a courtesy: the plan goes on, the next one asks again
            log.warning("could not read who changed fields back", error=str(exc))
            return {}
        return found

    def _learned(
        self, source: str, snapshot: Snapshot, policies: Sequence[Policy], now: datetime
    ) -> dict[str, Any]:
        """What each learning policy learned: the last plan's while fresh, else learned now.

        Kept in the plan's baseline under ``LEARNED`` (per policy: ``at`` and ``parameters``),
        so that a plan can be explained and the parameters stay frozen between re-estimations.
        """
        last = latest_policy_plan(self.store, source)
        stored = self.store.plan_info(last).baseline.get(LEARNED) if last else None
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
            with _timed("learned", policy=policy.name):
                out[policy.name] = {"at": now.isoformat(), "parameters": policy.learn(snapshot)}
        return out

    def _resume(self, run: _Run, connector: Connector, skip: str | None = None) -> list[PushReport]:
        """Finish the pushes an earlier run left half done (a crash, a kill)."""
        reports = []
        for plan_id in self.store.pending_plans(run.source):
            if plan_id != skip:
                log.info("resuming interrupted push", plan_id=plan_id)
                reports.append(self._pusher(run, connector).push(self.store.load_plan(plan_id)))
        return reports

    def _already_applied(self, plan: StoredPlan) -> str | None:
        """A sentence when every operation of ``plan`` is in the outbox and final (nothing to
        send, nothing to retry), else ``None``."""
        if plan.status in (PLAN_PLANNED, "held"):
            return None
        outbox = self.store.outbox(plan.id)
        if len(outbox) != len(expand(plan)):
            return None
        if any(e.status in OUTBOX_UNFINISHED for e in outbox):
            return None
        if any(e.status == "failed" and e.result.get("retriable") for e in outbox):
            return None
        counts = Counter(e.status for e in outbox)
        order = ("applied", "skipped", "conflict", "held", "failed")
        shown = ", ".join(f"{counts[s]} {s}" for s in order if counts[s]) or "no operations"
        return f"plan {plan.id} is already fully applied; nothing left to send ({shown})"

    def _drift(self, run: _Run, plan: StoredPlan) -> tuple[int, int]:
        """:func:`syncd.rails.drift` of ``plan`` against the records as just pulled."""
        wanted: dict[str, set[str]] = {}
        for (object_type, record_id, _), _, _ in written_fields(plan.changes):
            wanted.setdefault(object_type, set()).add(record_id)
        current = {
            (object_type, record.id): record
            for object_type, ids in wanted.items()
            for record in self.store.get_records(run.source, object_type, ids).values()
        }
        written: dict[tuple[str, str, str], list[str | None]] = {}
        for entry in self.store.audit(run_id=run.id):  # plans this run resumed first
            if entry.kind == "update" and entry.field is not None:
                key = (entry.object_type, entry.record_id, entry.field)
                written.setdefault(key, []).append(entry.after)
        return drift(plan.changes, current, written)

    def _push_checked(
        self,
        run: _Run,
        connector: Connector,
        plan: StoredPlan,
        max_changes: int | None,
        seqs: Collection[int] | None = None,
    ) -> PushReport:
        chosen = plan.changes if seqs is None else [plan.changes[i] for i in sorted(seqs)]
        problems = ceiling_violations(
            chosen, run.config.apply.limits, _total_records(plan), max_changes
        )
        if problems:
            self.store.set_plan_status(plan.id, "held")
            raise SafetyRailError(f"plan {plan.id} was not pushed: " + "; ".join(problems))
        return self._pusher(run, connector).push(plan, seqs=seqs)

    def _pusher(
        self, run: _Run, connector: Connector, settings: ApplyConfig | None = None
    ) -> Pusher:
        """The one place a run's pushes are built: with the run's lease epoch."""
        run.checkpoint()
        return Pusher(
            self.store,
            CheckedWriter(_writer(connector), run.checkpoint),
            settings or run.config.apply,
            self.clock,
            run.source,
            run.id,
            run.epoch,
        )


@contextmanager
def _timed(event: str, **fields: object) -> Iterator[dict[str, object]]:
    """Log ``event`` with its wall and CPU seconds once the block is done; what the block puts
    in the dict it is given is logged too."""
    said: dict[str, object] = dict(fields)
    t0, cpu0 = time.monotonic(), time.process_time()
    yield said
    log.info(
        event,
        **said,
        seconds=round(time.monotonic() - t0, 3),
        cpu_seconds=round(time.process_time() - cpu0, 3),
        peak_mb=peak_mb(),
    )


def peak_mb() -> int:
    """The process's peak resident memory so far, in MB (logged after each stage, so that the
    stage that raised it shows)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak >> 20 if sys.platform == "darwin" else peak >> 10  # bytes there, KB on Linux


def _proposals(
    policies: Sequence[Policy],
    snapshot: Snapshot,
    stats: dict[str, dict[str, object]],
    worker: Worker | None = None,
) -> list[Change]:
    """Every policy's changes, in the policies' order. Policies that decide merges run first,
    on ``snapshot``; the others on the records as they will be after those merges
    (:func:`syncd.plan.after_merges`), given what ``worker`` worked out ahead on ``snapshot``
    (:mod:`syncd.ahead`). ``stats`` gets, per policy, its changes, wall and CPU seconds and
    what it counted besides (:meth:`~policies.base.Policy.counts`: the dedupe policy's
    candidate pairs); each policy's are logged on one line."""
    proposed: dict[int, list[Change]] = {}
    view = snapshot
    for merging in (True, False):
        for index, policy in enumerate(policies):
            if policy.decides_merges is not merging:
                continue
            t0, cpu0 = time.monotonic(), time.process_time()
            proposed[index] = policy(view)
            stats[policy.name] = {
                "changes": len(proposed[index]),
                "seconds": round(time.monotonic() - t0, 3),
                "cpu_seconds": round(time.process_time() - cpu0, 3),
                **policy.counts(),
            }
            log.info("policy", policy=policy.name, **stats[policy.name], peak_mb=peak_mb())
        if merging:
            give_back_free_memory()  # before the other policies allocate their changes
            if worker is not None:
                worker.hand_over(snapshot)
            view = after_merges(snapshot, [c for found in proposed.values() for c in found])
    return [c for index in sorted(proposed) for c in proposed[index]]


def _written(
    change: Update,
    ours: Collection[tuple[str, str, str]],
    writes: Mapping[tuple[str, str, str], AuditEntry],
) -> bool:
    """Whether ``change`` sets what this run already wrote to its field."""
    key = (change.object_type, change.record_id, change.field)
    return key in ours and (writes[key].after or "") == (change.new or "")


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


def _revert(
    source: str,
    update: Update,
    write: AuditEntry,
    *,
    now: datetime,
    change: FieldChange | None,
    snapshot: Snapshot,
) -> Revert:
    """The revert of ``write`` found by ``update``, with who changed it where the CRM says."""
    by = None
    if change is not None and change.user_id:
        owner = next(
            (o for o in snapshot.owners.values() if str(o.get("user_id") or "") == change.user_id),
            None,
        )
        name = "" if owner is None else record_label("owners", owner)
        by = f"{name} (user {change.user_id})" if name else f"user {change.user_id}"
    return Revert(
        source=source,
        object_type=update.object_type,
        record_id=update.record_id,
        field=update.field,
        value=update.new,
        reverted_to=update.old,
        audit_id=write.id,
        written_at=write.applied_at,
        found_at=now,
        changed_by=by,
        changed_via=None if change is None else change.via,
        changed_at=None if change is None else change.at,
    )


def run_totals(counts: Mapping[str, object]) -> dict[str, int]:
    """A run's counts in a few totals: records pulled and skipped, changes planned, and
    operations pushed by outcome (for its log line and ``syncd runs``)."""
    totals: dict[str, int] = {}
    for key in ("pulled", "skipped"):
        value = counts.get(key)
        if isinstance(value, Mapping):
            totals[key] = sum(int(str(v)) for v in value.values())
    planned = counts.get("planned")
    if isinstance(planned, Mapping) and "changes" in planned:
        totals["planned"] = int(str(planned["changes"]))
    pushed = counts.get("pushed")
    if isinstance(pushed, list):
        for push in pushed:
            statuses = push.get("statuses") if isinstance(push, Mapping) else None
            if isinstance(statuses, Mapping):
                for status, n in statuses.items():
                    totals[str(status)] = totals.get(str(status), 0) + int(str(n))
    return totals


def _refusal(entry: AuditEntry) -> str:
    """One old value the CRM refused to take back."""
    return (
        f"{entry.object_type} {entry.record_id} {entry.field}: {entry.before!r} refused, "
        f"{entry.after!r} stays"
    )


def _push_counts(report: PushReport) -> dict[str, object]:
    return {"plan_id": report.plan_id, "statuses": report.statuses, "calls": report.calls}


def _status(reports: list[PushReport]) -> str:
    return "succeeded" if all(r.complete for r in reports) else "partial"


def _label(record: Record) -> str:
    return record_label(record.object_type, record.properties)


@dataclass
class _PerRecord:
    """What an engine that remembers keeps per record of a source (see ``Engine.per_record``)."""

    labels: PerRecord[str] = field(default_factory=lambda: PerRecord(_label))
    filled: PerRecord[int] = field(default_factory=lambda: PerRecord(key_fields_filled))


def labels_for(
    snapshot: Snapshot, kept: PerRecord[str] | None = None
) -> dict[tuple[str, str], str]:
    """Human names of the snapshot's records and owners, for reports (``kept``: those of the
    last call, by record)."""
    labels: dict[tuple[str, str], str] = {}
    for object_type, records in snapshot.records.items():
        names = (
            kept.values(object_type, records) if kept is not None else list(map(_label, records))
        )
        labels.update(zip(((object_type, r.id) for r in records), names, strict=True))
    for owner_id, owner in snapshot.owners.items():
        labels[("owners", owner_id)] = record_label("owners", owner)
    return labels
