"""The engine storing a pull that keeps several requests in flight: the same store as one request
at a time, and a pull that fails midway resumes to the same store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from model.records import Cursor, PullBatch, Record
from sandbox.generator import generate
from sandbox.hubspot import HubSpotSandbox, SandboxState
from state.base import StateStore
from syncd.config import Config, parse_config
from tests.syncd.test_cycle import NOW, Clock, engine_for

TYPES = ("contacts", "companies", "deals", "tasks", "owners")


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[HubSpotSandbox]:
    state = SandboxState.from_dataset(generate(records=300, seed=11, now=NOW), clock=clock)
    with HubSpotSandbox(state, port=0) as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


def config(tmp_path: Path, base_url: str, name: str, in_flight: int) -> Config:
    return parse_config(
        {
            "store": {"url": f"sqlite:///{name}.db"},
            "sources": {
                "hubspot": {
                    "connector": "hubspot",
                    "base_url": base_url,
                    "token": "${HUBSPOT_TOKEN}",
                    "requests_in_flight": in_flight,
                }
            },
        },
        tmp_path,
    )


def sandbox_ids(state: SandboxState, object_type: str) -> list[str]:
    """Every id of ``object_type`` the sandbox knows: live, archived and merged away."""
    if object_type == "owners":
        return [str(owner["id"]) for owner in state.owners]
    ids: list[str] = []
    for archived in (False, True):
        records, _ = state.page(object_type, None, 1_000_000, archived=archived)
        ids += [r.id for r in records] + [m for r in records for m in r.merged_ids]
    return ids


def stored(store: StateStore, sandbox: HubSpotSandbox) -> dict[str, dict[str, Record]]:
    """Every record the store holds of the sandbox's ids (archived and merged included)."""
    return {
        object_type: store.get_records(
            "hubspot", object_type, sandbox_ids(sandbox.state, object_type)
        )
        for object_type in TYPES
    }


class FailingStore:
    """The store, failing the ``fail_at``-th batch it is asked to store (a full disk)."""

    def __init__(self, store: StateStore, fail_at: int) -> None:
        self._store = store
        self.fail_at = fail_at
        self.batches = 0

    def store_batch(self, source: str, run_id: str, batch: PullBatch) -> int:
        self.batches += 1
        if self.batches == self.fail_at:
            raise OSError("disk full")
        return self._store.store_batch(source, run_id, batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_in_flight_pulls_store_what_one_request_at_a_time_stores(
    sandbox: HubSpotSandbox, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    alone = engine_for(config(tmp_path, sandbox.base_url, "alone", 1), clock)
    together = engine_for(config(tmp_path, sandbox.base_url, "together", 4), clock)
    for _ in range(2):  # a full pull, then an incremental one after an edit
        alone.plan("hubspot")
        together.plan("hubspot")
        contact = next(iter(alone.store.snapshot("hubspot", clock()).of("contacts")))
        sandbox.state.update("contacts", contact.id, {"lastname": f"Edited {clock().second}"})

    one_at_a_time, in_flight = stored(alone.store, sandbox), stored(together.store, sandbox)
    assert sum(map(len, in_flight.values())) >= 300
    assert in_flight == one_at_a_time
    for object_type in TYPES:
        assert together.store.get_cursor("hubspot", object_type).updated_at is not None


def test_a_pull_that_fails_midway_resumes_to_the_same_store(
    sandbox: HubSpotSandbox, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    whole = engine_for(config(tmp_path, sandbox.base_url, "whole", 4), clock)
    whole.plan("hubspot")
    broken_config = config(tmp_path, sandbox.base_url, "broken", 4)
    broken = engine_for(broken_config, clock)
    failing = FailingStore(broken.store, fail_at=4)
    broken.store = failing  # type: ignore[assignment]  # the store, failing one batch

    with pytest.raises(OSError, match="disk full"):
        broken.plan("hubspot")
    committed = {t: failing.get_cursor("hubspot", t) for t in TYPES}
    assert Cursor() in committed.values()  # the failure came before every type was done

    broken.store = failing._store
    broken.plan("hubspot")

    assert stored(broken.store, sandbox) == stored(whole.store, sandbox)
    for object_type in TYPES:
        assert broken.store.get_cursor("hubspot", object_type).updated_at is not None
