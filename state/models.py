"""SQLModel tables of the state store.

The schema is created and changed only by the alembic migrations in ``state/migrations``; a test
checks that the migrated schema equals these models. Add a table here *and* a migration.

The service's tables (``incidents``, ``source_schedules``, ``completeness_audits``) reference
``sources.name`` like the others.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A ``DateTime(timezone=True)`` that only takes aware datetimes and always returns UTC.

    SQLite keeps no offset: values are converted to UTC before they are written, so stored text
    compares in time order, and read back as UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is UTC:
            return value
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; pass an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _dt(*, nullable: bool) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable)


def _counter() -> Any:
    """A number the database starts at 0 (no Python default: an insert that does not name it
    works on a schema from before it, as older revisions' tests do)."""
    return Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="0"))


def _json() -> Any:
    return Field(sa_type=sa.JSON, nullable=False)


class SourceRow(SQLModel, table=True):
    """A CRM account syncd syncs. ``account_id`` is the account its records came from, as the
    connector names it (``None``: not known yet, or the connector cannot tell)."""

    __tablename__ = "sources"

    name: str = Field(primary_key=True)
    connector: str
    created_at: datetime = _dt(nullable=False)
    account_id: str | None = None
    #: The last number given to a transaction that wrote this source's records (see
    #: ``RecordRow.seq``), and the number of the last one that deleted some (``reset-source``):
    #: a snapshot read at ``records_seq`` N is brought up to date by the rows numbered above N,
    #: unless ``records_cut`` passed N.
    records_seq: int = _counter()
    records_cut: int = _counter()


class RunRow(SQLModel, table=True):
    """One sync run of one source."""

    __tablename__ = "runs"
    __table_args__ = (sa.Index("ix_runs_source_started_at", "source", "started_at"),)

    id: str = Field(primary_key=True)
    source: str = Field(foreign_key="sources.name")
    started_at: datetime = _dt(nullable=False)
    finished_at: datetime | None = _dt(nullable=True)
    status: str
    dry_run: bool
    counts: dict[str, Any] = _json()
    error: str | None = Field(default=None, sa_type=sa.Text)


class CursorRow(SQLModel, table=True):
    """Where the incremental pull of one stream resumes; ``updated_at`` null before a full pull.
    ``deletions_read_at``: when the stream's deletions were last read in full (connectors that
    read them on their own schedule)."""

    __tablename__ = "cursors"

    source: str = Field(primary_key=True, foreign_key="sources.name")
    object_type: str = Field(primary_key=True)
    updated_at: datetime | None = _dt(nullable=True)
    run_id: str | None = Field(default=None, foreign_key="runs.id", ondelete="SET NULL")
    committed_at: datetime = _dt(nullable=False)
    deletions_read_at: datetime | None = _dt(nullable=True)


class RecordRow(SQLModel, table=True):
    """A record as last pulled: the baseline for snapshots and conflict detection.

    ``properties`` maps canonical field → str|None; ``associations`` maps object type → [ids];
    ``merged_ids`` is a list of ids.
    """

    __tablename__ = "records"
    __table_args__ = (sa.Index("ix_records_source_seq", "source", "seq"),)

    source: str = Field(primary_key=True, foreign_key="sources.name")
    object_type: str = Field(primary_key=True)
    remote_id: str = Field(primary_key=True)
    properties: dict[str, Any] = _json()
    associations: dict[str, Any] = _json()
    remote_created_at: datetime | None = _dt(nullable=True)
    remote_updated_at: datetime = _dt(nullable=False)
    archived: bool
    merged_into: str | None = None
    merged_ids: list[str] = _json()
    last_seen_run_id: str | None = Field(default=None, foreign_key="runs.id", ondelete="SET NULL")
    #: The source's ``records_seq`` of the transaction that last wrote the row.
    seq: int = _counter()


class SkippedRecordRow(SQLModel, table=True):
    """A record a run could not read, and why."""

    __tablename__ = "skipped_records"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id", ondelete="CASCADE", index=True)
    source: str = Field(foreign_key="sources.name")
    object_type: str
    remote_id: str
    reason: str = Field(sa_type=sa.Text)


class PlanRow(SQLModel, table=True):
    """A plan: changes proposed from one snapshot, and the baseline it was made from.

    Its changes are ``plan_changes`` rows, or, when most of them are changes of a plan stored
    whole (the service plans the same source every few minutes, and most of a plan is the last
    one's), the rows of what differs and the runs it reuses of that plan's rows.
    """

    __tablename__ = "plans"
    __table_args__ = (sa.Index("ix_plans_source_created_at", "source", "created_at"),)

    id: str = Field(primary_key=True)
    source: str = Field(foreign_key="sources.name")
    run_id: str | None = Field(default=None, foreign_key="runs.id", ondelete="SET NULL")
    created_at: datetime = _dt(nullable=False)
    baseline: dict[str, Any] = _json()
    status: str
    #: The plan stored whole whose changes this one reuses (``None``: this one is stored whole);
    #: not a foreign key: retention keeps a plan another one builds on (state.retention_sql)
    base_id: str | None = Field(default=None, nullable=True)
    #: ``[[seq, base_seq, length], ...]``: the runs of this plan's changes that are
    #: ``base_id``'s changes from ``base_seq`` on; its other changes are its own rows
    reused: list[list[int]] | None = Field(default=None, sa_type=sa.JSON, nullable=True)
    #: Its changes per kind (``None``: counted from ``plan_changes``, as before revision 0011)
    kinds: dict[str, int] | None = Field(default=None, sa_type=sa.JSON, nullable=True)


