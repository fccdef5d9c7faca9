"""Incremental dedupe runs propose exactly what a full run proposes on the same snapshot."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.dataset import canonical_records
from model.changes import Change, Merge, Snapshot
from model.records import Record, id_key
from policies.dedupe import DedupePolicy, DedupeSettings
from policies.dedupe.decisions import REJECTED
from policies.dedupe.features import extract
from policies.dedupe.incremental import KeyIndex, head_neighbours, value_heads, window_neighbours
from policies.dedupe.scoring import Frozen, Scorer
from policies.dedupe.settings import Guards
from policies.dedupe.weights import MatchModel
from sandbox.generator import generate

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SETTINGS = DedupeSettings(min_records=400, u_sample_pairs=5000)
EDITED = ("lastname", "firstname", "phone", "email", "company", "address", "city")


@pytest.fixture(autouse=True)
def compare_any_share(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small generated sets share their cities and names widely: an edit makes many records'
    pairs be compared again, past the share where a real run goes full. Here the incremental
    path is what is tested, whatever it costs."""
    monkeypatch.setattr(DedupePolicy, "incremental_share", 1.0)


@pytest.fixture(scope="module")
def base() -> Snapshot:
    """1,500 generated contacts (weights learned: the frozen ones the engine passes in) and
    300 companies (too few to learn from: configured weights)."""
    snapshot = Snapshot("generated", NOW, canonical_records(generate(1500, seed=11, now=NOW)))
    return replace(snapshot, learned={"dedupe": DedupePolicy(SETTINGS).learn(snapshot)})


def edited(snapshot: Snapshot, seed: int, k: int, *, grow: bool) -> Snapshot:
    """``k`` records of each type edited: a field set to another record's value (a typo made,
    a value shared or blanked), some records removed and, with ``grow``, copies added."""
    rng = random.Random(seed)
    records = {t: list(v) for t, v in snapshot.records.items()}
    for object_type in ("contacts", "companies"):
        found = records[object_type]
        for index in rng.sample(range(len(found)), k):
            record = found[index]
            props = dict(record.properties)
            donor = found[rng.randrange(len(found))].properties
            fields = ("name", "phone", "address", "city") if object_type == "companies" else EDITED
            field = rng.choice(fields)
            roll = rng.random()
            if roll < 0.6:
                props[field] = donor.get(field)
            elif roll < 0.8:
                props[field] = (props.get(field) or "x") + "e"
            else:
                props[field] = None
            found[index] = replace(record, properties=props, updated_at=NOW + timedelta(hours=1))
        for _ in range(2):
            del found[rng.randrange(len(found))]
        if grow:
            for n in range(3):
                source = found[rng.randrange(len(found))]
                found.append(replace(source, id=f"{source.id}9{n}"))
    return replace(snapshot, records={t: tuple(v) for t, v in records.items()})


def run(snapshot: Snapshot, memory: dict[str, Any], settings: DedupeSettings = SETTINGS) -> tuple[
    list[Change], dict[str, str]
]:  # fmt: skip
    policy = DedupePolicy(settings)
    policy.incremental(memory)
    return policy(snapshot), dict(policy.notes)


def full(snapshot: Snapshot, settings: DedupeSettings = SETTINGS) -> list[Change]:
    return DedupePolicy(settings)(snapshot)


@pytest.mark.parametrize(("seed", "k", "grow"), [(1, 5, False), (2, 30, True), (3, 60, True)])
def test_an_incremental_run_proposes_what_a_full_run_does(
    base: Snapshot, seed: int, k: int, grow: bool
) -> None:
    memory: dict[str, Any] = {}
    first, notes = run(base, memory)
    assert all(n.startswith("full: no earlier run") for n in notes.values())
    assert first == full(base)
    later = edited(base, seed, k, grow=grow)
    changes, notes = run(later, memory)
    assert all(n.startswith("incremental") for n in notes.values()), notes
    assert changes == full(later)
    assert any(isinstance(c, Merge) for c in changes)
    again = edited(later, seed + 100, k, grow=grow)  # and on from the memory it left
    changes, notes = run(again, memory)
    assert all(n.startswith("incremental") for n in notes.values()), notes
    assert changes == full(again)


