"""Dedupe parts of issue 13: blocking through typos, learned weights, company names, guards."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bench.dataset import canonical_records
from bench.quality import pairs_of
from model.changes import Merge, Snapshot
from model.records import Record
from policies.dedupe import DedupePolicy, DedupeSettings
from policies.dedupe.blocking import candidates
from policies.dedupe.features import address_key, extract, org_key
from policies.dedupe.scoring import (
    FULL_SCALE_RECORDS,
    Frozen,
    PairScore,
    Scorer,
    identifier_scale,
)
from policies.dedupe.weights import MatchModel, expectation_maximisation, nested
from sandbox.generator import generate

NOW = datetime(2025, 3, 14, 12, tzinfo=UTC)
FIRST = ("james", "mary", "robert", "linda", "michael", "susan", "david", "karen", "thomas",
         "nancy", "daniel", "lisa", "paul", "sandra", "mark", "donna", "george")  # fmt: skip
LAST = ("harrington", "okafor", "lindqvist", "moreau", "castellano", "whitfield", "brennan",
        "kowalczyk", "nakamura", "delacroix", "abernathy", "fitzgerald", "yamamoto", "ferreira",
        "gallagher", "henderson", "ivanova", "johansson", "kaminski", "lombardi")  # fmt: skip
STREETS = ("tullaroop", "giblin", "goldfinch", "maltby", "ramsay", "dumas", "blacket", "neworra")


def contact(record_id: str, **props: str | None) -> Record:
    created = NOW - timedelta(days=100)
    return Record("contacts", record_id, props, created, created_at=created)


def _typo(rng: random.Random, word: str) -> str:
    k = rng.randrange(len(word))
    return word[:k] + rng.choice("abcdefghijklmnopqrstuvwxyz") + word[k + 1 :]


def people(n: int, seed: int) -> tuple[list[Record], set[frozenset[str]]]:
    """``n`` people with postal addresses only; every fourth has a copy with one typo."""
    rng = random.Random(seed)
    records: list[Record] = []
    truth: set[frozenset[str]] = set()
    for k in range(n):
        props = {
            "firstname": rng.choice(FIRST),
            "lastname": rng.choice(LAST) + rng.choice(("", "s", "son", "er", "ey")),
            "address": f"{rng.randrange(1, 300)} {rng.choice(STREETS)} street",
            "city": f"town{rng.randrange(400)}",
            "zip": str(rng.randrange(2000, 7000)),
        }
        records.append(contact(f"{k}", **props))
        if k % 4 == 0:
            copy = dict(props)
            field = rng.choice(("firstname", "lastname", "address", "city"))
            copy[field] = _typo(rng, copy[field])
            records.append(contact(f"{k}d", **copy))
            truth.add(frozenset((f"{k}", f"{k}d")))
    return records, truth


def learning(**more: object) -> DedupeSettings:
    """Settings that learn from a few hundred records (defaults want a thousand)."""
    return DedupeSettings.model_validate(
        {"object_types": ["contacts"], "min_records": 300, "u_sample_pairs": 5000, **more}
    )


def merged_groups(changes: list[object], kind: str = "merge") -> set[frozenset[str]]:
    return {
        frozenset((c.primary_id, *c.merged_ids))
        for c in changes
        if isinstance(c, Merge) and c.kind == kind
    }


def test_a_typo_in_the_first_letter_of_either_name_still_meets_in_a_block() -> None:
    a = extract(contact("1", firstname="Kayla", lastname="Harrington", city="Perth"), "US")
    b = extract(contact("2", firstname="Jayla", lastname="Harrington", city="Perth"), "US")
    c = extract(contact("3", firstname="Kayla", lastname="Warrington", city="Perth"), "US")
    found = candidates([a, b, c], DedupeSettings().contact_blocking, 100, 10)
    assert found.pairs == [(0, 1), (0, 2), (1, 2)] or {(0, 1), (0, 2)} <= set(found.pairs)


def test_an_oversized_block_is_split_not_dropped() -> None:
    same = [
        extract(contact(str(k), firstname="John", lastname="Smith", city=f"c{k}"), "US")
        for k in range(30)
    ]
    found = candidates(same, ("name",), max_block_size=10, window=3)
    # the sound of both names, either way round: two keys, the same 30 records, one block
    assert found.split == 1
    assert found.count == 30 * 3 - (1 + 2 + 3)  # each with its next 3 neighbours
    assert (0, 1) in found.pairs


def test_street_forms_ordinals_and_company_abbreviations_compare_equal() -> None:
    assert address_key("301 E. Ninth Street") == address_key("301 e 9th st")
    assert org_key("Carnegie Delicatessen, Inc.") == org_key("carnegie deli")
    assert org_key("Acme International GmbH") == org_key("ACME Intl")


def test_two_restaurants_of_one_hotel_are_not_merged() -> None:
    def firm(record_id: str, name: str) -> Record:
        props = {"name": name, "address": "9500 Wilshire Blvd", "city": "Beverly Hills",
                 "phone": "310-275-5200"}  # fmt: skip
        return Record("companies", record_id, props, NOW, created_at=NOW)

    changes = DedupePolicy(DedupeSettings())(
        Snapshot(
            "t",
            NOW,
            {"companies": [firm("1", "Ritz Carlton Cafe"), firm("2", "Ritz Carlton Dining Room")]},
        )
    )
    assert merged_groups(changes) == set()
    same = DedupePolicy(DedupeSettings())(
        Snapshot("t", NOW, {"companies": [firm("1", "Art's Delicatessen"), firm("2", "Arts Deli")]})
    )
    assert merged_groups(same) == {frozenset(("1", "2"))}


def test_weights_are_learned_and_find_typo_duplicates_without_email_or_phone() -> None:
    records, truth = people(500, seed=3)
    policy = DedupePolicy(learning())
    snapshot = Snapshot("t", NOW, {"contacts": records})
    analysis = policy.analyse(snapshot, "contacts")
    assert analysis.model is not None
    merged = merged_groups(analysis.merges)
    hits = len(merged & truth)
    assert hits / len(merged) >= 0.99
    assert hits / len(truth) >= 0.95
    assert f"weights {analysis.model.version}, seed 0" in analysis.merges[0].reason


def test_learned_weights_are_reproducible_storable_and_frozen() -> None:
    records, _ = people(400, seed=5)
    snapshot = Snapshot("t", NOW, {"contacts": records})
    policy = DedupePolicy(learning())
    learned = policy.learn(snapshot)
    assert learned == policy.learn(snapshot)  # same seed, same weights
    model = MatchModel.from_json(learned["contacts"])
    assert model.version == learned["contacts"]["version"]
    other = DedupePolicy(learning(seed=9)).learn(snapshot)
    assert other["contacts"]["version"] != model.version
    # stored weights passed back in are used as they are, whatever the snapshot holds now
    frozen = Snapshot("t", NOW, {"contacts": records[:350]}, learned={"dedupe": learned})
    analysis = policy.analyse(frozen, "contacts")
    assert analysis.model is not None
    assert analysis.model.version == model.version


def test_term_frequencies_are_frozen_with_the_weights() -> None:
    """The counts of the values two records or more hold travel with the weights; frequencies
    read them whatever the snapshot holds later, a value they lack as held by one record. On
    the snapshot learned from, they are the snapshot's own: the same merges."""
    records, _ = people(400, seed=5)
    snapshot = Snapshot("t", NOW, {"contacts": records})
    policy = DedupePolicy(learning())
    learned = policy.learn(snapshot)
    stored = learned["contacts"]
    lasts = Counter(extract(r, "US").last for r in records)
    assert stored["values"]["lastname"] == {v: n for v, n in lasts.items() if v and n > 1}
    live = {"contacts": {k: v for k, v in stored.items() if k != "values"}}
    changes = policy(replace(snapshot, learned={"dedupe": live}))  # the snapshot's counts
    assert policy(replace(snapshot, learned={"dedupe": learned})) == changes
    assert any(isinstance(c, Merge) for c in changes)

    later = [extract(r, "US") for r in records[:50]]  # far fewer records now
    frozen = Frozen.from_json(stored["present"], stored["values"])
    scorer = Scorer(policy.settings, "contacts", later).using(MatchModel.from_json(stored), frozen)
    common, count = lasts.most_common(1)[0]
    present = stored["present"]["lastname"]
    assert present == sum(n for v, n in lasts.items() if v)
    assert scorer.frequency("lastname", common) == count / present
    assert scorer.frequency("lastname", "zyxwvut") == 1 / present
    assert Scorer(policy.settings, "contacts", later).frequency("lastname", common) < 1


