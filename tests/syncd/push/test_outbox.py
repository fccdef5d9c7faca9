"""Properties of a plan's outbox form: keys unique and stable, enqueueing twice equals once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from model.changes import Change, Flag, Merge
from state.base import StoredPlan
from state.store import open_store
from syncd.push import expand
from syncd.push.outbox import key
from tests.model.strategies import changes

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
plans = st.lists(changes, max_size=8)


def plan_of(items: list[Change], plan_id: str = "p1") -> StoredPlan:
    return StoredPlan(plan_id, "hs", "r1", T0, {}, "planned", items)


@given(plans)
def test_keys_are_unique_and_name_plan_change_and_op(items: list[Change]) -> None:
    ops = expand(plan_of(items))
    assert len({op.key for op in ops}) == len(ops)
    assert all(op.key == key("p1", op.seq, op.op_index) for op in ops)
    assert [(op.seq, op.op_index) for op in ops] == sorted((op.seq, op.op_index) for op in ops)
    assert all(
        op.payload["policy"] == items[op.seq].policy
        and op.payload["reason"] == items[op.seq].reason
        for op in ops
    )


@given(plans, plans)
def test_a_change_keeps_its_ops_whatever_follows_it(
    first: list[Change], more: list[Change]
) -> None:
    assert expand(plan_of(first + more))[: len(expand(plan_of(first)))] == expand(plan_of(first))
    assert expand(plan_of(first)) == expand(plan_of(list(first)))


@given(plans)
def test_each_change_becomes_its_ops(items: list[Change]) -> None:
    per_change = Counter(op.seq for op in expand(plan_of(items)))
    for seq, change in enumerate(items):
        if isinstance(change, Flag):
            expected = 0
        elif isinstance(change, Merge) and change.kind == "merge":
            expected = len(change.merged_ids) + bool(change.field_values)
        else:
            expected = 1
        assert per_change[seq] == expected


@given(plans)
def test_survivor_values_are_written_against_the_primarys_plan_time_values(
    items: list[Change],
) -> None:
    for op in expand(plan_of(items)):
        change = items[op.seq]
        if isinstance(change, Merge) and op.kind == "update":
            assert op.record_id == change.primary_id
            assert op.payload["fields"] == {
                name: {"old": change.field_baseline.get(name), "new": value}
                for name, value in change.field_values.items()
            }


@settings(max_examples=30, deadline=None)
@given(plans, st.lists(st.integers(0, 7), max_size=4))
def test_enqueueing_a_plan_twice_equals_once(items: list[Change], chosen: list[int]) -> None:
    store = open_store("sqlite:///:memory:")
    try:
        store.ensure_source("hs", "hubspot", T0)
        store.start_run("r1", "hs", T0, dry_run=False)
        store.save_plan("p1", "hs", "r1", T0, {}, items)
        plan = store.load_plan("p1")
        ops = expand(plan)
        store.enqueue(plan.id, "r1", [op for op in ops if op.seq in chosen], T0)
        once = store.enqueue(plan.id, "r1", ops, T0)
        first = store.outbox(plan.id)
        again = store.enqueue(plan.id, "r1", ops, T0)
        assert once == len(ops) - len([op for op in ops if op.seq in chosen])
        assert again == 0
        assert store.outbox(plan.id) == first
        assert [e.key for e in first] == [op.key for op in ops]
    finally:
        store.close()