#: A budget this small splits blocks far below max_block_size (blocking's block_cap).
TIGHT = SETTINGS.model_copy(update={"max_pairs_per_record": 1.8, "block_window": 2})


def edit_rounds(snapshot: Snapshot, memory: dict[str, Any]) -> Iterator[tuple[Snapshot, str]]:
    """Four rounds of 20 edits a type (records added too), each run from ``memory`` under
    :data:`TIGHT` and checked against a fresh full run: each round's snapshot, and whether the
    contacts ran incrementally or in full."""
    for seed in (4, 5, 6, 7):
        snapshot = edited(snapshot, seed, 20, grow=True)
        changes, notes = run(snapshot, memory, TIGHT)
        assert changes == full(snapshot, TIGHT)
        yield snapshot, notes["contacts"].split(":")[0]


def test_blocks_split_past_a_budgeted_size_stay_equal_to_a_full_run(base: Snapshot) -> None:
    # the incremental run must split blocks where a full run over its records would
    found = DedupePolicy(TIGHT).analyse(base, "contacts").candidates
    assert 2 * 2 + 1 < found.cap < TIGHT.max_block_size
    assert found.split > 0
    memory: dict[str, Any] = {}
    run(base, memory, TIGHT)
    said = []
    for snapshot, how in edit_rounds(base, memory):
        again = DedupePolicy(TIGHT).analyse(snapshot, "contacts").candidates
        assert memory["contacts"].cap == again.cap
        said.append(how)
    # compared incrementally, and in full when the records moved the size past which to split
    assert {"incremental", "full"} <= set(said)


def test_the_cap_kept_with_the_weights_holds_while_the_records_stay_near_its_count(
    base: Snapshot,
) -> None:
    """The edits above move the size past which blocks split, and an incremental run goes
    full; the size stored with the weights holds while the records stay within CAP_BAND of
    the count it was worked out for: a fresh full run splits there too, and the incremental
    runs stay incremental. Past the band, and under other settings, it is worked out afresh."""
    tight = TIGHT
    snapshot = replace(base, learned={"dedupe": DedupePolicy(tight).learn(base)})
    kept = snapshot.learned["dedupe"]["contacts"]["cap"]
    assert isinstance(kept, dict)
    assert kept["records"] == len(base.of("contacts"))
    assert kept["size"] == DedupePolicy(tight).analyse(base, "contacts").candidates.cap
    memory: dict[str, Any] = {}
    run(snapshot, memory, tight)
    said = []
    for edited_snapshot, how in edit_rounds(snapshot, memory):
        cap = DedupePolicy(tight).analyse(edited_snapshot, "contacts").candidates.cap
        assert cap == kept["size"]
        said.append(how)
        snapshot = edited_snapshot
    assert set(said) == {"incremental"}
    copies = [replace(r, id=f"{r.id}77") for r in snapshot.of("contacts")[:200]]
    grown = replace(
        snapshot, records={**snapshot.records, "contacts": (*snapshot.of("contacts"), *copies)}
    )
    afresh = DedupePolicy(tight).analyse(replace(grown, learned={}), "contacts", cluster=False)
    assert DedupePolicy(tight).analyse(grown, "contacts").candidates.cap == afresh.candidates.cap
    other = tight.model_copy(update={"max_pairs_per_record": 2.5})
    with_other = DedupePolicy(other).analyse(snapshot, "contacts").candidates.cap
    unstored = DedupePolicy(other).analyse(replace(snapshot, learned={}), "contacts", cluster=False)
    assert with_other == unstored.candidates.cap


def test_a_run_with_nothing_changed_keeps_every_merge(base: Snapshot) -> None:
    memory: dict[str, Any] = {}
    first, _ = run(base, memory)
    same, notes = run(base, memory)
    assert same == first
    assert "0 compared again" in notes["contacts"]


