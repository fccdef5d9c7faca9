"""Duplicate clusters really are one person (or one company), shown the ways real duplicates
differ; hard negatives really look alike and are different; names are diverse."""

from __future__ import annotations

import unicodedata
from collections import Counter
from datetime import UTC, datetime
from functools import cache
from itertools import combinations

import phonenumbers
from rapidfuzz.distance import Levenshtein

from sandbox.generator import Dataset, GeneratedObject, generate
from sandbox.generator.names import NICKNAMES

NOW = datetime(2025, 1, 20, 17, tzinfo=UTC)
LEGAL = {"inc", "llc", "ltd", "corp", "corporation", "co", "company", "gmbh", "sas", "group",
         "grp", "incorporated", "limited", "l", "c", "s", "a", "g", "m", "b", "h"}  # fmt: skip


@cache
def dataset() -> Dataset:
    return generate(5000, 23, NOW)


@cache
def by_id() -> dict[str, GeneratedObject]:
    return {o.id: o for objs in dataset().objects.values() for o in objs}


@cache
def fixed() -> dict[tuple[str, str], str | None]:
    return {
        (str(f["record_id"]), str(f["field"])): f["new"]
        for f in dataset().truth.due_fixes
        if f["policy"] == "normalize"
    }


def _value(obj: GeneratedObject, name: str) -> str | None:
    return fixed().get((obj.id, name), obj.properties.get(name))


def _key(text: str | None) -> str:
    folded = unicodedata.normalize("NFKD", text or "")
    return " ".join("".join(c for c in folded if not unicodedata.combining(c)).casefold().split())


@cache
def _nick_groups() -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    for formal, nicks in NICKNAMES.items():
        for name in (formal, *nicks):
            groups.setdefault(_key(name), set()).add(_key(formal))
    return groups


def _given_match(a: str, b: str) -> bool:
    if a == b or Levenshtein.distance(a, b) <= 1:
        return True
    if _nick_groups().get(a, set()) & _nick_groups().get(b, set()):
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) == 2 and short.endswith(".") and long_.startswith(short[0])


def _names_match(x: GeneratedObject, y: GeneratedObject) -> bool:
    fx, lx = _key(x.properties["firstname"]), _key(x.properties["lastname"])
    fy, ly = _key(y.properties["firstname"]), _key(y.properties["lastname"])
    return (
        (lx == ly and _given_match(fx, fy))
        or (fx == fy and Levenshtein.distance(lx, ly) <= 1)
        or (fx == ly and lx == fy)
    )


def _emails(obj: GeneratedObject) -> set[str]:
    found = {_value(obj, "email")} | set((_value(obj, "hs_additional_emails") or "").split(";"))
    return {e for e in found if e}


