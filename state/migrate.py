"""Schema migrations, run on open through alembic's command API.

The scripts live in ``state/migrations`` inside the installed package (found from this module,
never from the working directory). A database whose revision this code does not know was
migrated by a newer syncd: it is refused rather than touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, func, select

from model.errors import StateError
from state.db import WRITE_OPTION

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
#: Key of the PostgreSQL advisory lock that serialises migrations of replicas starting together.
_PG_MIGRATION_LOCK: Final = 0x73796E6364  # "syncd"


def alembic_config() -> Config:
    """An alembic config pointing at the packaged migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> frozenset[str]:
    """Every revision this code knows."""
    return frozenset(
        s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    )


def current_revision(connection: Connection) -> str | None:
    """The database's revision, ``None`` when it was never migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Bring the schema to head in one transaction and return the revision it is at.

    Raises ``StateError`` when the database is at a revision this code does not know (a newer
    syncd migrated it) or when a migration fails.
    """
    config = alembic_config()
    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    with engine.connect() as connection:
        connection.execution_options(**{WRITE_OPTION: True})  # SQLite: BEGIN IMMEDIATE
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(select(func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
            current = current_revision(connection)
            if current is not None and current not in known:
                raise StateError(
                    f"the state store's schema is at revision {current!r}, which this syncd "
                    f"does not know (it knows up to {head_revision()!r}): it was migrated by a "
                    "newer syncd; upgrade syncd instead of using this older version"
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            now = current_revision(connection)
    assert now is not None
    return now
