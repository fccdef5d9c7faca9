"""The SQL state store: SQLite by default, PostgreSQL in production (SQLAlchemy Core on SQLModel).

Bulk paths use the dialect's ``INSERT ... ON CONFLICT`` with executemany, never a query per
record. The push step's tables (outbox, audit log, review decisions) are queried in
:mod:`state.outbox_sql`; this class opens the transaction around each call. The store never
retries; database errors surface as :class:`~model.errors.StateError`.
"""

from __future__ import annotations

import heapq
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from model.changes import Change, Snapshot, change_from_dict
from model.errors import SourceBusyError, StateError
from model.records import Cursor, PullBatch, Record, id_key
from state import (
    doctor,
    health_sql,
    lease_sql,
    migrate,
    outbox_sql,
    retention_sql,
    reverts_sql,
    service_sql,
    sources_sql,
)
from state.base import (
    FINISHED_RUN_STATUSES,
    OWNERS,
    PLAN_PLANNED,
    AuditEntry,
    CompletenessCheck,
    HealthPoint,
    KeptPlan,
    KeptSnapshot,
    OpOutcome,
    OutboxEntry,
    OutboxOp,
    PlanInfo,
    Pruned,
    Retention,
    Revert,
    RunInfo,
    SourceLease,
    SourcePause,
    StateStore,
    StoredIncident,
    StoredPlan,
)
from state.db import WRITE_OPTION, describe_url, json_text, make_engine
from state.errors import cause, describe_db_error
from state.locks import SourceLock, SourceLocks
from state.models import (
    cursors_t,
    plan_changes_t,
    plans_t,
    records_t,
    runs_t,
    skipped_t,
    sources_t,
)
from state.plan_diff import assemble, difference, index
from state.rows import (
    IN_CHUNK,
    ROW_BATCH,
    change_row,
    from_row,
    iso,
    newest_per_id,
    record_to_row,
    row_to_record,
    snapshot_of,
    utc,
)

_RECORD_KEY: Final = ("source", "object_type", "remote_id")
#: Columns a refresh (a write by syncd, not a pull) leaves as they are.
_PULL_ONLY: Final = ("last_seen_run_id",)
#: How often a command waiting for a source's lease tries again.
LEASE_POLL_SECONDS: Final = 0.2
#: How long a refused command waits for a holder that has the lock to record itself, to name it.
HOLDER_RECORD_SECONDS: Final = 2.0