def test_a_rare_name_counts_for_more_than_a_common_one() -> None:
    records, _ = people(400, seed=7)
    policy = DedupePolicy(learning())
    model = policy.analyse(Snapshot("t", NOW, {"contacts": records}), "contacts").model
    assert model is not None
    feats = [extract(r, "US") for r in records]
    scorer = Scorer(policy.settings, "contacts", feats, model)
    common = scorer.frequency("lastname", feats[0].last)
    assert model.exact_points("lastname", common) < model.exact_points("lastname", 1 / 400)


def born(n: int, seed: int) -> list[Record]:
    """``n`` people with a date of birth and a city, each filed two to four times: a typo in
    a name or the date, a move to another city, a value missing (as fake_1000's records)."""
    rng = random.Random(seed)
    records: list[Record] = []
    for k in range(n):
        day = datetime(1940, 1, 1) + timedelta(days=rng.randrange(60 * 365))
        props: dict[str, str | None] = {
            "firstname": rng.choice(FIRST),
            "lastname": rng.choice(LAST),
            "city": f"town{rng.randrange(60)}",
            "birthdate": day.date().isoformat(),
        }
        records.append(contact(f"{k}", **props))
        for copy_number in range(rng.randrange(1, 4)):
            copy = dict(props)
            field = rng.choice(("firstname", "lastname", "city", "birthdate"))
            if field == "birthdate":
                shift = rng.choice((-1, 1, 30, None))
                copy[field] = (
                    None if shift is None else (day + timedelta(days=shift)).date().isoformat()
                )
            elif field == "city":
                copy[field] = rng.choice((None, f"town{rng.randrange(60)}"))
            else:
                copy[field] = _typo(rng, str(copy[field]))
            records.append(contact(f"{k}d{copy_number}", **copy))
    return records