def test_other_settings_weights_or_decisions_make_a_full_run(base: Snapshot) -> None:
    memory: dict[str, Any] = {}
    run(base, memory)
    stricter = SETTINGS.model_copy(update={"merge_threshold": 0.99})
    changes, notes = run(base, memory, stricter)
    assert notes["contacts"] == "full: the settings changed"
    assert changes == full(base, stricter)

    learned = dict(base.learned["dedupe"])
    learned.pop("contacts")  # contacts' weights estimated in the run: never incremental
    relearnt = replace(base, learned={"dedupe": learned})
    _, notes = run(relearnt, memory, stricter)
    assert notes["contacts"] == "full: the weights are estimated in this run"

    run(base, memory)
    merge = next(c for c in full(base) if isinstance(c, Merge) and c.object_type == "contacts")
    group = frozenset((merge.primary_id, *merge.merged_ids))
    decided = replace(base, decisions={"contacts": {group: REJECTED}})
    changes, notes = run(decided, memory)
    assert notes["contacts"] == "full: the review decisions changed"
    assert changes == full(decided)
    assert not any(isinstance(c, Merge) and c.primary_id == merge.primary_id for c in changes)


def test_memory_of_a_run_whose_plan_was_lost_still_gives_the_full_plan(base: Snapshot) -> None:
    """A run killed after dedupe leaves a memory of a snapshot no plan came from: the next run
    diffs against it, whatever the store holds then (here: the first snapshot again)."""
    memory: dict[str, Any] = {}
    run(base, memory)
    run(edited(base, 7, 40, grow=True), memory)  # its plan never saved
    changes, notes = run(base, memory)
    assert all(n.startswith("incremental") for n in notes.values()), notes
    assert changes == full(base)


def test_a_big_change_runs_in_full(base: Snapshot) -> None:
    memory: dict[str, Any] = {}
    run(base, memory)
    records = {
        t: tuple(replace(r, updated_at=NOW + timedelta(days=1)) for r in v)
        if t == "contacts"
        else v
        for t, v in base.records.items()
    }
    changed = replace(base, records=records)
    changes, notes = run(changed, memory)
    assert notes["contacts"].startswith("full: 1500 of 1500 records changed")
    assert changes == full(changed)


def _with_deal(snapshot: Snapshot, contact: Record) -> Snapshot:
    deal = Record("deals", "d-guard", {"is_closed": "false"}, NOW, NOW)
    records = dict(snapshot.records)
    records["deals"] = (
        *snapshot.of("deals"),
        replace(deal, associations={"contacts": (contact.id,)}),
    )
    return replace(snapshot, records=records)


def test_a_guard_that_changes_with_a_deal_is_seen(base: Snapshot) -> None:
    """Both records with an open deal: held for review. A deal added to one record of a merged
    pair changes its pairs although the record itself did not change."""
    settings = SETTINGS.model_copy(update={"guards": Guards(both_open_deals=True)})
    memory: dict[str, Any] = {}
    first, _ = run(base, memory, settings)
    merge = next(c for c in first if isinstance(c, Merge) and c.kind == "merge")
    contacts = {r.id: r for r in base.of("contacts")}
    later = _with_deal(_with_deal(base, contacts[merge.primary_id]), contacts[merge.merged_ids[0]])
    changes, notes = run(later, memory, settings)
    assert notes["contacts"].startswith("incremental")
    assert changes == full(later, settings)
    assert changes != first
    assert not any(c == merge for c in changes)  # held: now a review


def test_a_count_matters_only_where_a_score_reads_it(base: Snapshot) -> None:
    limit = SETTINGS.shared_value_count
    contacts = Scorer(SETTINGS, "contacts")  # configured weights read no term frequency
    assert not contacts.weighs_change("lastname=smith", 3, 4)
    assert not contacts.weighs_change("phone=+14155550100", limit - 1, limit)
    assert not contacts.weighs_change("ann@example.com", 1, 2)  # not shared either way
    assert contacts.weighs_change("ann@example.com", limit - 1, limit)  # shared now
    assert contacts.weighs_change("@1 main st", limit, limit - 1)
    companies = Scorer(SETTINGS, "companies")  # too few names for their words' rarity
    assert not companies.weighs_change("word=deli", 1, 2)
    assert not companies.weighs_change("phone=+14155550100", 1, 2)  # a line of its own still
    assert companies.weighs_change("phone=+14155550100", limit - 1, limit)  # a shared line now
    # a site's copies of its line count as one in its frequency, which configured weights do
    # not read; the raw count (what says a line is shared) moves with the phone's own key
    site = "site=+14155550100=4444 kedzie"
    assert not companies.weighs_change(site, 1, 2)
    assert not companies.weighs_change(site, limit - 1, limit)

    stored = base.learned["dedupe"]["contacts"]
    model = MatchModel.from_json(stored)
    live = contacts.using(model)  # frequencies from the snapshot's counts: every count
    assert live.weighs_change("lastname=smith", 3, 4)
    assert live.weighs_change("phone=+14155550100", 1, 2)
    assert live.weighs_change(site, 1, 2)  # the line's frequency, read from the snapshot
    frozen = contacts.using(model, Frozen.from_json(stored["present"], stored["values"]))
    assert not frozen.weighs_change("lastname=smith", 3, 4)  # read from the stored counts
    assert not frozen.weighs_change("phone=+14155550100", 1, 2)
    assert not frozen.weighs_change(site, 1, 2)  # read from the stored counts
    assert frozen.weighs_change("ann@example.com", limit - 1, limit)


