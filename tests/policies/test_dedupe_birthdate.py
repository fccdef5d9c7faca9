"""A contact's date of birth: read in the forms CRMs and exports write it, compared by level,
learned like any other field, blocked on with either name's sound, and read from a CSV's ``DOB``
column (Salesforce's: ``tests/connectors/salesforce/test_person_accounts.py``)."""

from __future__ import annotations

import os
import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bench.dataset import canonical_records
from connectors.csv import CsvConnector, CsvSettings
from model.changes import Snapshot
from model.fields import field_spec
from model.records import Cursor, Record
from policies.dedupe import DedupePolicy, DedupeSettings
from policies.dedupe.blocking import contact_keys
from policies.dedupe.features import birth_key, extract, read_day
from policies.dedupe.key_columns import contact_key_codes
from policies.dedupe.scoring import BIRTH_NEAR, BIRTH_TYPO, Scorer, birth_similarity
from sandbox.generator import generate

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("written", "day"),
    [
        ("1980-05-04", date(1980, 5, 4)),
        ("1980-05-04T00:00:00.000Z", date(1980, 5, 4)),
        ("19800504", date(1980, 5, 4)),
        ("1980/5/4", date(1980, 5, 4)),
        ("5/4/1980", date(1980, 5, 4)),  # month first, as the CRMs' home writes it
        ("25/4/1980", date(1980, 4, 25)),  # ... unless the first number cannot be a month
        ("4 May 1980", date(1980, 5, 4)),
        ("May 4th, 1980", date(1980, 5, 4)),
        ("04-may-1980", date(1980, 5, 4)),
        ("Sept 3 1970", date(1970, 9, 3)),
        ("1630-08-01", date(1630, 8, 1)),
        ("1980", None),  # a year names no day
        ("May 1980", None),
        ("1980-02-30", None),  # no such day
        ("Mayo 4 1980", None),  # no such month
        ("", None),
    ],
)
def test_a_date_of_birth_is_read_in_the_forms_people_write(written: str, day: date | None) -> None:
    assert read_day(written) == day


def test_the_compared_key_is_the_day_else_the_digits() -> None:
    assert birth_key("4 May 1980") == birth_key("1980-05-04") == "19800504"
    assert birth_key("1956-09-31") == "19560931", "not a day: its digits, compared digit-wise"
    assert birth_key("  ") == birth_key(None) == ""
    assert birth_key("0000-00-00") == birth_key("n/a") == birth_key("12") == "", "no date"


@pytest.mark.parametrize(
    ("a", "b", "similarity"),
    [
        ("19800504", "19800504", 1.0),
        ("19800504", "19800505", BIRTH_TYPO),  # one digit
        ("19800504", "19800540", BIRTH_TYPO),  # two digits swapped (no day: digit-wise)
        ("19800504", "19800405", BIRTH_TYPO),  # day and month swapped
        ("19800504", "19801230", BIRTH_NEAR),  # within a year
        ("19800504", "19790601", BIRTH_NEAR),
        ("19800504", "19700101", 0.0),
        ("19560931", "19560930", BIRTH_TYPO),  # not a day, one digit apart
        ("1980", "19800504", 0.0),  # a year alone is not within a year of a day
    ],
)
def test_two_dates_of_birth_compare_by_level(a: str, b: str, similarity: float) -> None:
    assert birth_similarity(a, b) == similarity
    assert birth_similarity(b, a) == similarity


def _contact(n: int, **props: str) -> Record:
    return Record("contacts", f"c{n}", dict(props), NOW, created_at=NOW)


def test_a_date_of_birth_moves_a_pairs_score_both_ways() -> None:
    base = {"firstname": "John", "lastname": "Smith", "city": "Boston"}
    alone = [_contact(1, **base), _contact(2, **base)]
    same = [
        _contact(1, **base, birthdate="1980-05-04"),
        _contact(2, **base, birthdate="4 May 1980"),
    ]
    other = [
        _contact(1, **base, birthdate="1980-05-04"),
        _contact(2, **base, birthdate="1962-11-20"),
    ]

    def confidence(records: list[Record]) -> float:
        feats = [extract(r, "US") for r in records]
        return Scorer(DedupeSettings(), "contacts", feats).score(*feats).confidence

    assert confidence(same) > confidence(alone) > confidence(other)


