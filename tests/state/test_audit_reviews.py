"""Audit log, undo marks, review decisions and baseline refresh; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from model.changes import Update
from model.errors import StateError
from model.records import Cursor, PullBatch, Record
from state.base import AuditEntry, AuditRecord, OpOutcome, OutboxOp
from state.store import SqlStateStore
from tests.state.old_schema import write_old_plan

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
EPOCH = 1  # of the leases the fixtures hold
CHANGE = Update("hs", "contacts", "normalize", "lower-cased", "12", "email", "A@X.COM", "a@x.com")


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def apply(
    store: SqlStateStore,
    source: str,
    run_id: str,
    plan_id: str,
    writes: list[tuple[str, str, str]],
) -> None:
    """Enqueue and apply one update per ``(record_id, field, after)``, audited (the plan saved
    as every revision since 0001 reads it: tests of older revisions apply too)."""
    write_old_plan(store.engine, plan_id, source, run_id, T0, {}, [CHANGE] * len(writes))
    ops = [
        OutboxOp(f"{plan_id}:{n}:0", n, 0, "update", "contacts", rid, {f: a})
        for n, (rid, f, a) in enumerate(writes)
    ]
    store.enqueue(plan_id, run_id, ops, T0)
    outcomes = []
    for n, (o, (record_id, field, after)) in enumerate(zip(ops, writes, strict=True)):
        record = AuditRecord(
            run_id=run_id,
            plan_id=plan_id,
            key=o.key,
            source=source,
            policy="normalize",
            kind="update",
            object_type="contacts",
            record_id=record_id,
            field=field,
            before=f"old {after}",
            after=after,
            applied_at=at(n),
            response={"status": 200},
        )
        outcomes.append(OpOutcome(o.key, "applied", audit=[record]))
    store.record_results(outcomes, at(len(writes)), epoch=EPOCH)


@pytest.fixture
def audited(running: SqlStateStore) -> SqlStateStore:
    """Runs r1, r2 of ``hs`` and s1 of ``sf`` applied six field writes, in this order."""
    running.start_run("r2", "hs", at(10), dry_run=False)
    running.ensure_source("sf", "salesforce", T0)
    running.acquire_source("sf", "s1", T0)
    running.start_run("s1", "sf", T0, dry_run=False)
    apply(running, "hs", "r1", "p1", [("12", "email", "a"), ("13", "phone", "b")])
    apply(running, "sf", "s1", "q1", [("12", "email", "c")])
    apply(running, "hs", "r2", "p2", [("12", "city", "d"), ("14", "zip", "e"), ("12", "zip", "f")])
    return running


def afters(entries: list[AuditEntry]) -> str:
    return "".join(e.after or "-" for e in entries)


# -- audit log -----------------------------------------------------------------------------------


def test_audit_entries_round_trip(audited: SqlStateStore) -> None:
    newest = audited.audit(limit=1)[0]
    assert newest == AuditEntry(
        id=newest.id,
        run_id="r2",
        plan_id="p2",
        key="p2:2:0",
        source="hs",
        policy="normalize",
        kind="update",
        object_type="contacts",
        record_id="12",
        field="zip",
        before="old f",
        after="f",
        applied_at=at(2),
        response={"status": 200},
        undone_by_run=None,
        undone_at=None,
    )
    assert newest.applied_at.tzinfo == UTC


def test_audit_filters_combine_and_come_newest_first(audited: SqlStateStore) -> None:
    assert afters(audited.audit()) == "fedcba"
    assert afters(audited.audit(source="hs")) == "fedba"
    assert afters(audited.audit(run_id="r1")) == "ba"
    assert afters(audited.audit(record_id="12")) == "fdca"
    assert afters(audited.audit(source="hs", record_id="12")) == "fda"
    assert afters(audited.audit(source="hs", run_id="r2", record_id="12")) == "fd"
    assert afters(audited.audit(source="hs", limit=2)) == "fe"
    assert audited.audit(run_id="s1", source="hs") == []
    assert audited.audit(source="nobody") == []
    ids = [e.id for e in audited.audit()]
    assert ids == sorted(ids, reverse=True)


def test_mark_undone_marks_once(audited: SqlStateStore) -> None:
    audited.start_run("undo", "hs", at(20), dry_run=False)
    r2 = [e.id for e in audited.audit(run_id="r2")]
    audited.mark_undone(r2[:2], "undo", at(21))
    marked = {e.id: e for e in audited.audit(run_id="r2")}
    assert [(marked[i].undone_by_run, marked[i].undone_at) for i in r2] == [
        ("undo", at(21)),
        ("undo", at(21)),
        (None, None),
    ]
    assert all(e.undone_by_run is None for e in audited.audit(run_id="r1"))
    with pytest.raises(StateError, match="already undone"):
        audited.mark_undone([r2[2], r2[0]], "undo", at(22))
    with pytest.raises(StateError, match="unknown or already undone"):
        audited.mark_undone([r2[2], 999_999], "undo", at(22))
    with pytest.raises(StateError, match="unknown run"):
        audited.mark_undone([r2[2]], "ghost", at(22))
    # Each refusal left the last entry as it was.
    assert audited.audit(run_id="r2")[2].undone_by_run is None
    audited.mark_undone([r2[2]], "undo", at(23))
    assert {e.undone_by_run for e in audited.audit(run_id="r2")} == {"undo"}


# -- review decisions ----------------------------------------------------------------------------


def test_review_decisions_round_trip(running: SqlStateStore) -> None:
    assert running.review_decisions("hs", "contacts") == {}
    running.record_review("hs", "contacts", ["11", "10", "10"], "approved", T0, by="ann")
    running.record_review("hs", "contacts", ["2", "30", "100"], "rejected", T0, note="not dupes")
    running.record_review("hs", "companies", ["10", "11"], "rejected", T0)
    assert running.review_decisions("hs", "contacts") == {
        frozenset({"10", "11"}): "approved",
        frozenset({"2", "30", "100"}): "rejected",
    }
    # A later decision on the same group, in any order, replaces the earlier one.
    running.record_review("hs", "contacts", ["10", "11"], "rejected", at(5), by="bob")
    assert running.review_decisions("hs", "contacts")[frozenset({"10", "11"})] == "rejected"
    assert len(running.review_decisions("hs", "contacts")) == 2
    assert running.review_decisions("hs", "companies") == {frozenset({"10", "11"}): "rejected"}
    assert running.review_decisions("hs", "deals") == {}


def test_review_mistakes_are_refused(running: SqlStateStore) -> None:
    for args, message in (
        (("hs", "contacts", ["1", "2"], "maybe"), "decision"),
        (("hs", "contacts", [], "approved"), "at least one id"),
        (("hs", "contacts", ["1", "2,3"], "approved"), "bad id"),
        (("hs", "contacts", ["1", ""], "approved"), "bad id"),
        (("nope", "contacts", ["1", "2"], "approved"), "unknown source"),
    ):
        with pytest.raises(StateError, match=message):
            running.record_review(*args, T0)
    with pytest.raises(StateError, match="timezone-aware"):
        running.record_review("hs", "contacts", ["1"], "approved", datetime(2024, 1, 1))
    assert running.review_decisions("hs", "contacts") == {}


# -- baseline refresh ----------------------------------------------------------------------------


def test_refresh_records_updates_baselines_but_never_newer_data(running: SqlStateStore) -> None:
    pulled = (
        Record("contacts", "1", {"email": "A@X.COM"}, at(0)),
        Record("contacts", "2", {"email": "B@X.COM"}, at(10)),
    )
    running.store_batch("hs", "r1", PullBatch("contacts", pulled, Cursor(at(10))))
    written = [
        Record("contacts", "1", {"email": "a@x.com"}, at(5)),  # syncd's write: newer
        Record("contacts", "2", {"email": "b@x.com"}, at(7)),  # a person changed it after
        Record("tasks", "900", {"subject": "Follow up"}, at(5)),  # created by syncd
    ]
    assert running.refresh_records("hs", written) == 2
    got = running.get_records("hs", "contacts", ["1", "2"])
    assert got["1"] == written[0]
    assert got["2"] == pulled[1]
    assert running.get_records("hs", "tasks", ["900"]) == {"900": written[2]}
    # Cursors do not move: only a pull moves them.
    assert running.get_cursor("hs", "contacts") == Cursor(at(10))
    assert running.get_cursor("hs", "tasks") == Cursor(None)
    # The same version again (a write echoing the stored time) still lands.
    same_time = Record("contacts", "2", {"email": "b@x.com"}, at(10))
    assert running.refresh_records("hs", [same_time]) == 1
    assert running.get_records("hs", "contacts", ["2"])["2"] == same_time


def test_refresh_keeps_the_pull_bookkeeping(running: SqlStateStore) -> None:
    running.store_batch(
        "hs", "r1", PullBatch("contacts", (Record("contacts", "1", {}, at(0)),), Cursor())
    )
    running.refresh_records("hs", [Record("contacts", "1", {"email": "a@x.com"}, at(1))])
    running.refresh_records("hs", [Record("contacts", "2", {"email": "b@x.com"}, at(1))])
    with running.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT remote_id, last_seen_run_id FROM records"))
        seen = {str(remote_id): run_id for remote_id, run_id in rows}
    assert seen == {"1": "r1", "2": None}
    with pytest.raises(StateError, match="unknown source"):
        running.refresh_records("nope", [])
    with pytest.raises(StateError, match="timezone-aware"):
        running.refresh_records("hs", [Record("contacts", "3", {}, datetime(2024, 1, 1))])