def _moved(snapshot: Snapshot, record_id: str, city: str) -> Snapshot:
    contacts = tuple(
        replace(r, properties={**r.properties, "city": city}) if r.id == record_id else r
        for r in snapshot.of("contacts")
    )
    return replace(snapshot, records={**snapshot.records, "contacts": contacts})


def test_an_edit_to_a_common_value_compares_again_only_the_edited_record(base: Snapshot) -> None:
    """A contact moves from the most common city to the next: both cities' counts change, but
    term frequencies read the counts stored with the weights, so only the pairs of the moved
    record are compared again, not those of the cities' other holders. Weights stored without
    these counts (frequencies from the snapshot's) compare all of those again."""
    holders = Counter(r.properties.get("city") for r in base.of("contacts"))
    (common, _), (other, _) = [(c, n) for c, n in holders.most_common() if c][:2]
    merged = {i for c in full(base) if isinstance(c, Merge) for i in (c.primary_id, *c.merged_ids)}
    moved = next(
        r.id for r in base.of("contacts") if r.properties.get("city") == common and r.id in merged
    )
    later = _moved(base, moved, other)
    ids = sorted((r.id for r in later.of("contacts")), key=id_key)
    found = DedupePolicy(SETTINGS).analyse(later, "contacts").candidates
    at = ids.index(moved)
    own = int(np.count_nonzero((found.left == at) | (found.right == at)))

    def compared_again(snapshot: Snapshot, changed: Snapshot) -> int:
        memory: dict[str, Any] = {}
        run(snapshot, memory)
        policy = DedupePolicy(SETTINGS)
        policy.incremental(memory)
        assert policy(changed) == full(changed)
        assert policy.notes["contacts"].startswith("incremental: 1 records changed, 0 gone")
        return policy.counts()["candidates"]

    assert own > 0
    assert compared_again(base, later) == own
    stored = {k: v for k, v in base.learned["dedupe"]["contacts"].items() if k != "values"}
    older = {"dedupe": {**base.learned["dedupe"], "contacts": stored}}
    live = compared_again(replace(base, learned=older), replace(later, learned=older))
    assert live > 10 * own  # the pairs among each city's holders


def _named(snapshot: Snapshot, names: dict[str, dict[str, str | None]]) -> Snapshot:
    companies = tuple(
        replace(r, properties={**r.properties, **names[r.id]}) if r.id in names else r
        for r in snapshot.of("companies")
    )
    return replace(snapshot, records={**snapshot.records, "companies": companies})