def test_either_name_or_a_place_with_the_date_of_birth_is_a_blocking_key() -> None:
    born = "1980-05-04"
    renamed = _contact(1, firstname="Ann", lastname="Moore", birthdate=born, city="Oslo")
    married = _contact(2, firstname="Ann", lastname="Baxter", birthdate="4 May 1980")
    stranger = _contact(3, firstname="Bo", lastname="Lund", birthdate=born)
    retitled = _contact(4, firstname="Lady", lastname="Baxter-Moore", birthdate=born, city="Oslo")
    keys = [contact_keys(extract(r, "US"), ("birthdate",)) for r in (renamed, married, stranger,
                                                                     retitled)]  # fmt: skip

    assert keys[0] & keys[1], "a new surname meets through the first name and the day"
    assert not keys[0] & keys[2], "the day alone is no key: too many share one"
    assert keys[0] & keys[3], "names both changed meet through the day and the city"


def test_a_typo_that_changes_a_names_sound_still_meets_on_the_day() -> None:
    # fake_1000 (splink_datasets): 'Dviis' on one record, 'Lotti Davis' on another, one day
    born = "1972-06-12"
    typed = _contact(1, lastname="Dviis", birthdate=born, city="Stockton-on-Tees")
    right = _contact(2, firstname="Lotti", lastname="Davis", birthdate=born)
    other = _contact(3, firstname="Lotti", lastname="Evans", birthdate=born)
    a, b, c = (contact_keys(extract(r, "US"), ("birthdate",)) for r in (typed, right, other))
    assert a & b == {f"j|{born.replace('-', '')}|d"}  # the sounds differ: DV, DAV
    assert not a & c


def test_a_surname_alone_in_the_first_name_field_meets_the_full_name_in_its_city() -> None:
    # historical figures (splink_datasets): 'waite' alone, born 1851, and 'a. waite', 1857
    lone = _contact(1, firstname="Waite", birthdate="1851-10-02", city="Brooklyn")
    full = _contact(2, firstname="A.", lastname="Waite", birthdate="1857-10-02", city="Brooklyn")
    other = _contact(3, firstname="Waite", lastname="Hale", city="Brooklyn")
    feats = [extract(r, "US") for r in (lone, full, other)]
    a, b, c = (contact_keys(f, ("zip_name",)) for f in feats)
    assert a & b == {"y|brooklyn|waite"}
    # a first name beside a surname is not the surname: the lone name meets it as a first name
    assert a & c == {"f|brooklyn|waite"}
    records, codes = contact_key_codes(feats, ("zip_name",))
    of = [set(codes[records == k].tolist()) for k in range(3)]
    assert len(of[0] & of[1]) == 1, "the packed keys say the same"
    assert len(of[0] & of[2]) == 1


def test_a_first_name_alone_meets_the_full_name_in_its_city_nicknames_too() -> None:
    # historical figures (splink_datasets): 'joe' alone in Stoke, and 'joseph bradshaw' there
    lone = _contact(1, firstname="Joe", city="Stoke-upon-Trent")
    full = _contact(2, firstname="Joseph", lastname="Bradshaw", city="Stoke-upon-Trent")
    away = _contact(3, firstname="Joseph", lastname="Bradshaw", city="Leek")
    feats = [extract(r, "US") for r in (lone, full, away)]
    a, b, c = (contact_keys(f, ("zip_name",)) for f in feats)
    assert a & b == {"f|stoke upon trent|joseph"}
    assert not a & c, "a first name is no key without its city"
    records, codes = contact_key_codes(feats, ("zip_name",))
    of = [set(codes[records == k].tolist()) for k in range(3)]
    assert len(of[0] & of[1]) == 1, "the packed keys say the same"
    assert not of[0] & of[2]


