"""A store that cannot be used says why in one line, by the kind of error that says what to do;
a new SQLite store is private (0600) before it is opened; doctor checks it in full."""

from __future__ import annotations

import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from model.changes import Update
from state.doctor import examine, probe
from state.errors import (
    StoreDamagedError,
    StoreSetupError,
    StoreUnreachableError,
    describe_db_error,
)
from state.store import open_store

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _pg(pg_admin_engine: sa.Engine, **parts: object) -> str:
    return pg_admin_engine.url.set(**parts).render_as_string(hide_password=False)  # type: ignore[arg-type]


def test_unreachable_postgresql_leads_with_the_cause(pg_admin_engine: sa.Engine) -> None:
    with pytest.raises(StoreUnreachableError) as caught:
        open_store(_pg(pg_admin_engine, port=1))
    message = str(caught.value)
    assert message.startswith("cannot reach the PostgreSQL state store at 127.0.0.1:1")
    assert "(Connection refused)" in message
    assert "\n" not in message
    assert "[SQL" not in message
    assert "sqlalche.me" not in message


def test_unknown_database_and_role_say_what_to_create(pg_admin_engine: sa.Engine) -> None:
    with pytest.raises(StoreSetupError, match=r"has no database 'no_such_db': create it"):
        open_store(_pg(pg_admin_engine, database="no_such_db"))
    with pytest.raises(StoreSetupError, match=r"has no role 'no_such_role': create it"):
        open_store(_pg(pg_admin_engine, username="no_such_role"))


def test_postgresql_without_a_driver_means_psycopg(pg_url: str) -> None:
    store = open_store(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    store.close()
    with pytest.raises(StoreSetupError, match="driver 'psycopg2' is not supported"):
        open_store(pg_url.replace("postgresql+psycopg://", "postgresql+psycopg2://"))


def test_unsupported_kind_names_the_forms_syncd_takes() -> None:
    with pytest.raises(StoreSetupError) as caught:
        open_store("mysql://user@localhost/db")
    assert str(caught.value) == (
        "[store] url: a 'mysql' state store is not supported; expected sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST:PORT/DATABASE"
    )


def test_sqlite_in_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(StoreSetupError, match=r"folder .*/absent does not exist: create it"):
        open_store(f"sqlite:///{tmp_path / 'absent' / 'state.db'}")
    assert not (tmp_path / "absent").exists()


def test_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("name,email\nAnn,ann@example.com\n")
    with pytest.raises(StoreSetupError, match="is not a SQLite database: point"):
        open_store(f"sqlite:///{path}")
    assert path.read_text().startswith("name,email")  # left as it was


def damage(path: Path) -> None:
    """Overwrite pages in the middle of a SQLite file, as a bad disk would."""
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(size // 2)
        file.write(b"\xde\xad\xbe\xef" * 2048)


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    """A SQLite store with a few hundred rows, closed."""
    path = tmp_path / "state.db"
    store = open_store(f"sqlite:///{path}")
    store.ensure_source("hs", "hubspot", T0)
    store.start_run("r1", "hs", T0, dry_run=True)
    changes = [
        Update("hs", "contacts", "normalize", "why " * 20, str(i), "email", f"A{i}@X", f"a{i}@x")
        for i in range(400)
    ]
    store.save_plan("p1", "hs", "r1", T0, {}, changes)
    store.close()
    return path


def test_a_damaged_file_is_refused_at_open_and_doctor_says_where(filled: Path) -> None:
    damage(filled)
    with pytest.raises(StoreDamagedError) as caught:
        open_store(f"sqlite:///{filled}")
    # SQLite's words depend on which page the damage hit (the schema's size moves it)
    assert re.search(r"is damaged \(.+\): restore it from a backup", str(caught.value))
    findings = examine(f"sqlite:///{filled}")
    assert [f.check for f in findings if not f.ok] == ["integrity"]


def test_doctor_on_healthy_stores(filled: Path, pg_url: str) -> None:
    sqlite_findings = examine(f"sqlite:///{filled}")
    assert all(f.ok for f in sqlite_findings), sqlite_findings
    assert [f.check for f in sqlite_findings] == [
        "integrity",
        "schema",
        "tables",
        "outbox",
        "plans",
    ]
    open_store(pg_url).close()
    pg_findings = examine(pg_url)
    assert all(f.ok for f in pg_findings), pg_findings
    assert pg_findings[0].check == "connection"
    assert "schema at revision" in pg_findings[1].detail


def test_doctor_names_a_plan_whose_base_is_gone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = open_store(url)
    store.ensure_source("hs", "hubspot", T0)
    change = Update("hs", "contacts", "normalize", "lower", "12", "email", "A@X", "a@x")
    base = store.save_plan("p1", "hs", None, T0, {}, [change, change])
    store.save_plan("p2", "hs", None, T0, {}, [change, change], base=base)
    with store.engine.begin() as conn:  # what no store does: the base deleted by hand
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.exec_driver_sql("DELETE FROM plan_changes WHERE plan_id = 'p1'")
        conn.exec_driver_sql("DELETE FROM plans WHERE id = 'p1'")
    store.close()
    found = {f.check: f for f in examine(url)}
    assert not found["plans"].ok
    assert found["plans"].detail.endswith("cannot be read: p2")


def test_probe_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    found = probe(f"sqlite:///{path}")
    assert found.ok
    assert "does not exist yet" in found.detail
    assert not path.exists()


def test_a_new_sqlite_store_and_its_wal_are_private_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    old = os.umask(0)  # the most permissive umask: a plain open() would make 0666 files
    try:
        store = open_store(f"sqlite:///{path}")
        store.ensure_source("hs", "hubspot", T0)  # a write: the -wal and -shm files exist now
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
        store.close()
    finally:
        os.umask(old)
    assert modes == {"state.db": 0o600, "state.db-wal": 0o600, "state.db-shm": 0o600}


def test_a_connection_lost_mid_run_leads_with_the_cause_not_the_query() -> None:
    lost = sa.exc.OperationalError(
        "SELECT records.remote_id, records.properties FROM records WHERE records.source = %(s)s",
        {"s": "hubspot"},
        Exception(
            "consuming input failed: server closed the connection unexpectedly\n"
            "\tThis probably means the server terminated abnormally"
        ),
    )
    assert "[SQL: SELECT" in str(lost)  # what a person saw before
    error = describe_db_error(lost, "db.example:5432/syncd")
    assert isinstance(error, StoreUnreachableError)
    assert str(error) == (
        "cannot reach the PostgreSQL state store at db.example:5432/syncd (server closed the "
        "connection unexpectedly): is the server running, and are the host and port in [store] "
        "url right?"
    )
