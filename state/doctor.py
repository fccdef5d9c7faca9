"""Health checks of the state store itself: is it there, is it whole, is its schema ours.

* :func:`quick_check` runs on every open of a SQLite file (``PRAGMA quick_check``): a damaged
  file stops the command with one line instead of a half-done run.
* :func:`probe` is ``syncd check-config --connect``: can the store be reached, what schema
  revision is it at; it creates and migrates nothing.
* :func:`examine` is ``syncd doctor``: SQLite's full ``PRAGMA integrity_check`` and
  ``foreign_key_check``, or on PostgreSQL the connection, and on both the schema revision,
  the tables the models expect, outbox rows whose plan is gone, and plans stored as a
  difference whose base is gone.

Every finding is a :class:`Finding` with a sentence a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import sqlalchemy as sa
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from model.errors import StateError
from state import migrate
from state.db import URL_FORMS, describe_url, url_problem
from state.errors import StoreDamagedError, describe_db_error
from state.models import outbox_t, plans_t

#: How many problems SQLite's integrity check lists at most.
INTEGRITY_LIMIT: Final = 20


@dataclass(frozen=True, slots=True)
class Finding:
    """One check: what was checked, whether it passed, and what was found (or what to do)."""

    check: str
    ok: bool
    detail: str


def quick_check(engine: Engine, where: str) -> None:
    """``PRAGMA quick_check`` of a SQLite store; :class:`StoreDamagedError` when it fails.

    Database errors on the way (a file that is not a database) become the one-line errors of
    :func:`state.errors.describe_db_error`.
    """
    try:
        with engine.connect() as conn:
            rows = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check(5)")]
    except SQLAlchemyError as exc:
        raise describe_db_error(exc, where) from exc
    if rows != ["ok"]:
        # one row may hold several lines, headed "*** in database main ***": the first problem
        problems = [line for row in rows for line in row.splitlines() if not line.startswith("***")]
        raise StoreDamagedError(
            f"the state store {where} is damaged ({(problems or rows)[0].strip()}): restore it "
            "from a backup, or move it away to start a new store; syncd doctor shows what is wrong"
        )


def _plain_engine(url: str) -> Engine:
    """An engine that opens connections only when asked and creates nothing."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return sa.create_engine(parsed, poolclass=sa.NullPool)


def _missing_file(url: str) -> Finding | None:
    """For a SQLite file store: a finding when its folder or file does not exist."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database or "")
    if not path.parent.is_dir():
        detail = f"the folder {path.parent} does not exist: create it or change [store] url"
        return Finding("store", False, detail)
    if not path.exists():
        return Finding("store", True, f"{path} does not exist yet; the first run creates it")
    return None


def probe(url: str) -> Finding:
    """Whether the store at ``url`` can be opened, without creating or changing anything."""
    problem = url_problem(url)
    if problem is not None:
        return Finding("store", False, f"[store] url: {problem}; expected {URL_FORMS}")
    missing = _missing_file(url)
    if missing is not None:
        return missing
    where = describe_url(url)
    engine = _plain_engine(url)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA schema_version").scalar()  # reads the header
            revision = migrate.current_revision(conn)
    except SQLAlchemyError as exc:
        return Finding("store", False, str(describe_db_error(exc, where)))
    finally:
        engine.dispose()
    return Finding("store", True, f"{where} reachable; {_revision_words(revision)}")


def _revision_words(revision: str | None) -> str:
    head = migrate.head_revision()
    if revision is None:
        return "no syncd schema yet (the first run creates it)"
    if revision == head:
        return f"schema at revision {revision} (current)"
    return f"schema at revision {revision}; this syncd upgrades it to {head} on the next run"


def examine(url: str) -> list[Finding]:
    """The full check of ``syncd doctor``; nothing is created, migrated or changed."""
    problem = url_problem(url)
    if problem is not None:
        return [Finding("store", False, f"[store] url: {problem}; expected {URL_FORMS}")]
    missing = _missing_file(url)
    if missing is not None:
        return [replace(missing, ok=False)]
    where = describe_url(url)
    engine = _plain_engine(url)
    findings: list[Finding] = []
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                findings += _sqlite_integrity(conn, where)
            else:
                version = conn.exec_driver_sql("SHOW server_version").scalar()
                findings.append(Finding("connection", True, f"{where} (PostgreSQL {version})"))
            if all(f.ok for f in findings):
                findings += _schema(conn)
    except StateError as exc:
        findings.append(Finding("store", False, str(exc)))
    except SQLAlchemyError as exc:
        findings.append(Finding("store", False, str(describe_db_error(exc, where))))
    finally:
        engine.dispose()
    return findings


def _sqlite_integrity(conn: sa.Connection, where: str) -> list[Finding]:
    try:
        rows = [
            str(r[0]) for r in conn.exec_driver_sql(f"PRAGMA integrity_check({INTEGRITY_LIMIT})")
        ]
    except SQLAlchemyError as exc:
        return [Finding("integrity", False, str(describe_db_error(exc, where)))]
    if rows != ["ok"]:
        return [
            Finding(
                "integrity",
                False,
                f"{where} is damaged: "
                + "; ".join(rows)
                + ". Restore it from a backup, or move it away to start a new store",
            )
        ]
    found = [tuple(r) for r in conn.exec_driver_sql("PRAGMA foreign_key_check")]
    if found:
        tables = sorted({str(r[0]) for r in found})
        return [
            Finding(
                "integrity",
                False,
                f"{len(found)} rows of {', '.join(tables)} point at rows "
                "that are gone (PRAGMA foreign_key_check)",
            )
        ]
    return [Finding("integrity", True, f"{where}: integrity_check and foreign_key_check ok")]


def _schema(conn: sa.Connection) -> list[Finding]:
    revision = migrate.current_revision(conn)
    known = migrate.known_revisions()
    if revision is not None and revision not in known:
        return [
            Finding(
                "schema",
                False,
                f"revision {revision} is newer than this syncd knows "
                f"({migrate.head_revision()}): upgrade syncd",
            )
        ]
    findings = [Finding("schema", True, _revision_words(revision))]
    if revision is None:
        return findings
    present = set(sa.inspect(conn).get_table_names())
    expected = {t.name for t in plans_t.metadata.sorted_tables}
    missing = sorted(expected - present)
    if revision == migrate.head_revision():
        findings.append(
            Finding(
                "tables",
                not missing,
                "every table present" if not missing else f"missing tables: {', '.join(missing)}",
            )
        )
    if not {"outbox", "plans"} & set(missing):
        orphans = conn.execute(
            sa.select(sa.func.count())
            .select_from(outbox_t)
            .where(~sa.exists().where(plans_t.c.id == outbox_t.c.plan_id))
        ).scalar_one()
        findings.append(
            Finding(
                "outbox",
                orphans == 0,
                "every operation belongs to a plan"
                if not orphans
                else f"{orphans} outbox operations belong to no plan",
            )
        )
    if revision == migrate.head_revision() and "plans" not in missing:
        base = plans_t.alias("base")
        unreadable: list[str] = list(
            conn.execute(
                sa.select(plans_t.c.id)
                .where(
                    plans_t.c.base_id.is_not(None),
                    ~sa.exists().where(base.c.id == plans_t.c.base_id),
                )
                .order_by(plans_t.c.id)
                .limit(5)
            ).scalars()
        )
        findings.append(
            Finding(
                "plans",
                not unreadable,
                "every plan stored as a difference has its base"
                if not unreadable
                else "plans stored as what differs from a plan that is gone cannot be read: "
                + ", ".join(map(str, unreadable)),
            )
        )
    return findings