def test_a_surname_alone_in_the_first_name_field_is_read_as_the_surname() -> None:
    full = _contact(1, firstname="Samuel", lastname="Savery", birthdate="1861-03-01")
    lone = _contact(2, firstname="Savery", birthdate="1861-03-01")
    given = _contact(3, firstname="Samuel", birthdate="1861-03-01")
    scorer = Scorer(DedupeSettings(), "contacts")
    a, b, c = (extract(r, "US") for r in (full, lone, given))

    moved = scorer.compare(b, a)
    assert moved.similarities == {"lastname": 1.0, "birthdate": 1.0}
    assert moved.swapped
    assert scorer.compare(a, b).similarities == moved.similarities, "either order"
    kept = scorer.compare(c, a)
    assert kept.similarities == {"firstname": 1.0, "birthdate": 1.0}, "a first name stays one"
    assert not kept.swapped


def test_a_lone_name_unlike_both_names_stays_in_its_field() -> None:
    """Read in the other field only where it agrees there: a mistyped first name unlike the
    full name's surname is no other last name (which would hold the pair apart)."""
    full = _contact(1, firstname="Theodore", lastname="Morris", email="t.m39@brooks.com")
    lone = _contact(2, firstname="Etheodroe", email="t.m39@brooks.com")
    scorer = Scorer(DedupeSettings(), "contacts")
    a, b = (extract(r, "US") for r in (full, lone))
    for x, y in ((a, b), (b, a)):
        compared = scorer.compare(x, y)
        assert "lastname" not in compared.similarities
        assert not compared.swapped
        assert scorer.score(x, y).held == ""


def _born(seed: int) -> Snapshot:
    """2,000 generated contacts, each person given a day of birth that their duplicates carry
    too, one in five with one digit wrong."""
    rng = random.Random(seed)
    dataset = generate(2000, seed=seed, now=NOW)
    person: dict[str, int] = {}
    for number, cluster in enumerate(dataset.truth.to_json()["duplicate_clusters"]["contacts"]):
        person.update(dict.fromkeys(cluster, number))
    days: dict[object, str] = {}
    contacts = []
    for record in canonical_records(dataset)["contacts"]:
        who = person.get(record.id, record.id)
        day = days.setdefault(who, (date(1940, 1, 1) + timedelta(rng.randrange(22000))).isoformat())
        if rng.random() < 0.2:
            k = rng.choice((2, 3, 8, 9))
            day = day[:k] + str((int(day[k]) + 1) % 10) + day[k + 1 :]
        contacts.append(replace(record, properties={**record.properties, "birthdate": day}))
    return Snapshot("generated", NOW, {"contacts": contacts})


def test_the_weights_of_a_date_of_birth_are_learned_from_the_data() -> None:
    policy = DedupePolicy(DedupeSettings(object_types=("contacts",)))
    analysis = policy.analyse(_born(11), "contacts")

    assert analysis.model is not None
    points = analysis.model.fields["birthdate"].points
    assert points[0] < -2, "another date of birth speaks against one person"
    assert points[-1] > 5, "the same date of birth speaks for one"
    assert list(points) == sorted(points), "each level nearer counts for more"


def test_a_csv_column_named_as_exports_name_it_is_the_date_of_birth(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("id,First Name,DOB\n1,Ann,1980-05-04\n", encoding="utf-8")
    os.utime(path, (NOW.timestamp(), NOW.timestamp()))

    (batch,) = CsvConnector(CsvSettings(path=path)).pull("contacts", Cursor(), run_started_at=NOW)

    assert batch.records[0].properties == {"firstname": "Ann", "birthdate": "1980-05-04"}
    spec = field_spec("contacts", "birthdate")
    assert spec is not None
    assert spec.kind == "date"
