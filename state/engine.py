"""Engines for the state store: SQLite tuned for one daemon, PostgreSQL for replicas.

SQLite: WAL journal (file databases), foreign keys enforced, a busy timeout so a second process
waits for the write lock instead of failing, and real transactions: pysqlite's own implicit
transaction handling is switched off and syncd emits ``BEGIN`` itself (``BEGIN IMMEDIATE`` for
writes, so a read-then-write never dead-ends in ``SQLITE_BUSY``). ``sqlite:///:memory:`` keeps one
shared connection so every caller sees the same database.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.pool import StaticPool

from model.errors import StateError

SUPPORTED_DIALECTS: Final = ("sqlite", "postgresql")
SQLITE_BUSY_TIMEOUT_MS: Final = 10_000
#: Execution option that makes a SQLite transaction take the write lock at ``BEGIN``.
WRITE_OPTION: Final = "syncd_write"


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///path.db``, ``postgresql+psycopg://...``).

    Raises ``StateError`` for a malformed URL or a database other than SQLite or PostgreSQL.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise StateError(f"bad state store URL: {exc}") from exc
    dialect = parsed.get_backend_name()
    if dialect not in SUPPORTED_DIALECTS:
        raise StateError(
            f"state store {dialect!r} is not supported; use sqlite or postgresql+psycopg"
        )
    if dialect == "postgresql":
        return create_engine(parsed, pool_pre_ping=True)
    memory = parsed.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {}
    if memory:
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    engine = create_engine(parsed, **kwargs)
    _tune_sqlite(engine, wal=not memory)
    return engine


def _tune_sqlite(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # syncd emits BEGIN itself, see _on_begin
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