def test_a_date_of_birth_corroborates_a_name_as_far_as_the_population_can_tell() -> None:
    # in a few hundred records no date is rarer than one in a few hundred: one person's date
    # of birth is worth far fewer points than in a million, yet a namesake shares it no more
    # often; a city is a namesake's as often as a duplicate's at any size
    records = born(300, seed=11)
    policy = DedupePolicy(learning())
    model = policy.analyse(Snapshot("t", NOW, {"contacts": records}), "contacts").model
    assert model is not None
    feats = [extract(r, "US") for r in records]
    settings = policy.settings
    small = Scorer(settings, "contacts", feats, model)
    large = small.using(replace(model, records=FULL_SCALE_RECORDS))  # the same points
    by_id = {f.id: f for f in feats}
    born_alike = merged = placed = 0
    for k in range(300):
        original = by_id[str(k)]
        for f in (f for f in feats if f.id.startswith(f"{k}d")):
            both = small.compare(original, f)
            if not ({"firstname", "lastname"} <= both.values.keys()):
                continue  # a typo in a name
            one, other = small.finish(both), large.finish(both)
            uncapped = 1.0 / (1.0 + math.exp(-(model.prior + one.evidence_points)))
            assert other.confidence <= one.confidence
            if "birthdate" in both.values and "city" not in both.values:
                born_alike += 1  # the names and the date only (a move, a city missing)
                assert one.confidence == pytest.approx(uncapped, abs=1e-12), (original.id, f.id)
                assert other.confidence == min(one.confidence, settings.review_cap)
                merged += one.confidence >= settings.merge_threshold
            elif "city" in both.values and "birthdate" not in both.similarities:
                placed += 1  # the names and the city only: a namesake as often, held
                assert one.confidence == other.confidence
                assert one.confidence == pytest.approx(
                    min(uncapped, settings.review_cap), abs=1e-12
                )
    assert born_alike > 20
    assert merged > 10
    assert placed > 5


