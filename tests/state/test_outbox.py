"""The outbox: enqueue, send, record outcomes with their audit; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from model.changes import Update
from model.errors import StateError
from state import outbox_sql
from state.base import AuditRecord, OpOutcome, OutboxOp
from state.store import SqlStateStore

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)
EPOCH = 1  # of the lease the ``running`` fixture holds
CHANGE = Update("hs", "contacts", "normalize", "lower-cased", "12", "email", "A@X.COM", "a@x.com")


def op(plan_id: str, seq: int, op_index: int = 0, record_id: str = "12") -> OutboxOp:
    return OutboxOp(
        key=f"{plan_id}:{seq}:{op_index}",
        seq=seq,
        op_index=op_index,
        kind="update" if op_index == 0 else "merge",
        object_type="contacts",
        record_id=record_id,
        payload={"properties": {"email": f"{seq}.{op_index}@x.com"}, "ids": [record_id]},
    )


def audit_of(key: str, plan_id: str = "p1", run_id: str = "r1", after: str = "a") -> AuditRecord:
    return AuditRecord(
        run_id=run_id,
        plan_id=plan_id,
        key=key,
        source="hs",
        policy="normalize",
        kind="update",
        object_type="contacts",
        record_id="12",
        field="email",
        before="A@X.COM",
        after=after,
        applied_at=T1,
        response={"status": 200, "id": "12"},
    )


def statuses(store: SqlStateStore, plan_id: str = "p1") -> dict[str, tuple[str, int]]:
    return {e.key: (e.status, e.attempts) for e in store.outbox(plan_id)}


def count_rows(store: SqlStateStore, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.fixture
def planned(running: SqlStateStore) -> SqlStateStore:
    """``running`` with plan ``p1`` of run ``r1`` saved."""
    running.save_plan("p1", "hs", "r1", T0, {}, [CHANGE, CHANGE, CHANGE])
    return running


@pytest.fixture
def queued(planned: SqlStateStore) -> SqlStateStore:
    """``planned`` with ops p1:0:0, p1:1:0, p1:1:1, p1:2:0 enqueued."""
    planned.enqueue("p1", "r1", [op("p1", 0), op("p1", 1), op("p1", 1, 1), op("p1", 2)], T0)
    return planned


# -- enqueue -------------------------------------------------------------------------------------


def test_enqueue_stores_pending_ops_in_plan_order(planned: SqlStateStore) -> None:
    ops = [op("p1", 2), op("p1", 1, 1), op("p1", 0), op("p1", 1, 0)]
    assert planned.enqueue("p1", "r1", ops, T0) == 4
    entries = planned.outbox("p1")
    assert [e.key for e in entries] == ["p1:0:0", "p1:1:0", "p1:1:1", "p1:2:0"]
    first = entries[0]
    assert (first.plan_id, first.seq, first.op_index, first.source, first.run_id) == (
        "p1",
        0,
        0,
        "hs",
        "r1",
    )
    assert (first.kind, first.object_type, first.record_id) == ("update", "contacts", "12")
    assert first.payload == {"properties": {"email": "0.0@x.com"}, "ids": ["12"]}
    assert (first.status, first.attempts, first.result, first.reason) == ("pending", 0, {}, None)
    assert first.created_at == first.updated_at == T0
    assert first.created_at.tzinfo == UTC
    assert len({e.id for e in entries}) == 4


def test_enqueue_twice_keeps_one_row_per_key_and_its_progress(queued: SqlStateStore) -> None:
    queued.record_results([OpOutcome("p1:0:0", "failed", reason="500")], T1, epoch=EPOCH)
    again = [op("p1", 0), op("p1", 1), op("p1", 1, 1), op("p1", 2)]
    assert queued.enqueue("p1", "r1", again, T1) == 0
    assert count_rows(queued, "outbox") == 4
    assert statuses(queued)["p1:0:0"] == ("failed", 1)
    assert queued.outbox("p1")[1].created_at == T0
    # A resumed plan adds only what is missing.
    assert queued.enqueue("p1", "r1", [*again, op("p1", 2, 1)], T1) == 1
    assert count_rows(queued, "outbox") == 5


def test_enqueue_refuses_mistakes_and_adds_nothing(queued: SqlStateStore) -> None:
    queued.ensure_source("sf", "salesforce", T0)
    queued.start_run("sf-run", "sf", T0, dry_run=False)
    queued.save_plan("p2", "hs", "r1", T0, {}, [CHANGE])
    fresh = op("p2", 0)
    with pytest.raises(StateError, match="unknown plan"):
        queued.enqueue("nope", "r1", [fresh], T0)
    with pytest.raises(StateError, match="not a run"):
        queued.enqueue("p2", "nope", [fresh], T0)
    with pytest.raises(StateError, match="not a run"):
        queued.enqueue("p2", "sf-run", [fresh], T0)
    with pytest.raises(StateError, match="repeated"):
        queued.enqueue("p2", "r1", [fresh, fresh], T0)
    with pytest.raises(StateError, match="timezone-aware"):
        queued.enqueue("p2", "r1", [fresh], datetime(2024, 1, 1))
    # A key present at another position is a bug in the caller, not a repeat.
    stolen = OutboxOp("p1:0:0", 5, 0, "update", "contacts", "12", {})
    with pytest.raises(StateError, match="already operation"):
        queued.enqueue("p2", "r1", [fresh, stolen], T0)
    # Two keys for one position violate the plan's order.
    with pytest.raises(StateError, match="constraint"):
        queued.enqueue("p2", "r1", [fresh, OutboxOp("other", 0, 0, "update", "c", "1", {})], T0)
    assert queued.outbox("p2") == []
    assert count_rows(queued, "outbox") == 4


def test_outbox_filters_by_status(queued: SqlStateStore) -> None:
    queued.record_results(
        [OpOutcome("p1:1:0", "conflict", reason="changed"), OpOutcome("p1:2:0", "held", 0)],
        T1,
        epoch=EPOCH,
    )
    assert [e.key for e in queued.outbox("p1", ["pending"])] == ["p1:0:0", "p1:1:1"]
    assert [e.key for e in queued.outbox("p1", ["held", "conflict"])] == ["p1:1:0", "p1:2:0"]
    assert queued.outbox("p1", []) == []
    with pytest.raises(StateError, match="outbox status"):
        queued.outbox("p1", ["done"])
    with pytest.raises(StateError, match="unknown plan"):
        queued.outbox("nope")


# -- sending and outcomes ------------------------------------------------------------------------


def test_mark_sending_moves_only_pending_or_sending_ops(queued: SqlStateStore) -> None:
    queued.mark_sending(["p1:0:0", "p1:1:0"], T1, epoch=EPOCH)
    assert queued.outbox("p1")[0].status == "sending"
    assert queued.outbox("p1")[0].updated_at == T1
    queued.mark_sending(["p1:0:0", "p1:0:0"], T1, epoch=EPOCH)  # a resumed push sends again
    queued.record_results(
        [OpOutcome("p1:0:0", "applied", audit=[audit_of("p1:0:0")])], T1, epoch=EPOCH
    )
    with pytest.raises(StateError, match=r"not pending: p1:0:0=applied, ghost=unknown"):
        queued.mark_sending(["p1:1:1", "p1:0:0", "ghost"], T1, epoch=EPOCH)
    # Refused whole: the pending one in the same call did not move.
    assert statuses(queued) == {
        "p1:0:0": ("applied", 1),
        "p1:1:0": ("sending", 0),
        "p1:1:1": ("pending", 0),
        "p1:2:0": ("pending", 0),
    }


def test_record_results_sets_outcomes_and_appends_audit(queued: SqlStateStore) -> None:
    queued.mark_sending(["p1:0:0", "p1:1:0"], T0, epoch=EPOCH)
    writes = [audit_of("p1:0:0", after="a@x.com"), audit_of("p1:0:0", after="second field")]
    queued.record_results(
        [
            OpOutcome("p1:0:0", "applied", result={"status": 200, "ids": ["12"]}, audit=writes),
            OpOutcome("p1:1:0", "pending", result={"error": "429"}, reason="rate limited"),
            OpOutcome("p1:2:0", "skipped", 0, reason="already a@x.com"),
        ],
        T1,
        epoch=EPOCH,
    )
    by_key = {e.key: e for e in queued.outbox("p1")}
    applied = by_key["p1:0:0"]
    assert (applied.status, applied.attempts, applied.reason) == ("applied", 1, None)
    assert applied.result == {"status": 200, "ids": ["12"]}
    assert applied.updated_at == T1
    assert (by_key["p1:1:0"].status, by_key["p1:1:0"].attempts) == ("pending", 1)
    assert by_key["p1:1:0"].reason == "rate limited"
    assert (by_key["p1:2:0"].status, by_key["p1:2:0"].attempts) == ("skipped", 0)
    assert by_key["p1:1:1"].status == "pending"
    entries = queued.audit()
    assert [e.after for e in entries] == ["second field", "a@x.com"]  # newest first
    assert all(e.key == "p1:0:0" and e.undone_by_run is None for e in entries)
    # A retry counts its attempts.
    queued.record_results([OpOutcome("p1:1:0", "failed", result={"error": "500"})], T1, epoch=EPOCH)
    assert statuses(queued)["p1:1:0"] == ("failed", 2)
    assert queued.outbox("p1")[1].result == {"error": "500"}


def test_record_results_refuses_mistakes_and_records_nothing(queued: SqlStateStore) -> None:
    queued.record_results(
        [OpOutcome("p1:2:0", "applied", audit=[audit_of("p1:2:0")])], T0, epoch=EPOCH
    )
    queued.save_plan("p2", "hs", "r1", T0, {}, [CHANGE])
    good = OpOutcome("p1:0:0", "applied", audit=[audit_of("p1:0:0")])
    mistakes = {
        "unknown outbox keys: ghost": [good, OpOutcome("ghost", "failed")],
        "repeated": [good, good],
        "already applied": [good, OpOutcome("p1:2:0", "failed")],
        "outbox status": [good, OpOutcome("p1:1:0", "done")],
        "only applied ops carry audit": [
            good,
            OpOutcome("p1:1:0", "failed", audit=[audit_of("p1:1:0")]),
        ],
        "given with outcome": [OpOutcome("p1:1:0", "applied", audit=[audit_of("p1:0:0")])],
        "names plan 'p2'": [OpOutcome("p1:1:0", "applied", audit=[audit_of("p1:1:0", "p2")])],
        "negative": [OpOutcome("p1:1:0", "failed", -1)],
    }
    for message, results in mistakes.items():
        with pytest.raises(StateError, match=message):
            queued.record_results(results, T1, epoch=EPOCH)
    assert statuses(queued) == {
        "p1:0:0": ("pending", 0),
        "p1:1:0": ("pending", 0),
        "p1:1:1": ("pending", 0),
        "p1:2:0": ("applied", 1),
    }
    assert len(queued.audit()) == 1


# -- atomicity -----------------------------------------------------------------------------------


def _nothing_recorded(store: SqlStateStore) -> None:
    assert {s for s, _ in statuses(store).values()} == {"sending"}
    assert {a for _, a in statuses(store).values()} == {0}
    assert store.audit() == []


def _outcomes() -> list[OpOutcome]:
    return [
        OpOutcome("p1:0:0", "applied", audit=[audit_of("p1:0:0")]),
        OpOutcome("p1:1:0", "failed", reason="500"),
        OpOutcome("p1:1:1", "applied", audit=[audit_of("p1:1:1"), audit_of("p1:1:1")]),
        OpOutcome("p1:2:0", "applied", audit=[audit_of("p1:2:0")]),
    ]


def test_a_crash_after_the_audit_rows_records_nothing(
    queued: SqlStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued.mark_sending(["p1:0:0", "p1:1:0", "p1:1:1", "p1:2:0"], T0, epoch=EPOCH)
    original = outbox_sql.append_audit

    def append_then_crash(*args: object, **kwargs: object) -> None:
        original(*args, **kwargs)  # type: ignore[arg-type]
        raise RuntimeError("crash")

    monkeypatch.setattr(outbox_sql, "append_audit", append_then_crash)
    with pytest.raises(RuntimeError, match="crash"):
        queued.record_results(_outcomes(), T1, epoch=EPOCH)
    _nothing_recorded(queued)
    monkeypatch.undo()
    queued.record_results(_outcomes(), T1, epoch=EPOCH)
    assert [s for s, _ in statuses(queued).values()] == ["applied", "failed", "applied", "applied"]
    assert len(queued.audit()) == 4


def test_a_constraint_violation_in_the_audit_records_nothing(queued: SqlStateStore) -> None:
    queued.mark_sending(["p1:0:0", "p1:1:0", "p1:1:1", "p1:2:0"], T0, epoch=EPOCH)
    outcomes = _outcomes()
    # The last audit row names a run that does not exist: its insert fails after the updates.
    outcomes[-1] = OpOutcome("p1:2:0", "applied", audit=[audit_of("p1:2:0", run_id="ghost")])
    with pytest.raises(StateError, match="constraint"):
        queued.record_results(outcomes, T1, epoch=EPOCH)
    _nothing_recorded(queued)


# -- plans and resume ----------------------------------------------------------------------------


def test_pending_plans_are_those_left_to_resume_oldest_first(queued: SqlStateStore) -> None:
    queued.save_plan("p0", "hs", "r1", T0 - timedelta(hours=1), {}, [CHANGE])
    queued.save_plan("p2", "hs", "r1", T0 + timedelta(hours=1), {}, [CHANGE])
    queued.save_plan("p3", "hs", "r1", T0 + timedelta(hours=2), {}, [CHANGE])
    queued.save_plan("p4", "hs", "r1", T0 + timedelta(hours=3), {}, [CHANGE])
    queued.ensure_source("sf", "salesforce", T0)
    queued.start_run("sf-run", "sf", T0, dry_run=False)
    queued.save_plan("sf-plan", "sf", "sf-run", T0, {}, [CHANGE])
    for plan_id in ("p0", "p2", "p3"):
        queued.enqueue(plan_id, "r1", [op(plan_id, 0)], T0)
    queued.enqueue("sf-plan", "sf-run", [op("sf-plan", 0)], T0)
    queued.mark_sending(["p0:0:0"], T0, epoch=EPOCH)  # crashed mid-write
    queued.record_results([OpOutcome("p2:0:0", "applied")], T0, epoch=EPOCH)
    queued.record_results([OpOutcome("p3:0:0", "held", 0)], T0, epoch=EPOCH)
    # p4 has no outbox rows: never pushed, nothing to resume.
    assert queued.pending_plans("hs") == ["p0", "p1"]
    assert queued.pending_plans("sf") == ["sf-plan"]
    queued.record_results([OpOutcome("p0:0:0", "applied")], T1, epoch=EPOCH)
    queued.mark_sending(["p1:0:0", "p1:1:0", "p1:1:1"], T1, epoch=EPOCH)
    queued.record_results(
        [OpOutcome(k, "failed") for k in ("p1:0:0", "p1:1:0", "p1:1:1", "p1:2:0")], T1, epoch=EPOCH
    )
    assert queued.pending_plans("hs") == []
    with pytest.raises(StateError, match="unknown source"):
        queued.pending_plans("nope")


def test_plan_status_moves_on(planned: SqlStateStore) -> None:
    assert planned.load_plan("p1").status == "planned"
    for status in ("applying", "partial", "applied"):
        planned.set_plan_status("p1", status)
        assert planned.load_plan("p1").status == status
    with pytest.raises(StateError, match="plan status"):
        planned.set_plan_status("p1", "done")
    with pytest.raises(StateError, match="unknown plan"):
        planned.set_plan_status("nope", "applied")
    assert planned.load_plan("p1").status == "applied"


# -- bulk ----------------------------------------------------------------------------------------


@pytest.fixture
def statements(planned: SqlStateStore) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    sa.event.listen(planned.engine, "before_cursor_execute", count)
    yield seen
    sa.event.remove(planned.engine, "before_cursor_execute", count)


def test_a_thousand_ops_go_through_in_a_few_statements(
    planned: SqlStateStore, statements: list[str]
) -> None:
    ops = [op("p1", seq, record_id=str(seq)) for seq in range(1000)]
    keys = [o.key for o in ops]
    assert planned.enqueue("p1", "r1", ops, T0) == 1000
    assert planned.enqueue("p1", "r1", ops, T0) == 0
    planned.mark_sending(keys, T0, epoch=EPOCH)
    planned.record_results(
        [OpOutcome(k, "applied", audit=[audit_of(k)]) for k in keys], T1, epoch=EPOCH
    )
    assert len(statements) < 40, "outbox methods must not issue a statement per operation"
    assert planned.pending_plans("hs") == []
    assert len(planned.audit(limit=2000)) == 1000
