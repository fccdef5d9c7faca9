"""Two clusters known under two given names are two people: never one automatic merge.

Relatives at one address (a father and a son, two sisters, a couple sharing a surname) hold
records that agree on everything but the first name; a record of theirs whose first name is
missing, an initial, or a title (``Revd Pelham``, ``Rt. Pelham``) matches each of them, and
under weights learned from names and postal addresses alone each pair across them may score a
merge, since a surname at one postcode usually is one household. Complete linkage lets two such
clusters join when no pair across them contradicts enough, and a merge cannot be undone.

A cluster's *established* given names are the first names (initials aside) that two records of
it or more hold. In the merge pass, two clusters do not join when together they would establish
two given names of two people, that no cluster of the two held both of already:

- the two names differ outright (the first-name comparison's lowest level: neither the same
  name, a nickname, an initial nor a typo of the other);
- neither is a last name of the other's holders (names read crossed: ``Jasper Desilva`` twice
  and ``Desilva Jasper`` three times are one person);
- no holder of one shares a date of birth, an e-mail address or a phone number with a holder of
  the other (what would say one person known by two names: a middle name, a diminutive the
  nickname table lacks).

Taken over the two clusters together, the rule does not depend on the order the records join
in: a record of the second name joining on its own does not carry it in. Such clusters are
proposed for review instead (the review pass links them as before), with the two names in the
reason. On the historical figures without dates of birth (people known by names and postcodes
only) merges precision went from 0.9939 to 0.9991 (recall 0.4848 -> 0.4651); with dates of
birth 0.9969 -> 0.9986 (0.7557 -> 0.7489); merges plus review unchanged; FEBRL 1-4 and the
generated sets unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from policies.dedupe.features import Features
from policies.dedupe.scoring import first_name_similarity
from policies.dedupe.weights import level


def established(feats: Sequence[Features], items: Sequence[int]) -> list[str]:
    """The first names (initials aside) two records or more of ``items`` hold, most held first
    (ties by name)."""
    held = Counter(feats[i].first for i in items if len(feats[i].first) > 1)
    return sorted((n for n, k in held.items() if k >= 2), key=lambda n: (-held[n], n))


def apart(feats: Sequence[Features], a: Sequence[int], b: Sequence[int]) -> tuple[str, str] | None:
    """Two given names that joining the clusters ``a`` and ``b`` would establish in one cluster
    for two people by the module's rule (the first as ``a`` holds it most), else ``None``.

    The names are those established in the two together, so that a record joining at a time
    cannot carry a second name into a cluster: two given names neither cluster held both of.
    """
    joined = [*a, *b]
    names = established(feats, joined)
    if len(names) < 2:
        return None
    own = set(established(feats, a)), set(established(feats, b))
    holders: dict[str, list[int]] = {}
    for i in joined:
        holders.setdefault(feats[i].first, []).append(i)
    in_a = set(a)
    for k, name in enumerate(names):
        for other in names[k + 1 :]:
            if any({name, other} <= held for held in own):
                continue  # one cluster holds both already (a person approved it)
            if _two_people(feats, name, holders[name], other, holders[other]):
                in_a_count = {n: sum(i in in_a for i in holders[n]) for n in (name, other)}
                return (name, other) if in_a_count[name] >= in_a_count[other] else (other, name)
    return None


def _two_people(
    feats: Sequence[Features], name: str, these: Sequence[int], other: str, those: Sequence[int]
) -> bool:
    """Whether the records ``these`` (first name ``name``) and ``those`` (``other``) are two
    people by the module's rule."""
    if level("firstname", first_name_similarity(name, other)[0]) > 0:
        return False
    if any(feats[i].last == other for i in these) or any(feats[i].last == name for i in those):
        return False  # names read crossed
    for x in these:
        one = feats[x]
        for y in those:
            another = feats[y]
            if one.birth and one.birth == another.birth:
                return False
            if not set(one.emails).isdisjoint(another.emails):
                return False
            if not set(one.phones).isdisjoint(another.phones):
                return False
    return True