def test_a_place_and_a_date_of_birth_corroborate_together_as_in_a_large_population() -> None:
    # the same city and a date of birth one day apart: neither corroborates the names alone
    # in a few hundred records, together they may; the date's points count as they would in
    # FULL_SCALE_RECORDS (scoring.identifier_scale), the city's as they are
    # (a stricter min_corroboration than the default: here a city and a date one day apart
    # add up to the default's 6.5 at face value already)
    records = born(300, seed=11)
    policy = DedupePolicy(learning(min_corroboration=9.0))
    model = policy.analyse(Snapshot("t", NOW, {"contacts": records}), "contacts").model
    assert model is not None
    feats = [extract(r, "US") for r in records]
    settings = policy.settings
    # neither a name at one place nor a name born on one day trusted as such here
    model = replace(model, name_place=0.0, name_birth=0.0)
    scorer = Scorer(settings, "contacts", feats, model)
    scale = identifier_scale(model)
    assert scale < 1.0
    by_id = {f.id: f for f in feats}
    together = 0
    for k in range(300):
        for f in (f for f in feats if f.id.startswith(f"{k}d")):
            both = scorer.compare(by_id[str(k)], f)
            if not {"firstname", "lastname", "city"} <= both.values.keys():
                continue
            if "birthdate" in both.values or "birthdate" not in both.similarities:
                continue  # the same day, or none to compare
            one = scorer.finish(both)
            city, day = one.points["city"], max(one.points["birthdate"], 0.0)
            uncapped = 1.0 / (1.0 + math.exp(-(model.prior + one.evidence_points)))
            corroborated = city + day / scale >= settings.min_corroboration
            expected = uncapped if corroborated else min(uncapped, settings.review_cap)
            assert one.confidence == pytest.approx(expected, abs=1e-12), (k, f.id)
            # what was asked before: the two at face value, or the date alone scaled
            alone = city + day >= settings.min_corroboration or day >= scale * (
                settings.min_corroboration
            )
            together += corroborated and not alone and uncapped > settings.review_cap
    assert together > 3


def test_guards_send_two_customers_with_different_owners_to_review() -> None:
    def person(record_id: str, owner: str) -> Record:
        return contact(record_id, firstname="Jane", lastname="Dawson", email="jane@x.com",
                       lifecycle_stage="customer", owner_id=owner)  # fmt: skip

    snapshot = Snapshot("t", NOW, {"contacts": [person("1", "a"), person("2", "b")]})
    plain = DedupePolicy(DedupeSettings())(snapshot)
    assert merged_groups(plain) == {frozenset(("1", "2"))}
    guarded = DedupeSettings.model_validate({"guards": {"differ": ["owner_id"]}})
    changes = DedupePolicy(guarded)(snapshot)
    assert merged_groups(changes) == set()
    assert merged_groups(changes, "review") == {frozenset(("1", "2"))}
    (review,) = [c for c in changes if isinstance(c, Merge)]
    assert "held for review: different owner_id" in review.reason
    customers = DedupeSettings.model_validate(
        {"guards": {"both_in": {"lifecycle_stage": ["Customer"]}}}
    )
    assert merged_groups(DedupePolicy(customers)(snapshot)) == set()


