"""Companies without web sites (issue 13 part 3): one firm at one street address, or one name on
one phone line of its own, is proposed at least for review whatever the other fields say; two
firms at one address and switchboard whose names each hold a word of their own are not, nor the
branches of a chain on its central line."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from model.changes import Merge, Snapshot
from model.records import Record
from policies.dedupe import DedupePolicy, DedupeSettings
from policies.dedupe.columns import tabulate
from policies.dedupe.features import address_key, extract, org_key
from policies.dedupe.scoring import (
    CITY_PART,
    DISTINCT_NAMES,
    JOINED_NAMES,
    SAME_LINE,
    SAME_NAME,
    SAME_PLACE,
    SAME_SITE,
    UNRELATED_NAMES,
    Frozen,
    Scorer,
    city_similarity,
    org_similarity,
    raised_by,
)
from policies.dedupe.weights import CUTS, level

CUTS_NAME = CUTS["name"]

NOW = datetime(2025, 3, 14, 12, tzinfo=UTC)


def firm(record_id: str, name: str, address: str, phone: str, city: str = "New York") -> Record:
    props = {"name": name, "address": address, "city": city, "phone": phone}
    return Record("companies", record_id, props, NOW, created_at=NOW)


def plan(*records: Record) -> dict[frozenset[str], Merge]:
    changes = DedupePolicy(DedupeSettings(object_types=("companies",)))(
        Snapshot("t", NOW, {"companies": list(records)})
    )
    return {frozenset((c.primary_id, *c.merged_ids)): c for c in changes if isinstance(c, Merge)}


def test_a_note_on_the_cross_streets_is_not_part_of_the_address() -> None:
    assert address_key("747 9th Ave. between 50th and 51st Sts.") == address_key("747 Ninth Ave")
    assert address_key("156 2nd Ave. at 10th St.") == "156 2 ave"
    assert address_key("2 Smith St cnr High St") == "2 smith st"
    # not after a street without a number: there the words may be the street's own
    assert address_key("in Central Park at 67th St.") == "in central park at 67 st"


def test_a_name_qualified_by_its_own_city_in_parentheses_is_the_name() -> None:
    assert org_key("Ritz-Carlton Dining Room (San Francisco)", ("San Francisco",)) == org_key(
        "Ritz Carlton Dining Room"
    )
    # another place in parentheses still sets the name apart
    assert org_key("Spago (Los Angeles)", ("Beverly Hills",)) == "spago los angeles"
    assert org_key("Acme (Europe)") == "acme europe"


def test_a_city_within_another_is_neither_the_same_nor_another() -> None:
    assert city_similarity("new york", "new york city") == CITY_PART
    assert city_similarity("hollywood", "w hollywood") == CITY_PART
    assert city_similarity("boston", "boston") == 1.0
    assert city_similarity("boston", "austin") < CITY_PART


def test_one_restaurant_at_one_address_is_reviewed_whatever_its_phones() -> None:
    found = plan(
        # one name within the other, the same phone written two ways, New York (City)
        firm("1", "Virgil's", "152 W. 44th St.", "212/ 921-9494"),
        firm("2", "Virgil's Real BBQ", "152 W. 44th St.", "212-921-9494", "New York City"),
        # the same name and street address (a casino's, shared by its restaurants), its own
        # line and the switchboard (on five records: shared, not a line of its own)
        firm("3", "Palace Court", "3570 Las Vegas Blvd. S", "702/731-7547", "Las Vegas"),
        firm("4", "Palace Court", "3570 Las Vegas Blvd. S.", "702-731-7110", "Las Vegas"),
        *(
            firm(f"c{n}", name, "3570 Las Vegas Blvd. S", "702-731-7110", "Las Vegas")
            for n, name in enumerate(("Bacchanal Buffet", "Nobu", "Restaurant Guy Savoy", "Mesa"))
        ),
        # the cross streets on one side, another phone
        firm("5", "Uncle Nick's", "747 9th Ave. between 50th and 51st Sts.", "212/315-1726"),
        firm("6", "Uncle Nicks", "747 Ninth Ave.", "212-245-7992", "New York City"),
    )
    assert set(found) == {frozenset(p) for p in (("1", "2"), ("3", "4"), ("5", "6"))}
    # another phone: only a person merges these (Virgil's, one phone, may merge outright)
    assert found[frozenset(("3", "4"))].kind == found[frozenset(("5", "6"))].kind == "review"
    assert SAME_SITE in found[frozenset(("3", "4"))].reason


def test_one_address_does_not_make_firms_with_their_own_words_or_in_other_cities_alike() -> None:
    found = plan(
        # two restaurants of one hotel, one switchboard
        firm("1", "Ritz Carlton Cafe", "9500 Wilshire Blvd", "310-275-5200", "Beverly Hills"),
        firm("2", "Ritz Carlton Dining Room", "9500 Wilshire Blvd", "310-275-5200",
             "Beverly Hills"),
        # one name at one street address in two cities
        firm("3", "Main Street Bakery", "100 Main St", "555-0101", "Springfield"),
        firm("4", "Main Street Bakery", "100 Main St", "555-0199", "Shelbyville"),
        # one street address, each its own line
        firm("5", "Nobu", "3570 Las Vegas Blvd. S", "702-731-7111", "Las Vegas"),
        firm("6", "Mesa Grill", "3570 Las Vegas Blvd. S", "702-731-7222", "Las Vegas"),
    )  # fmt: skip
    # one office and one line of its own, the names each with a word of their own: one site
    # filed under two names as often as two firms sharing a switchboard; a person tells
    assert set(found) == {frozenset(("1", "2"))}
    assert found[frozenset(("1", "2"))].kind == "review"
    assert SAME_PLACE in found[frozenset(("1", "2"))].reason


def test_one_site_under_its_operators_name_and_its_programs_is_reviewed() -> None:
    found = plan(
        firm("1", "Chicago Youth Centers - ABC", "3415 W 13th Pl", "773-762-5655", "Chicago"),
        firm("2", "Edgewater Community Council - A B C Center / CYC", "3415 W. 13th Pl.",
             "(773) 762-5655", "Chicago"),
        firm("3", "Salvation Army", "1631 E 71st Street", "773-493-7500", "Chicago"),
        firm("4", "South Shore Bible Baptist Church", "1631 E 71st St", "773-493-7500",
             "Chicago"),
        # one street address, another line: an office building's tenants
        firm("5", "Acme Dental", "1631 E 71st Street", "773-493-1111", "Chicago"),
    )  # fmt: skip
    assert set(found) == {frozenset(("1", "2")), frozenset(("3", "4"))}
    assert all(m.kind == "review" and SAME_PLACE in m.reason for m in found.values())
    assert raised_by({"name": 0, "address": 4, "phone": 2}, own_line=True) == SAME_PLACE
    assert raised_by({"name": 0, "address": 4, "phone": 2}, own_line=False) == ""
    assert raised_by({"name": 0, "address": 3, "phone": 2}, own_line=True) == ""
    assert raised_by({"name": 0, "address": 4, "phone": 2, "zip": 0}, own_line=True) == ""


def test_one_name_on_its_own_line_is_reviewed_a_chains_central_line_is_not() -> None:
    # learned weights (a snapshot large enough): two addresses differing outright weigh more
    # than the name and the line together
    settings = DedupeSettings(object_types=("companies",), min_records=2, min_matches=0)
    town = [firm(f"t{n}", f"Shop {n}", f"{n} Elm St", f"212-555-{1000 + n}") for n in range(300)]
    moved = (
        firm("1", "Les Celebrites", "160 Central Park S", "212/484-5113"),
        firm("2", "Les Celebrites", "155 W. 58th St.", "212-484-5113", "New York City"),
    )
    chain = [firm(f"c{n}", "Joe's Pizza", f"{10 * n} Broadway", "212-555-0000") for n in range(6)]
    changes = DedupePolicy(settings)(
        Snapshot("t", NOW, {"companies": [*town, *moved, *chain]})
    )  # fmt: skip
    found = {frozenset((c.primary_id, *c.merged_ids)): c for c in changes if isinstance(c, Merge)}
    assert set(found) == {frozenset(("1", "2"))}
    assert found[frozenset(("1", "2"))].kind == "review"
    assert SAME_LINE in found[frozenset(("1", "2"))].reason


def test_the_table_says_which_pairs_the_rules_raise_as_scoring_does() -> None:
    records = [
        firm("1", "Virgil's", "152 W. 44th St.", "212/ 921-9494"),
        firm("2", "Virgil's Real BBQ", "152 W. 44th St.", "212-921-9494", "New York City"),
        firm("3", "Palace Court", "3570 Las Vegas Blvd. S", "702/731-7547", "Las Vegas"),
        firm("4", "Palace Court", "3570 Las Vegas Blvd. S.", "702-731-7110", "Las Vegas"),
        firm("5", "Palace Court", "3570 Las Vegas Blvd. S.", "702-731-7110", "Reno"),
        firm("6", "Ritz Carlton Cafe", "152 W. 44th St.", "212-921-9494"),
        firm("7", "Virgil's", "12 W. 44th St.", "212-921-9494"),
        firm("8", "Les Celebrites", "160 Central Park S", "212/484-5113"),
        firm("9", "Les Celebrites", "155 W. 58th St.", "212-484-5113", "New York City"),
    ]
    feats = [extract(r, "US") for r in records]
    scorer = Scorer(DedupeSettings(shared_value_count=3), "companies", feats)
    pairs = [(i, j) for i in range(len(feats)) for j in range(i + 1, len(feats))]
    left = np.asarray([i for i, _ in pairs], dtype=np.int32)
    right = np.asarray([j for _, j in pairs], dtype=np.int32)
    raised = scorer.raised(tabulate(scorer, feats, left, right))
    reasons = []
    for i, j in pairs:
        compared = scorer.compare(feats[i], feats[j])
        line = compared.values.get("phone")
        levels = {f: level(f, s) for f, s in compared.similarities.items()}
        own_line = line is not None and line != "+12129219494"  # three records: shared
        reasons.append(raised_by(levels, own_line=own_line))
    assert raised.tolist() == [bool(r) for r in reasons]
    assert {pairs[k]: reasons[k] for k in np.flatnonzero(raised)} == {
        (0, 1): SAME_SITE,  # (0, 6): the same name on a shared line (three records)
        (2, 3): SAME_SITE,
        (7, 8): SAME_LINE,
    }
    for i, j in ((0, 1), (2, 3), (7, 8)):
        assert scorer.score(feats[i], feats[j]).confidence >= scorer.settings.review_threshold


def test_two_sites_of_one_name_and_switchboard_are_reviewed_not_merged() -> None:
    """The same firm at another street, or at house numbers that all differ, is two sites (or
    a move) for a person to tell: reviewed, never merged, under configured and learned weights
    alike (dedupe's Chicago child care sites: one name, one phone, two campuses)."""
    records = [
        firm("1", "Disney Magnet", "4140 N. Marine Dr.", "773-534-5840", "Chicago"),
        firm("2", "Disney Magnet", "3815 N. Kedvale Ave.", "773-534-5840", "Chicago"),
        firm(
            "3", "Itsy Bitsy People Palace", "7411 S Cottage Grove Ave", "773-846-7396", "Chicago"
        ),
        firm(
            "4", "Itsy Bitsy People Palace Inc", "7419 S Cottage Grove", "773-846-7396", "Chicago"
        ),
        # one site written two ways merges as before
        firm("5", "Fifth City Child Development", "3411 W Fifth Avenue", "773-826-8686", "Chicago"),
        firm("6", "Fifth City Child Development", "3411 W. Fifth Ave.", "773-826-8686", "Chicago"),
        # one web domain: one firm, the head office and a branch one account
        firm("7", "Initech", "1 Main St", "773-555-0100", "Chicago"),
        firm("8", "Initech", "90 Oak Ave", "773-555-0100", "Chicago"),
    ]
    records[6:8] = [
        replace(r, properties={**r.properties, "domain": "initech.com"}) for r in records[6:8]
    ]
    for settings in (
        DedupeSettings(object_types=("companies",)),
        DedupeSettings(object_types=("companies",), two_sites="score"),
    ):
        changes = DedupePolicy(settings)(Snapshot("t", NOW, {"companies": records}))
        found = {
            frozenset((c.primary_id, *c.merged_ids)): c.kind
            for c in changes
            if isinstance(c, Merge)
        }
        assert found[frozenset("56")] == "merge"
        assert found[frozenset("78")] == "merge"
        expected = "review" if settings.two_sites == "review" else "merge"
        assert found[frozenset("12")] == expected
        assert found[frozenset("34")] == expected
    scorer = Scorer(DedupeSettings(), "companies", [extract(r, "US") for r in records])
    feats = [extract(r, "US") for r in records]
    assert scorer.score(feats[0], feats[1]).confidence == DedupeSettings().review_cap


def test_legal_forms_written_with_dots_spaces_or_in_full_are_the_form() -> None:
    # dedupe's patent holders (patstat): one firm's names as the filings wrote them
    assert org_key("UNILEVER N.V.") == org_key("Unilever NV") == "unilever"
    assert org_key("Unilever Naamloze Vennootschap") == "unilever"
    assert org_key("SHELL INTERNATIONALE RESEARCH MAATSCHAPPIJ B . V .") == org_key(
        "Shell International Research Maatschappij B.V."
    )
    assert org_key("Fiat S.p.A.") == org_key("FIAT SPA") == "fiat"
    assert org_key("Siemens Aktiengesellschaft") == org_key("Siemens AG") == "siemens"
    assert org_key("A B C Center") == org_key("ABC Center"), "an acronym spelled out"
    assert org_key("Rock n Roll Diner") == org_key("Rock and Roll Diner"), "a lone letter stays"


def bare(record_id: str, name: str, **more: str) -> Record:
    return Record("companies", record_id, {"name": name, **more}, NOW, created_at=NOW)


def test_one_name_and_nothing_else_is_reviewed() -> None:
    """Bare records (a name, nothing else in common): the same name is a pair for a person,
    never a merge; another city, or two street addresses, still tell two firms apart."""
    found = plan(
        bare("1", "UNILEVER N.V."),
        bare("2", "Unilever NV", country="NL"),  # a field the other does not hold says nothing
        bare("3", "Globex Corporation", city="Springfield"),
        bare("4", "Globex Corp.", city="Shelbyville"),
        bare("5", "Initech LLC", address="1 Main St"),
        bare("6", "Initech", address="90 Oak Ave"),
        bare("7", "Initrode"),
    )
    assert found[frozenset("12")].kind == "review"
    assert SAME_NAME in found[frozenset("12")].reason
    assert not any(len(ids & {"3", "4"}) == 2 or len(ids & {"5", "6"}) == 2 for ids in found)
    assert not any("7" in ids for ids in found)
    levels = {"name": len(CUTS_NAME)}
    assert raised_by(levels, own_line=False) == SAME_NAME
    assert raised_by({"name": len(CUTS_NAME) - 1}, own_line=False) == SAME_NAME, "a typo"
    assert raised_by({"name": len(CUTS_NAME) - 2}, own_line=False) == ""
    assert raised_by({**levels, "address": 1}, own_line=False) == ""


def test_names_each_with_words_of_their_own_sharing_a_rare_one_are_one_level_up() -> None:
    rare = {"rauner", "ritz", "carlton"}
    share = lambda word: 0.0001 if word in rare else 0.05  # noqa: E731
    one_site = org_similarity("rauner family ymca", "ymca of metropolitan chicago rauner", share)
    hotel = org_similarity("ritz carlton cafe", "ritz carlton dining room", share)
    assert level("name", one_site) == level("name", hotel) == 1
    assert one_site <= DISTINCT_NAMES
    # sharing common words only ("ymca", "chicago"): two firms
    apart = org_similarity("ymca of chicago south", "ymca of chicago north side", share)
    assert apart <= UNRELATED_NAMES
    assert level("name", apart) == 0
    assert level("name", org_similarity("nobu", "mesa grill", share)) == 0


def test_a_rare_word_shared_give_or_take_a_typo_is_shared() -> None:
    """One site's two names, each with words of its own, sharing a rare word spelt in two
    ways (``woods`` ~ ``wood``, a typo or a shortening): one level up, as if spelt alike, on
    whichever side the rare spelling stands."""
    rare = {"woods"}
    share = lambda word: 0.0001 if word in rare else 0.05  # noqa: E731
    a, b = "boys and girls clubs of chicago r e woods", "boys girls clubs general r e wood"
    assert level("name", org_similarity(a, b, share)) == 1
    assert org_similarity(a, b, share) == org_similarity(b, a, share)
    assert level("name", org_similarity(a.replace("woods", "oaks"), b, share)) == 0


def test_one_street_address_and_names_sharing_a_rare_word_are_reviewed_not_merged() -> None:
    # enough names for a word held by two of them to be rare (under RARE_WORD_SHARE)
    town = [
        firm(f"t{n}", f"{word} Shop {n}", f"{n} Elm St", f"212-555-{1000 + n:04d}")
        for n, word in enumerate(["Corner", "Main", "Family", "Metro"] * 260)
    ]
    found = plan(
        *town,
        firm("1", "Rauner Family YMCA", "2700 S. Western Avenue", "773-506-0130"),
        firm("2", "YMCA of Metropolitan Chicago - Rauner", "2700 S Western Ave", "773-847-3115"),
        # one office building, its tenants' names sharing only a common word
        firm("3", "Corner Dental", "100 W Madison St", "312-555-0101"),
        firm("4", "Corner Law Group", "100 W Madison St", "312-555-0202"),
    )
    assert set(found) == {frozenset(("1", "2"))}
    assert found[frozenset(("1", "2"))].kind == "review"
    assert SAME_SITE in found[frozenset(("1", "2"))].reason


def test_names_that_differ_only_where_their_words_break_are_one_name() -> None:
    share = lambda word: 1.0  # noqa: E731
    assert org_similarity("gist brocades", "gistbrocades", share) == JOINED_NAMES
    assert org_similarity("face book", "facebook", share) == JOINED_NAMES
    assert level("name", JOINED_NAMES) == len(CUTS_NAME) - 1  # as one typo
    names = ("GIST - BROCADES N.V.", "GISTBROCADES B.V.", "Face Book Inc", "Facebook", "Book Face")
    records = [
        Record("companies", str(n), {"name": name}, NOW, created_at=NOW)
        for n, name in enumerate(names, start=1)
    ]
    feats = [extract(r, "US") for r in records]
    scorer = Scorer(DedupeSettings(), "companies", feats)
    pairs = [(i, j) for i in range(len(feats)) for j in range(i + 1, len(feats))]
    left = np.asarray([i for i, _ in pairs], dtype=np.int32)
    right = np.asarray([j for _, j in pairs], dtype=np.int32)
    one_by_one, columns = scorer.tabulate(feats, left, right), tabulate(scorer, feats, left, right)
    assert np.array_equal(one_by_one.levels, columns.levels)
    name = {p: int(one_by_one.levels[k, 0]) for k, p in enumerate(pairs)}
    assert name[(0, 1)] == name[(2, 3)] == len(CUTS_NAME) - 1
    assert name[(3, 4)] < len(CUTS_NAME) - 1  # the same words, another name
    # bare records, one name: proposed for review, never merged (a name alone)
    found = plan(*records)
    assert {frozenset(("1", "2")), frozenset(("3", "4"))} <= set(found)
    assert all(m.kind == "review" for m in found.values())


def test_a_first_word_one_typo_apart_still_meets() -> None:
    # no other key joins them: another first word, other first six letters, no other word
    names = ("Unilver", "Unilever N.V.", "Unilateral")
    records = [
        Record("companies", str(n), {"name": name}, NOW, created_at=NOW)
        for n, name in enumerate(names, start=1)
    ]
    found = plan(*records)
    assert set(found) == {frozenset(("1", "2"))}
    assert found[frozenset(("1", "2"))].kind == "review"  # a name alone: never a merge


def test_a_site_filed_again_and_again_counts_once_in_its_lines_frequency() -> None:
    """One site's line on six records (several sources' lists, its address spelt two ways),
    and on one record elsewhere: its frequency counts the site's records as one (two records
    carry it, not seven), so a match on it weighs as a site's own line does. Rules that ask
    whether the line is a building's switchboard still count every record (seven); a
    contact's phone is counted record by record; frozen counts read alike."""
    site = [
        firm(f"s{n}", name, address, "773-247-6642", "Chicago")
        for n, (name, address) in enumerate(
            [("El Valor Kiddy Kare", "4444 S Kedzie Ave")] * 3
            + [("Kiddy Kare Preschools", "4444 S. Kedzie")] * 3
        )
    ]
    elsewhere = firm("e", "Kiddy Kare II", "10 W Elm St", "773-247-6642", "Chicago")
    others = [firm(f"o{n}", f"Shop {n}", f"{n} Oak St", f"773-555-{1000 + n}") for n in range(13)]
    feats = [extract(r, "US") for r in [*site, elsewhere, *others]]
    scorer = Scorer(DedupeSettings(), "companies", feats)
    number = feats[0].phones[0]
    assert scorer.line_count(number) == 7
    assert scorer.frequency("phone", number) == 2 / 20
    assert scorer.frequency("phone", feats[-1].phones[0]) == 1 / 20
    counts, present = scorer.population
    frozen = scorer.using(None, Frozen.of(counts, present))
    assert frozen.frozen_values
    assert frozen.frequency("phone", number) == 2 / 20
    people = [
        extract(Record("contacts", r.id, {**r.properties, "name": None}, NOW, created_at=NOW), "US")
        for r in [*site, elsewhere]
    ]
    assert Scorer(DedupeSettings(), "contacts", people).frequency("phone", number) == 1.0
