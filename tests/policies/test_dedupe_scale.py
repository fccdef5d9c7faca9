"""Dedupe at scale: candidate pairs as arrays, and the bound that spares most pairs a full score.

The bound (:meth:`~policies.dedupe.scoring.PairTable.bound`) must never fall below a pair's own
log-odds, so that dropping the pairs whose bound misses the review threshold drops none that
could become an edge: the merges with the bound are the merges without it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import policies.dedupe.policy as policy_module
from bench.dataset import canonical_records
from model.changes import Snapshot
from model.records import Record
from policies.dedupe import DedupePolicy, DedupeSettings
from policies.dedupe.blocking import candidates, contact_keys, unique_pairs
from policies.dedupe.features import extract
from policies.dedupe.scoring import PLACE, Scorer
from policies.order import id_key

generator = pytest.importorskip("sandbox.generator")
if not hasattr(generator, "generate"):  # pragma: no cover - only while the generator is missing
    pytest.skip("sandbox.generator.generate is not there yet", allow_module_level=True)

NOW = datetime(2024, 5, 3, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def generated() -> Snapshot:
    dataset = generator.generate(2000, seed=5, now=NOW)
    return Snapshot("generated", NOW, canonical_records(dataset))


@pytest.mark.parametrize("object_type", ["contacts", "companies"])
def test_bound_never_below_a_pairs_own_log_odds(generated: Snapshot, object_type: str) -> None:
    policy = DedupePolicy(DedupeSettings(min_records=300))  # companies learn too
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
    reached = 0
    for k, (i, j) in enumerate(found.pairs):
        confidence = learned.score(feats[i], feats[j]).confidence
        # rounding only (frequencies stored as float32): far inside BOUND_MARGIN
        assert 1.0 / (1.0 + math.exp(-(bound[k] + 1e-6))) >= confidence, (i, j)
        reached += confidence >= s.review_threshold
    assert reached > 0
    # the bound is worth having: most pairs are never scored in full
    assert int((bound >= math.log(3.0) - 1e-3).sum()) < found.count / 2


@pytest.mark.parametrize("object_type", ["contacts", "companies"])
def test_merges_with_the_bound_are_the_merges_without_it(
    generated: Snapshot, object_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = DedupePolicy(DedupeSettings(min_records=300))  # companies learn too
    bounded = policy.analyse(generated, object_type)
    monkeypatch.setattr(policy_module, "BOUND_MARGIN", math.inf)  # every pair scored in full
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


def test_unique_pairs_orders_and_drops_repeats() -> None:
    left = np.asarray([3, 1, 0, 1, 2], dtype=np.int32)
    right = np.asarray([1, 3, 2, 2, 0], dtype=np.int32)
    low, high = unique_pairs(left, right, 4)
    assert list(zip(low.tolist(), high.tolist(), strict=True)) == [(0, 2), (1, 2), (1, 3)]