def test_companies_whose_name_words_are_weighed_by_rarity() -> None:
    """Enough company names for a word's rarity to count: a name adding a word no other name
    has is a weak match; once another company takes that word, it no longer is, although
    neither company of the pair changed."""
    settings = SETTINGS.model_copy(update={"object_types": ("companies",), "min_matches": 5})
    snapshot = Snapshot("generated", NOW, canonical_records(generate(3000, seed=4, now=NOW)))
    p, q, r = (c.id for c in snapshot.of("companies")[:3])
    place: dict[str, str | None] = {
        "phone": "+1 415 555 0199", "city": "Oakland", "address": "9 Quay St", "zip": "94607",
        "state": "CA", "country": "US", "domain": None, "website": None,
    }  # fmt: skip
    snapshot = _named(
        snapshot,
        {p: {"name": "Zyxwv Holdings", **place}, q: {"name": "Zyxwv Holdings Quorvex", **place}},
    )
    learned = DedupePolicy(settings).learn(snapshot)
    assert "companies" in learned  # frozen with the weights: the words' denominator
    snapshot = replace(snapshot, learned={"dedupe": learned})
    memory: dict[str, Any] = {}
    before, _ = run(snapshot, memory, settings)
    later = _named(snapshot, {r: {"name": "Quorvex"}})
    changes, notes = run(later, memory, settings)
    assert notes["companies"].startswith("incremental"), notes
    assert changes == full(later, settings)

    def about_pq(found: list[Change]) -> list[Change]:
        return [
            c for c in found if isinstance(c, Merge) and {p, q} <= {c.primary_id, *c.merged_ids}
        ]

    assert about_pq(changes) != about_pq(before)
    for seed in (5, 6):  # and random renames on from there
        later = edited(later, seed, 40, grow=True)
        changes, notes = run(later, memory, settings)
        assert notes["companies"].startswith("incremental"), notes
        assert changes == full(later, settings)


