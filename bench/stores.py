"""Where a benchmark keeps its state store: a SQLite file in a temporary folder, or a schema of
its own in the PostgreSQL test database, made for the run and dropped after it.

The schema keeps runs apart: in the database itself, a second run found the first one's
source, cursors and plans, so its "full" cycle pulled only what had changed since and reused
the weights learned before.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

PG_URL = os.environ.get("SYNCD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def store_url(kind: str, folder: Path) -> Iterator[str]:
    """The URL of a new, empty store: ``sqlite`` (a file in ``folder``) or ``postgres``."""
    if kind == "sqlite":
        yield f"sqlite:///{folder}/bench.db"
        return
    schema = f"syncd_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
