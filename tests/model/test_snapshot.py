"""A snapshot's records in id order: the order every policy proposes its changes in."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from model.changes import Snapshot
from model.records import Record, id_key

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _snapshot(ids: list[str]) -> Snapshot:
    return Snapshot("s", NOW, {"contacts": [Record("contacts", i, {}, NOW) for i in ids]})


def test_numeric_ids_come_first_in_numeric_order_then_the_others_as_text() -> None:
    snapshot = _snapshot(["10", "b", "9", "0031", "a", "100"])
    assert [r.id for r in snapshot.in_id_order("contacts")] == ["9", "10", "0031", "100", "a", "b"]
    assert snapshot.in_id_order("companies") == ()


@given(st.lists(st.one_of(st.from_regex(r"\d{1,4}", fullmatch=True), st.text(max_size=4))))
def test_the_order_is_sorted_by_id_key_and_made_once(ids: list[str]) -> None:
    snapshot = _snapshot(ids)
    ordered = snapshot.in_id_order("contacts")
    assert [r.id for r in ordered] == sorted(ids, key=id_key)
    assert snapshot.in_id_order("contacts") is ordered
    # a snapshot replaced with other records orders its own
    other = replace(snapshot, records={"contacts": list(reversed(snapshot.of("contacts")))[:1]})
    assert len(other.in_id_order("contacts")) == min(1, len(ids))
    assert other == replace(snapshot, records=other.records)


def test_ids_of_digits_that_are_no_number_sort_as_text() -> None:
    assert sorted(["²", "10", "9", "b"], key=id_key) == ["9", "10", "b", "²"]


def test_an_ordered_snapshot_is_taken_as_it_is() -> None:
    records = [Record("contacts", i, {}, NOW) for i in ["2", "10"]]
    snapshot = Snapshot("s", NOW, {"contacts": records}, ordered=True)
    assert [r.id for r in snapshot.in_id_order("contacts")] == ["2", "10"]
    # the flag is a promise its maker keeps: records given out of order are not sorted
    backwards = Snapshot("s", NOW, {"contacts": records[::-1]}, ordered=True)
    assert [r.id for r in backwards.in_id_order("contacts")] == ["10", "2"]