def test_guard_on_open_deals() -> None:
    a = Record("contacts", "1", {"firstname": "Jane", "lastname": "Dawson", "email": "j@x.com"},
               NOW, associations={"deals": ("d1",)})  # fmt: skip
    b = Record("contacts", "2", {"firstname": "Jane", "lastname": "Dawson", "email": "j@x.com"},
               NOW, associations={"deals": ("d2",)})  # fmt: skip
    deals = [
        Record("deals", d, {"stage": "appointmentscheduled", "is_closed": "false"}, NOW)
        for d in ("d1", "d2")
    ]
    snapshot = Snapshot("t", NOW, {"contacts": [a, b], "deals": deals})
    settings = DedupeSettings.model_validate({"guards": {"both_open_deals": True}})
    assert merged_groups(DedupePolicy(settings)(snapshot)) == set()
    closed = [Record("deals", "d1", {"stage": "closedwon", "is_closed": "true"}, NOW), deals[1]]
    snapshot = Snapshot("t", NOW, {"contacts": [a, b], "deals": closed})
    assert merged_groups(DedupePolicy(settings)(snapshot)) == {frozenset(("1", "2"))}


def test_a_number_read_without_its_country_code_still_matches() -> None:
    a = contact("1", firstname="Peter", lastname="van der Berg", phone="+31 20 555 0123",
                city="Amsterdam", zip="1012 AB")  # fmt: skip
    b = contact("2", firstname="Pieter", lastname="Van Der Berg", phone="020-5550123",
                city="Amsterdam", zip="1012AB")  # fmt: skip
    (merge,) = [c for c in DedupePolicy(DedupeSettings())(Snapshot("t", NOW, {"contacts": [a, b]}))
                if isinstance(c, Merge)]  # fmt: skip
    assert merge.kind == "merge"
    assert "same number, one without country code" in merge.reason


def test_relatives_sharing_a_home_line_are_held_for_review_with_learned_weights() -> None:
    records, _ = people(400, seed=11)
    model = DedupePolicy(learning()).analyse(Snapshot("t", NOW, {"contacts": records}), "contacts")
    assert model.model is not None
    home = {"lastname": "Okonkwo", "address": "12 Harbour Street", "city": "Perth",
            "zip": "6000", "phone": "+61 8 9200 1234"}  # fmt: skip
    wife = extract(contact("wife", firstname="Adaeze", email="adaeze@example.org", **home), "US")
    husband = extract(contact("husband", firstname="Chinedu", **home), "US")
    feats = [extract(r, "US") for r in records] + [wife, husband]

    def score(rule: str) -> PairScore:
        scorer = Scorer(learning(different_name=rule), "contacts", feats, model.model)
        return scorer.score(wife, husband)

    assert score("score").held == ""
    held = score("conflict")
    assert held.held == "another first name"
    assert held.confidence < DedupeSettings().merge_threshold
    # names and a postal address only (no e-mail, phone or company): the weights decide
    bare = {k: v for k, v in home.items() if k != "phone"}
    a = extract(contact("a", firstname="Adaeze", **bare), "US")
    b = extract(contact("b", firstname="Chinedu", **bare), "US")
    assert Scorer(learning(), "contacts", feats, model.model).score(a, b).held == ""


def test_review_decisions_hold_pairs_in_the_estimate() -> None:
    # one field, two levels; a hundred pairs that differ: unclamped, EM calls them non-matches
    fields = ("domain",)
    blocked = np.zeros((100, 1), dtype=np.int8)
    blocked[:10, 0] = 1
    u = {"domain": (0.99, 0.01)}
    start = {"domain": np.array([0.1, 0.9])}
    _, free = expectation_maximisation(fields, blocked, u, start, fixed_u=True)
    clamp = np.full(100, np.nan)
    clamp[10:30] = 1.0  # a person approved twenty of the differing pairs
    m, held = expectation_maximisation(fields, blocked, u, start, clamp=clamp, fixed_u=True)
    assert held > free + 15
    assert m["domain"][0] > 0.5  # approved pairs that differ: a match may differ