def test_too_much_to_compare_again_runs_in_full(
    base: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(DedupePolicy, "incremental_share", 0.01)
    memory: dict[str, Any] = {}
    run(base, memory)
    later = edited(base, 1, 30, grow=False)
    changes, notes = run(later, memory)
    assert notes["contacts"].startswith("full: ")
    assert "records to compare again" in notes["contacts"]
    assert changes == full(later)


def test_a_merge_whose_records_are_gone_is_not_kept(base: Snapshot) -> None:
    """The primary of a merge and of a review deleted in the CRM (or merged there): their
    groups are clustered again without them."""
    memory: dict[str, Any] = {}
    first, _ = run(base, memory)
    merges = [c for c in first if isinstance(c, Merge) and c.object_type == "contacts"]
    gone = {next(m for m in merges if m.kind == k).primary_id for k in ("merge", "review")}
    contacts = tuple(r for r in base.of("contacts") if r.id not in gone)
    later = replace(base, records={**base.records, "contacts": contacts})
    changes, notes = run(later, memory)
    assert notes["contacts"].startswith("incremental"), notes
    assert changes == full(later)
    assert not any(isinstance(c, Merge) and c.primary_id in gone for c in changes)


def test_records_entering_and_leaving_split_blocks(base: Snapshot) -> None:
    """Blocks over a few records split (sorted neighbourhood): edits move records into, out of
    and within them; a run that compares their window neighbours again proposes what a full
    run does."""
    settings = SETTINGS.model_copy(update={"max_block_size": 5, "block_window": 2})
    assert DedupePolicy(settings).analyse(base, "contacts").candidates.split > 20
    memory: dict[str, Any] = {}
    run(base, memory, settings)
    later = base
    for seed in (4, 5):
        later = edited(later, seed, 30, grow=True)
        changes, notes = run(later, memory, settings)
        assert all(n.startswith("incremental") for n in notes.values()), notes
        assert changes == full(later, settings)


def _namesake(number: int, address: str) -> Record:
    props = {"firstname": "John", "lastname": "Smith", "city": "Springfield", "zip": "62701",
             "company": "Acme", "address": address}  # fmt: skip
    return Record("contacts", f"90{number}", props, NOW, created_at=NOW - timedelta(days=9))


def test_a_record_entering_a_split_block_between_two_linked_members(base: Snapshot) -> None:
    """Namesakes at one firm share every blocking key but their addresses': blocks of four and
    more are split, each member compared with the next in address order. A fifth, whose
    address sorts between two linked members, parts them (their link is gone: it is no window
    pair any more); when it goes, they are neighbours again."""
    settings = SETTINGS.model_copy(update={"max_block_size": 3, "block_window": 1})
    four = [_namesake(n, f"{n} {s} st") for n, s in ((1, "a"), (3, "c"), (5, "e"), (7, "g"))]
    contacts = (*base.of("contacts"), *four)
    snapshot = replace(base, records={**base.records, "contacts": contacts})
    memory: dict[str, Any] = {}
    run(snapshot, memory, settings)
    fifth = replace(base, records={**base.records, "contacts": (*contacts, _namesake(2, "2 b st"))})
    for later in (fifth, snapshot):
        changes, notes = run(later, memory, settings)
        assert notes["contacts"].startswith("incremental: "), notes
        assert changes == full(later, settings)


def _window(line: list[int], window: int) -> set[tuple[int, int]]:
    return {
        (min(p, q), max(p, q)) for n, p in enumerate(line) for q in line[n + 1 : n + window + 1]
    }


@given(
    kept=st.integers(0, 40),
    old=st.lists(st.integers(0, 40), max_size=6),
    new=st.lists(st.integers(0, 40), max_size=6),
    window=st.integers(1, 5),
)
def test_a_split_blocks_windows_move_only_near_the_records_that_moved(
    kept: int, old: list[int], new: list[int], window: int
) -> None:
    """Members 0..kept-1 stay in order; others (numbered from 100 before, 200 after) stand at
    the places ``old`` before an edit and ``new`` after. Every window pair of two staying
    members gained or lost has both members near a moved one, in one order or the other."""

    def line(places: list[int], first: int) -> tuple[list[int], list[int]]:
        members = list(range(kept))
        moved = []
        for n, place in enumerate(places):
            members.insert(min(place, len(members)), first + n)
            moved.append(first + n)
        return members, moved

    (before, left), (after, entered) = line(old, 100), line(new, 200)
    near = window_neighbours(before, left, window) | window_neighbours(after, entered, window)
    for p, q in _window(before, window) ^ _window(after, window):
        if p < kept and q < kept:
            assert {p, q} <= near


@given(
    kept=st.lists(st.integers(0, 6).map(lambda v: 2 * v), max_size=30),  # even values
    old=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 12)), max_size=5),
    new=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 12)), max_size=5),
    window=st.integers(1, 4),
)
def test_a_split_blocks_value_windows_move_only_near_the_values_that_moved(
    kept: list[int], old: list[tuple[int, int]], new: list[tuple[int, int]], window: int
) -> None:
    """Members 0..len(kept)-1 stay, in the order of their values ``kept`` (then of their
    numbers); others (numbered from 100 before, 200 after) hold the values given (an odd one
    is a value no staying member holds: it comes or goes whole) and stand
    among that value's members at the place given (before its first, when it is smaller, so
    that the value's first member changes). A split block's pairs are the
    window pairs of its members and of its values' first members: every such pair of two
    staying members gained or lost has both near a moved member or a moved value."""
    value = dict(enumerate(kept))
    place = {p: p for p in value}  # within one value, by this (ids stand for it)

    def line(added: list[tuple[int, int]], first: int) -> tuple[list[int], list[int]]:
        moved = []
        for n, (at, held) in enumerate(added):
            value[first + n], place[first + n] = held, at
            moved.append(first + n)
        members = sorted([*range(len(kept)), *moved], key=lambda p: (value[p], place[p], p))
        return members, moved

    (before, left), (after, entered) = line(old, 100), line(new, 200)
    moved_values = {value[p] for p in left + entered}

    def pairs(members: list[int]) -> set[tuple[int, int]]:
        return _window(members, window) | _window(value_heads(members, value.__getitem__), window)

    near = window_neighbours(before, left, window) | window_neighbours(after, entered, window)
    near |= head_neighbours(before, value.__getitem__, moved_values, window)
    near |= head_neighbours(after, value.__getitem__, moved_values, window)
    for p, q in pairs(before) ^ pairs(after):
        if p < len(kept) and q < len(kept):
            assert {p, q} <= near


def _copy(number: int, email: str) -> Record:
    """One person filed again and again: the same name, firm and address (one value in a split
    block's order), a mailbox of its own."""
    props = {"firstname": "Ann", "lastname": "Moore", "company": "Acme", "address": "1 Main St",
             "city": "Oslo", "email": email}  # fmt: skip
    return Record("contacts", f"7{number:03d}", props, NOW, created_at=NOW - timedelta(days=9))