class PlanChangeRow(SQLModel, table=True):
    """One change of a plan; ``payload`` is its ``model.changes.change_to_dict`` form.

    ``record_id`` is the record the change is about (a merge's primary).
    """

    __tablename__ = "plan_changes"

    plan_id: str = Field(primary_key=True, foreign_key="plans.id", ondelete="CASCADE")
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    kind: str
    object_type: str
    record_id: str
    payload: dict[str, Any] = _json()


class OutboxRow(SQLModel, table=True):
    """One operation of a plan to push, with its idempotency ``key`` and its latest outcome.

    ``(plan_id, seq, op_index)`` places it in its plan; ``run_id`` is the run that enqueued it.
    Deleted with its plan (the audit log, not the outbox, is the permanent record).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        sa.UniqueConstraint("key", name="uq_outbox_key"),
        sa.UniqueConstraint("plan_id", "seq", "op_index", name="uq_outbox_plan_seq_op"),
        sa.Index("ix_outbox_source_status", "source", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(foreign_key="plans.id", ondelete="CASCADE")
    seq: int
    op_index: int
    key: str
    source: str = Field(foreign_key="sources.name")
    run_id: str = Field(foreign_key="runs.id")
    kind: str
    object_type: str
    record_id: str
    payload: dict[str, Any] = _json()
    status: str
    attempts: int
    result: dict[str, Any] = _json()
    reason: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _dt(nullable=False)
    updated_at: datetime = _dt(nullable=False)


class AuditRow(SQLModel, table=True):
    """A change syncd made to a CRM: before and after, when, and the vendor's (trimmed) answer.

    ``key`` is the outbox key of the operation that made it (not a foreign key: the audit log
    outlives the outbox). ``undone_by_run``/``undone_at`` are set when a later run undid it.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_source", "source"),
        sa.Index("ix_audit_log_run_id", "run_id"),
        sa.Index("ix_audit_log_record_id", "record_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id")
    plan_id: str = Field(foreign_key="plans.id")
    key: str
    source: str = Field(foreign_key="sources.name")
    policy: str
    kind: str
    object_type: str
    record_id: str
    field: str | None = None
    before: str | None = Field(default=None, sa_type=sa.Text)
    after: str | None = Field(default=None, sa_type=sa.Text)
    applied_at: datetime = _dt(nullable=False)
    response: dict[str, Any] = _json()
    undone_by_run: str | None = Field(default=None, foreign_key="runs.id")
    undone_at: datetime | None = _dt(nullable=True)


class ReviewDecisionRow(SQLModel, table=True):
    """A person's verdict on a group of records held for review (a low-confidence merge).

    ``ids_key`` is the group's ids, de-duplicated, sorted (numeric ids by value) and joined by
    ``,``. One verdict per group: a later decision replaces the earlier one.
    """

    __tablename__ = "review_decisions"

    source: str = Field(primary_key=True, foreign_key="sources.name")
    object_type: str = Field(primary_key=True)
    ids_key: str = Field(primary_key=True, sa_type=sa.Text)
    decision: str
    decided_at: datetime = _dt(nullable=False)
    decided_by: str | None = None
    note: str | None = Field(default=None, sa_type=sa.Text)


class HealthRow(SQLModel, table=True):
    """Data-quality figures of one object type of a source, measured by one run.

    ``object_type`` is a canonical type or ``all`` (the whole source); ``metrics`` maps a
    metric name (``syncd.quality``) to a number. One row per run and object type.
    """

    __tablename__ = "health"
    __table_args__ = (sa.Index("ix_health_source_measured_at", "source", "measured_at"),)

    run_id: str = Field(primary_key=True, foreign_key="runs.id", ondelete="CASCADE")
    object_type: str = Field(primary_key=True)
    source: str = Field(foreign_key="sources.name")
    measured_at: datetime = _dt(nullable=False)
    metrics: dict[str, Any] = _json()


class SourceLeaseRow(SQLModel, table=True):
    """Who holds a source's lease, and its fencing ``epoch`` (one more at every acquisition).

    The lock itself is the database's or the operating system's (:mod:`state.locks`); this row
    says who holds it: ``run_id``, ``host``, ``pid`` and ``since`` are set while it is held and
    cleared when it is released (a holder that died leaves them until the next one takes over).
    ``run_id`` is no foreign key: the lease is taken before its run is recorded.
    ``expires_at`` is for leases that lapse (replicas); ``None`` means held until released.
    """

    __tablename__ = "source_leases"

    source: str = Field(primary_key=True, foreign_key="sources.name")
    epoch: int
    run_id: str | None = None
    host: str | None = None
    pid: int | None = None
    since: datetime | None = _dt(nullable=True)
    expires_at: datetime | None = _dt(nullable=True)


