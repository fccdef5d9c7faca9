"""Why a state store cannot be used, in one line a person can act on.

Opening a store fails for three kinds of reasons, each its own :class:`~syncd.errors.StateError`
because the caller does something different about each:

* :class:`StoreSetupError`: the configured URL points at something that is not a usable store
  (a kind syncd does not support, a folder or a database that does not exist, a role or
  password the server refuses, a file that is not a SQLite database). Nothing ran; the setting
  or the server's set-up must change (the CLI exits 2).
* :class:`StoreUnreachableError`: the server did not answer (refused, timed out, unknown host).
  Nothing ran; it may be down, or the host or port may be wrong (the CLI exits 1).
* :class:`StoreDamagedError`: the database file is damaged. Nothing ran; restore it from a
  backup (``syncd doctor`` says what is wrong; the CLI exits 1).

:func:`describe_db_error` turns a driver error into such a line: the cause first, never the
query text SQLAlchemy appends to its messages.
"""

from __future__ import annotations

import re
from typing import Final

from sqlalchemy.exc import SQLAlchemyError

from model.errors import StateError

#: What SQLite says about a file that is not a database, or one that is damaged.
_NOT_A_DATABASE: Final = ("file is not a database",)
_DAMAGED: Final = ("malformed", "database corrupt", "disk image")
_PG_SERVER: Final = re.compile(r'connection to server at "([^"]+)"(?:[^,]*), port (\d+) failed')
_PG_MISSING_DB: Final = re.compile(r'database "([^"]+)" does not exist')
_PG_MISSING_ROLE: Final = re.compile(r'role "([^"]+)" does not exist')
_PG_AUTH: Final = re.compile(r'authentication failed for user "([^"]+)"')
_PG_UNREACHABLE: Final = (
    "connection refused",
    "timeout expired",
    "timed out",
    "could not translate host name",
    "failed to resolve host",
    "name or service not known",
    "no route to host",
    "network is unreachable",
    "server closed the connection",
    "could not receive data",
    "ssl negotiation",
    "consuming input failed",
)


class StoreSetupError(StateError):
    """The store URL points at something that is not a usable store; the setting must change."""


class StoreUnreachableError(StateError):
    """The store's server did not answer; it may be down, or the host or port may be wrong."""


class StoreDamagedError(StateError):
    """The store's database is damaged; restore it from a backup (``syncd doctor`` details)."""


def cause(exc: BaseException) -> str:
    """The driver's own message of ``exc``, first line only, without SQLAlchemy's query text."""
    orig = getattr(exc, "orig", None) if isinstance(exc, SQLAlchemyError) else None
    inner = orig if isinstance(orig, BaseException) else exc
    text = str(inner).strip()
    text = text.split("\n[SQL:", 1)[0].split("\n(Background on this error", 1)[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(inner).__name__


def _pg_cause(exc: BaseException) -> str:
    """libpq's reason, without its "connection to server at ... failed:" preamble."""
    return cause(exc).rsplit(" failed: ", 1)[-1].strip() or cause(exc)


def _pg_where(message: str, fallback: str) -> str:
    found = _PG_SERVER.search(message)
    return f"{found.group(1)}:{found.group(2)}" if found else fallback


def describe_db_error(exc: BaseException, where: str) -> StateError:
    """The one-line error for a database error met while opening or using the store at
    ``where`` (a file path or ``host:port/database``), of the class that says what to do.

    Errors of no known kind become a plain :class:`StateError` that leads with the driver's
    message (no query text)."""
    full = str(getattr(exc, "orig", None) or exc)
    lowered = full.lower()
    if any(s in lowered for s in _NOT_A_DATABASE):
        return StoreSetupError(
            f"the state store {where} is not a SQLite database: point [store] url at another "
            "file (syncd creates a new store there), or move this file away"
        )
    if any(s in lowered for s in _DAMAGED):
        return StoreDamagedError(
            f"the state store {where} is damaged ({cause(exc)}): restore it from a backup, or "
            "move it away to start a new store; syncd doctor shows what is wrong"
        )
    if missing := _PG_MISSING_DB.search(full):
        server = _pg_where(full, where)
        return StoreSetupError(
            f"PostgreSQL at {server} has no database {missing.group(1)!r}: create it "
            f"(createdb {missing.group(1)}) or fix the database in [store] url"
        )
    if role := _PG_MISSING_ROLE.search(full):
        server = _pg_where(full, where)
        return StoreSetupError(
            f"PostgreSQL at {server} has no role {role.group(1)!r}: create it "
            f"(createuser {role.group(1)}) or fix the user in [store] url"
        )
    if auth := _PG_AUTH.search(full):
        server = _pg_where(full, where)
        return StoreSetupError(
            f"PostgreSQL at {server} refused the password of {auth.group(1)!r}: set it in "
            "PGPASSWORD or ~/.pgpass (never in the config file)"
        )
    if any(s in lowered for s in _PG_UNREACHABLE):
        server = _pg_where(full, where)
        return StoreUnreachableError(
            f"cannot reach the PostgreSQL state store at {server} ({_pg_cause(exc)}): is the "
            "server running, and are the host and port in [store] url right?"
        )
    return StateError(f"state store error at {where}: {cause(exc)}")
