"""Per-record work done ahead in a forked child while the merging policies run (syncd.ahead):
the same plan as without it, the child's work used for the records the merges left alone, and
the work done in the parent when the child fails, dies, or must not be forked."""

from __future__ import annotations

import io
import multiprocessing
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bench.dataset import canonical_records
from model.changes import Change, Merge, Snapshot
from policies.base import AheadWork
from policies.normalize import NormalizePolicy
from policies.registry import PoliciesSettings, build_policies
from sandbox.generator import generate
from syncd import ahead
from syncd.engine import _proposals
from syncd.logging import configure

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="no fork here"
)


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    """Generated records with duplicates: the merges change their survivors' properties."""
    return Snapshot("hs", NOW, canonical_records(generate(records=400, seed=5, now=NOW)))


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """The log lines the test's code writes (whatever an earlier test set)."""
    stream = io.StringIO()
    configure("info", "json", stream=stream)
    try:
        yield stream
    finally:
        configure("warning", "json")


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Work ahead whatever the size, and whatever threads the test process runs (pytest's own;
    the child runs nothing but a policy on plain records)."""
    monkeypatch.setattr(ahead, "MIN_RECORDS", 0)
    monkeypatch.setattr(ahead.threading, "active_count", lambda: 1)


def plan(snapshot: Snapshot, *, with_worker: bool) -> tuple[list[Change], dict[str, str]]:
    """The policies' changes (default settings) and normalize's note of how it ran."""
    policies = build_policies(PoliciesSettings())
    stats: dict[str, dict[str, object]] = {}
    if not with_worker:
        return _proposals(policies, snapshot, stats), {}
    with ahead.working_ahead(policies, snapshot) as worker:
        assert worker is not None
        changes = _proposals(policies, snapshot, stats, worker)
    normalize = next(p for p in policies if isinstance(p, NormalizePolicy))
    return changes, dict(normalize.notes)


@pytest.mark.usefixtures("forking")
def test_the_plan_is_the_one_made_without_working_ahead(snapshot: Snapshot) -> None:
    alone, _ = plan(snapshot, with_worker=False)
    together, notes = plan(snapshot, with_worker=True)
    assert together == alone
    merges = [c for c in alone if isinstance(c, Merge) and c.kind == "merge"]
    assert merges, "the merges change records: their survivors are normalized again"
    again, _, of = notes["records"].partition(" of ")
    assert 0 < int(again) < int(of.split()[0])
    assert "worked out ahead" in notes["records"]


def _died(self: NormalizePolicy, snapshot: Snapshot) -> AheadWork:
    os._exit(9)  # the child killed mid-work (out of memory, a signal)


def _failed(self: NormalizePolicy, snapshot: Snapshot) -> AheadWork:
    raise RuntimeError("no more memory")


@pytest.mark.usefixtures("forking")
@pytest.mark.parametrize("broken", [_died, _failed], ids=["died", "failed"])
def test_a_child_that_dies_or_fails_leaves_the_work_to_the_policy(
    snapshot: Snapshot,
    monkeypatch: pytest.MonkeyPatch,
    logs: io.StringIO,
    broken: object,
) -> None:
    alone, _ = plan(snapshot, with_worker=False)
    monkeypatch.setattr(NormalizePolicy, "ahead", broken)
    together, notes = plan(snapshot, with_worker=True)
    assert together == alone
    assert "worked out ahead" not in notes.get("records", "")
    assert "work ahead failed" in logs.getvalue()


def test_no_child_is_forked_beside_other_threads_or_for_few_records(
    snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    policies = build_policies(PoliciesSettings())
    monkeypatch.setattr(ahead, "MIN_RECORDS", 0)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        with ahead.working_ahead(policies, snapshot) as worker:
            assert worker is None, "a thread of ours could hold a lock the child waits for"
    finally:
        stop.set()
        other.join()
    monkeypatch.setattr(ahead.threading, "active_count", lambda: 1)
    with ahead.working_ahead(policies, snapshot) as worker:
        assert worker is not None
    monkeypatch.setattr(ahead, "MIN_RECORDS", 10**9)
    with ahead.working_ahead(policies, snapshot) as worker:
        assert worker is None
    monkeypatch.setattr(ahead, "MIN_RECORDS", 0)
    monkeypatch.setattr(ahead, "MAX_RECORDS", 10)
    with ahead.working_ahead(policies, snapshot) as worker:
        assert worker is None, "a child's memory beside a big snapshot's"
    monkeypatch.setattr(ahead, "MAX_RECORDS", 10**9)
    no_merges = [p for p in policies if not p.decides_merges]
    monkeypatch.setattr(ahead, "MIN_RECORDS", 0)
    with ahead.working_ahead(no_merges, snapshot) as worker:
        assert worker is None, "nothing to overlap with"


@pytest.mark.usefixtures("forking")
def test_a_child_not_handed_over_is_let_go(snapshot: Snapshot) -> None:
    policies = build_policies(PoliciesSettings())
    with ahead.working_ahead(policies, snapshot) as worker:
        assert worker is not None
        process = worker.process
        pid = process.pid
    assert pid is not None
    with pytest.raises(ValueError, match="closed"):
        process.is_alive()  # joined and closed: no child left behind
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_a_child_whose_parent_is_gone_ends_when_done(snapshot: Snapshot) -> None:
    """It finds no one to send its work to (more than a pipe holds) and ends, not blocks."""
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe(duplex=False)
    normalize = [p for p in build_policies(PoliciesSettings()) if isinstance(p, NormalizePolicy)]
    child = context.Process(target=ahead._work, args=(normalize, snapshot, theirs, ours))
    child.start()
    ours.close()  # the parent gone: neither end held here
    theirs.close()
    child.join(60)
    assert not child.is_alive()
    assert child.exitcode == 0


@pytest.mark.usefixtures("forking")
def test_no_process_to_be_had_leaves_the_work_to_the_policy(
    snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch, logs: io.StringIO
) -> None:
    def refused(self: object) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.get_context("fork").Process, "start", refused)
    with ahead.working_ahead(build_policies(PoliciesSettings()), snapshot) as worker:
        assert worker is None
    assert "could not work ahead" in logs.getvalue()
