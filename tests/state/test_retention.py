"""Retention: the store prunes old plans, runs, audit entries, outbox rows and incidents, and
keeps what undo, the reports and the next run need; both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from model.changes import Update
from state.base import (
    AuditRecord,
    CompletenessCheck,
    OpOutcome,
    OutboxOp,
    Pruned,
    Retention,
    Revert,
    StoredIncident,
)
from state.store import SqlStateStore

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
CHANGE = Update("hs", "contacts", "normalize", "lower-cased", "12", "email", "A@X", "a@x")


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def op(plan_id: str, seq: int) -> OutboxOp:
    return OutboxOp(f"{plan_id}:{seq}:0", seq, 0, "update", "contacts", str(seq), {})


def audit_of(key: str, plan_id: str, run_id: str, when: datetime) -> AuditRecord:
    return AuditRecord(
        run_id, plan_id, key, "hs", "normalize", "update", "contacts", "12", "email", "A", "a",
        when, {},
    )  # fmt: skip


def run(store: SqlStateStore, run_id: str, when: datetime, status: str = "succeeded") -> None:
    store.start_run(run_id, "hs", when, dry_run=False)
    store.finish_run(run_id, when + timedelta(minutes=1), status, {})


@pytest.fixture
def aged(store: SqlStateStore) -> SqlStateStore:
    """A year of history of source ``hs``:

    - day 0, run r0 plan p0: a dry run (nothing pushed);
    - day 1, run r1 plan p1: op 0 applied (audited), op 1 conflict, op 2 skipped;
    - day 2, run r2 plan p2: op 0 applied (audited, and a person changed it back: a revert);
    - day 3, run r3 plan p3: op 0 still pending (a push cut short);
    - day 4, run r4: failed before planning;
    - day 300, run r5 plan p5: the newest, a dry run.
    """
    store.ensure_source("hs", "hubspot", T0)
    lease = store.acquire_source("hs", "lease", T0)
    for n, ops in ((0, 0), (1, 3), (2, 1), (3, 1)):
        run(store, f"r{n}", day(n))
        store.save_plan(f"p{n}", "hs", f"r{n}", day(n), {}, [CHANGE] * ops)
        store.enqueue(f"p{n}", f"r{n}", [op(f"p{n}", s) for s in range(ops)], day(n))
    store.record_results(
        [
            OpOutcome("p1:0:0", "applied", audit=(audit_of("p1:0:0", "p1", "r1", day(1)),)),
            OpOutcome("p1:1:0", "conflict"),
            OpOutcome("p1:2:0", "skipped", reason="not undoable: refused"),
            OpOutcome("p2:0:0", "applied", audit=(audit_of("p2:0:0", "p2", "r2", day(2)),)),
        ],
        day(2),
        epoch=lease.epoch,
    )
    written = next(e for e in store.audit() if e.key == "p2:0:0")
    store.save_reverts(
        [Revert("hs", "contacts", "12", "email", "a", "A", written.id, day(2), day(2.5))]
    )
    run(store, "r4", day(4), "failed")
    run(store, "r5", day(300))
    store.save_plan("p5", "hs", "r5", day(300), {}, [])
    store.release_source(lease)
    return store


def plans(store: SqlStateStore) -> list[str]:
    return sorted(p.id for p in store.list_plans("hs", limit=100))


def runs(store: SqlStateStore) -> list[str]:
    return sorted(r.id for r in store.list_runs("hs", limit=100))


def test_nothing_is_pruned_without_a_retention(aged: SqlStateStore) -> None:
    assert aged.prune(Retention()) == Pruned()
    assert plans(aged) == ["p0", "p1", "p2", "p3", "p5"]


def test_old_plans_and_runs_go_and_what_undo_and_resume_need_stays(aged: SqlStateStore) -> None:
    pruned = aged.prune(Retention(plans=day(200), runs=day(200), outbox=day(200)))
    # p0 (a dry run) goes; p1 and p2 have audit entries (undo), p3 an unfinished push, p5 is
    # the newest
    assert plans(aged) == ["p1", "p2", "p3", "p5"]
    # r0 and r4 go; the runs of kept plans and audit entries stay, and the newest
    assert runs(aged) == ["r1", "r2", "r3", "r5"]
    # the conflict went with its age; the applied ones are final too; the skipped one (an
    # undo's memory) and the pending one stay
    assert [(e.key, e.status) for e in aged.outbox("p1")] == [("p1:2:0", "skipped")]
    assert [e.status for e in aged.outbox("p3")] == ["pending"]
    assert pruned == Pruned(plans=1, runs=2, outbox=3)
    assert aged.pending_plans("hs") == ["p3"]
    assert len(aged.audit(source="hs")) == 2


def test_old_audit_entries_go_unless_a_revert_needs_them(aged: SqlStateStore) -> None:
    pruned = aged.prune(Retention(audit=day(200)))
    assert [e.key for e in aged.audit(source="hs")] == ["p2:0:0"]  # the revert's
    assert pruned.audit == 1
    # with its audit entry gone, plan p1 (and then its run) may go too
    aged.prune(Retention(plans=day(200), runs=day(200), outbox=day(200)))
    assert plans(aged) == ["p2", "p3", "p5"]
    assert runs(aged) == ["r2", "r3", "r5"]
    assert [r.record_id for r in aged.reverts("hs")] == ["12"]


def test_the_newest_completed_run_stays_however_old(store: SqlStateStore) -> None:
    store.ensure_source("hs", "hubspot", T0)
    run(store, "ok", day(0))
    run(store, "bad1", day(1), "failed")
    run(store, "bad2", day(2), "failed")
    store.prune(Retention(runs=day(100)))
    assert runs(store) == ["bad2", "ok"]  # the newest run, and the last success
    assert store.last_success("hs") == day(0) + timedelta(minutes=1)


def test_resolved_incidents_and_old_checks_go(store: SqlStateStore) -> None:
    store.ensure_source("hs", "hubspot", T0)
    old = StoredIncident("hs", "auth", day(0), day(1), 3, "401", day(0), resolved_at=day(1))
    still = StoredIncident("hs", "stale", day(0), day(1), 3, "stale", day(0))
    store.save_incident(old)
    store.save_incident(still)
    store.save_completeness(CompletenessCheck("hs", "contacts", "counts", day(0), True, 0.0, {}))
    store.save_completeness(CompletenessCheck("hs", "contacts", "counts", day(99), True, 0, {}))
    assert store.prune(Retention(incidents=day(50))).incidents == 2
    assert store.incidents("hs") == [still]
    assert [c.audited_at for c in store.completeness("hs")] == [day(99)]
