"""The exclusive lock under each source lease: one holder at a time, freed when it dies.

A lease (:meth:`state.base.StateStore.acquire_source`) first takes one of these, then records
itself in the ``source_leases`` row. The lock is always one the database or the operating system
drops by itself when its holder's process or connection ends, so a killed command never leaves a
source locked:

* PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection of its own,
  opened outside the store's pool (a pooled connection would go back to the pool still holding
  it) and in autocommit (never idle in a transaction for the length of a run). The key is a
  stable 64-bit hash of the schema and the source name, so stores in two schemas of one
  database do not lock each other.
* SQLite file: ``flock`` on ``<db>.<source>.lock`` beside the database, one file per source
  (``flock`` locks whole files). Names other than letters, digits, ``_`` and ``-`` are made
  safe and suffixed with a hash of the real name. The files stay; only the lock comes and goes.
* SQLite in memory (tests): a lock inside the store; no other process can open that database.

``try_acquire`` never waits; the store polls it when asked to wait. ``take_over`` breaks the
lock of a holder whose lease expired, where that can be done: PostgreSQL ends the holder's lock
session (``pg_terminate_backend``, which needs the same database role or ``pg_signal_backend``);
a file lock or a lock in memory cannot be broken while its process lives.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import threading
import time
from pathlib import Path
from typing import Final, Protocol

import sqlalchemy as sa
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from model.errors import StateError
from state.errors import cause

_SAFE_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: How long a takeover waits for the ended session to let go of the lock.
TAKEOVER_WAIT_SECONDS: Final = 5.0
_HOLDERS: Final = sa.text(
    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND classid = :high AND objid = :low AND objsubid = 1 AND granted "
    "AND pid <> pg_backend_pid()"
)


class SourceLock(Protocol):
    """One source's lock, for one holder. Raises ``StateError`` when it cannot even be tried."""

    def try_acquire(self) -> bool:
        """Take the lock if it is free and say so; never waits."""
        ...

    def release(self) -> None:
        """Let go of the lock (nothing when not held). Never raises."""
        ...

    def take_over(self) -> bool:
        """End whoever holds the lock (its lease expired) and take it; False when this kind of
        lock cannot be broken, or another holder got it first."""
        ...


def advisory_key(schema: str, source: str) -> int:
    """The PostgreSQL advisory lock key of ``source`` in ``schema``: a signed 64-bit integer."""
    digest = hashlib.blake2b(f"syncd.source\0{schema}\0{source}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def lock_path(database: str, source: str) -> Path:
    """The lock file of ``source`` beside the SQLite database file ``database``."""
    name = source
    if not _SAFE_NAME.fullmatch(source):
        digest = hashlib.sha256(source.encode()).hexdigest()[:12]
        name = re.sub(r"[^A-Za-z0-9_-]", "_", source)[:40] + "-" + digest
    return Path(f"{database}.{name}.lock")


class SourceLocks:
    """Makes the lock of any source of one store; owns the PostgreSQL lock connections' engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock_engine: Engine | None = None
        self._memory_held: set[str] = set()
        self._memory_mutex = threading.Lock()

    def lock(self, source: str) -> SourceLock:
        """A fresh, unheld lock of ``source``."""
        if self._engine.dialect.name == "postgresql":
            if self._lock_engine is None:
                self._lock_engine = create_engine(
                    self._engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT"
                )
            return _AdvisoryLock(self._lock_engine, source)
        database = self._engine.url.database
        if database in (None, "", ":memory:"):
            return _MemoryLock(self._memory_held, self._memory_mutex, source)
        assert database is not None
        return _FileLock(lock_path(database, source))

    def close(self) -> None:
        """Close the lock engine (locks still held are released by their holders first)."""
        if self._lock_engine is not None:
            self._lock_engine.dispose()


class _AdvisoryLock:
    def __init__(self, engine: Engine, source: str) -> None:
        self._engine = engine
        self._source = source
        self._conn: Connection | None = None
        self._key = 0

    def try_acquire(self) -> bool:
        return self._acquire(take_over=False)

    def take_over(self) -> bool:
        return self._acquire(take_over=True)

    def _acquire(self, *, take_over: bool) -> bool:
        try:
            conn = self._engine.connect()
        except SQLAlchemyError as exc:
            raise StateError(f"cannot lock source {self._source!r}: {cause(exc)}") from exc
        try:
            schema = str(conn.execute(sa.select(sa.func.current_schema())).scalar_one())
            key = advisory_key(schema, self._source)
            try_lock = sa.select(sa.func.pg_try_advisory_lock(key))
            got = bool(conn.execute(try_lock).scalar_one())
            if not got and take_over:
                # oid halves of the 64-bit key, as pg_locks shows an advisory lock on a bigint
                halves = {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF}
                conn.execute(_HOLDERS, halves)
                deadline = time.monotonic() + TAKEOVER_WAIT_SECONDS
                while not got and time.monotonic() < deadline:
                    time.sleep(0.05)  # the ended session lets go as it exits
                    got = bool(conn.execute(try_lock).scalar_one())
        except SQLAlchemyError as exc:
            conn.close()
            raise StateError(f"cannot lock source {self._source!r}: {cause(exc)}") from exc
        if not got:
            conn.close()
            return False
        self._conn, self._key = conn, key
        return True

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            # closing the session frees the lock anyway (and already did if the server is gone)
            with contextlib.suppress(SQLAlchemyError):
                conn.execute(sa.select(sa.func.pg_advisory_unlock(self._key)))
        finally:
            with contextlib.suppress(SQLAlchemyError):
                conn.close()


class _FileLock:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by children
        except OSError as exc:
            raise StateError(f"cannot open the lock file {self._path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError as exc:
            os.close(fd)
            raise StateError(f"cannot lock {self._path}: {exc}") from exc
        self._fd = fd
        return True

    def take_over(self) -> bool:
        return False  # another process's flock lasts as long as that process

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor drops the flock


class _MemoryLock:
    def __init__(self, held: set[str], mutex: threading.Lock, source: str) -> None:
        self._held, self._mutex, self._source = held, mutex, source
        self._mine = False

    def try_acquire(self) -> bool:
        with self._mutex:
            if self._source in self._held:
                return False
            self._held.add(self._source)
        self._mine = True
        return True

    def take_over(self) -> bool:
        return False  # only this process holds it; its holder is alive

    def release(self) -> None:
        if self._mine:
            self._mine = False
            with self._mutex:
                self._held.discard(self._source)
