"""The state store interface: what syncd remembers between runs.

The store holds, per source (one CRM account): every record as last pulled (the *baseline* that
conflict detection compares against), the incremental-pull cursors, the runs, the records a run
had to skip, and the plans with their changes; for the push step, the outbox of operations, the
audit log of what syncd changed, and the review decisions on held merges. Later parts add alerts
and health scores.

Contract shared by every implementation:

- Datetimes go in and come out timezone-aware in UTC. A naive datetime is refused with
  :class:`~model.errors.StateError`.
- Every method is one transaction: it either happens whole or not at all.
- Problems the caller can act on (unknown source, run or plan, a duplicate id, a schema newer than
  this code) raise :class:`~model.errors.StateError`. The store never retries.
- One command at a time per source: whatever pulls or pushes a source holds its lease
  (:meth:`StateStore.acquire_source`). The lease's ``epoch`` is a fencing token: the outbox's
  writes (:meth:`StateStore.mark_sending`, :meth:`StateStore.record_results`) carry it and are
  refused with :class:`~model.errors.LeaseLostError` once another command took the source over.
  A lease taken with a time to live (the service's replicas) also lapses when its holder stops
  renewing it (:meth:`StateStore.renew_source`): those writes are refused once it expired, and
  another holder may take it over (PostgreSQL).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from model.changes import Change, Snapshot
from model.records import Cursor, PullBatch, Record
from state.outbox import (
    OUTBOX_STATUSES,
    OUTBOX_UNFINISHED,
    PLAN_STATUSES,
    REVIEW_DECISIONS,
    AuditEntry,
    AuditRecord,
    OpOutcome,
    OutboxEntry,
    OutboxOp,
    Revert,
)

__all__ = [
    "FINISHED_RUN_STATUSES",
    "OUTBOX_STATUSES",
    "OUTBOX_UNFINISHED",
    "OWNERS",
    "PLAN_PLANNED",
    "PLAN_STATUSES",
    "REVIEW_DECISIONS",
    "RUN_STATUSES",
    "AuditEntry",
    "AuditRecord",
    "CompletenessCheck",
    "HealthPoint",
    "OpOutcome",
    "OutboxEntry",
    "OutboxOp",
    "PlanInfo",
    "Pruned",
    "Retention",
    "Revert",
    "RunInfo",
    "SourceLease",
    "SourcePause",
    "StateStore",
    "StoredIncident",
    "StoredPlan",
]

#: A run's lifecycle: ``running`` until :meth:`StateStore.finish_run` sets one of the others.
#: ``partial`` means it finished but skipped or failed part of its work.
RUN_STATUSES: Final = ("running", "succeeded", "failed", "partial")
FINISHED_RUN_STATUSES: Final = ("succeeded", "failed", "partial")

#: The status a plan is saved with; :meth:`StateStore.set_plan_status` moves it on through
#: :data:`PLAN_STATUSES`.
PLAN_PLANNED: Final = "planned"

#: The object type whose records fill :attr:`policies.base.Snapshot.owners`.
OWNERS: Final = "owners"


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One sync run as recorded. ``finished_at`` is ``None`` while it runs."""

    id: str
    source: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    dry_run: bool
    counts: Mapping[str, object]
    error: str | None


@dataclass(frozen=True, slots=True)
class StoredPlan:
    """A saved plan: its changes in the order they were saved, and the baseline it was made from."""

    id: str
    source: str
    run_id: str | None
    created_at: datetime
    baseline: Mapping[str, object]
    status: str
    changes: list[Change]


@dataclass(frozen=True, slots=True)
class KeptPlan:
    """A plan stored whole, which the caller holds (with its changes, as it saved them) so that
    the next plans of the same source are stored as what differs from it: see
    :meth:`StateStore.save_plan`."""

    id: str
    source: str
    changes: Sequence[Change]
    #: Where each of its changes is, by kind, object type and record: filled by the store the
    #: first time a plan is stored against it (:func:`state.plan_diff.index`)
    positions: dict[tuple[str, str, str], list[int]] = field(
        default_factory=dict, compare=False, repr=False
    )


