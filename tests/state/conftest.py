"""Fixtures of the state store contract suite (run on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from state.store import SqlStateStore, open_store

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(state_url: str) -> Iterator[SqlStateStore]:
    """A freshly migrated, empty store."""
    opened = open_store(state_url)
    yield opened
    opened.close()


@pytest.fixture
def running(store: SqlStateStore) -> SqlStateStore:
    """A store with source ``hs`` (hubspot) registered, its lease held (epoch 1) and run ``r1``
    of it started."""
    store.ensure_source("hs", "hubspot", T0)
    store.acquire_source("hs", "r1", T0)
    store.start_run("r1", "hs", T0, dry_run=False)
    return store
