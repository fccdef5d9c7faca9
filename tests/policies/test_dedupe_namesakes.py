"""Namesakes: two people sharing a full name, where first and last names go together (one
culture's names) or at one big firm, are told from one person's two records by counting the
name and the firm for less."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import pytest

from model.changes import Snapshot
from model.records import Record
from policies.dedupe import DedupePolicy, DedupeSettings
from policies.dedupe.features import extract
from policies.dedupe.scoring import Scorer
from policies.dedupe.weights import (
    MatchModel,
    Tally,
    name_birth_share,
    name_pair_points,
    name_place_share,
)

NOW = datetime(2025, 3, 14, 12, tzinfo=UTC)
Codes = npt.NDArray[np.int64]


def names(n: int, cultures: int, seed: int, pools: int = 30) -> tuple[Codes, Codes]:
    """``n`` records' name codes; each record's two names come from its culture's own pools
    (``pools`` first names, a third more last names per culture): one culture, the names are
    independent."""
    rng = random.Random(seed)
    first, last = [], []
    for _ in range(n):
        c = rng.randrange(cultures)
        first.append(c * pools + rng.randrange(pools))
        last.append(100_000 + c * pools * 2 + rng.randrange(pools * 4 // 3))
    return np.array(first, dtype=np.int64), np.array(last, dtype=np.int64)


def test_independent_names_need_no_correction() -> None:
    first, last = names(20_000, cultures=1, seed=1)
    assert name_pair_points(first, last, matches=0, m_first=1, m_last=1) == pytest.approx(
        0.0, abs=0.05
    )


def test_names_of_two_cultures_agree_twice_as_often_as_their_frequencies_say() -> None:
    """Two equal cultures: a pair agreeing on a first name is of one culture, so its last
    names agree twice as often as over all pairs; the full name is worth ln 2 less."""
    first, last = names(20_000, cultures=2, seed=2)
    got = name_pair_points(first, last, matches=0, m_first=1, m_last=1)
    assert got == pytest.approx(-math.log(2), abs=0.08)
    first, last = names(20_000, cultures=4, seed=3)
    assert name_pair_points(first, last, matches=0, m_first=1, m_last=1) == pytest.approx(
        -math.log(4), abs=0.1
    )


def test_the_expected_matches_are_not_taken_for_namesakes() -> None:
    """Duplicates share their names: 3,000 copies of independent names look like an excess
    unless the matches expected to agree are taken out."""
    first, last = names(20_000, cultures=1, seed=4, pools=300)  # about 1,700 namesake pairs
    copies = np.arange(3_000)
    first, last = np.concatenate([first, first[copies]]), np.concatenate([last, last[copies]])
    assert name_pair_points(first, last, matches=0, m_first=1, m_last=1) < -0.5
    assert name_pair_points(first, last, matches=3_000, m_first=1, m_last=1) == pytest.approx(
        0.0, abs=0.05
    )


def test_too_few_namesakes_tell_nothing() -> None:
    first, last = names(40, cultures=2, seed=5)
    assert name_pair_points(first, last, matches=0, m_first=1, m_last=1) == 0.0
    assert name_pair_points(first[:1], last[:1], matches=0, m_first=1, m_last=1) == 0.0


def contact(record_id: str, first: str, last: str, city: str, company: str = "") -> Record:
    created = NOW - timedelta(days=100)
    props = {"firstname": first, "lastname": last, "city": city, "company": company}
    return Record("contacts", record_id, props, created, created_at=created)


def test_the_correction_lowers_a_full_name_match_only() -> None:
    """Learned on records whose names go by culture: the model carries the correction, it is
    stored with the weights, and it lowers a pair sharing both names, not one sharing the last
    name only."""
    rng = random.Random(6)
    pools = {
        "fr": (("camille", "lea", "luc", "celine"), ("moreau", "rousseau", "petit", "leroy")),
        "jp": (("haruto", "yui", "sota", "aoi"), ("sato", "suzuki", "takahashi", "ito")),
    }
    records = []
    for k in range(1_200):
        firsts, lasts = pools[rng.choice(("fr", "jp"))]
        records.append(contact(str(k), rng.choice(firsts), rng.choice(lasts), f"town{k % 40}"))
    settings = DedupeSettings.model_validate(
        {"object_types": ["contacts"], "min_records": 300, "u_sample_pairs": 5000}
    )
    learned = DedupePolicy(settings).learn(Snapshot("t", NOW, {"contacts": records}))
    model = MatchModel.from_json(learned["contacts"])
    assert model.name_pair == pytest.approx(-math.log(2), abs=0.25)
    assert model.to_json()["name_pair"] == round(model.name_pair, 6)
    plain = replace(model, name_pair=0.0)
    assert "name_pair" not in plain.to_json()  # a model learned before keeps its version
    assert plain.version != model.version

    feats = [extract(r, "US") for r in records]
    both = (contact("a", "Camille", "Moreau", "x"), contact("b", "Camille", "Moreau", "y"))
    last_only = (contact("c", "Luc", "Moreau", "x"), contact("d", "Lea", "Moreau", "y"))
    for pair, lowered in ((both, model.name_pair), (last_only, 0.0)):
        a, b = (extract(r, "US") for r in pair)
        with_it = Scorer(settings, "contacts", feats, model).score(a, b)
        without = Scorer(settings, "contacts", feats, plain).score(a, b)
        assert with_it.points["lastname"] == pytest.approx(without.points["lastname"] + lowered)
        assert with_it.points["firstname"] == without.points["firstname"]


def test_a_firm_of_many_counts_for_less_than_a_firm_of_two() -> None:
    """Two colleagues' shared firm is weighed by its frequency, as a name is: a firm holding
    half the records says less about two of them than a firm of two people."""
    rng = random.Random(8)
    firsts = ("ann", "bob", "cyd", "dee", "eve", "fay", "gus", "hal", "ivy", "jo")
    records = []
    for k in range(1_200):
        firm = "Globex" if k % 2 else f"Firm {k // 4}"  # half the records, or two each
        last = f"last{rng.randrange(300)}"
        records.append(contact(str(k), rng.choice(firsts), last, f"town{k % 40}", firm))
    settings = DedupeSettings.model_validate(
        {"object_types": ["contacts"], "min_records": 300, "u_sample_pairs": 5000}
    )
    model = DedupePolicy(settings).analyse(Snapshot("t", NOW, {"contacts": records}), "contacts")
    assert model.model is not None
    feats = [extract(r, "US") for r in records]
    scorer = Scorer(settings, "contacts", feats, model.model)
    assert scorer.frequency("company", "globex") == pytest.approx(0.5)
    big = [extract(contact(x, "Ann", "Zed", "x", "Globex"), "US") for x in "ab"]
    small = [extract(contact(x, "Ann", "Zed", "x", "Firm 7"), "US") for x in "ab"]
    big_points = scorer.score(*big).points["company"]
    small_points = scorer.score(*small).points["company"]
    assert big_points == pytest.approx(model.model.exact_points("company", 0.5))
    assert small_points == pytest.approx(model.model.exact_points("company", 2 / 1_200))
    assert big_points < small_points - 5


def _tally(rows: dict[tuple[int, ...], int]) -> Tally:
    """A tally of pairs over first name, last name, city, e-mail and date of birth levels."""
    fields = ("firstname", "lastname", "city", "email", "birthdate")
    levels = np.array([list(r) for r in rows for _ in range(rows[r])], dtype=np.int8)
    return Tally.of(fields, levels)


def test_how_often_one_name_at_one_place_is_one_person() -> None:
    """Of the pairs with a full name and a city in common that hold an e-mail or a date of
    birth, those whose identifiers all differ are (at most) the namesakes."""
    same, namesakes = (4, 4, 2, 1, -1), (4, 4, 2, 0, 0)
    other_city, no_id = (4, 4, 0, 0, -1), (4, 4, 2, -1, -1)
    tally = _tally({same: 180, namesakes: 20, other_city: 500, no_id: 500})

    assert name_place_share(tally) == pytest.approx(0.9)
    assert name_place_share(_tally({same: 150, namesakes: 20, no_id: 900})) == 0.0, "too few"
    typo = (4, 4, 2, -1, 2)  # a date of birth one digit apart: one person
    assert name_place_share(_tally({typo: 300})) == 1.0


def test_one_name_at_one_place_is_a_merge_where_the_data_says_it_is_one_person() -> None:
    """A full name and a city alone are held for review (min_corroboration), unless the
    snapshot showed such pairs to be one person at least merge_threshold of the time."""
    rng = random.Random(3)
    records = [
        contact(
            str(k), f"given{rng.randrange(400)}", f"family{rng.randrange(900)}", f"town{k % 12}"
        )
        for k in range(1_200)
    ]
    settings = DedupeSettings.model_validate(
        {"object_types": ["contacts"], "min_records": 300, "u_sample_pairs": 5000}
    )
    learned = DedupePolicy(settings).learn(Snapshot("t", NOW, {"contacts": records}))
    model = MatchModel.from_json(learned["contacts"])
    feats = [extract(r, "US") for r in records]
    a, b = (extract(contact(i, "Launcelot", "Dowdall", "town1"), "US") for i in ("a", "b"))
    nickname = extract(contact("c", "Lance", "Dowdall", "town1"), "US")
    typo = extract(contact("d", "Launcelot", "Dowdal", "town1"), "US")

    def scored(share: float, x: object = a, y: object = b) -> float:
        scorer = Scorer(settings, "contacts", feats, replace(model, name_place=share))
        return scorer.score(x, y).confidence  # type: ignore[arg-type]

    assert scored(0.5) == settings.review_cap
    assert scored(0.95) > settings.merge_threshold
    assert scored(0.95, a, nickname) <= settings.review_cap, "the names themselves..."
    # ... give or take a typo, which makes a namesake less likely, not more
    assert scored(0.5, a, typo) <= settings.review_cap
    assert scored(0.95, a, typo) > settings.merge_threshold
    stored = replace(model, name_place=0.95).to_json()
    assert MatchModel.from_json(stored).name_place == 0.95
    assert "name_place" not in replace(model, name_place=0.0).to_json()


def test_how_often_one_name_born_on_one_day_is_one_person() -> None:
    """Of the pairs with a full name and a date of birth (give or take a typo) in common that
    hold a place or an e-mail, those whose places and e-mails all differ are (at most) the
    namesakes; another day, or names not alike, are not asked."""
    same, typo = (4, 4, 2, 1, 3), (4, 4, -1, 1, 2)  # a city, a mailbox; the day one typo apart
    namesakes = (4, 4, 0, 0, 3)  # the day in common, the city and the mailbox not
    other_day, nickname, silent = (4, 4, 0, 0, 1), (3, 4, 0, 0, 3), (4, 4, -1, -1, 3)
    tally = _tally({same: 100, typo: 80, namesakes: 20, other_day: 500, nickname: 50, silent: 900})

    assert name_birth_share(tally) == pytest.approx(0.9)
    assert name_birth_share(_tally({same: 150, namesakes: 20, silent: 900})) == 0.0, "too few"
    fields = ("firstname", "lastname", "city", "email")  # no date of birth to tell by
    assert name_birth_share(Tally.of(fields, np.array([[4, 4, 2, 1]] * 300, np.int8))) == 0.0


def test_one_name_born_on_one_day_is_a_merge_where_the_data_says_it_is_one_person() -> None:
    """A full name and a date of birth that a few people share (a day many were born on, or
    the day one typo away) are held for review (min_corroboration), unless the snapshot
    showed such pairs to be one person at least merge_threshold of the time."""
    rng = random.Random(5)
    records = [
        contact(str(k), f"given{rng.randrange(400)}", f"family{rng.randrange(900)}", "")
        for k in range(1_200)
    ]
    days = [(datetime(1800, 1, 1) + timedelta(days=rng.randrange(36_500))).date() for _ in records]
    dated = [
        replace(r, properties={**r.properties, "birthdate": day.isoformat()})
        for r, day in zip(records, days, strict=True)
    ]
    settings = DedupeSettings.model_validate(
        {"object_types": ["contacts"], "min_records": 300, "u_sample_pairs": 5000}
    )
    learned = DedupePolicy(settings).learn(Snapshot("t", NOW, {"contacts": records}))
    model = MatchModel.from_json(learned["contacts"])

    def person(record_id: str, first: str, last: str, day: str) -> Record:
        found = contact(record_id, first, last, "")
        return replace(found, properties={**found.properties, "birthdate": day})

    a = person("a", "Launcelot", "Dowdall", "1851-01-01")
    b = person("b", "Launcelot", "Dowdall", "1851-01-07")  # one typo away
    c = person("c", "Launcelot", "Dowdall", "1851-01-01")  # the very day
    d = person("d", "Launcelot", "Dowdall", "1871-06-30")  # another day altogether
    e = person("e", "Lance", "Dowdall", "1851-01-01")  # the nickname
    # many were born that day (a year known, the day not): the day alone corroborates little
    crowd = [person(f"x{k}", f"given{k}", f"family{k}", "1851-01-01") for k in range(60)]
    model_fields = dict(model.fields)
    model_fields["birthdate"] = replace(model.fields["firstname"], m=(0.05, 0.05, 0.2, 0.7),
                                        u=(0.97, 0.0199, 0.01, 0.0001))  # fmt: skip
    model = replace(model, fields=model_fields)
    feats = [extract(r, "US") for r in [*dated, *crowd, a, b, c, d, e]]
    at = {f.id: f for f in feats}

    def scored(share: float, x: str, y: str) -> float:
        scorer = Scorer(settings, "contacts", feats, replace(model, name_birth=share))
        return scorer.score(at[x], at[y]).confidence

    for pair in (("a", "b"), ("a", "c")):
        assert scored(0.5, *pair) == settings.review_cap
        assert scored(0.95, *pair) > settings.merge_threshold
    assert scored(0.95, "a", "d") < settings.merge_threshold, "another day: not corroborated"
    assert scored(0.95, "a", "e") <= settings.review_cap, "the names themselves, near"
    stored = replace(model, name_birth=0.95).to_json()
    assert MatchModel.from_json(stored).name_birth == 0.95
    assert "name_birth" not in replace(model, name_birth=0.0).to_json()
