"""Schema: created and upgraded only by the migrations, which match the models."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from model.changes import Update
from model.errors import StateError
from model.records import Cursor, PullBatch, Record
from state import migrate
from state.base import AuditRecord, OpOutcome, OutboxOp
from state.db import make_engine
from state.store import SqlStateStore, open_store
from tests.state.old_schema import (
    read_old_plan,
    read_old_record,
    write_old_plan,
    write_old_records,
)

TABLES_0001 = {
    "sources",
    "cursors",
    "records",
    "runs",
    "skipped_records",
    "plans",
    "plan_changes",
}
TABLES_0002 = {"outbox", "audit_log", "review_decisions"}
TABLES_0004 = {"source_leases"}
TABLES_0005 = {"reverts"}
TABLES_0007 = {"incidents", "source_schedules", "completeness_audits"}
TABLES_0009 = {"source_pauses"}
TABLES = TABLES_0001 | TABLES_0002 | TABLES_0004 | TABLES_0005 | TABLES_0007 | TABLES_0009
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _diff(engine: sa.Engine, metadata: sa.MetaData) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_open_creates_every_table_at_head(state_url: str) -> None:
    store = open_store(state_url)
    try:
        tables = set(sa.inspect(store.engine).get_table_names())
        assert tables >= TABLES | {"alembic_version"}
        with store.engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision() == "0011"
    finally:
        store.close()


def test_reopen_is_idempotent_and_keeps_data(state_url: str) -> None:
    first = open_store(state_url)
    first.ensure_source("hs", "hubspot", datetime(2024, 1, 1, tzinfo=UTC))
    first.close()
    second = open_store(state_url)
    try:
        assert second.baseline_summary("hs") == {}
        with second.engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision()
    finally:
        second.close()


def test_migrated_schema_equals_the_models(state_url: str) -> None:
    store = open_store(state_url)
    try:
        assert _diff(store.engine, SQLModel.metadata) == []
        # The comparison is live: a model that drifts from the migration shows up.
        drifted = sa.MetaData()
        for table in SQLModel.metadata.tables.values():
            table.to_metadata(drifted)
        drifted.tables["records"].append_column(sa.Column("extra", sa.String()))
        drifted.tables["runs"].c.dry_run.type = sa.Integer()
        entries = [e[0] if isinstance(e, list) else e for e in _diff(store.engine, drifted)]
        assert {(e[0], e[2]) for e in entries} == {
            ("add_column", "records"),
            ("modify_type", "runs"),
        }
    finally:
        store.close()


def test_downgrade_to_base_and_upgrade_again(state_url: str) -> None:
    store = open_store(state_url)
    try:
        config = migrate.alembic_config()
        with store.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert set(sa.inspect(store.engine).get_table_names()) & TABLES == set()
        migrate.upgrade(store.engine)
        assert set(sa.inspect(store.engine).get_table_names()) >= TABLES
    finally:
        store.close()


def _migrate_to(engine: sa.Engine, revision: str, *, down: bool = False) -> None:
    config = migrate.alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def test_0002_upgrades_a_0001_database_with_data_and_downgrades(state_url: str) -> None:
    engine = make_engine(state_url)
    try:
        _migrate_to(engine, "0001")
        old = SqlStateStore(engine)  # the 0001 methods need only the 0001 tables
        old.ensure_source("hs", "hubspot", T0)
        old.start_run("r1", "hs", T0, dry_run=False)
        contact = Record("contacts", "12", {"email": "A@X.COM"}, T0)
        write_old_records(engine, "hs", "r1", [contact])
        old.store_batch("hs", "r1", PullBatch("contacts", (), Cursor(T0)))  # its cursor
        change = Update("hs", "contacts", "normalize", "lower", "12", "email", "A@X.COM", "a@x.com")
        write_old_plan(engine, "p1", "hs", "r1", T0, {"contacts": {"count": 1}}, [change])
        assert set(sa.inspect(engine).get_table_names()) & TABLES_0002 == set()

        assert migrate.upgrade(engine) == migrate.head_revision()
        store = SqlStateStore(engine)
        assert store.get_records("hs", "contacts", ["12"]) == {"12": contact}
        assert store.get_cursor("hs", "contacts") == Cursor(T0)
        assert store.load_plan("p1").changes == [change]
        op = OutboxOp("p1:0:0", 0, 0, "update", "contacts", "12", {"email": "a@x.com"})
        assert store.enqueue("p1", "r1", [op], T0) == 1
        audit = AuditRecord(
            "r1", "p1", "p1:0:0", "hs", "normalize", "update", "contacts", "12", "email",
            "A@X.COM", "a@x.com", T0, {"status": 200},
        )  # fmt: skip
        lease = store.acquire_source("hs", "r1", T0)
        store.record_results([OpOutcome("p1:0:0", "applied", audit=[audit])], T0, epoch=1)
        store.release_source(lease)
        store.record_review("hs", "contacts", ["1", "2"], "approved", T0)

        _migrate_to(engine, "0001", down=True)
        assert set(sa.inspect(engine).get_table_names()) & TABLES == TABLES_0001
        with engine.connect() as conn:
            assert migrate.current_revision(conn) == "0001"
        assert read_old_record(engine, "hs", "contacts", "12") == contact
        assert read_old_plan(engine, "p1") == [change]

        assert migrate.upgrade(engine) == migrate.head_revision()  # and up again, empty
        assert store.outbox("p1") == []
        assert store.audit() == []
    finally:
        engine.dispose()


def test_0004_adds_the_leases_to_a_0003_database_and_drops_them_again(state_url: str) -> None:
    engine = make_engine(state_url)
    try:
        _migrate_to(engine, "0003")
        old = SqlStateStore(engine)
        old.ensure_source("hs", "hubspot", T0)
        assert "source_leases" not in sa.inspect(engine).get_table_names()
        assert migrate.upgrade(engine) == migrate.head_revision()
        store = SqlStateStore(engine)
        lease = store.acquire_source("hs", "r1", T0)
        assert lease.epoch == 1
        store.release_source(lease)
        _migrate_to(engine, "0003", down=True)
        assert "source_leases" not in sa.inspect(engine).get_table_names()
        assert old.list_runs("hs") == []
    finally:
        engine.dispose()


def test_a_newer_schema_is_refused(state_url: str) -> None:
    store = open_store(state_url)
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    store.close()
    with pytest.raises(StateError, match=r"9999_from_the_future.*newer syncd"):
        open_store(state_url)
    # Refused, not touched.
    engine = sa.create_engine(state_url)
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == "9999_from_the_future"
    engine.dispose()


def test_migrations_are_found_from_the_package_not_the_cwd(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    open_store(sqlite_url).close()
    assert migrate.MIGRATIONS_DIR.is_dir()
    assert (migrate.MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()
    assert (migrate.MIGRATIONS_DIR / "versions" / "0002_outbox_audit_reviews.py").is_file()


def test_in_memory_sqlite_works() -> None:
    store = open_store("sqlite:///:memory:")
    try:
        store.ensure_source("hs", "hubspot", datetime(2024, 1, 1, tzinfo=UTC))
        assert store.baseline_summary("hs") == {}
    finally:
        store.close()


def test_unreachable_database_is_a_state_error() -> None:
    with pytest.raises(
        StateError, match=r"cannot reach the PostgreSQL state store at 127\.0\.0\.1:1"
    ):
        open_store("postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2")


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(StateError, match="not supported"):
        open_store("mysql://user@localhost/db")
