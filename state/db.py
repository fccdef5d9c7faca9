"""Database engines for the state store (not the sync engine, `syncd/engine.py`): SQLite tuned for
one daemon, PostgreSQL for replicas.

SQLite: WAL journal (file databases), foreign keys enforced, a busy timeout so a second process
waits for the write lock instead of failing, and real transactions: pysqlite's own implicit
transaction handling is switched off and syncd emits ``BEGIN`` itself (``BEGIN IMMEDIATE`` for
writes, so a read-then-write never dead-ends in ``SQLITE_BUSY``). ``sqlite:///:memory:`` keeps one
shared connection so every caller sees the same database. PostgreSQL: sessions left idle in a
transaction are ended by the server after 30 s (a replica frozen mid-transaction).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any, Final

import orjson
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.pool import StaticPool
from tenacity import retry, retry_if_exception, stop_after_delay, wait_random

from state.errors import StoreSetupError

SUPPORTED_DIALECTS: Final = ("sqlite", "postgresql")
SQLITE_BUSY_TIMEOUT_MS: Final = 10_000
#: PostgreSQL ends a session idle inside a transaction for this long (a frozen holder).
IDLE_IN_TRANSACTION_TIMEOUT_MS: Final = 30_000
#: Execution option that makes a SQLite transaction take the write lock at ``BEGIN``.
WRITE_OPTION: Final = "syncd_write"


#: The URL forms syncd takes, for messages.
URL_FORMS: Final = "sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DATABASE"


def url_problem(url: str) -> str | None:
    """What is wrong with a state store URL, in a few words, or ``None`` when syncd can use it.

    Only the URL's form is checked (no connection): its kind must be SQLite, or PostgreSQL
    through psycopg (``postgresql://`` means psycopg too).
    """
    try:
        parsed = make_url(url)
    except Exception:
        return "not a database URL"
    dialect, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if dialect not in SUPPORTED_DIALECTS:
        return f"a {dialect!r} state store is not supported"
    if dialect == "postgresql" and "+" in parsed.drivername and driver != "psycopg":
        return f"the PostgreSQL driver {driver!r} is not supported"
    return None


def describe_url(url: str) -> str:
    """Where a store URL points, for messages: the SQLite file, or ``host:port/database``
    (never the password)."""
    try:
        parsed = make_url(url)
    except Exception:
        return "(unreadable URL)"
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def json_text(value: object) -> str:
    """The JSON text of a JSON column's value, written by orjson: a run writes one per record
    pulled and one per planned change, and orjson does it several times faster than ``json``.

    The same JSON as ``json.dumps`` gives, but compact and in UTF-8 (no ``\\u`` escapes),
    non-string keys as text (as ``json`` does); what orjson refuses (an integer past 64 bits)
    goes through ``json``. One difference: a NaN float becomes ``null`` (``json`` wrote ``NaN``,
    which is no JSON and which PostgreSQL refused).
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value)


def json_value(text: str | bytes) -> Any:
    """The value of a JSON column's text: orjson reads it, ``json`` what orjson refuses (the
    ``NaN`` an older ``json.dumps`` may have written)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


_JSON: dict[str, Any] = {"json_serializer": json_text, "json_deserializer": json_value}


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///path.db``, ``postgresql+psycopg://...``).

    Raises :class:`~state.errors.StoreSetupError` for a URL of an unsupported kind, or a SQLite
    file in a folder that does not exist. A SQLite file that does not exist yet is created
    first, readable and writable by its owner only (0600, whatever the umask): it will hold
    names, e-mails and phones, and SQLite gives its ``-wal`` and ``-shm`` files the same mode.
    """
    problem = url_problem(url)
    if problem is not None:
        raise StoreSetupError(f"[store] url: {problem}; expected {URL_FORMS}")
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(
            parsed.set(drivername="postgresql+psycopg"), pool_pre_ping=True, **_JSON
        )
        _tune_postgresql(engine)
        return engine
    memory = parsed.database in (None, "", ":memory:")
    kwargs: dict[str, Any] = {}
    if memory:
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    else:
        assert parsed.database is not None
        create_private(Path(parsed.database))
    engine = create_engine(parsed, **kwargs, **_JSON)
    _tune_sqlite(engine, wal=not memory)
    return engine


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists; ``StoreSetupError`` when its
    folder does not exist or cannot be written."""
    folder = path.parent
    if not folder.is_dir():
        raise StoreSetupError(
            f"the state store's folder {folder} does not exist: create it, or change [store] url"
        )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreSetupError(
            f"cannot create the state store {path} ({exc.strerror}): make its folder writable, "
            "or change [store] url"
        ) from exc
    try:
        os.fchmod(fd, 0o600)  # the umask may have taken bits off, never added any: make it exact
    finally:
        os.close(fd)


def _tune_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # A process frozen in the middle of a transaction (stopped, its machine gone) would keep
        # its row locks, and so a source's lease, until TCP keepalive notices: the server ends
        # such a session instead. syncd never leaves a transaction idle on purpose.
        with dbapi_connection.cursor() as cursor:
            cursor.execute(
                f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_TIMEOUT_MS}"
            )
        dbapi_connection.commit()


def _locked(exc: BaseException) -> bool:
    """SQLite's busy answer ("database is locked"), by its result code, extended ones included."""
    return isinstance(exc, sqlite3.OperationalError) and (
        exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
    )


@retry(
    retry=retry_if_exception(_locked),
    stop=stop_after_delay(SQLITE_BUSY_TIMEOUT_MS / 1000),
    wait=wait_random(0.005, 0.05),
    reraise=True,
)
def _switch_to_wal(cursor: sqlite3.Cursor) -> None:
    """Put the database in WAL mode (a no-op once it is). On a file still in rollback mode (a
    new store) the switch needs the exclusive lock, and SQLite answers "database is locked" at
    once, without waiting out the busy timeout, when another connection holds the write lock
    (two commands opening a new store together): it is tried again, for as long as the busy
    timeout would have waited."""
    cursor.execute("PRAGMA journal_mode=WAL")


def _tune_sqlite(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # syncd emits BEGIN itself, see _on_begin
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                _switch_to_wal(cursor)
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