@dataclass(frozen=True, slots=True)
class PlanInfo:
    """A saved plan without its changes, for listings: ``kinds`` counts its changes by kind
    (``update``, ``merge``...; kinds it has none of are absent)."""

    id: str
    source: str
    run_id: str | None
    created_at: datetime
    baseline: Mapping[str, object]
    status: str
    kinds: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class HealthPoint:
    """The data-quality figures one run measured: object type (or ``all``) → metric → value."""

    run_id: str
    source: str
    measured_at: datetime
    metrics: Mapping[str, Mapping[str, float]]


@dataclass(frozen=True, slots=True)
class SourceLease:
    """The right of one command to pull and push one source, as the store recorded it.

    ``epoch`` is the fencing token: one more than the previous holder's. ``run_id``, ``host``,
    ``pid`` and ``since`` name the holder (what a second command is told).
    """

    source: str
    epoch: int
    run_id: str
    host: str
    pid: int
    since: datetime
    expires_at: datetime | None = None
    """When the lease lapses unless renewed; ``None``: held until released."""


@dataclass(frozen=True, slots=True)
class StoredIncident:
    """An incident as the store keeps it (the service's :class:`syncd.service.incidents.Incident`
    with its cause as text): one root cause at one source, open until ``resolved_at``."""

    source: str
    cause: str
    first_seen: datetime
    last_seen: datetime
    count: int
    message: str
    last_notified: datetime
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SourcePause:
    """A source the service paused: its vendor asked syncd to stop for a while (a daily API
    allowance spent, or at the reserve kept for others). Kept in the store so that a restart,
    and every replica, keep it paused; removed when a probe finds room again.

    ``used`` and ``limit`` are the allowance's latest reading (``None`` when the vendor gave
    none); ``probes`` counts the probes made since ``since``.
    """

    source: str
    since: datetime
    reason: str
    next_probe_at: datetime
    used: int | None = None
    limit: int | None = None
    probes: int = 0
    probed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CompletenessCheck:
    """One check of the completeness audit of one object type of a source.

    ``kind`` is ``counts``, ``sample`` or ``archived``; ``drift`` the share found wrong (0 when
    the store and the CRM agree); ``details`` is JSON saying what differed.
    """

    source: str
    object_type: str
    kind: str
    audited_at: datetime
    ok: bool
    drift: float
    details: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Retention:
    """What :meth:`StateStore.prune` may delete: rows older than each time (``None``: keep all).

    ``plans``: finished plans (with their changes and outbox rows); ``runs``: finished runs
    (with their skipped records and health figures); ``audit``: audit log entries; ``outbox``:
    final outbox rows (applied, conflict, failed, held); ``incidents``: resolved incidents and
    completeness audit results.
    """

    plans: datetime | None = None
    runs: datetime | None = None
    audit: datetime | None = None
    outbox: datetime | None = None
    incidents: datetime | None = None


@dataclass(frozen=True, slots=True)
class Pruned:
    """How many rows :meth:`StateStore.prune` deleted, per kind."""

    plans: int = 0
    runs: int = 0
    audit: int = 0
    outbox: int = 0
    incidents: int = 0

    @property
    def total(self) -> int:
        return self.plans + self.runs + self.audit + self.outbox + self.incidents


@dataclass(frozen=True, slots=True)
class KeptSnapshot:
    """A snapshot kept between runs (:meth:`StateStore.kept_snapshot`), with what brings it up
    to date: the number of the last write to the source's records it holds (``seq``) and the
    merged-away ids it was read with. ``read`` is how many records the store read to make it,
    ``whole`` whether that was every record (nothing kept, or kept no longer usable)."""

    snapshot: Snapshot
    seq: int
    merged: Mapping[str, Mapping[str, str]]
    read: int = 0
    whole: bool = False


