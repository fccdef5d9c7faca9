"""Properties of batching: one write per record, and refused records written again without
the refused values, each op once."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from model.writes import WriteResult
from state.base import OutboxEntry
from syncd.push.batches import ToWrite, per_record, split_refused
from tests.model.strategies import field_names, values

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def entry(index: int, record_id: str) -> OutboxEntry:
    return OutboxEntry(
        index, "p1", index, 0, f"p1:{index}:0", "hs", "r1", "update", "contacts",
        record_id, {}, "pending", 0, {}, None, T0, T0,
    )  # fmt: skip


@st.composite
def items(draw: st.DrawFn) -> list[ToWrite]:
    records = draw(st.lists(st.sampled_from("abcd"), max_size=10))
    return [
        ToWrite(
            entry(i, record_id),
            draw(st.dictionaries(field_names, values, min_size=1, max_size=3)),
            [],
        )
        for i, record_id in enumerate(records)
    ]


@given(items(), st.dictionaries(st.sampled_from("abcd"), st.sampled_from("abcdz")))
def test_one_write_per_record_with_every_items_fields(
    todo: list[ToWrite], moved: dict[str, str]
) -> None:
    grouped, writes = per_record(todo, lambda e: moved.get(e.record_id, e.record_id))
    assert sorted(w.record_id for w in writes) == sorted(set(grouped))
    assert sorted(i.entry.key for g in grouped.values() for i in g) == sorted(
        i.entry.key for i in todo
    )
    for write in writes:
        group = grouped[write.record_id]
        assert all(
            moved.get(i.entry.record_id, i.entry.record_id) == write.record_id for i in group
        )
        assert write.key == group[0].entry.key
        expected: dict[str, str | None] = {}
        for item in group:  # a later op's value of the same field wins, as in plan order
            expected.update(item.fields)
        assert write.properties == expected


@st.composite
def refusals(draw: st.DrawFn) -> list[tuple[list[ToWrite], WriteResult]]:
    grouped, _ = per_record(draw(items()), lambda e: e.record_id)
    return [
        (group, WriteResult(group[0].entry.key, ok=False, fields=tuple(draw(st.sets(field_names)))))
        for group in grouped.values()
        if len(group) > 1
    ]


@given(refusals())
def test_refused_records_go_again_without_the_refused_values_each_op_once(
    refused: list[tuple[list[ToWrite], WriteResult]],
) -> None:
    bad, rounds = split_refused(refused)
    sent = [i.entry.key for r in rounds for i in r]
    assert sorted([i.entry.key for i, _ in bad] + sent) == sorted(
        i.entry.key for group, _ in refused for i in group
    )
    for group, result in refused:
        named = set(result.fields)
        for item in group:
            failed = [r for i, r in bad if i is item]
            assert failed == ([result] if named & item.fields.keys() else [])
        if not named:  # the CRM did not say which value: each op alone, in its own round
            where = [n for n, r in enumerate(rounds) for i in r if i in group]
            assert where == list(range(len(group)))
