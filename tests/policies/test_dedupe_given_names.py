"""Two clusters known under two given names are two people: held apart in the merge pass
(policies.dedupe.given_names), not when anything says they are one person."""

from __future__ import annotations

from datetime import UTC, datetime

from model.records import Record
from policies.dedupe.clustering import agglomerate, sort_edges
from policies.dedupe.features import Features, extract
from policies.dedupe.given_names import apart, established

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def people(*names: tuple[str | None, str], **shared: str) -> list[Features]:
    """Contacts at one address, one per ``(first, last)``, with ``shared`` fields."""
    return [
        extract(
            Record(
                "contacts",
                f"c{n:02d}",
                {
                    "firstname": first,
                    "lastname": last,
                    "zip": "S8 8LY",
                    "city": "Sheffield",
                    **shared,
                },
                NOW,
            ),
            "GB",
        )
        for n, (first, last) in enumerate(names)
    ]


SIDNEY = ("Sidney", "Pelham")
JOHN = ("John", "Pelham")


def test_names_two_records_hold_are_established() -> None:
    feats = people(SIDNEY, SIDNEY, ("Sydney", "Pelham"), ("S.", "Pelham"), ("S.", "Pelham"))
    assert established(feats, range(5)) == ["sidney"]  # initials aside, a typo once
    assert established(feats, [0, 2]) == []


def test_two_established_given_names_are_two_people() -> None:
    feats = people(SIDNEY, SIDNEY, JOHN, JOHN, JOHN)
    assert apart(feats, [0, 1], [2, 3, 4]) == ("sidney", "john")
    assert apart(feats, [2, 3, 4], [0, 1]) == ("john", "sidney")
    # a second name joining one record at a time is held at the record that establishes it
    assert apart(feats, [0, 1, 2], [3]) == ("sidney", "john")
    assert apart(feats, [0], [2, 3, 4]) is None  # one Sidney: nothing established
    # a cluster that holds both already (a person approved it) is not held again
    assert apart(feats, [0, 1, 2, 3], [4]) is None


def test_a_nickname_an_initial_or_a_typo_is_one_name() -> None:
    robert = people(
        ("Robert", "Pelham"), ("Robert", "Pelham"), ("Bob", "Pelham"), ("Bob", "Pelham")
    )
    assert apart(robert, [0, 1], [2, 3]) is None
    typo = people(SIDNEY, SIDNEY, ("Sidnei", "Pelham"), ("Sidnei", "Pelham"))
    assert apart(typo, [0, 1], [2, 3]) is None


def test_names_read_crossed_are_one_person() -> None:
    feats = people(("Jasper", "Desilva"), ("Jasper", "Desilva"), ("Desilva", "Jasper"),
                   ("Desilva", "Jasper"))  # fmt: skip
    assert apart(feats, [0, 1], [2, 3]) is None


def test_a_date_of_birth_an_e_mail_or_a_phone_in_common_says_one_person() -> None:
    # a man known by his middle name on some records: Haldane Chambers Macfall
    born = people(("Haldane", "Macfall"), ("Haldane", "Macfall"), ("Chambers", "Macfall"),
                  ("Chambers", "Macfall"))  # fmt: skip
    assert apart(born, [0, 1], [2, 3]) == ("haldane", "chambers")
    for shared in ({"birthdate": "1860-01-01"}, {"email": "hcm@example.org"},
                   {"phone": "+44 114 496 0000"}):  # fmt: skip
        feats = people(("Haldane", "Macfall"), ("Haldane", "Macfall"), ("Chambers", "Macfall"),
                       ("Chambers", "Macfall"), **shared)  # fmt: skip
        assert apart(feats, [0, 1], [2, 3]) is None, shared


def test_clustering_never_joins_two_given_names_through_a_title() -> None:
    # a father and a son at one address, and records of either whose first name is a title:
    # every pair scores a merge (as weights learned from surnames at postcodes may say), and
    # complete linkage alone chains them into one
    feats = people(SIDNEY, JOHN, ("Reverend", "Pelham"), SIDNEY, JOHN, ("Rt.", "Pelham"))
    # one score: the records join in the order of their positions, the two names mixed
    edges = sort_edges([(0.99, i, j) for i in range(len(feats)) for j in range(i + 1, len(feats))])

    def cluster(**rule: object) -> list[tuple[int, ...]]:
        found = agglomerate([], edges, 0.9, lambda _i, _j: True, 50, **rule)  # type: ignore[arg-type]
        return [c.items for c in found]

    assert cluster() == [(0, 1, 2, 3, 4, 5)]
    held = cluster(joinable=lambda a, b: apart(feats, a, b) is None)
    sidneys, johns = {0, 3}, {1, 4}
    assert all(not (sidneys <= set(c) and johns <= set(c)) for c in held), held
    assert held == [(0, 1, 2, 3, 5)]  # the second John would establish John: he stays out