class StateStore(abc.ABC):
    """Durable state of all sources. Implementations: :class:`state.store.SqlStateStore`."""

    @abc.abstractmethod
    def ensure_source(self, name: str, connector: str, now: datetime) -> None:
        """Register source ``name`` (idempotent; an existing source keeps its ``created_at``).

        Every other method that takes a source needs it registered first. Registering an existing
        name with another connector raises ``StateError``.
        """

    # -- one command at a time per source --------------------------------------------------------

    @abc.abstractmethod
    def acquire_source(
        self,
        source: str,
        run_id: str,
        now: datetime,
        wait_seconds: float = 0.0,
        ttl_seconds: float | None = None,
    ) -> SourceLease:
        """Take the lease on ``source`` for run ``run_id`` (of this process and host).

        First an exclusive lock that the database or the operating system frees by itself when
        this process or its connection ends (a killed command never leaves the source locked);
        then, in one transaction, the epoch moves on by one and the holder is recorded (``since``
        is ``now``, plus the time waited if it waited). When another holder has the lock: wait up to
        ``wait_seconds`` (polling), then raise :class:`~model.errors.SourceBusyError` naming the
        holder as recorded. ``StateError`` for an unknown source. A lease is for one holder at a
        time, even within one process.

        With ``ttl_seconds`` the lease expires that long after ``since`` unless renewed
        (:meth:`renew_source`). A lease whose holder let it expire (a process stopped, a machine
        gone without closing its connection, so the lock lingers) is taken over where the
        database allows it (PostgreSQL: the old holder's lock session is ended); the epoch moves
        on as always, which fences the old holder off.
        """

    @abc.abstractmethod
    def renew_source(self, lease: SourceLease, now: datetime, ttl_seconds: float) -> datetime:
        """Move ``lease``'s expiry to ``now + ttl_seconds`` and return it.

        :class:`~model.errors.LeaseLostError` (nothing changed) when the source is not held at
        the lease's epoch any more, or the lease expired before ``now``.
        """

    @abc.abstractmethod
    def release_source(self, lease: SourceLease) -> None:
        """Give the lease back: the holder is cleared (unless a newer epoch replaced it) and
        the lock freed, even when recording fails. A lease this store does not hold (released
        already) is ignored."""

    @abc.abstractmethod
    def source_lease(self, source: str) -> SourceLease | None:
        """The recorded holder of ``source``'s lease, ``None`` when nobody holds it."""

    @abc.abstractmethod
    def get_cursor(self, source: str, object_type: str) -> Cursor:
        """The committed cursor of one stream; an empty ``Cursor()`` when none was committed."""

    # -- the account a source synced ---------------------------------------------------------------

    @abc.abstractmethod
    def bind_account(self, source: str, account_id: str) -> str:
        """Record that ``source`` syncs the CRM account ``account_id`` (an opaque id its
        connector gives), unless an account is recorded already; return the recorded one. The
        caller refuses to go on when it differs: one source's records come from one account.
        ``StateError`` for an unknown source."""

    @abc.abstractmethod
    def source_account(self, source: str) -> str | None:
        """The account recorded for ``source``, ``None`` when none is."""

    @abc.abstractmethod
    def reset_source(self, source: str, now: datetime) -> dict[str, int]:
        """Forget, on purpose, what ``source`` pulled, in one transaction: its records,
        cursors, skipped records, review decisions, reverts and recorded account; operations
        not sent yet become ``skipped`` (they name records of what was forgotten). Runs, plans,
        sent operations and the audit log stay. Returns the number of rows per kind
        (``records``, ``cursors``, ``skipped records``, ``review decisions``, ``reverts``,
        ``operations not sent``). The caller holds the source's lease. ``StateError`` for an
        unknown source."""

    @abc.abstractmethod
    def store_batch(self, source: str, run_id: str, batch: PullBatch) -> int:
        """Store one pulled batch in ONE transaction and return how many records it wrote.

        - Records are upserted by ``(source, object_type, id)``. Of several versions of a record
          (repeats in the batch, or the stored row) the one with the newest ``updated_at`` is kept;
          on a tie the incoming one wins. A stale re-read never overwrites newer data, and is not
          counted as written.
        - A record that arrives merged away (``merged_into``) with no properties keeps its stored
          baseline properties (and associations when it brings none): a connector that learns
          of a merge from the survivor knows nothing of the absorbed record's values, and a
          resumed push compares against them.
        - ``batch.skipped`` is recorded against ``run_id``.
        - The cursor moves to ``batch.cursor`` but never backwards: afterwards it is the max of the
          stored and the new cursor (an empty cursor never replaces a set one); its
          ``deletions_read_at`` the same way, on its own.

        Either all of that is committed or none of it. ``run_id`` must be a started run of
        ``source``.
        """

    @abc.abstractmethod
    def snapshot(
        self,
        source: str,
        now: datetime,
        object_types: Sequence[str] | None = None,
        owners: bool = True,
    ) -> Snapshot:
        """The live records of ``source`` (neither archived nor merged away) as policies see them.

        ``object_types`` selects the types (each present in the result, possibly empty); ``None``
        means every stored type except ``owners``. Records are ordered by id, numeric ids by value.
        With ``owners`` true, live ``owners`` records fill ``Snapshot.owners`` (id → properties).
        An associated id the store holds as merged away stands for its survivor (a task on a
        merged contact is on the contact that absorbed it).
        """

    @abc.abstractmethod
    def kept_snapshot(self, source: str, now: datetime, kept: KeptSnapshot | None) -> KeptSnapshot:
        """:meth:`snapshot` of every type (owners in ``Snapshot.owners``) at ``now``, made from
        ``kept`` (an earlier result for ``source``) and only the records written since: what a
        long-running engine reads each cycle instead of every record.

        Every record is read when nothing is kept, or when what is kept no longer holds: records
        deleted since (``reset-source``), a record merged away or back since (a merge moves the
        associations of records that did not change), a ``kept`` from another store. Records
        are written only through this store, which numbers each write per source (committed
        in that order), so a kept snapshot plus what was written after its number is the
        snapshot a whole read gives.
        """

    @abc.abstractmethod
    def get_records(self, source: str, object_type: str, ids: Iterable[str]) -> dict[str, Record]:
        """Stored baselines of ``ids``, archived and merged ones included; unknown ids absent."""

    @abc.abstractmethod
    def start_run(self, run_id: str, source: str, started_at: datetime, dry_run: bool) -> None:
        """Record a run as ``running``. A duplicate ``run_id`` raises ``StateError``."""

    @abc.abstractmethod
    def finish_run(
        self,
        run_id: str,
        finished_at: datetime,
        status: str,
        counts: Mapping[str, object],
        error: str | None = None,
    ) -> bool:
        """Close a running run with a status from :data:`FINISHED_RUN_STATUSES` and its JSON
        ``counts``. A run already closed (another holder of the source found it interrupted)
        is left as it is: False. ``StateError`` for an unknown run."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> RunInfo:
        """One run; ``StateError`` when unknown."""

    @abc.abstractmethod
    def list_runs(self, source: str | None = None, limit: int = 20) -> list[RunInfo]:
        """The latest runs (of one source or all), newest ``started_at`` first."""

    @abc.abstractmethod
    def skipped_records(self, run_id: str) -> list[tuple[str, str, str]]:
        """What a run skipped, as ``(object_type, remote_id, reason)`` in the order recorded."""

    @abc.abstractmethod
    def save_plan(  # noqa: PLR0917  (positional signature fixed by the engine contract)
        self,
        plan_id: str,
        source: str,
        run_id: str | None,
        created_at: datetime,
        baseline: Mapping[str, object],
        changes: Sequence[Change],
        *,
        base: KeptPlan | None = None,
    ) -> KeptPlan:
        """Persist a plan and its changes (in order) in one transaction, with status ``planned``.

        ``baseline`` is JSON (typically :meth:`baseline_summary`). A duplicate id raises
        ``StateError``. With ``base`` (a plan of the same source this store kept whole, as an
        earlier call returned it), a plan most of whose changes are ``base``'s is stored as what
        differs (a change is the base's when it equals one); :meth:`load_plan` reads it back
        the same. Returns the plan to give as ``base`` next time: ``base``, or this plan when
        it was stored whole.
        """

    @abc.abstractmethod
    def load_plan(self, plan_id: str) -> StoredPlan:
        """A saved plan with its changes rebuilt in saved order; ``StateError`` when unknown."""

    @abc.abstractmethod
    def plan_info(self, plan_id: str) -> PlanInfo:
        """A saved plan's header and counts (not its changes); ``StateError`` when unknown."""

    @abc.abstractmethod
    def list_plans(self, source: str | None = None, limit: int = 20) -> list[PlanInfo]:
        """The latest plans (of one source or all), newest ``created_at`` (then id) first."""

    @abc.abstractmethod
    def baseline_summary(self, source: str) -> dict[str, object]:
        """Per stored object type: ``count`` (all rows), ``live`` and ``max_updated_at`` (ISO).

        Shape: ``{"contacts": {"count": 3, "live": 2, "max_updated_at": "2024-...+00:00"}}``,
        types sorted. Two equal summaries mean no pull changed the records in between.
        """

    @abc.abstractmethod
    def refresh_records(self, source: str, records: Sequence[Record]) -> int:
        """Update stored baselines after syncd wrote to the CRM, so the next plan (and the next
        conflict check) compares against what syncd wrote. Returns how many records it wrote.

        Same rule as :meth:`store_batch`: a record replaces a stored one only if its
        ``updated_at`` is not older (a newer pull is never overwritten); unknown records (a task
        syncd created) are added. Unlike a pull it moves no cursor, records no run
        (``last_seen_run_id`` is kept) and may mix object types.
        """

    # -- push: outbox ---------------------------------------------------------------------------

    @abc.abstractmethod
    def enqueue(self, plan_id: str, run_id: str, ops: Sequence[OutboxOp], now: datetime) -> int:
        """Add a plan's operations to the outbox as ``pending``; return how many were added.

        Idempotent: an op whose ``key`` is already in the outbox is left as it is (status,
        attempts, result), so enqueueing a plan again after a crash adds only what is missing.
        ``StateError`` when the plan or run is unknown, the run is not of the plan's source, keys
        repeat within ``ops``, or a present key belongs to another plan position (then nothing is
        added).
        """

    @abc.abstractmethod
    def outbox(self, plan_id: str, statuses: Sequence[str] | None = None) -> list[OutboxEntry]:
        """A plan's operations ordered by ``(seq, op_index)``, optionally only some statuses.

        ``StateError`` for an unknown plan or a status not in :data:`OUTBOX_STATUSES`.
        """

    @abc.abstractmethod
    def mark_sending(self, keys: Sequence[str], now: datetime, *, epoch: int) -> None:
        """Mark operations ``sending`` just before their write goes out.

        Each key must be ``pending`` or already ``sending`` (a resumed push); otherwise (unknown,
        applied, failed...) ``StateError`` and no row changes. This is what keeps an applied
        operation from being sent twice. ``epoch`` is the caller's lease on the operations'
        source: when that source is not held at ``epoch`` any more, ``LeaseLostError`` and no row
        changes.
        """

    @abc.abstractmethod
    def record_results(self, results: Sequence[OpOutcome], now: datetime, *, epoch: int) -> None:
        """Record outcomes and their audit entries in ONE transaction.

        For each outcome: the row's ``status``, ``result`` and ``reason`` are replaced,
        ``attempts`` grows by ``attempts_increment`` and ``updated_at`` becomes ``now``; its
        ``audit`` records are appended to the audit log. A crash leaves either all of it or none
        (never an applied operation without its audit entry, nor the reverse).

        ``StateError`` (and nothing recorded) when a key is unknown, repeated, or already
        ``applied`` (final); a status is not in :data:`OUTBOX_STATUSES`; an outcome that is not
        ``applied`` carries audit records; or an audit record's ``key``, ``plan_id`` or
        ``source`` differs from its operation's. ``LeaseLostError`` (and nothing recorded) when
        the operations' source is not held at ``epoch`` any more (see :meth:`mark_sending`).
        """

    @abc.abstractmethod
    def set_plan_status(self, plan_id: str, status: str) -> None:
        """Move a plan to ``status`` (one of :data:`PLAN_STATUSES`); ``StateError`` if unknown."""

    @abc.abstractmethod
    def pending_plans(self, source: str) -> list[str]:
        """Ids of ``source``'s plans with operations still ``pending`` or ``sending``, oldest
        plan first: what a push interrupted by a crash left to resume."""

    # -- push: audit log and reviews -------------------------------------------------------------

    @abc.abstractmethod
    def audit(
        self,
        source: str | None = None,
        run_id: str | None = None,
        record_id: str | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """Audit entries matching every filter given, newest first (the order to undo them in),
        at most ``limit``. Undone entries are included (``undone_by_run`` set)."""

    @abc.abstractmethod
    def mark_undone(self, audit_ids: Sequence[int], undo_run_id: str, now: datetime) -> None:
        """Record that run ``undo_run_id`` undid these audit entries at ``now``.

        ``StateError`` (and nothing marked) when an id is unknown or already undone, or the run
        is unknown.
        """

    @abc.abstractmethod
    def record_review(  # noqa: PLR0917  (positional signature fixed by the engine contract)
        self,
        source: str,
        object_type: str,
        ids: Sequence[str],
        decision: str,
        now: datetime,
        by: str | None = None,
        note: str | None = None,
    ) -> None:
        """Record a person's decision (``approved`` or ``rejected``) on the group ``ids``.

        The group is a set: order and repeats do not matter. A later decision on the same group
        replaces the earlier one. ``StateError`` for an unknown source, a bad decision, an empty
        group, or an id that is empty or contains ``,``.
        """

    @abc.abstractmethod
    def review_decisions(self, source: str, object_type: str) -> dict[frozenset[str], str]:
        """The current decision on every reviewed group of ``source``'s ``object_type``; an id
        the store holds as merged away since is given as its survivor (a decision outlives the
        CRM's merges, which may give records new ids)."""

    # -- what syncd wrote, and what people changed back ------------------------------------------

    @abc.abstractmethod
    def field_writes(
        self, source: str, object_type: str, record_ids: Iterable[str]
    ) -> dict[tuple[str, str], AuditEntry]:
        """The latest field update syncd applied and did not undo (an undo run's own writes
        included), per ``(record id, field)`` of ``record_ids``; fields never written absent."""

    @abc.abstractmethod
    def save_reverts(self, reverts: Sequence[Revert]) -> None:
        """Store reverts, each replacing the stored one of its field (release included).

        ``StateError`` (nothing stored) for an unknown source or audit id, or a field given
        twice.
        """

    @abc.abstractmethod
    def reverts(
        self, source: str, object_type: str | None = None, *, released: bool | None = None
    ) -> list[Revert]:
        """``source``'s reverts (of one type, or all), only released or only unreleased ones
        when ``released`` says, ordered by object type, record id (numeric by value), field."""

    @abc.abstractmethod
    def release_reverts(  # noqa: PLR0917  (mirrors record_review)
        self,
        source: str,
        object_type: str,
        record_ids: Sequence[str],
        field: str | None,
        now: datetime,
        by: str | None = None,
    ) -> list[Revert]:
        """Release the unreleased reverts of ``record_ids`` (only of ``field`` when given) and
        return them as released. ``StateError`` for an unknown source."""

    # -- health and reports ----------------------------------------------------------------------

    @abc.abstractmethod
    def save_health(
        self,
        run_id: str,
        source: str,
        measured_at: datetime,
        metrics: Mapping[str, Mapping[str, float]],
    ) -> None:
        """Store what run ``run_id`` measured: one row per object type (or ``all``) of
        ``metrics``, each a mapping of metric name to a finite number.

        Saving again for the same run replaces its figures. ``StateError`` (nothing stored) when
        the run is unknown or not of ``source``, or a value is not a finite number.
        """

    @abc.abstractmethod
    def health_history(self, source: str, limit: int = 50) -> list[HealthPoint]:
        """The figures of ``source``'s latest ``limit`` measured runs, oldest first (by
        ``measured_at``, then run id)."""

    # -- the service: schedules, incidents, completeness, retention ------------------------------

    @abc.abstractmethod
    def schema_revision(self) -> str | None:
        """The schema revision the database is at (a query: ``StateError`` when unreachable)."""

    @abc.abstractmethod
    def last_success(self, source: str) -> datetime | None:
        """When the newest run of ``source`` that completed (``succeeded`` or ``partial``)
        finished; ``None`` when none did."""

    @abc.abstractmethod
    def next_run(self, source: str) -> datetime | None:
        """When ``source`` runs next, as last set; ``None`` when never set."""

    @abc.abstractmethod
    def set_next_run(self, source: str, when: datetime | None, now: datetime) -> None:
        """Record when ``source`` runs next (``None``: not scheduled). ``StateError`` for an
        unknown source."""

    @abc.abstractmethod
    def source_pause(self, source: str) -> SourcePause | None:
        """The pause of ``source`` (``None``: it is not paused)."""

    @abc.abstractmethod
    def paused_sources(self) -> list[SourcePause]:
        """Every paused source's pause, by source name."""

    @abc.abstractmethod
    def save_pause(self, pause: SourcePause) -> None:
        """Record ``pause`` (replacing the source's previous one). ``StateError`` for an
        unknown source."""

    @abc.abstractmethod
    def clear_pause(self, source: str) -> bool:
        """Unpause ``source``; True when it was paused (False: someone cleared it first)."""

    @abc.abstractmethod
    def outbox_depth(self) -> dict[str, int]:
        """Per source with any: operations waiting to be sent (``pending`` or ``sending``)."""

    @abc.abstractmethod
    def open_incidents(self, source: str | None = None) -> list[StoredIncident]:
        """Unresolved incidents (of one source, or all), oldest ``first_seen`` first."""

    @abc.abstractmethod
    def incidents(self, source: str, limit: int = 20) -> list[StoredIncident]:
        """``source``'s latest incidents, resolved ones included, newest ``last_seen`` first."""

    @abc.abstractmethod
    def save_incident(
        self, incident: StoredIncident, previous: StoredIncident | None = None
    ) -> bool:
        """Save the incident of (source, cause, first_seen), compare-and-set.

        With ``previous`` (the incident as read before deciding), it replaces it only while the
        stored one still equals it. Without, the incident is new: saved only when no incident of
        the same source and cause is open and none has its key. False (nothing saved) when
        another process got there first: read again and decide again. ``StateError`` for an
        unknown source.
        """

    @abc.abstractmethod
    def save_completeness(self, check: CompletenessCheck) -> None:
        """Store one completeness check. ``StateError`` for an unknown source."""

    @abc.abstractmethod
    def completeness(
        self, source: str, object_type: str | None = None, limit: int = 20
    ) -> list[CompletenessCheck]:
        """``source``'s latest completeness checks (of one object type, or all), newest first."""

    @abc.abstractmethod
    def count_live(self, source: str, object_type: str, edges: Sequence[datetime]) -> list[int]:
        """Live records (neither archived nor merged away) of ``object_type`` per last-modified
        bucket ``[edges[i], edges[i + 1])``: ``len(edges) - 1`` counts; edges ascending."""

    @abc.abstractmethod
    def live_records_at(
        self, source: str, object_type: str, before: datetime, positions: Sequence[int]
    ) -> list[Record]:
        """The live records of ``object_type`` last modified before ``before``, at
        ``positions`` of their id order (0-based; positions past the end are left out): a
        sample whose randomness the caller chose. :meth:`count_live` gives how many there are."""

    @abc.abstractmethod
    def live_among(self, source: str, object_type: str, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` whose records are stored live (neither archived nor merged away)."""

    @abc.abstractmethod
    def live_ids(self, source: str, object_type: str) -> set[str]:
        """The ids of every record of ``object_type`` stored live (neither archived nor merged
        away): what a source's list of its live ids is compared with."""

    @abc.abstractmethod
    def prune(self, retention: Retention) -> Pruned:
        """Delete what :class:`Retention` lets go, keeping what undo and the reports need.

        Kept whatever its age: an audit entry a revert refers to; a plan with unfinished
        operations, an audit entry, or that is its source's newest; a run that
        a kept plan, audit entry or outbox row refers to, that is running, or that is its
        source's newest or newest completed run; open incidents. Outbox rows go when final
        (applied, conflict, failed, held) and older than ``retention.outbox``; skipped ones go
        with their plan (:mod:`state.retention_sql`). In one transaction.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections. The store is unusable afterwards."""