def test_a_run_of_one_value_in_a_split_block_stays_equal_to_a_full_run(base: Snapshot) -> None:
    """Twelve records alike in name, firm and address and spellings of the name beside them
    (blocks past three records split, a window of two): the run is one value in the window of
    values. The run's first record goes, a record of its value and a smaller id comes, a
    spelling joins the run: each run from the memory proposes what a full run does."""
    settings = SETTINGS.model_copy(update={"max_block_size": 3, "block_window": 2})
    run_of = [_copy(n, f"ann{n}@acme.example") for n in range(10, 22)]
    beside = [
        replace(_copy(n, f"a.moore{n}@acme.example"), properties={
            **_copy(n, "").properties, "lastname": name, "email": f"a.moore{n}@acme.example"})
        for n, name in ((30, "Moorr"), (31, "Moore"), (32, "Mooree"))
    ]  # fmt: skip
    beside[1] = replace(beside[1], properties={**beside[1].properties, "address": "2 Main St"})
    contacts = [*base.of("contacts"), *run_of, *beside]
    snapshot = replace(base, records={**base.records, "contacts": tuple(contacts)})
    assert DedupePolicy(settings).analyse(snapshot, "contacts").candidates.split > 0
    memory: dict[str, Any] = {}
    run(snapshot, memory, settings)
    head_gone = [r for r in contacts if r.id != "7010"]
    smaller = [*head_gone, _copy(5, "ann5@acme.example")]
    joined = [
        replace(r, properties={**r.properties, "lastname": "Moore"}) if r.id == "7030" else r
        for r in smaller
    ]
    for later in (head_gone, smaller, joined, contacts):
        step = replace(base, records={**base.records, "contacts": tuple(later)})
        changes, notes = run(step, memory, settings)
        assert notes["contacts"].startswith("incremental"), notes
        assert changes == full(step, settings)


def _holding(number: int, first: str, last: str) -> Record:
    return Record(
        "contacts",
        f"9{number:03d}",
        {"firstname": first, "lastname": last, "email": "family@home.example", "city": "Oslo"},
        NOW,
        created_at=NOW,
    )


def test_a_mailbox_held_by_new_names_turns_shared_in_an_incremental_run(base: Snapshot) -> None:
    """Six records hold one mailbox, four of them one person's (Ann Moore): it is hers, not
    shared. Two of hers renamed, the mailbox is held by four names: shared, and the pair of
    the two Moores left, which no edit touched, weighs it as shared in both runs."""
    people = [_holding(n, "Ann", "Moore") for n in range(4)]
    people += [_holding(4, "Bo", "Baxter"), _holding(5, "Eva", "Lund")]
    before = replace(base, records={**base.records, "contacts": (*base.of("contacts"), *people)})
    renamed = {"9000": "Kline", "9001": "Ortiz"}
    contacts = tuple(
        replace(r, properties={**r.properties, "lastname": renamed[r.id]}, updated_at=NOW
                + timedelta(hours=1)) if r.id in renamed else r
        for r in before.of("contacts")
    )  # fmt: skip
    after = replace(before, records={**before.records, "contacts": contacts})

    def shared(snapshot: Snapshot) -> bool:
        feats = [extract(r, "US") for r in snapshot.of("contacts")]
        return Scorer(SETTINGS, "contacts", feats).shared("family@home.example")

    assert (shared(before), shared(after)) == (False, True)
    memory: dict[str, Any] = {}
    assert run(before, memory)[0] == full(before)
    changes, notes = run(after, memory)
    assert notes["contacts"].startswith("incremental"), notes
    assert changes == full(after)


def test_block_sizes_of_keys_sharing_a_first_hash_are_counted_apart() -> None:
    # the index is sorted by its first hash only: two keys that share one (a collision of 64
    # bits, made here) interleave, and are told apart by the second
    def index(first: list[int], second: list[int]) -> KeyIndex:
        return KeyIndex(
            np.asarray(first, dtype=np.int64),
            np.asarray(second, dtype=np.int64),
            np.arange(len(first), dtype=np.int32),
        )

    plain = index([1, 1, 1, 5, 5, 9], [7, 7, 7, 2, 2, 4])
    assert sorted(plain.block_sizes(6).tolist()) == [2, 3]
    collided = index([1, 1, 1, 1, 1, 5, 5, 9], [7, 8, 7, 8, 7, 2, 2, 4])
    assert sorted(collided.block_sizes(8).tolist()) == [2, 2, 3]
