"""Stopping the service: a run ends between two batches (the one in flight lands), a rate-limit
wait is cut short, the run is recorded as interrupted, and the next run finishes the outbox
without mistaking its own resumed writes for someone changing them back."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox.generator import generate
from sandbox.hubspot import Fault, HubSpotSandbox, Request, SandboxState
from sandbox.hubspot.app import HubSpotApp
from state.store import SqlStateStore, open_store
from syncd.config import Config, load_config
from syncd.fence import RunInterruptedError
from syncd.plans import latest_policy_plan
from syncd.service.service import ServeOptions, Service
from syncd.sources import build_connector
from tests.syncd.cli_support import write_config
from tests.syncd.service.support import wait_for
from tests.syncd.test_crash import ROUTE

UPDATE = ROUTE + "batch/update"


class OnFirstUpdate:
    """Serves every request; on the first batch update it calls ``then`` (and may answer 429
    with a long ``Retry-After`` instead)."""

    def __init__(self, then: threading.Event, *, too_many: bool = False) -> None:
        self.then = then
        self.too_many = too_many
        self.seen = 0

    def decide(self, request: Request) -> Fault | None:
        if HubSpotApp.route_label(request) != UPDATE:
            return None
        self.seen += 1
        if self.seen == 1:
            self.then.set()
            if self.too_many:
                return Fault(status=429, retry_after_s=600)
        return None


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    state = SandboxState.from_dataset(
        generate(records=250, seed=5, now=datetime.now(UTC)), clock=lambda: datetime.now(UTC)
    )
    state.rate_limit = None
    state.search_rate_limit = None
    with HubSpotSandbox(state, port=0) as running:
        yield running


@pytest.fixture
def config(tmp_path: Path, sandbox: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    path = write_config(
        tmp_path,
        {"crm": sandbox.base_url},
        extra="[sources.crm.completeness]\nenabled = false\n",
    )
    return load_config(path)


def service(config: Config, store: SqlStateStore, prefix: str = "id") -> Service:
    ids = iter(range(10**6))
    return Service(
        config,
        store,
        ServeOptions(Path("syncd.toml")),
        connector_builder=build_connector,
        clock=lambda: datetime.now(UTC),
        new_id=lambda: f"{prefix}{next(ids)}",
        rng=random.Random(1),
        channels=[],
    )


def test_a_stopped_run_ends_between_batches_and_the_next_one_finishes_the_outbox(
    config: Config, sandbox: HubSpotSandbox
) -> None:
    store = open_store(config.store_url())
    try:
        first = service(config, store)
        sandbox.state.faults = OnFirstUpdate(first.stop_flag)  # SIGTERM while a batch is out
        with pytest.raises(RunInterruptedError):
            first.cycle("crm")
        sandbox.state.faults = None
        (run,) = store.list_runs("crm")
        assert (run.status, run.error) == ("failed", "interrupted: the service is stopping")
        plan_id = latest_policy_plan(store, "crm")
        assert plan_id is not None
        outbox = store.outbox(plan_id)
        statuses = Counter(e.status for e in outbox)
        # the step in flight (the contacts' updates) landed and was recorded, the next never left
        contacts = [e for e in outbox if e.kind == "update" and e.object_type == "contacts"]
        assert {e.status for e in contacts} == {"applied"}
        assert statuses["pending"] > 0
        assert not statuses["sending"]
        assert store.pending_plans("crm") == [plan_id]

        second = service(config, store, "again")  # the next start
        second.cycle("crm")
        assert store.pending_plans("crm") == []
        assert Counter(e.status for e in store.outbox(plan_id))["pending"] == 0
        applied = Counter((e.key, e.field) for e in store.audit(source="crm"))
        assert max(applied.values()) == 1
        # what the resumed push wrote is not "changed back by someone"
        assert store.reverts("crm") == []
        assert [r.status for r in store.list_runs("crm")] == ["succeeded", "failed"]
    finally:
        store.close()


def test_a_rate_limit_wait_is_cut_short_by_the_stop(
    config: Config, sandbox: HubSpotSandbox
) -> None:
    store = open_store(config.store_url())
    try:
        running = service(config, store)
        answered = threading.Event()
        sandbox.state.faults = OnFirstUpdate(answered, too_many=True)  # wait 600 s, it says
        errors: list[BaseException] = []

        def cycle() -> None:
            try:
                running.cycle("crm")
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=cycle, daemon=True)
        thread.start()
        wait_for(answered.is_set, "the 429")
        assert running.stop()
        wait_for(lambda: not thread.is_alive(), "the run to end (it would wait 600 s)")
        assert [type(e) for e in errors] == [RunInterruptedError]
        (run,) = store.list_runs("crm")
        assert (run.status, run.error) == ("failed", "interrupted: the service is stopping")
    finally:
        store.close()
