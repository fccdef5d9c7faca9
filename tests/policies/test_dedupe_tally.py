"""Learning from a tally of the candidate pairs' levels instead of one row per pair, and
merging from a table worked out a slice at a time when the whole one would not be kept.

At a million contacts the candidate pairs are tens of millions: expectation maximisation over
one row per pair took gigabytes. It now runs over the distinct rows with their counts
(:class:`~policies.dedupe.weights.Tally`); these tests hold that it learns what it learned from
the rows, and that the merges do not depend on whether the table was kept.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policies.dedupe.policy as policy_module
import policies.dedupe.weights as weights_module
from bench.dataset import canonical_records
from model.changes import Snapshot
from policies.dedupe import DedupePolicy, DedupeSettings
from policies.dedupe.columns import Columns
from policies.dedupe.patterns import Patterns
from policies.dedupe.scoring import PLACE, PairTable
from policies.dedupe.weights import CUTS, MatchModel, Tally, expectation_maximisation
from sandbox.generator import generate

NOW = datetime(2025, 6, 2, 9, tzinfo=UTC)
FIELDS = ("firstname", "email", "phone", "state")


@st.composite
def rows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray | None]:
    """A level matrix over :data:`FIELDS` (few distinct rows, many repeats) and decisions."""
    n = draw(st.integers(1, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    levels = np.stack([rng.integers(-1, len(CUTS[f]) + 1, size=n) for f in FIELDS], axis=1).astype(
        np.int8
    )
    if not draw(st.booleans()):
        return levels, None
    clamp = rng.choice(np.array([np.nan, np.nan, np.nan, 0.0, 1.0]), size=n)
    return levels, clamp


def _expanded(tally: Tally) -> Counter[tuple[object, ...]]:
    out: Counter[tuple[object, ...]] = Counter()
    for row, count, decided in zip(tally.levels.tolist(), tally.counts, tally.clamp, strict=True):
        out[(*row, None if np.isnan(decided) else float(decided))] += int(count)
    return out


@settings(max_examples=60, deadline=None)
@given(rows(), st.integers(1, 50))
def test_a_tally_counts_each_pair_once_by_its_levels_and_decision(
    drawn: tuple[np.ndarray, np.ndarray | None], slice_rows: int
) -> None:
    levels, clamp = drawn
    want = Counter(
        (*row, None if clamp is None or np.isnan(clamp[k]) else float(clamp[k]))
        for k, row in enumerate(levels.tolist())
    )
    whole = Tally.of(FIELDS, levels, clamp)
    assert _expanded(whole) == want
    assert whole.pairs == len(levels)
    assert len(whole.levels) == len(want)  # each distinct row once
    # encoded a slice at a time, or tallied in parts and merged: the same tally
    original = weights_module._TALLY_ROWS
    weights_module._TALLY_ROWS = slice_rows
    try:
        sliced = Tally.of(FIELDS, levels, clamp)
    finally:
        weights_module._TALLY_ROWS = original
    assert _expanded(sliced) == want
    cut = len(levels) // 2
    parts = [
        Tally.of(FIELDS, levels[:cut], None if clamp is None else clamp[:cut]),
        Tally.of(FIELDS, levels[cut:], None if clamp is None else clamp[cut:]),
    ]
    assert _expanded(Tally.merged(parts)) == want


@settings(max_examples=60, deadline=None)
@given(rows(), st.booleans())
def test_expectation_maximisation_over_a_tally_is_that_over_its_pairs(
    drawn: tuple[np.ndarray, np.ndarray | None], fixed_u: bool
) -> None:
    levels, clamp = drawn
    u = {f: tuple(np.linspace(1.0, 0.2, len(CUTS[f]) + 1) / 3.0) for f in FIELDS}
    start = {f: np.linspace(0.1, 1.0, len(CUTS[f]) + 1) ** 2 for f in FIELDS}
    start = {f: m / m.sum() for f, m in start.items()}
    m_rows, found_rows = expectation_maximisation(
        FIELDS, levels, u, start, clamp=clamp, fixed_u=fixed_u, fixed_m=not fixed_u
    )
    tally = Tally.of(FIELDS, levels, clamp)
    m_tally, found_tally = expectation_maximisation(
        FIELDS,
        tally.levels,
        u,
        start,
        clamp=tally.decided(),
        counts=tally.counts,
        fixed_u=fixed_u,
        fixed_m=not fixed_u,
    )
    assert found_tally == pytest.approx(found_rows, rel=1e-9, abs=1e-9)
    for field in FIELDS:
        assert m_tally[field] == pytest.approx(m_rows[field], rel=1e-9, abs=1e-12)


@pytest.fixture(scope="module")
def generated() -> Snapshot:
    records = canonical_records(generate(3000, seed=13, now=NOW))
    contacts = sorted(records["contacts"], key=lambda r: r.id)
    # a person's decisions on a few pairs: they are held in learning (the tally's clamp)
    decisions = {
        frozenset({contacts[0].id, contacts[1].id}): "approved",
        frozenset({contacts[2].id, contacts[3].id}): "rejected",
    }
    return Snapshot("generated", NOW, records, decisions={"contacts": decisions})


def _plan(snapshot: Snapshot) -> tuple[dict[str, dict[str, object]], list[str]]:
    policy = DedupePolicy(DedupeSettings())
    learned = policy.learn(snapshot)
    changes = policy(replace(snapshot, learned={"dedupe": learned}))
    return learned, sorted(repr(c) for c in changes)


@pytest.mark.parametrize("decided", [True, False])
def test_merges_are_the_same_when_the_table_is_worked_out_a_slice_at_a_time(
    generated: Snapshot, decided: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # without decisions the tally comes from the slices' patterns; with them, with the clamps
    generated = generated if decided else replace(generated, decisions={})
    kept_learned, kept_changes = _plan(generated)
    assert any("Merge" in c for c in kept_changes)  # there is something to compare
    tabulated: list[int] = []
    real = Columns.tabulate

    def spy(
        self: Columns, left: np.ndarray, right: np.ndarray, *, exact: bool = False
    ) -> PairTable:
        tabulated.append(len(left))
        return real(self, left, right, exact=exact)

    monkeypatch.setattr(Columns, "tabulate", spy)
    monkeypatch.setattr(policy_module, "KEPT_TABLE_BYTES", 0)
    monkeypatch.setattr(policy_module, "TABLE_ROWS", 997)
    sliced_learned, sliced_changes = _plan(generated)
    # no table of every candidate pair was made: past the slices, only the random pairs
    # that u is measured on were tabulated at once
    whole = [n for n in tabulated if n > 997]
    assert len(tabulated) > len(whole) > 0
    assert whole == [DedupeSettings().u_sample_pairs] * len(whole)
    assert sliced_learned == kept_learned
    assert sliced_changes == kept_changes


@pytest.mark.parametrize("object_type", ["contacts", "companies"])
def test_no_pair_has_a_higher_bound_than_its_pattern(generated: Snapshot, object_type: str) -> None:
    policy = DedupePolicy(DedupeSettings(min_records=100, min_matches=10))  # 600 companies
    learned = policy.learn(generated)
    model = MatchModel.from_json(learned[object_type])
    ready = policy._prepared[object_type]
    table = ready.table
    assert isinstance(table, PairTable)  # small enough to keep: the reference
    builder = Patterns.collect(table.fields, len(table.levels))
    for start in range(0, len(table.levels), 101):  # as learning adds them: a slice at a time
        part = slice(start, start + 101)
        builder.add(
            PairTable(
                table.fields, table.levels[part], table.frequency[part], table.email_points[part]
            )
        )
    patterns = builder.build()
    assert len(patterns.extremes.codes) < len(table.levels) / 5  # far fewer patterns than pairs
    place, share = PLACE[object_type], DedupeSettings().place_share
    bound = table.bound(model, model.prior, place, share)
    raised = ready.scorer.raised(table)
    for floor in np.quantile(bound, [0.0, 0.5, 0.9, 0.99, 0.999, 1.0]):
        may = patterns.reach(model, ready.scorer, place=place, share=share, floor=float(floor))
        assert may[bound >= floor].all()
        assert may[raised].all()
    review = math.log(DedupeSettings().review_threshold / (1 - DedupeSettings().review_threshold))
    may = patterns.reach(model, ready.scorer, place=place, share=share, floor=review)
    assert may.sum() < len(may) / 4  # most pairs need no second table
