"""Alembic environment of the state store.

syncd runs it through :func:`state.migrate.upgrade` with an open connection in
``config.attributes["connection"]``. Run by hand (``alembic -c state/alembic.ini -x url=URL ...``)
it connects to ``-x url=`` itself. Offline (``--sql``) mode is not supported.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import state.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from state.db import make_engine

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():
        raise SystemExit("state migrations run online only: pass -x url=...")
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("no database: pass -x url=sqlite:///syncd.db")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


main()