def open_store(
    url: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> SqlStateStore:
    """Open (creating or upgrading the schema through the migrations) the store at ``url``.

    ``url`` is a SQLAlchemy URL: ``sqlite:///path.db``, ``sqlite:///:memory:`` (tests) or
    ``postgresql+psycopg://user@host/db``. Raises ``StateError`` when the database is
    unreachable, its schema is newer than this code, or a migration fails; the subclasses of
    :mod:`state.errors` say what to do (fix the setting, start the server, restore a damaged
    file). A SQLite file gets ``PRAGMA quick_check`` first: a damaged one is never used.
    ``sleep`` and ``monotonic`` pace the wait for a busy source's lease.
    """
    engine = make_engine(url)
    where = describe_url(url)
    try:
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            doctor.quick_check(engine, where)
        migrate.upgrade(engine)
    except StateError:
        engine.dispose()
        raise
    except SQLAlchemyError as exc:
        engine.dispose()
        raise describe_db_error(exc, where) from exc
    except Exception as exc:
        engine.dispose()
        raise StateError(f"cannot open the state store {where}: {cause(exc)}") from exc
    return SqlStateStore(engine, sleep=sleep, monotonic=monotonic)


class SqlStateStore(StateStore):
    """:class:`~state.base.StateStore` on a SQLAlchemy engine whose schema is at head."""

    def __init__(
        self,
        engine: Engine,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._closed = False
        self._sleep = sleep
        self._monotonic = monotonic
        self._locks = SourceLocks(engine)
        self._held: dict[tuple[str, int], SourceLock] = {}

    @property
    def engine(self) -> Engine:
        """The underlying engine (for tests and later state modules)."""
        return self._engine

    @contextmanager
    def _tx(self, *, write: bool = False) -> Iterator[Connection]:
        """One transaction; database errors become ``StateError``."""
        if self._closed:
            raise StateError("the state store is closed")
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    yield conn
        except IntegrityError as exc:
            raise StateError(f"state store constraint violated: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise describe_db_error(exc, describe_url(str(self._engine.url))) from exc

    def _insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT that supports ``on_conflict_do_update``."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    @staticmethod
    def _require_source(conn: Connection, source: str) -> None:
        found = conn.execute(sa.select(sources_t.c.name).where(sources_t.c.name == source))
        if found.first() is None:
            raise StateError(f"unknown source {source!r}: call ensure_source first")

    # -- sources and cursors -------------------------------------------------------------------

    def ensure_source(self, name: str, connector: str, now: datetime) -> None:
        created = utc(now, "now")
        with self._tx(write=True) as conn:
            stmt = self._insert(sources_t).values(
                name=name, connector=connector, created_at=created
            )
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
            stored: str = conn.execute(
                sa.select(sources_t.c.connector).where(sources_t.c.name == name)
            ).scalar_one()
        if stored != connector:
            raise StateError(f"source {name!r} is a {stored!r} source, not {connector!r}")

    # -- one command at a time per source --------------------------------------------------------

    def acquire_source(
        self,
        source: str,
        run_id: str,
        now: datetime,
        wait_seconds: float = 0.0,
        ttl_seconds: float | None = None,
    ) -> SourceLease:
        asked = utc(now, "now")
        if wait_seconds < 0:
            raise StateError(f"wait_seconds must not be negative, got {wait_seconds}")
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise StateError(f"ttl_seconds must be positive, got {ttl_seconds}")
        with self._tx() as conn:
            self._require_source(conn, source)
        lock = self._locks.lock(source)
        start, since = self._monotonic(), asked
        while True:
            if lock.try_acquire():
                lease = self._take(lock, source, run_id, since, ttl_seconds)
                break
            taken = self._take_over(lock, source, run_id, since, ttl_seconds)
            if taken is not None:
                lease = taken
                break
            waited = self._monotonic() - start
            if waited >= wait_seconds:
                raise SourceBusyError(source, self._holder_named(source), wait_seconds)
            self._sleep(min(LEASE_POLL_SECONDS, wait_seconds - waited))
            since = asked + timedelta(seconds=self._monotonic() - start)
        self._held[(source, lease.epoch)] = lock
        return lease

    def _holder_named(self, source: str) -> str:
        """Who holds ``source``, in words for a refusal. A holder that has taken the lock but
        not yet recorded itself (one transaction away: two commands started together) is
        waited for, up to :data:`HOLDER_RECORD_SECONDS`, so that the refusal can name it."""
        deadline = self._monotonic() + HOLDER_RECORD_SECONDS
        while True:
            lease = self.source_lease(source)
            left = deadline - self._monotonic()
            if lease is not None or left <= 0:
                return lease_sql.describe(lease)
            self._sleep(min(LEASE_POLL_SECONDS, left))

    def _take(
        self, lock: SourceLock, source: str, run_id: str, since: datetime, ttl: float | None
    ) -> SourceLease:
        """Record the holder of a lock just taken (the lock goes back if that fails)."""
        try:
            with self._tx(write=True) as conn:
                return self._record_holder(conn, source, run_id, since, ttl)
        except BaseException:
            lock.release()
            raise

    def _take_over(
        self, lock: SourceLock, source: str, run_id: str, since: datetime, ttl: float | None
    ) -> SourceLease | None:
        """Take a lease whose holder let it expire (see :meth:`acquire_source`), in one
        transaction that keeps the row locked: of several takers, one decides. ``None`` when
        the lease has not expired or its lock cannot be broken."""
        with self._tx(write=True) as conn:
            if lease_sql.expired_holder(conn, source, since) is None:
                return None
            if not lock.take_over():
                return None
            try:
                return self._record_holder(conn, source, run_id, since, ttl)
            except BaseException:
                lock.release()
                raise

    def _record_holder(
        self, conn: Connection, source: str, run_id: str, since: datetime, ttl: float | None
    ) -> SourceLease:
        return lease_sql.take(
            conn,
            self._insert,
            source=source,
            run_id=run_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            since=since,
            expires_at=None if ttl is None else since + timedelta(seconds=ttl),
        )

    def renew_source(self, lease: SourceLease, now: datetime, ttl_seconds: float) -> datetime:
        now = utc(now, "now")
        if ttl_seconds <= 0:
            raise StateError(f"ttl_seconds must be positive, got {ttl_seconds}")
        with self._tx(write=True) as conn:
            return lease_sql.renew(conn, lease, now, ttl_seconds)

    def release_source(self, lease: SourceLease) -> None:
        lock = self._held.pop((lease.source, lease.epoch), None)
        if lock is None:
            return
        try:
            with self._tx(write=True) as conn:
                lease_sql.clear(conn, lease)
        finally:
            lock.release()

    def source_lease(self, source: str) -> SourceLease | None:
        with self._tx() as conn:
            return lease_sql.holder(conn, source)

    def get_cursor(self, source: str, object_type: str) -> Cursor:
        with self._tx() as conn:
            self._require_source(conn, source)
            row = conn.execute(
                sa.select(cursors_t.c.updated_at, cursors_t.c.deletions_read_at).where(
                    cursors_t.c.source == source, cursors_t.c.object_type == object_type
                )
            ).one_or_none()
        if row is None:
            return Cursor()
        return Cursor(updated_at=row[0], deletions_read_at=row[1])

    def bind_account(self, source: str, account_id: str) -> str:
        with self._tx(write=True) as conn:
            return sources_sql.bind_account(conn, source, account_id)

    def source_account(self, source: str) -> str | None:
        with self._tx() as conn:
            self._require_source(conn, source)
            return sources_sql.account(conn, source)

    def reset_source(self, source: str, now: datetime) -> dict[str, int]:
        now = utc(now, "now")
        with self._tx(write=True) as conn:
            self._require_source(conn, source)
            return sources_sql.reset(conn, source, now)

    # -- records -------------------------------------------------------------------------------

    def store_batch(self, source: str, run_id: str, batch: PullBatch) -> int:
        for record in batch.records:
            if record.object_type != batch.object_type:
                raise StateError(
                    f"batch of {batch.object_type} holds a {record.object_type} record {record.id}"
                )
        rows = [record_to_row(source, run_id, r) for r in newest_per_id(batch.records)]
        cursor_at = batch.cursor.updated_at
        if cursor_at is not None:
            cursor_at = utc(cursor_at, "PullBatch.cursor.updated_at")
        deletions_at = batch.cursor.deletions_read_at
        if deletions_at is not None:
            deletions_at = utc(deletions_at, "PullBatch.cursor.deletions_read_at")
        with self._tx(write=True) as conn:
            run_source = conn.execute(
                sa.select(runs_t.c.source).where(runs_t.c.id == run_id)
            ).scalar_one_or_none()
            if run_source != source:
                self._require_source(conn, source)
                raise StateError(f"run {run_id!r} is not a started run of source {source!r}")
            self._keep_merged_baselines(conn, rows)
            written = self._upsert_records(conn, rows)
            if batch.skipped:
                conn.execute(
                    sa.insert(skipped_t),
                    [
                        {
                            "run_id": run_id,
                            "source": source,
                            "object_type": batch.object_type,
                            "remote_id": remote_id,
                            "reason": reason,
                        }
                        for remote_id, reason in batch.skipped
                    ],
                )
            self._advance_cursor(
                conn, source, batch.object_type, run_id, cursor_at, deletions_read_at=deletions_at
            )
        return written

    @staticmethod
    def _keep_merged_baselines(conn: Connection, rows: list[dict[str, Any]]) -> None:
        """Give rows that arrive merged away with no properties (the connector learnt of the
        merge from the survivor) their stored baseline: what a resumed push compares with."""
        bare = {
            (r["source"], r["object_type"], r["remote_id"]): r
            for r in rows
            if r["merged_into"] is not None and not r["properties"]
        }
        if not bare:
            return
        stored = conn.execute(
            sa.select(
                records_t.c.source,
                records_t.c.object_type,
                records_t.c.remote_id,
                records_t.c.properties,
                records_t.c.associations,
            ).where(
                sa.tuple_(records_t.c.source, records_t.c.object_type, records_t.c.remote_id).in_(
                    list(bare)
                )
            )
        )
        for source, object_type, remote_id, properties, associations in stored:
            row = bare[(source, object_type, remote_id)]
            row["properties"] = properties
            row["associations"] = row["associations"] or associations

    def _upsert_records(
        self, conn: Connection, rows: list[dict[str, Any]], *, pulled: bool = True
    ) -> int:
        """Upsert in bulk; a row replaces only a stored one no newer. Returns rows written.

        Rows not ``pulled`` (a refresh after a write) keep the stored pull bookkeeping.
        """
        if not rows:
            return 0
        seq = sources_sql.next_records_seq(conn, rows[0]["source"])
        for row in rows:
            row["seq"] = seq
        ins = self._insert(records_t)
        kept = _RECORD_KEY if pulled else _RECORD_KEY + _PULL_ONLY
        updated = {c.name: ins.excluded[c.name] for c in records_t.c if c.name not in kept}
        stmt = ins.on_conflict_do_update(
            index_elements=list(_RECORD_KEY),
            set_=updated,
            where=ins.excluded.remote_updated_at >= records_t.c.remote_updated_at,
        )
        # executemany (psycopg pipelines it; sqlite3 loops in C); both drivers sum the rowcount,
        # which counts only the rows the WHERE let through.
        if self._dialect == "postgresql":
            result = conn.execute(stmt, rows, execution_options={"preserve_rowcount": True})
        else:
            result = _execute_many(conn, stmt, records_t, rows)
        return int(result.rowcount)

    def _advance_cursor(
        self,
        conn: Connection,
        source: str,
        object_type: str,
        run_id: str,
        updated_at: datetime | None,
        *,
        deletions_read_at: datetime | None = None,
    ) -> None:
        """Create the cursor or move it forward; never backwards, never back to empty. Its
        two times (``updated_at``, ``deletions_read_at``) move on their own, each only forward.

        ``committed_at`` is the database's clock at commit time (bookkeeping only).
        """
        values: dict[str, Any] = {
            "source": source,
            "object_type": object_type,
            "updated_at": updated_at,
            "run_id": run_id,
            "committed_at": sa.func.now(),
        }
        if deletions_read_at is not None:  # (a statement without it suits stores before 0008)
            values["deletions_read_at"] = deletions_read_at
        ins = self._insert(cursors_t).values(**values)
        new, old = ins.excluded.updated_at, cursors_t.c.updated_at
        moves = sa.and_(new.is_not(None), sa.or_(old.is_(None), new > old))
        set_: dict[str, Any] = {
            "updated_at": sa.case((moves, new), else_=old),
            "run_id": sa.case((moves, ins.excluded.run_id), else_=cursors_t.c.run_id),
            "committed_at": sa.func.now(),
        }
        where = moves
        if deletions_read_at is not None:
            new_del, old_del = ins.excluded.deletions_read_at, cursors_t.c.deletions_read_at
            moves_del = sa.and_(new_del.is_not(None), sa.or_(old_del.is_(None), new_del > old_del))
            set_["deletions_read_at"] = sa.case((moves_del, new_del), else_=old_del)
            where = sa.or_(moves, moves_del)
        stmt = ins.on_conflict_do_update(
            index_elements=["source", "object_type"], set_=set_, where=where
        )
        conn.execute(stmt)

    def snapshot(
        self,
        source: str,
        now: datetime,
        object_types: Sequence[str] | None = None,
        owners: bool = True,
    ) -> Snapshot:
        now = utc(now, "now")
        with self._tx() as conn:
            self._require_source(conn, source)
            return self._read(conn, source, now, object_types, owners)[0]

    @staticmethod
    def _read(
        conn: Connection,
        source: str,
        now: datetime,
        object_types: Sequence[str] | None = None,
        owners: bool = True,
    ) -> tuple[Snapshot, dict[str, dict[str, str]]]:
        """:meth:`snapshot` in the transaction ``conn`` holds, with the merged-away ids it was
        read with."""
        live = sa.and_(
            records_t.c.source == source,
            records_t.c.archived.is_(False),
            records_t.c.merged_into.is_(None),
        )
        query = sa.select(records_t).where(live)
        if object_types is not None:
            wanted = set(object_types) | ({OWNERS} if owners else set())
            query = query.where(records_t.c.object_type.in_(sorted(wanted)))
        elif not owners:
            query = query.where(records_t.c.object_type != OWNERS)
        merged = sources_sql.merged_into(conn, source)
        # streamed (a server-side cursor on PostgreSQL): never every row and every record
        rows = conn.execute(query.execution_options(yield_per=ROW_BATCH)).mappings()
        records = (_survivors_associated(row_to_record(row), merged) for row in rows)
        snapshot = snapshot_of(source, now, records, object_types)
        return snapshot, merged

    def kept_snapshot(self, source: str, now: datetime, kept: KeptSnapshot | None) -> KeptSnapshot:
        now = utc(now, "now")
        with self._tx() as conn:
            self._require_source(conn, source)
            # the number first: a row written after it is read again next time, never missed
            numbers = sa.select(sources_t.c.records_seq, sources_t.c.records_cut)
            found = conn.execute(numbers.where(sources_t.c.name == source)).mappings().one()
            seq, cut = int(found["records_seq"]), int(found["records_cut"])
            if kept is None or kept.snapshot.source != source or not cut <= kept.seq <= seq:
                return self._read_whole(conn, source, now, seq)
            query = sa.select(records_t).where(
                records_t.c.source == source, records_t.c.seq > kept.seq
            )
            rows = conn.execute(query).mappings()
            changed = [_survivors_associated(row_to_record(row), kept.merged) for row in rows]
            if any(r.merged_into != kept.merged.get(r.object_type, {}).get(r.id)
                   for r in changed):  # fmt: skip
                # merged away (or back) since: that moves the associations of records that did
                # not change, so read it all. A merged-away record read again as it was (a
                # pull within its lookback window) changes nothing.
                return self._read_whole(conn, source, now, seq)
        return KeptSnapshot(_patched(kept.snapshot, changed, now), seq, kept.merged, len(changed))

    def _read_whole(self, conn: Connection, source: str, now: datetime, seq: int) -> KeptSnapshot:
        snapshot, merged = self._read(conn, source, now)
        read = sum(map(len, snapshot.records.values())) + len(snapshot.owners)
        return KeptSnapshot(snapshot, seq, merged, read, whole=True)

    def get_records(self, source: str, object_type: str, ids: Iterable[str]) -> dict[str, Record]:
        wanted = sorted(set(ids), key=id_key)
        found: dict[str, Record] = {}
        with self._tx() as conn:
            for start in range(0, len(wanted), IN_CHUNK):
                chunk = wanted[start : start + IN_CHUNK]
                query = sa.select(records_t).where(
                    records_t.c.source == source,
                    records_t.c.object_type == object_type,
                    records_t.c.remote_id.in_(chunk),
                )
                for row in conn.execute(query).mappings():
                    found[row["remote_id"]] = row_to_record(row)
        return {i: found[i] for i in wanted if i in found}

    def baseline_summary(self, source: str) -> dict[str, object]:
        live = sa.and_(records_t.c.archived.is_(False), records_t.c.merged_into.is_(None))
        query = (
            sa.select(
                records_t.c.object_type,
                sa.func.count(),
                sa.func.count().filter(live),
                sa.func.max(records_t.c.remote_updated_at),
            )
            .where(records_t.c.source == source)
            .group_by(records_t.c.object_type)
            .order_by(records_t.c.object_type)
        )
        with self._tx() as conn:
            self._require_source(conn, source)
            rows = conn.execute(query).all()
        summary: dict[str, object] = {}
        for object_type, count, live_count, newest in rows:
            summary[str(object_type)] = {
                "count": int(str(count)),
                "live": int(str(live_count)),
                "max_updated_at": iso(newest if isinstance(newest, datetime) else None),
            }
        return summary

    # -- runs ----------------------------------------------------------------------------------

    def start_run(self, run_id: str, source: str, started_at: datetime, dry_run: bool) -> None:
        started = utc(started_at, "started_at")
        with self._tx(write=True) as conn:
            self._require_source(conn, source)
            if conn.execute(sa.select(runs_t.c.id).where(runs_t.c.id == run_id)).first():
                raise StateError(f"run {run_id!r} already exists")
            conn.execute(
                sa.insert(runs_t).values(
                    id=run_id,
                    source=source,
                    started_at=started,
                    finished_at=None,
                    status="running",
                    dry_run=dry_run,
                    counts={},
                    error=None,
                )
            )

    def finish_run(
        self,
        run_id: str,
        finished_at: datetime,
        status: str,
        counts: Mapping[str, object],
        error: str | None = None,
    ) -> bool:
        if status not in FINISHED_RUN_STATUSES:
            raise StateError(f"run status must be one of {FINISHED_RUN_STATUSES}, not {status!r}")
        finished = utc(finished_at, "finished_at")
        with self._tx(write=True) as conn:
            result = conn.execute(
                sa.update(runs_t)
                .where(runs_t.c.id == run_id, runs_t.c.status == "running")
                .values(finished_at=finished, status=status, counts=dict(counts), error=error)
            )
            if result.rowcount == 1:
                return True
            if conn.execute(sa.select(runs_t.c.id).where(runs_t.c.id == run_id)).first() is None:
                raise StateError(f"unknown run {run_id!r}")
            return False

    def get_run(self, run_id: str) -> RunInfo:
        with self._tx() as conn:
            row = conn.execute(sa.select(runs_t).where(runs_t.c.id == run_id)).mappings().first()
        if row is None:
            raise StateError(f"unknown run {run_id!r}")
        return from_row(RunInfo, row)

    def list_runs(self, source: str | None = None, limit: int = 20) -> list[RunInfo]:
        query = sa.select(runs_t).order_by(runs_t.c.started_at.desc(), runs_t.c.id.desc())
        if source is not None:
            query = query.where(runs_t.c.source == source)
        with self._tx() as conn:
            rows = conn.execute(query.limit(limit)).mappings().all()
        return [from_row(RunInfo, row) for row in rows]

    def skipped_records(self, run_id: str) -> list[tuple[str, str, str]]:
        query = (
            sa.select(skipped_t.c.object_type, skipped_t.c.remote_id, skipped_t.c.reason)
            .where(skipped_t.c.run_id == run_id)
            .order_by(skipped_t.c.id)
        )
        with self._tx() as conn:
            return [(str(t), str(i), str(r)) for t, i, r in conn.execute(query)]

    # -- plans ---------------------------------------------------------------------------------

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
        created = utc(created_at, "created_at")
        kinds = dict(Counter(c.kind for c in changes))
        differs = None
        if base is not None and base.source == source:
            if not base.positions:
                base.positions.update(index(base.changes))
            differs = difference(base.changes, changes, base.positions)
        with self._tx(write=True) as conn:
            self._require_source(conn, source)
            if conn.execute(sa.select(plans_t.c.id).where(plans_t.c.id == plan_id)).first():
                raise StateError(f"plan {plan_id!r} already exists")
            if differs is not None and base is not None and not self._may_build_on(conn, base):
                differs = None
            conn.execute(
                sa.insert(plans_t).values(
                    id=plan_id,
                    source=source,
                    run_id=run_id,
                    created_at=created,
                    baseline=dict(baseline),
                    status=PLAN_PLANNED,
                    base_id=base.id if differs is not None and base is not None else None,
                    reused=None if differs is None else differs.reused,
                    kinds=kinds,
                )
            )
            rows = (
                list(enumerate(changes))
                if differs is None
                else [(seq, changes[seq]) for seq in differs.fresh]
            )
            if self._dialect == "postgresql":
                _copy_changes(conn, plan_id, rows)
            else:
                for start in range(0, len(rows), ROW_BATCH):  # executemany, bounded memory
                    part = [
                        change_row(plan_id, seq, c) for seq, c in rows[start : start + ROW_BATCH]
                    ]
                    _execute_many(conn, sa.insert(plan_changes_t), plan_changes_t, part)
        if differs is not None and base is not None:
            return base
        return KeptPlan(plan_id, source, tuple(changes))

    @staticmethod
    def _may_build_on(conn: Connection, base: KeptPlan) -> bool:
        """Whether a plan may be stored as what differs from ``base``: it is still stored whole,
        and every plan of its source made after it builds on it. Then retention never takes it
        (the newest plan of a source stays, and so does a plan another builds on), not even
        while this plan is being saved: a source's plans are made one at a time (its lease).
        Otherwise (another run planned the source since, or undid a run) it is stored whole."""
        p = plans_t.c
        found = conn.execute(
            sa.select(p.created_at).where(p.id == base.id, p.base_id.is_(None))
        ).first()
        if found is None:
            return False
        made = found[0]
        newer = sa.or_(p.created_at > made, sa.and_(p.created_at == made, p.id > base.id))
        other = sa.select(p.id).where(
            p.source == base.source,
            newer,
            sa.or_(p.base_id.is_(None), p.base_id != base.id),
        )
        return conn.execute(other.limit(1)).first() is None

    def load_plan(self, plan_id: str) -> StoredPlan:
        with self._tx() as conn:
            query = sa.select(plans_t).where(plans_t.c.id == plan_id)
            plan = conn.execute(query).mappings().first()
            if plan is None:
                raise StateError(f"unknown plan {plan_id!r}")
            changes = self._plan_changes(conn, plan)
        return StoredPlan(
            id=plan["id"],
            source=plan["source"],
            run_id=plan["run_id"],
            created_at=plan["created_at"],
            baseline=plan["baseline"],
            status=plan["status"],
            changes=changes,
        )

    @staticmethod
    def _plan_changes(conn: Connection, plan: sa.RowMapping) -> list[Change]:
        """A plan's changes in order, from its rows and, stored as a difference, its base's."""

        def rows(plan_id: str) -> dict[int, Mapping[str, object]]:
            query = sa.select(plan_changes_t.c.seq, plan_changes_t.c.payload).where(
                plan_changes_t.c.plan_id == plan_id
            )
            found: Any = conn.execute(query).all()
            return {int(seq): payload for seq, payload in found}

        if plan["base_id"] is None:
            payloads: Iterable[Mapping[str, object]] = conn.execute(
                sa.select(plan_changes_t.c.payload)
                .where(plan_changes_t.c.plan_id == plan["id"])
                .order_by(plan_changes_t.c.seq)
            ).scalars()
            return [change_from_dict(p) for p in payloads]
        base = rows(str(plan["base_id"]))
        return assemble(
            plan["reused"] or [], base, rows(str(plan["id"])), change_from_dict, plan["id"]
        )

    def plan_info(self, plan_id: str) -> PlanInfo:
        with self._tx() as conn:
            found = self._plan_infos(conn, sa.select(plans_t).where(plans_t.c.id == plan_id))
        if not found:
            raise StateError(f"unknown plan {plan_id!r}")
        return found[0]

    def list_plans(self, source: str | None = None, limit: int = 20) -> list[PlanInfo]:
        query = sa.select(plans_t).order_by(plans_t.c.created_at.desc(), plans_t.c.id.desc())
        if source is not None:
            query = query.where(plans_t.c.source == source)
        with self._tx() as conn:
            return self._plan_infos(conn, query.limit(limit))

    @staticmethod
    def _plan_infos(conn: Connection, query: sa.Select[Any]) -> list[PlanInfo]:
        plans = conn.execute(query).mappings().all()
        kinds: dict[str, dict[str, int]] = {str(p["id"]): dict(p["kinds"] or {}) for p in plans}
        uncounted = [str(p["id"]) for p in plans if p["kinds"] is None]  # before revision 0011
        if uncounted:
            counted = (
                sa.select(plan_changes_t.c.plan_id, plan_changes_t.c.kind, sa.func.count())
                .where(plan_changes_t.c.plan_id.in_(uncounted))
                .group_by(plan_changes_t.c.plan_id, plan_changes_t.c.kind)
            )
            for plan_id, kind, n in conn.execute(counted).all():
                kinds[str(plan_id)][str(kind)] = int(str(n))
        return [
            PlanInfo(
                id=p["id"],
                source=p["source"],
                run_id=p["run_id"],
                created_at=p["created_at"],
                baseline=p["baseline"],
                status=p["status"],
                kinds=kinds[str(p["id"])],
            )
            for p in plans
        ]

    # -- push: baselines, outbox, audit log, reviews ---------------------------------------------

    def refresh_records(self, source: str, records: Sequence[Record]) -> int:
        rows = [record_to_row(source, None, r) for r in newest_per_id(tuple(records))]
        with self._tx(write=True) as conn:
            self._require_source(conn, source)
            return self._upsert_records(conn, rows, pulled=False)

    def enqueue(self, plan_id: str, run_id: str, ops: Sequence[OutboxOp], now: datetime) -> int:
        now = utc(now, "now")
        with self._tx(write=True) as conn:
            return outbox_sql.enqueue(
                conn, self._insert, plan_id=plan_id, run_id=run_id, ops=ops, now=now
            )

    def outbox(self, plan_id: str, statuses: Sequence[str] | None = None) -> list[OutboxEntry]:
        with self._tx() as conn:
            return outbox_sql.outbox(conn, plan_id, statuses)

    def mark_sending(self, keys: Sequence[str], now: datetime, *, epoch: int) -> None:
        now = utc(now, "now")
        with self._tx(write=True) as conn:
            outbox_sql.mark_sending(conn, keys, now, epoch)

    def record_results(self, results: Sequence[OpOutcome], now: datetime, *, epoch: int) -> None:
        now = utc(now, "now")
        with self._tx(write=True) as conn:
            outbox_sql.record_results(conn, results, now, epoch)

    def set_plan_status(self, plan_id: str, status: str) -> None:
        with self._tx(write=True) as conn:
            outbox_sql.set_plan_status(conn, plan_id, status)

    def pending_plans(self, source: str) -> list[str]:
        with self._tx() as conn:
            self._require_source(conn, source)
            return outbox_sql.pending_plans(conn, source)

    def audit(
        self,
        source: str | None = None,
        run_id: str | None = None,
        record_id: str | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        with self._tx() as conn:
            return outbox_sql.audit(conn, source, run_id, record_id, limit)

    def mark_undone(self, audit_ids: Sequence[int], undo_run_id: str, now: datetime) -> None:
        now = utc(now, "now")
        with self._tx(write=True) as conn:
            outbox_sql.mark_undone(conn, audit_ids, undo_run_id, now)

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
        now = utc(now, "now")
        with self._tx(write=True) as conn:
            self._require_source(conn, source)
            outbox_sql.record_review(
                conn,
                self._insert,
                source=source,
                object_type=object_type,
                ids=ids,
                decision=decision,
                now=now,
                by=by,
                note=note,
            )

    def review_decisions(self, source: str, object_type: str) -> dict[frozenset[str], str]:
        with self._tx() as conn:
            decisions = outbox_sql.review_decisions(conn, source, object_type)
            merged = sources_sql.merged_into(conn, source, [object_type]).get(object_type, {})
        if not merged:
            return decisions
        return {
            frozenset(sources_sql.survivor(merged, i) for i in group): decision
            for group, decision in decisions.items()
        }

    # -- what syncd wrote, and what people changed back ------------------------------------------

    def field_writes(
        self, source: str, object_type: str, record_ids: Iterable[str]
    ) -> dict[tuple[str, str], AuditEntry]:
        with self._tx() as conn:
            return reverts_sql.field_writes(conn, source, object_type, record_ids)

    def save_reverts(self, reverts: Sequence[Revert]) -> None:
        with self._tx(write=True) as conn:
            reverts_sql.save_reverts(conn, self._insert, reverts)

    def reverts(
        self, source: str, object_type: str | None = None, *, released: bool | None = None
    ) -> list[Revert]:
        with self._tx() as conn:
            return reverts_sql.reverts(conn, source, object_type, released)

    def release_reverts(  # noqa: PLR0917  (mirrors record_review)
        self,
        source: str,
        object_type: str,
        record_ids: Sequence[str],
        field: str | None,
        now: datetime,
        by: str | None = None,
    ) -> list[Revert]:
        now = utc(now, "now")
        with self._tx(write=True) as conn:
            self._require_source(conn, source)
            return reverts_sql.release_reverts(
                conn, source, object_type, record_ids, field, now, by
            )

    # -- health and reports ----------------------------------------------------------------------

    def save_health(
        self,
        run_id: str,
        source: str,
        measured_at: datetime,
        metrics: Mapping[str, Mapping[str, float]],
    ) -> None:
        measured = utc(measured_at, "measured_at")
        with self._tx(write=True) as conn:
            self._require_source(conn, source)
            health_sql.save_health(
                conn, run_id=run_id, source=source, measured_at=measured, metrics=metrics
            )

    def health_history(self, source: str, limit: int = 50) -> list[HealthPoint]:
        with self._tx() as conn:
            self._require_source(conn, source)
            return health_sql.health_history(conn, source, limit)

    # -- the service: schedules, incidents, completeness, retention ------------------------------

    def schema_revision(self) -> str | None:
        with self._tx() as conn:
            return migrate.current_revision(conn)

    def last_success(self, source: str) -> datetime | None:
        with self._tx() as conn:
            return service_sql.last_success(conn, source)

    def next_run(self, source: str) -> datetime | None:
        with self._tx() as conn:
            return service_sql.next_run(conn, source)

    def set_next_run(self, source: str, when: datetime | None, now: datetime) -> None:
        at = None if when is None else utc(when, "when")
        now = utc(now, "now")
        with self._tx(write=True) as conn:
            self._require_source(conn, source)
            service_sql.set_next_run(conn, self._insert, source, at, now)

    def source_pause(self, source: str) -> SourcePause | None:
        with self._tx() as conn:
            found = service_sql.source_pauses(conn, source)
        return found[0] if found else None

    def paused_sources(self) -> list[SourcePause]:
        with self._tx() as conn:
            return service_sql.source_pauses(conn, None)

    def save_pause(self, pause: SourcePause) -> None:
        pause = replace(
            pause,
            since=utc(pause.since, "SourcePause.since"),
            next_probe_at=utc(pause.next_probe_at, "SourcePause.next_probe_at"),
            probed_at=None
            if pause.probed_at is None
            else utc(pause.probed_at, "SourcePause.probed_at"),
        )
        with self._tx(write=True) as conn:
            self._require_source(conn, pause.source)
            service_sql.save_pause(conn, self._insert, pause)

    def clear_pause(self, source: str) -> bool:
        with self._tx(write=True) as conn:
            return service_sql.clear_pause(conn, source)

    def outbox_depth(self) -> dict[str, int]:
        with self._tx() as conn:
            return service_sql.outbox_depth(conn)

    def open_incidents(self, source: str | None = None) -> list[StoredIncident]:
        with self._tx() as conn:
            return service_sql.open_incidents(conn, source)

    def incidents(self, source: str, limit: int = 20) -> list[StoredIncident]:
        with self._tx() as conn:
            return service_sql.incidents(conn, source, limit)

    def save_incident(
        self, incident: StoredIncident, previous: StoredIncident | None = None
    ) -> bool:
        for when, what in (
            (incident.first_seen, "first_seen"),
            (incident.last_seen, "last_seen"),
            (incident.last_notified, "last_notified"),
        ):
            utc(when, f"StoredIncident.{what}")
        with self._tx(write=True) as conn:
            self._require_source(conn, incident.source)
            return service_sql.save_incident(conn, self._insert, incident, previous)

    def save_completeness(self, check: CompletenessCheck) -> None:
        utc(check.audited_at, "CompletenessCheck.audited_at")
        with self._tx(write=True) as conn:
            self._require_source(conn, check.source)
            service_sql.save_completeness(conn, check)

    def completeness(
        self, source: str, object_type: str | None = None, limit: int = 20
    ) -> list[CompletenessCheck]:
        with self._tx() as conn:
            return service_sql.completeness(conn, source, object_type, limit)

    def count_live(self, source: str, object_type: str, edges: Sequence[datetime]) -> list[int]:
        bounds = [utc(e, "edges") for e in edges]
        if bounds != sorted(bounds):
            raise StateError("count_live: edges must be ascending")
        with self._tx() as conn:
            return service_sql.count_live(conn, source, object_type, bounds)

    def live_records_at(
        self, source: str, object_type: str, before: datetime, positions: Sequence[int]
    ) -> list[Record]:
        before = utc(before, "before")
        with self._tx() as conn:
            return service_sql.live_records_at(conn, source, object_type, before, positions)

    def live_among(self, source: str, object_type: str, ids: Iterable[str]) -> set[str]:
        with self._tx() as conn:
            return service_sql.live_among(conn, source, object_type, ids)

    def live_ids(self, source: str, object_type: str) -> set[str]:
        with self._tx() as conn:
            return service_sql.live_ids(conn, source, object_type)

    def prune(self, retention: Retention) -> Pruned:
        for when in (
            retention.plans,
            retention.runs,
            retention.audit,
            retention.outbox,
            retention.incidents,
        ):
            if when is not None:
                utc(when, "Retention")
        with self._tx(write=True) as conn:
            return retention_sql.prune(conn, retention)

    def close(self) -> None:
        for lease_lock in self._held.values():  # the lock is what counts; the rows may stay
            lease_lock.release()
        self._held.clear()
        self._closed = True
        self._locks.close()
        self._engine.dispose()


def _execute_many(
    conn: Connection, stmt: sa.Insert, table: sa.Table, rows: Sequence[Mapping[str, Any]]
) -> sa.CursorResult[Any]:
    """``stmt`` executed once per row (``executemany``), each column's values converted by the
    column's type a column at a time (``map`` over its bind processor).

    What ``conn.execute(stmt, rows)`` does, without its per-row, per-value parameter building:
    that took half the time of storing 100,000 records in SQLite.
    """
    names = list(rows[0])
    compiled = stmt.compile(dialect=conn.dialect, column_keys=names)
    order = compiled.positiontup  # SQLite's parameters are positional, one per column given
    assert order is not None
    assert set(order) <= set(names), order
    columns = []
    for name in order:
        values = [row[name] for row in rows]
        process = table.c[name].type.bind_processor(conn.dialect)
        columns.append(values if process is None else list(map(process, values)))
    return conn.exec_driver_sql(
        compiled.string,
        list(zip(*columns, strict=True)),
        execution_options={"preserve_rowcount": True},
    )


def _copy_changes(conn: Connection, plan_id: str, changes: Sequence[tuple[int, Change]]) -> None:
    """A plan's changes into ``plan_changes`` by PostgreSQL's COPY, in the transaction ``conn``
    holds: a row costs a few microseconds, where executemany's multi-row INSERTs cost 16
    (100,000 changes: 1.6 CPU s)."""
    import psycopg  # noqa: PLC0415  (the PostgreSQL driver: only where the store is one)

    raw = conn.connection.driver_connection
    assert raw is not None
    columns = ", ".join(c.name for c in plan_changes_t.c)
    statement = f"COPY plan_changes ({columns}) FROM STDIN"
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for seq, change in changes:
                row = change_row(plan_id, seq, change)
                row["payload"] = json_text(row["payload"])  # COPY takes the column's text
                copy.write_row([row[c.name] for c in plan_changes_t.c])
    except psycopg.Error as exc:  # as SQLAlchemy wraps the driver's errors: _tx tells them apart
        raise sa.exc.DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


def _in_id_order(held: Sequence[Record], now: Mapping[str, Record]) -> tuple[Record, ...]:
    """The records of ``now`` in id order, given ``held`` (in id order) held most of them:
    those keep their places and the new ones are sorted and merged in, rather than every
    record sorted again (a service's cycle brings a few hundred records into 100,000)."""
    kept = [now[r.id] for r in held if r.id in now]
    if len(kept) == len(now):
        return tuple(kept)
    ids = {r.id for r in held}
    new = sorted((r for i, r in now.items() if i not in ids), key=lambda r: id_key(r.id))
    if not kept or id_key(kept[-1].id) < id_key(new[0].id):  # new ids come after (HubSpot's)
        return (*kept, *new)
    return tuple(heapq.merge(kept, new, key=lambda r: id_key(r.id)))


def _patched(snapshot: Snapshot, changed: Sequence[Record], now: datetime) -> Snapshot:
    """``snapshot`` at ``now`` with ``changed`` (rows written since, none merged away since)
    in place of what it held of them: live ones in, archived and merged-away ones out, each
    type kept in id order."""
    owners = dict(snapshot.owners)
    touched: dict[str, dict[str, Record]] = {}  # by id, the types a change is about
    for record in changed:
        gone = record.archived or record.merged_into is not None
        if record.object_type == OWNERS:
            if gone:
                owners.pop(record.id, None)
            else:
                owners[record.id] = record.properties
            continue
        by_id = touched.get(record.object_type)
        if by_id is None:
            by_id = touched[record.object_type] = {r.id: r for r in snapshot.of(record.object_type)}
        if gone:
            by_id.pop(record.id, None)
        else:
            by_id[record.id] = record
    records = dict(snapshot.records)
    for object_type, by_id in touched.items():
        records[object_type] = _in_id_order(snapshot.of(object_type), by_id)
        if not by_id:  # as a whole read has it: a type with no live record is absent
            del records[object_type]
    return replace(
        snapshot,
        now=now,
        records=dict(sorted(records.items())),
        owners=dict(sorted(owners.items(), key=lambda kv: id_key(kv[0]))),
    )


def _survivors_associated(record: Record, merged: Mapping[str, Mapping[str, str]]) -> Record:
    """``record`` with each associated id that its CRM merged away replaced by its survivor
    (a task on a merged contact is on the contact that absorbed it), without repeats."""
    changed = False
    associations: dict[str, tuple[str, ...]] = {}
    for object_type, ids in record.associations.items():
        chains = merged.get(object_type)
        if not chains or not any(i in chains for i in ids):
            associations[object_type] = ids
            continue
        changed = True
        associations[object_type] = tuple(
            dict.fromkeys(sources_sql.survivor(chains, i) for i in ids)
        )
    return replace(record, associations=associations) if changed else record