class RevertRow(SQLModel, table=True):
    """A value syncd wrote that someone changed back (:class:`state.outbox.Revert`).

    One row per field of a record; a newer revert of the same field replaces it. ``audit_id``
    is syncd's write; ``released_at``/``released_by`` are set when a person released it.
    """

    __tablename__ = "reverts"

    source: str = Field(primary_key=True, foreign_key="sources.name")
    object_type: str = Field(primary_key=True)
    record_id: str = Field(primary_key=True)
    field: str = Field(primary_key=True)
    value: str | None = Field(default=None, sa_type=sa.Text)
    reverted_to: str | None = Field(default=None, sa_type=sa.Text)
    audit_id: int = Field(foreign_key="audit_log.id")
    written_at: datetime = _dt(nullable=False)
    found_at: datetime = _dt(nullable=False)
    changed_by: str | None = None
    changed_via: str | None = None
    changed_at: datetime | None = _dt(nullable=True)
    released_at: datetime | None = _dt(nullable=True)
    released_by: str | None = None


class IncidentRow(SQLModel, table=True):
    """One root cause of trouble at one source, from its first symptom until it is resolved.

    At most one open incident (``resolved_at`` null) per source and cause: the partial unique
    index makes a second replica's attempt to open the same one fail instead of alerting twice.
    """

    __tablename__ = "incidents"
    __table_args__ = (
        sa.Index(
            "uq_incidents_open",
            "source",
            "cause",
            unique=True,
            sqlite_where=sa.text("resolved_at IS NULL"),
            postgresql_where=sa.text("resolved_at IS NULL"),
        ),
    )

    source: str = Field(primary_key=True, foreign_key="sources.name")
    cause: str = Field(primary_key=True)
    first_seen: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    last_seen: datetime = _dt(nullable=False)
    count: int
    message: str = Field(sa_type=sa.Text)
    last_notified: datetime = _dt(nullable=False)
    resolved_at: datetime | None = _dt(nullable=True)


class SourceScheduleRow(SQLModel, table=True):
    """When a source runs next, as the service that ran it last decided (backoff included).

    Kept in the store so that a restart, and every replica, keep to one schedule.
    """

    __tablename__ = "source_schedules"

    source: str = Field(primary_key=True, foreign_key="sources.name")
    next_run_at: datetime | None = _dt(nullable=True)
    updated_at: datetime = _dt(nullable=False)


class SourcePauseRow(SQLModel, table=True):
    """A source paused by the service until its vendor's daily allowance has room again
    (:class:`state.base.SourcePause`); no row: the source is not paused."""

    __tablename__ = "source_pauses"

    source: str = Field(primary_key=True, foreign_key="sources.name")
    since: datetime = _dt(nullable=False)
    reason: str = Field(sa_type=sa.Text)
    next_probe_at: datetime = _dt(nullable=False)
    used: int | None = None
    limit: int | None = None
    probes: int
    probed_at: datetime | None = _dt(nullable=True)


class CompletenessAuditRow(SQLModel, table=True):
    """One check of the completeness audit: the store against the CRM, for one object type.

    ``kind`` is ``counts`` (per last-modified bucket), ``sample`` (values re-read) or
    ``archived``; ``drift`` the share found wrong; ``details`` what differed.
    """

    __tablename__ = "completeness_audits"
    __table_args__ = (
        sa.Index(
            "ix_completeness_audits_source_type", "source", "object_type", "kind", "audited_at"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(foreign_key="sources.name")
    object_type: str
    kind: str
    audited_at: datetime = _dt(nullable=False)
    ok: bool
    drift: float
    details: dict[str, Any] = _json()


def table(model: type[SQLModel]) -> sa.Table:
    """The Core table of a table model (for bulk statements)."""
    t = model.__table__  # type: ignore[attr-defined]
    assert isinstance(t, sa.Table)
    return t


sources_t = table(SourceRow)
runs_t = table(RunRow)
cursors_t = table(CursorRow)
records_t = table(RecordRow)
skipped_t = table(SkippedRecordRow)
plans_t = table(PlanRow)
plan_changes_t = table(PlanChangeRow)
outbox_t = table(OutboxRow)
audit_t = table(AuditRow)
reviews_t = table(ReviewDecisionRow)
health_t = table(HealthRow)
leases_t = table(SourceLeaseRow)
reverts_t = table(RevertRow)
incidents_t = table(IncidentRow)
schedules_t = table(SourceScheduleRow)
pauses_t = table(SourcePauseRow)
completeness_t = table(CompletenessAuditRow)
