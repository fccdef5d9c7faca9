"""Properties of the conflict decision: what of a planned write still holds against the CRM."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

from hypothesis import given
from hypothesis import strategies as st

from model.records import Record
from syncd.config import ConflictStrategy
from syncd.push.conflicts import decide, match_changes, same
from tests.model.strategies import field_names, values

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
strategies: st.SearchStrategy[ConflictStrategy] = st.sampled_from(get_args(ConflictStrategy))
planned_fields = st.dictionaries(
    field_names, st.fixed_dictionaries({"old": values, "new": values}), max_size=4
)
currents = st.dictionaries(field_names, values, max_size=6)
carried_values = st.dictionaries(field_names, st.lists(values, max_size=2), max_size=3)


@given(planned_fields, currents, carried_values, strategies, st.booleans())
def test_each_field_is_decided_by_its_current_value(
    fields: dict[str, dict[str, str | None]],
    current: dict[str, str | None],
    carried: dict[str, list[str | None]],
    strategy: ConflictStrategy,
    resumed: bool,
) -> None:
    decision = decide(fields, current, carried, strategy, resumed=resumed)
    for name, planned in fields.items():
        now = current.get(name)
        held = any(note.startswith(f"{name}: ") for note in decision.held)
        noted = any(note.startswith(f"{name}: ") for note in decision.notes)
        if same(now, planned["new"]):  # at new already: applied, nothing to write
            assert name not in decision.writes
            assert (name in decision.landed) == resumed
            assert not held
            assert not noted
        elif any(same(now, v) for v in (planned["old"], *carried.get(name, ()))):
            assert decision.writes[name] == planned["new"]  # at old: written
            assert not held
            assert not noted
        else:  # a person changed it: the strategy decides, and says so
            assert (name in decision.writes) == (strategy == "syncd-wins")
            assert held == (strategy == "review")
            assert noted == (strategy != "review")
            assert name not in decision.landed


@given(planned_fields, currents, carried_values, strategies, st.booleans())
def test_fields_are_decided_one_by_one(
    fields: dict[str, dict[str, str | None]],
    current: dict[str, str | None],
    carried: dict[str, list[str | None]],
    strategy: ConflictStrategy,
    resumed: bool,
) -> None:
    whole = decide(fields, current, carried, strategy, resumed=resumed)
    parts = [
        decide({name: planned}, current, carried, strategy, resumed=resumed)
        for name, planned in fields.items()
    ]
    assert whole.writes == {k: v for p in parts for k, v in p.writes.items()}
    assert whole.landed == {k: v for p in parts for k, v in p.landed.items()}
    assert whole.notes == [n for p in parts for n in p.notes]
    assert whole.held == [n for p in parts for n in p.held]


@given(planned_fields, strategies)
def test_a_push_over_its_own_writes_writes_nothing_again(
    fields: dict[str, dict[str, str | None]], strategy: ConflictStrategy
) -> None:
    done = {name: planned["new"] for name, planned in fields.items()}
    decision = decide(fields, done, {}, strategy, resumed=True)
    assert (decision.writes, decision.notes, decision.held) == ({}, [], [])
    assert decision.landed == done


def record(record_id: str, **properties: str | None) -> Record:
    return Record("contacts", record_id, properties, T0)


@given(currents, currents, st.dictionaries(field_names, st.lists(values, max_size=2), max_size=3))
def test_a_merge_is_held_only_for_a_match_field_a_person_changed(
    now: dict[str, str | None],
    before: dict[str, str | None],
    planned_by_field: dict[str, list[str | None]],
) -> None:
    planned = {("contacts", "1", name): v for name, v in planned_by_field.items()}
    changed = match_changes(
        "contacts", {"1": record("1", **now)}, {"1": record("1", **before)}, planned
    )
    expected = [
        f"1.{name}"
        for name in ("firstname", "lastname", "email", "phone")
        if name in now
        and not same(now[name], before.get(name))
        and not any(same(now[name], v) for v in planned_by_field.get(name, ()))
    ]
    assert changed == expected
    assert match_changes("contacts", {"1": record("1", **now)}, {}, planned) == []
