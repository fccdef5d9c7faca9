"""Shared test fixtures. Each part owns its section; keep sections independent."""

from __future__ import annotations

# --- state store: database URLs (owned by the state store; tests/state) -------------------------
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog

PG_URL_ENV = "SYNCD_TEST_PG_URL"
PG_DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_SKIP_ENV = "SYNCD_TEST_PG"  # set to "skip" to skip PostgreSQL tests when no server is at hand


def _pg_admin_url() -> str:
    return os.environ.get(PG_URL_ENV, PG_DEFAULT_URL)


@pytest.fixture(scope="session")
def pg_admin_engine() -> Iterator[sa.Engine]:
    """An engine on the test PostgreSQL server; fails (or skips with SYNCD_TEST_PG=skip)."""
    engine = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        message = f"PostgreSQL at {PG_URL_ENV}={_pg_admin_url()} unreachable: {exc}"
        if os.environ.get(PG_SKIP_ENV) == "skip":
            pytest.skip(message)
        pytest.fail(f"{message} (set {PG_SKIP_ENV}=skip to skip PostgreSQL tests)")
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(pg_admin_engine: sa.Engine) -> Iterator[str]:
    """A URL whose connections live in a fresh schema of their own, dropped afterwards."""
    schema = f"syncd_test_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    with pg_admin_engine.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(_pg_admin_url()).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with pg_admin_engine.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL of a fresh SQLite file database."""
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest) -> str:
    """The URL of a fresh, empty state store database: SQLite file, then PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url = request.getfixturevalue(name)
    assert isinstance(url, str)
    return url


# --- end of state store section ------------------------------------------------------------------


# --- property tests: hypothesis (shared) ----------------------------------------------------------
from hypothesis import HealthCheck, settings  # noqa: E402  (this section's own import)

# The suite runs on shared CI machines whose speed varies by two or three times from one hour to
# the next: a property is checked on its examples, never on how fast they were generated or run
# (speed is measured by bench/). Tests that set their own settings keep them.
settings.register_profile("syncd", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("syncd")


# --- logging (owned by syncd.logging) -----------------------------------------------------------


@pytest.fixture(autouse=True)
def _structlog_defaults() -> Iterator[None]:
    """Each test starts from structlog's defaults: a test that configures logging (a level of
    ``warning`` filters info events out before any processor) leaves nothing to the next, whose
    ``capture_logs`` would otherwise see none of them."""
    yield
    structlog.reset_defaults()