def _phones(obj: GeneratedObject) -> set[str]:
    out: set[str] = set()
    for name in ("phone", "mobilephone"):
        raw = _value(obj, name)
        if raw:
            number = phonenumbers.parse(raw, None)
            out.add(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return out


@cache
def _company_cluster() -> dict[str, str]:
    rep = {o.id: o.id for o in dataset().objects["companies"]}
    for cluster in dataset().truth.duplicate_clusters["companies"]:
        for i in cluster:
            rep[i] = cluster[0]
    return rep


def _same_employer_or_city(x: GeneratedObject, y: GeneratedObject) -> bool:
    cx = {_company_cluster()[i] for i in x.associations.get("companies", [])}
    cy = {_company_cluster()[i] for i in y.associations.get("companies", [])}
    city_x, city_y = _key(_value(x, "city")), _key(_value(y, "city"))
    return bool(cx & cy) or (bool(city_x) and city_x == city_y)


def _linked(x: GeneratedObject, y: GeneratedObject) -> bool:
    if _emails(x) & _emails(y) or _phones(x) & _phones(y):
        return True
    return _names_match(x, y) and _same_employer_or_city(x, y)


def test_every_contact_cluster_is_connected_by_evidence_of_one_person() -> None:
    for cluster in dataset().truth.duplicate_clusters["contacts"]:
        records = [by_id()[i] for i in cluster]
        reached = {0}
        frontier = [0]
        while frontier:
            i = frontier.pop()
            for j in range(len(records)):
                if j not in reached and _linked(records[i], records[j]):
                    reached.add(j)
                    frontier.append(j)
        assert len(reached) == len(records), cluster


def test_duplicate_share_and_cluster_sizes() -> None:
    truth = dataset().truth
    contacts = truth.duplicate_clusters["contacts"]
    share = sum(len(c) for c in contacts) / len(dataset().objects["contacts"])
    assert 0.1 <= share <= 0.15
    sizes = Counter(len(c) for c in contacts)
    assert sizes[2] > sizes[3] > sizes[4] > 0
    companies = truth.duplicate_clusters["companies"]
    share = sum(len(c) for c in companies) / len(dataset().objects["companies"])
    assert 0.03 <= share <= 0.08


def test_duplicates_vary_the_way_real_ones_do() -> None:
    seen: Counter[str] = Counter()
    for cluster in dataset().truth.duplicate_clusters["contacts"]:
        for x, y in combinations([by_id()[i] for i in cluster], 2):
            fx, fy = _key(x.properties["firstname"]), _key(y.properties["firstname"])
            lx, ly = _key(x.properties["lastname"]), _key(y.properties["lastname"])
            ex, ey = _emails(x), _emails(y)
            seen["no shared email"] += not (ex & ey)
            seen["one has no email"] += not ex or not ey
            seen["email in additional"] += bool(
                {_value(x, "email")} & set((_value(y, "hs_additional_emails") or "").split(";"))
            )
            seen["nickname"] += fx != fy and bool(
                _nick_groups().get(fx, set()) & _nick_groups().get(fy, set())
            )
            seen["typo"] += (lx == ly and Levenshtein.distance(fx, fy) == 1) or (
                fx == fy and Levenshtein.distance(lx, ly) == 1
            )
            seen["swapped"] += fx == ly and lx == fy and fx != lx
            seen["case"] += x.properties["lastname"] != y.properties["lastname"] and lx == ly
            px, py = x.properties["phone"], y.properties["phone"]
            seen["phone format"] += bool(px and py and px != py and _phones(x) == _phones(y))
            seen["company variant"] += bool(
                x.properties["company"] and y.properties["company"]
                and _key(x.properties["company"]) != _key(y.properties["company"])
            )  # fmt: skip
    for kind in (
        "no shared email", "one has no email", "email in additional", "nickname", "typo",
        "swapped", "case", "phone format", "company variant",
    ):  # fmt: skip
        assert seen[kind] >= 5, (kind, seen)
    pairs = sum(len(c) * (len(c) - 1) // 2 for c in dataset().truth.duplicate_clusters["contacts"])
    assert seen["no shared email"] / pairs > 0.2


def test_hard_negatives_look_alike_but_are_different_people() -> None:
    truth = dataset().truth
    members = {i for c in truth.duplicate_clusters["contacts"] for i in c}
    kinds: Counter[str] = Counter()
    for a, b in truth.hard_negatives["contacts"]:
        x, y = by_id()[a], by_id()[b]
        assert a not in members
        assert b not in members
        assert _key(x.properties["lastname"]) == _key(y.properties["lastname"])
        assert not (_emails(x) & _emails(y))
        same_first = _key(x.properties["firstname"]) == _key(y.properties["firstname"])
        if same_first:
            kinds["namesakes"] += 1
            assert _key(_value(x, "city"))
            assert _key(_value(y, "city"))
            assert (_value(x, "city"), _value(x, "state")) != (
                _value(y, "city"),
                _value(y, "state"),
            )
        elif x.properties["address"] and x.properties["address"] == y.properties["address"]:
            kinds["relatives"] += 1
        else:
            kinds["colleagues"] += 1
            assert _same_employer_or_city(x, y)
        if not same_first:
            assert not _given_match(_key(_value(x, "firstname")), _key(_value(y, "firstname")))
    assert len(kinds) == 3, kinds
    assert min(kinds.values()) >= 10, kinds
    pairs = truth.hard_negatives["contacts"]
    shared_phone = sum(bool(_phones(by_id()[a]) & _phones(by_id()[b])) for a, b in pairs)
    assert shared_phone >= 3


def test_company_clusters_share_a_domain_and_vary_the_name() -> None:
    truth = dataset().truth
    renamed = 0
    for cluster in truth.duplicate_clusters["companies"]:
        records = [by_id()[i] for i in cluster]
        assert len({r.properties["domain"] for r in records}) == 1
        names = {_key(r.properties["name"]) for r in records}
        words = [n.replace(",", " ").replace(".", " ").split() for n in names]
        stems = {" ".join(w for w in ws if w not in LEGAL) for ws in words}
        assert len(stems) <= 2, names  # "Acme" vs "Acme Corp" vs "ACME, Inc."; & vs and
        renamed += len(names) > 1
    assert renamed > 0.6 * len(truth.duplicate_clusters["companies"])
    for a, b in truth.hard_negatives["companies"]:
        x, y = by_id()[a], by_id()[b]
        assert x.properties["domain"] != y.properties["domain"]
        stem_x, stem_y = (_key(o.properties["name"]).replace(",", " ").split()[0] for o in (x, y))
        assert stem_x == stem_y


def test_names_come_from_many_cultures_and_styles() -> None:
    contacts = dataset().objects["contacts"]
    last = [str(_value(c, "lastname")) for c in contacts]
    first = [str(_value(c, "firstname")) for c in contacts]
    raw_last = [str(c.properties["lastname"]) for c in contacts]
    assert sum(n.startswith(("van ", "de ", "del ", "von ")) for n in last) >= 10
    assert sum(n.startswith(("O'", "Mc", "Mac", "D'")) for n in last) >= 10
    assert sum("-" in n for n in last) >= 10
    assert sum(not n.isascii() for n in last + first) >= 50
    assert sum(n.isupper() and len(n) > 2 for n in raw_last) >= 20
    assert sum(n.islower() for n in raw_last) >= 10
    for surname in ("Nguyen", "Patel", "García", "Kowalski", "Müller", "Kim", "Okafor"):
        assert any(_key(n) == _key(surname) for n in last), surname
    assert len(set(last)) > 400
