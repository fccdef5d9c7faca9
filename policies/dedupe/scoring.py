"""Pairwise match scoring: per-field similarities (0..1) summed as log-odds into a confidence.

A field compares only when both records have it; a missing field adds nothing, so records
without e-mail or phone are still scored on name, company, address, city and zip. Names are
compared both ways round (first/last swapped) and first names through the nickname table.

Identifiers are weighed by how personal they are:

- an e-mail, phone or street address that many records of the snapshot carry (a switchboard,
  an ``info@`` box, an office) is a shared value: matching on it counts for less;
- two phones with the same number but different extensions are different desks (no match);
  the same number with an extension on one side only is a partial match;
- two different e-mail addresses at the same domain are two mailboxes, which speaks against
  one person more than a work and a private address do.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, JaroWinkler

from policies.dedupe.features import Features
from policies.dedupe.nicknames import nicknames
from policies.dedupe.settings import Comparison, DedupeSettings
from policies.normalizers import split_extension

Sims = dict[str, float]

INITIAL_SIMILARITY = 0.97
"""Similarity of an initial and a name it starts with (``J.`` ~ ``John``)."""
ONE_EDIT_SIMILARITY = 0.97
"""Similarity floor of two names one typo apart (``Kumar`` ~ ``Kjmar``)."""
EXTENSION_ON_ONE_SIDE = 0.75
"""Similarity of the same phone number with an extension on one side only."""


@dataclass(frozen=True, slots=True)
class PairScore:
    """How alike two records are: the confidence and the per-field similarities behind it."""

    confidence: float
    similarities: Mapping[str, float]
    points: Mapping[str, float]
    swapped: bool = False
    nickname: bool = False
    conflict: bool = False

    @property
    def evidence(self) -> dict[str, float]:
        """The similarities of the fields that spoke for the match (positive points)."""
        return {f: s for f, s in self.similarities.items() if self.points[f] > 0}

    @property
    def against(self) -> dict[str, float]:
        """The similarities of the fields that spoke against it."""
        return {f: s for f, s in self.similarities.items() if self.points[f] < 0}


def _token_set(a: str, b: str) -> float:
    return float(fuzz.token_set_ratio(a, b)) / 100.0


def _ratio(a: str, b: str) -> float:
    return float(fuzz.ratio(a, b)) / 100.0


def name_similarity(a: str, b: str) -> float:
    """Jaro-Winkler, raised to :data:`ONE_EDIT_SIMILARITY` for names one typo apart."""
    if a == b:
        return 1.0
    similarity = JaroWinkler.normalized_similarity(a, b)
    if min(len(a), len(b)) >= 4 and OSA.distance(a, b, score_cutoff=1) <= 1:
        return max(similarity, ONE_EDIT_SIMILARITY)
    return similarity


def first_name_similarity(a: str, b: str) -> tuple[float, bool]:
    """First-name similarity and whether it rests on the nickname table."""
    if a == b:
        return 1.0, False
    if nicknames().equivalent(a, b):
        return 1.0, True
    if len(a) == 1 or len(b) == 1:  # an initial matches a name it starts with
        return (INITIAL_SIMILARITY if a[0] == b[0] else 0.0), False
    return name_similarity(a, b), False


def phone_similarity(a: Iterable[str], b: Iterable[str]) -> tuple[float, str]:
    """Best match of two sets of canonical phones, and the phone (key) it rests on."""
    best, on = 0.0, ""
    for x in a:
        number_x, ext_x = split_extension(x)
        for y in b:
            number_y, ext_y = split_extension(y)
            if number_x != number_y:
                continue
            if ext_x == ext_y:
                return 1.0, x
            if (not ext_x or not ext_y) and best < EXTENSION_ON_ONE_SIDE:
                best, on = EXTENSION_ON_ONE_SIDE, number_x
    return best, on


def _domain(email: str) -> str:
    return email.rpartition("@")[2]


class Scorer:
    """Scores pairs of :class:`Features` of one object type under the dedupe settings.

    ``population`` is every record of the type in the snapshot: it tells which e-mails, phones
    and addresses are shared by many records.
    """

    def __init__(
        self, settings: DedupeSettings, object_type: str, population: Sequence[Features] = ()
    ) -> None:
        self.settings = settings
        self.object_type = object_type
        self._counts: Counter[str] = Counter()
        for f in population:
            self._counts.update({*f.emails, *f.phones, f"@{f.address}"} - {"@"})
        w, c = settings.contact_weights, settings.company_weights
        self._weights: Mapping[str, Comparison] = (
            {"name": c.name, "domain": c.domain, "phone": c.phone, "address": c.address,
             "city": c.city, "zip": c.zip}
            if object_type == "companies"
            else {"firstname": w.firstname, "lastname": w.lastname, "email": w.email,
                  "phone": w.phone, "company": w.company, "address": w.address, "city": w.city,
                  "zip": w.zip}
        )  # fmt: skip
        self._score: Callable[[Features, Features], PairScore] = (
            self._companies if object_type == "companies" else self._contacts
        )

    def score(self, a: Features, b: Features) -> PairScore:
        """The score of a pair (pass the records in a fixed order for bit-identical results)."""
        return self._score(a, b)

    def shared(self, value: str) -> bool:
        """Whether ``value`` (an e-mail, canonical phone, or ``'@' + address``) is common."""
        return self._counts[value] >= self.settings.shared_value_count

    def _finish(
        self,
        sims: Sims,
        overrides: Mapping[str, float],
        conflict_fields: tuple[str, str, str],
        **flags: bool,
    ) -> PairScore:
        points = {f: overrides.get(f, self._weights[f].points(s)) for f, s in sims.items()}
        conflict = all(f in points and points[f] < 0 for f in conflict_fields)
        total = self.settings.prior + sum(points.values())
        if conflict:
            total -= self.settings.conflict_penalty
        confidence = 1.0 / (1.0 + math.exp(-total))
        if flags.pop("two_mailboxes", False) and self.settings.two_mailboxes == "review":
            # two different mailboxes at one domain: perhaps an alias, perhaps a colleague
            # or a relative at the same firm; a person decides, never an automatic merge
            confidence = min(confidence, self.settings.review_cap)
        return PairScore(confidence, sims, points, conflict=conflict, **flags)

    def _discount(self, field: str, value: str, sims: Sims, overrides: dict[str, float]) -> None:
        if value and self.shared(value):
            points = self._weights[field].points(sims[field])
            if points > 0:
                overrides[field] = points * self.settings.shared_value_factor

    def _contacts(self, a: Features, b: Features) -> PairScore:
        w = self.settings.contact_weights
        sims: Sims = {}
        overrides: dict[str, float] = {}
        swapped = nickname = two_mailboxes = False
        if a.first and b.first:
            sims["firstname"], nickname = first_name_similarity(a.first, b.first)
        if a.last and b.last:
            sims["lastname"] = name_similarity(a.last, b.last)
        if a.first and a.last and b.first and b.last and a.first != b.first:
            # One record may hold the names the wrong way round. Which of the two crossed
            # pairs is "the first name" depends on which record is swapped: take the better
            # reading, so that the score does not depend on the order of a and b.
            x = name_similarity(a.first, b.last)
            y = name_similarity(a.last, b.first)
            straight = w.firstname.points(sims["firstname"]) + w.lastname.points(sims["lastname"])
            as_xy = w.firstname.points(x) + w.lastname.points(y)
            as_yx = w.firstname.points(y) + w.lastname.points(x)
            if max(as_xy, as_yx) > straight:
                first, last = (x, y) if as_xy >= as_yx else (y, x)
                sims["firstname"], sims["lastname"] = first, last
                swapped, nickname = True, False
        if a.emails and b.emails:
            common = sorted(set(a.emails) & set(b.emails))
            sims["email"] = 1.0 if common else 0.0
            if common:
                self._discount("email", common[0], sims, overrides)
            elif not {_domain(e) for e in a.emails}.isdisjoint(_domain(e) for e in b.emails):
                overrides["email"] = w.email_same_domain
                two_mailboxes = True
        if a.phones and b.phones:
            sims["phone"], on = phone_similarity(a.phones, b.phones)
            self._discount("phone", on, sims, overrides)
        if a.org and b.org:
            sims["company"] = _token_set(a.org, b.org)
        self._place(a, b, sims, overrides)
        return self._finish(sims, overrides, ("email", "phone", "city"), swapped=swapped,
                            nickname=nickname, two_mailboxes=two_mailboxes)  # fmt: skip

    def _companies(self, a: Features, b: Features) -> PairScore:
        sims: Sims = {}
        overrides: dict[str, float] = {}
        if a.org and b.org:
            sims["name"] = _token_set(a.org, b.org)
        if a.domain and b.domain:
            sims["domain"] = 1.0 if a.domain == b.domain else 0.0
        if a.phones and b.phones:
            sims["phone"], on = phone_similarity(a.phones, b.phones)
            self._discount("phone", on, sims, overrides)
        self._place(a, b, sims, overrides)
        return self._finish(sims, overrides, ("domain", "phone", "city"))

    def _place(self, a: Features, b: Features, sims: Sims, overrides: dict[str, float]) -> None:
        if a.address and b.address:
            sims["address"] = _token_set(a.address, b.address)
            if a.address == b.address:
                self._discount("address", f"@{a.address}", sims, overrides)
        if a.city and b.city:
            sims["city"] = _ratio(a.city, b.city)
        if a.zip and b.zip:
            sims["zip"] = 1.0 if a.zip == b.zip else 0.0