def test_two_people_beyond_doubt_at_one_address_are_not_even_reviewed() -> None:
    records, _ = people(400, seed=11)
    model = DedupePolicy(learning()).analyse(Snapshot("t", NOW, {"contacts": records}), "contacts")
    assert model.model is not None
    home = {"address": "12 Harbour Street", "city": "Perth", "zip": "6000",
            "phone": "+61 8 9200 1234"}  # fmt: skip
    wife = contact("wife", firstname="Adaeze", lastname="Okonkwo", email="adaeze@example.org",
                   **home)  # fmt: skip
    husband = contact("husband", firstname="Chinedu", lastname="Okonkwo", email="cn@mail.net",
                      **home)  # fmt: skip
    lodger = contact("lodger", firstname="Tom", lastname="Hardy", **home)
    # a new surname may come with a new mailbox: that one a person decides
    renamed = contact("renamed", firstname="Adaeze", lastname="Bello", email="ab@post.net", **home)
    # the husband without his mailbox: one more record of the household line
    bare = contact("bare", firstname="Chinedu", lastname="Okonkwo", **home)
    # another Adaeze at the address, with a mailbox and a phone of her own
    other = {**home, "phone": "+61 8 9200 5678"}
    tenant = contact("tenant", firstname="Adaeze", lastname="Bello", email="ab@post.net", **other)
    feats = [extract(r, "US") for r in (*records, wife, husband, lodger, renamed, bare, tenant)]
    by_id = {f.id: f for f in feats}
    scorer = Scorer(learning(), "contacts", feats, model.model)
    review_at, merge_at = learning().review_threshold, learning().merge_threshold

    def score(a: str, b: str) -> PairScore:
        return scorer.score(by_id[a], by_id[b])

    # another first name and a mailbox of its own; another first and last name: below review
    assert score("wife", "husband").held == "another first name"
    assert score("wife", "husband").confidence < review_at
    assert score("wife", "lodger").held == "another first name and last name"
    assert score("wife", "lodger").confidence < review_at
    assert score("husband", "lodger").confidence < review_at
    # another last name, another mailbox; another first name, no mailbox: a person decides
    assert score("wife", "renamed").held == "another last name"
    assert review_at <= score("wife", "renamed").confidence < merge_at
    assert score("wife", "bare").held == "another first name"
    assert review_at <= score("wife", "bare").confidence < merge_at
    # another last name with a mailbox and a phone of its own: a person renamed keeps a number
    assert score("wife", "tenant").held == "another last name"
    assert score("wife", "tenant").confidence < review_at


def test_the_matches_learned_are_about_the_true_duplicates_of_generated_contacts() -> None:
    # The count of matches sets the prior, and a count swollen by namesakes in one city or a
    # household's members (the match class drifting into them) shrinks every disagreement
    # weight with it: the estimate must stay near what the generator really duplicated.
    dataset = generate(10_000, seed=7, now=NOW)
    snapshot = Snapshot("generated", NOW, canonical_records(dataset))
    true = len(pairs_of(dataset.truth.to_json()["duplicate_clusters"]["contacts"]))
    learned = DedupePolicy(DedupeSettings(object_types=("contacts",))).learn(snapshot)
    matches = learned["contacts"]["matches"]
    assert isinstance(matches, float)
    assert abs(matches - true) < 0.08 * true, (matches, true)


def test_a_place_a_finer_field_already_says_is_not_seen_twice_in_learning() -> None:
    fields = ("city", "zip", "state", "email")
    matrix = np.array(
        [
            [2, 2, 1, 1],  # one postcode: its city and state say nothing more
            [2, 0, 1, 0],  # one city, postcodes apart: the state says nothing more
            [1, 2, 1, 0],  # one postcode, the city mistyped: neither says more
            [0, 0, 1, 1],  # only the state agrees: it counts
            [-1, -1, 1, 0],
        ],
        dtype=np.int8,
    )
    out = nested(fields, matrix)
    assert out.tolist() == [
        [-1, 2, -1, 1],
        [2, 0, -1, 0],
        [-1, 2, -1, 0],
        [0, 0, 1, 1],
        [-1, -1, 1, 0],
    ]
    assert matrix[0].tolist() == [2, 2, 1, 1]  # a copy
