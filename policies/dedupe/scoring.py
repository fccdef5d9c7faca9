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
  one person more than a work and a private address do -- unless they are one typo apart
  (:func:`email_similarity`): then they are one mailbox mistyped, a match of its own level.

Points come from the configured weights (:class:`~policies.dedupe.settings.Comparison`, linear
in the similarity) or, when the snapshot was large enough to learn from, from a
:class:`~policies.dedupe.weights.MatchModel` (per agreement level, exact matches weighed by the
value's frequency). With a model, the fields that describe a place rather than a person
(:data:`PLACE`: a firm's or a household's address, city, zip, state, company and shared line)
are not independent witnesses: the best of them counts in full, the others for
``place_share`` of their points.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from itertools import chain
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, JaroWinkler

from policies.dedupe.features import Features, house_numbers, joined, street_words
from policies.dedupe.nicknames import nicknames
from policies.dedupe.settings import Comparison, DedupeSettings
from policies.dedupe.weights import (
    CUTS,
    IDENTIFIERS,
    MIN_FREQUENCY,
    PLACES,
    TERM_FREQUENCY,
    LevelMatrix,
    MatchModel,
    level,
)
from policies.normalizers import split_extension

Sims = dict[str, float]

INITIAL_SIMILARITY = 0.97
"""Similarity of an initial and a name it starts with (``J.`` ~ ``John``)."""
ONE_EDIT_SIMILARITY = 0.97
"""Similarity floor of two names one typo apart (``Kumar`` ~ ``Kjmar``)."""
EXTENSION_ON_ONE_SIDE = 0.75
"""Similarity of the same phone number with an extension on one side only."""
OTHER_REGION = 0.9
"""Similarity of two numbers with the same last nine digits (``+31 20 555 0123`` ~
``020-5550123`` read in the default region)."""


@dataclass(frozen=True, slots=True)
class PairScore:
    """How alike two records are: the confidence and the per-field similarities behind it."""

    confidence: float
    similarities: Mapping[str, float]
    points: Mapping[str, float]
    swapped: bool = False
    nickname: bool = False
    conflict: bool = False
    held: str = ""  # why a rule keeps the pair from an automatic merge ("" when none)
    raised: str = ""  # why a rule proposes the pair for review at least ("" when none)
    evidence_points: float = 0.0  # the points of the fields alone, without the prior

    @property
    def evidence(self) -> dict[str, float]:
        """The similarities of the fields that spoke for the match (positive points)."""
        return {f: s for f, s in self.similarities.items() if self.points[f] > 0}

    @property
    def against(self) -> dict[str, float]:
        """The similarities of the fields that spoke against it."""
        return {f: s for f, s in self.similarities.items() if self.points[f] < 0}


@dataclass(frozen=True, slots=True)
class Compared:
    """What comparing two records found, before any weights: similarities and flags.

    ``values`` holds, per field matching exactly, the value it matches on (for term
    frequencies); ``overrides`` fixed points that replace a field's weight.
    """

    similarities: Mapping[str, float]
    overrides: Mapping[str, float]
    values: Mapping[str, str]
    swapped: bool = False
    nickname: bool = False
    two_mailboxes: bool = False
    #: Either record has an e-mail, a phone or a company: the records describe people at a firm
    #: or a household line, where another name at the same place is usually someone else.
    channels: bool = False

    @property
    def same_full_name(self) -> bool:
        """Both names match exactly, read straight (``values`` holds the two)."""
        return "firstname" in self.values and "lastname" in self.values


#: Fields that describe where a person works or lives (or where a firm sits), not who they are.
PLACE: Mapping[str, frozenset[str]] = {
    "contacts": frozenset(("company", "address", "city", "zip", "state", "phone")),
    "companies": frozenset(("address", "city", "zip", "state", "phone")),
}
CORROBORATION_SHARE = 0.3
"""Share of their points the place fields beyond the best add to the corroboration of a name
(``min_corroboration``): a city and its state are one fact, not two."""
#: The fields that tell one person from a namesake wherever they live or work: an e-mail and a
#: date of birth (a phone is a place's too: a household's line, a firm's switchboard). None is
#: a place field, so their points add up in full.
IDENTIFYING: Mapping[str, frozenset[str]] = {
    kind: frozenset(f for f in IDENTIFIERS if f not in place) for kind, place in PLACE.items()
}
_Points = TypeVar("_Points", float, npt.NDArray[np.float64])
FULL_SCALE_RECORDS = 50_000
"""Records from which an e-mail or a date of birth must add ``min_corroboration``
points to corroborate a name, as the place fields must at any size; below, in proportion to
the population's log size (:func:`identifier_scale`)."""
NAME_LABELS: Mapping[str, str] = {"firstname": "first name", "lastname": "last name"}
#: The fields that name the person or firm; the others must corroborate them for a merge.
NAMES = frozenset(("firstname", "lastname", "name"))
#: Fields compared per object type, in a fixed order (the columns of a model).
FIELDS: Mapping[str, tuple[str, ...]] = {
    "contacts": ("firstname", "lastname", "email", "phone", "company", "address", "city",
                 "zip", "state", "birthdate"),
    "companies": ("name", "domain", "phone", "address", "city", "zip", "state"),
}  # fmt: skip


TWO_MAILBOXES = "two mailboxes at one domain"
TWO_SITES = "two street addresses"
SITE_LEVEL = 1
"""The highest level of two street addresses that are two sites: another street, or house
numbers that all differ (:func:`address_similarity` gives those at most 0.7, level 1)."""
SAME_SITE = "one name within the other at one street address"
SAME_LINE = "one name on one phone line of its own"
SAME_NAME = "one name (give or take a typo) and nothing else to tell them apart"
SAME_PLACE = "one street address and one phone line of its own, under other names"
_SITE_PLACE = ("city", "zip", "state")


def raised_by(levels: Mapping[str, int], *, own_line: bool) -> str:
    """Why two companies, by their fields' agreement levels, are proposed for review at least
    (``''``: no rule raises them).

    Neither rule holds when a city, postcode or state differs outright. However the other
    fields score, a pair is proposed for review (never merged: a hotel and its restaurant fit
    too) when

    - :data:`SAME_SITE`: the names agree (one holds the other's words, give or take a typo, an
      abbreviation or a common word: level 1 or more; two names each with a word of their own
      are level 0) and so do the street addresses (the top level: same house number and
      street, or one holding the other): one restaurant filed with its switchboard and with its
      own line, a firm with and without a word of its name (``Virgil's`` ~ ``Virgil's Real
      BBQ``);
    - :data:`SAME_LINE`: the same name on the same phone number, one that few records carry
      (``own_line``: fewer than ``shared_value_count``, not a chain's central line): a firm
      that moved, or whose address one source gives as its corner;
    - :data:`SAME_NAME`: the same name, give or take a typo (legal forms aside: ``Unilever
      N.V.`` ~ ``UNILEVER NV``), on records of which neither holds a field the other holds
      too: nothing says another firm, and a name alone is all a CRM's bare records have;
    - :data:`SAME_PLACE`: the same street address (the top level) and the same phone number,
      one that few records carry (``own_line``: counted record by record, so that a building's
      switchboard is no tenant's line), whatever the names: one site filed under its
      operator's name and its program's (``Chicago Youth Centers - ABC`` ~ ``Edgewater
      Community Council - A B C Center / CYC``), or two firms of one office and line (two
      restaurants of one hotel whose switchboard no other record carries): the names cannot
      tell which, a person can.
    """
    if any(levels.get(f, -1) == 0 for f in _SITE_PLACE):
        return ""
    name = levels.get("name", -1)
    address = levels.get("address", -1) == len(CUTS["address"])
    line = levels.get("phone", -1) == len(CUTS["phone"]) and own_line
    if name >= 1 and address:
        return SAME_SITE
    if name == len(CUTS["name"]) and line:
        return SAME_LINE
    alone = all(lvl < 0 for f, lvl in levels.items() if f != "name")
    if name >= len(CUTS["name"]) - 1 and alone:
        return SAME_NAME
    return SAME_PLACE if address and line else ""


_MAILBOX_CANDIDATES = 3
"""The commonest last names of a mailbox's holders of which the one most hold, give or take a
typo, is sought (:meth:`Scorer._mailbox_top`)."""


def _one_typo(a: str, b: str) -> bool:
    """Whether two words of four letters or more are one edit apart (a letter in, out or
    replaced, or two swapped): what names and words of names forgive."""
    return min(len(a), len(b)) >= 4 and OSA.distance(a, b, score_cutoff=1) <= 1


def _token_set(a: str, b: str) -> float:
    return float(fuzz.token_set_ratio(a, b)) / 100.0


def _ratio(a: str, b: str) -> float:
    return float(fuzz.ratio(a, b)) / 100.0


def name_similarity(a: str, b: str) -> float:
    """Jaro-Winkler, raised to :data:`ONE_EDIT_SIMILARITY` for names one typo apart."""
    if a == b:
        return 1.0
    similarity = JaroWinkler.normalized_similarity(a, b)
    if _one_typo(a, b):
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
                if best < OTHER_REGION and _same_subscriber(number_x, number_y):
                    best, on = OTHER_REGION, number_x
                continue
            if ext_x == ext_y:
                return 1.0, x
            if (not ext_x or not ext_y) and best < EXTENSION_ON_ONE_SIDE:
                best, on = EXTENSION_ON_ONE_SIDE, number_x
    return best, on


def _same_subscriber(x: str, y: str) -> bool:
    """Whether two numbers end in the same nine digits (one read without its country code)."""
    dx = "".join(ch for ch in x if ch.isdigit())
    dy = "".join(ch for ch in y if ch.isdigit())
    return len(dx) >= 9 and len(dy) >= 9 and dx[-9:] == dy[-9:]


def _domain(email: str) -> str:
    return email.rpartition("@")[2]


EMAIL_NEAR = CUTS["email"][0]
"""The least similarity of two addresses one typo apart (:func:`email_similarity`): one edit in
a local part of six letters (``jsmith`` ~ ``ksmith``: two colleagues as often) stays below."""


Owner = tuple[str, str]
"""A record's first and last name keys (``Features.first``, ``Features.last``)."""


def email_similarity(
    a: Iterable[str], b: Iterable[str], owners: tuple[Owner, Owner] = (("", ""), ("", ""))
) -> float:
    """1.0 when two lists of e-mails share an address; else the best similarity
    (:func:`email_typo`) of the local parts of two addresses at one domain that start alike, or
    of the domains of two with one local part, when it reaches :data:`EMAIL_NEAR` (a typo:
    ``maisie.walsh`` ~ ``maiie.walsh``, ``myers.com`` ~ ``myer7s.com``); 0.0 below it: two
    mailboxes. Local parts that start with another letter are two people's as often as not:
    another initial (``jsmith`` ~ ``ksmith``), another short name (``bill.foster`` ~
    ``will.foster``, a father and his son); so are two that differ in separators and digits
    only (:func:`unpunctuated`), and two that differ where their holders' names do
    (:func:`own_names`: ``francesco.bianchi`` ~ ``francesca.bianchi``, held by Francesco and
    Francesca). ``owners``: the names of the holders of ``a`` and of ``b``."""
    a, b = list(a), list(b)
    if not set(a).isdisjoint(b):
        return 1.0
    best = 0.0
    for x in a:
        local_x, _, domain_x = x.rpartition("@")
        for y in b:
            local_y, _, domain_y = y.rpartition("@")
            if (
                domain_x
                and domain_x == domain_y
                and local_x[:1] == local_y[:1] != ""
                and unpunctuated(local_x) != unpunctuated(local_y)
                and not own_names(local_x, local_y, owners)
            ):
                best = max(best, email_typo(local_x, local_y))
            elif local_x and local_x == local_y and domain_x and domain_y:
                best = max(best, email_typo(domain_x, domain_y))
    return best if best >= EMAIL_NEAR else 0.0


def own_names(local_x: str, local_y: str, owners: tuple[Owner, Owner]) -> bool:
    """Whether two local parts each hold their own holder's first (or last) name, and the two
    names differ: the mailboxes differ as their holders' names do, no typo."""
    (first_x, last_x), (first_y, last_y) = owners
    bare_x, bare_y = unpunctuated(local_x), unpunctuated(local_y)
    return any(
        nx and ny and nx != ny and nx in bare_x and ny in bare_y
        for nx, ny in ((first_x, first_y), (last_x, last_y))
    )


_PUNCTUATION = str.maketrans("", "", "._-+0123456789")


def unpunctuated(local: str) -> str:
    """A local part without its separators and digits: two that differ in them only are two
    namesakes' mailboxes made from their names (at a free-mail provider above all) as often as
    one mistyped (``ying.gao`` ~ ``yinggao``, ``mchoi86`` ~ ``mchoi65``)."""
    return local.translate(_PUNCTUATION)


EMAIL_TYPO_EDITS = 1
"""The most edits (a letter in, out, replaced, or two swapped) that make two parts of e-mails
one typo apart: ``l.mercier`` ~ ``lea.mercier`` (two) are two people's mailbox styles as often,
``william.foster`` ~ ``will.foster`` (three) a father's and his son's."""


def email_typo(a: str, b: str) -> float:
    """``fuzz.ratio`` of two parts of e-mails at most :data:`EMAIL_TYPO_EDITS` apart, else 0."""
    return _ratio(a, b) if OSA.distance(a, b) <= EMAIL_TYPO_EDITS else 0.0


def address_similarity(a: str, b: str) -> float:
    """token_set_ratio of two address keys, at most 0.7 when their house numbers all differ."""
    similarity = _token_set(a, b)
    numbers_a, numbers_b = house_numbers(a), house_numbers(b)
    if numbers_a and numbers_b and set(numbers_a).isdisjoint(numbers_b):
        return min(similarity, 0.7)
    return similarity


def _close(word: str, other: str) -> bool:
    """Whether two words of names are one: equal, one typo apart, or one abbreviates the other."""
    if word == other:
        return True
    short, long_ = sorted((word, other), key=len)
    if len(short) >= 3 and long_.startswith(short):
        return True
    return _one_typo(word, other)


DISTINCT_NAMES = 0.5
"""Highest similarity of two organisation names each holding a word the other lacks and sharing
a rare one (level 1: ``rauner family ymca`` ~ ``ymca of metropolitan chicago rauner``, or two
restaurants of one hotel, ``ritz carlton cafe`` ~ ``ritz carlton dining room``)."""
JOINED_NAMES = 0.95
"""Similarity of two organisation names that differ only in where their words break
(``gist brocades`` ~ ``gistbrocades``, ``face book`` ~ ``facebook``): one name, as one typo."""
UNRELATED_NAMES = 0.49
"""Highest similarity of two organisation names each holding a word the other lacks and sharing
no rare word (level 0): two firms."""
EXTRA_RARE_WORD = 0.85
"""Highest similarity of two names one of which adds a rare word to the other."""
RARE_WORD_SHARE = 0.002
"""Share of the organisation names holding a word under which the word is rare."""
_MIN_NAMES_FOR_RARITY = 500
MIN_NAMES_FOR_RARITY = _MIN_NAMES_FOR_RARITY
"""Organisation names a population needs before their words are weighed by rarity."""


def org_similarity(a: str, b: str, share: Callable[[str], float]) -> float:
    """Two organisation names (see :func:`~policies.dedupe.features.org_key`) compared.

    token_set_ratio, except that a name with a word the other lacks counts against the match:
    when *both* have such a word, the names differ: one firm's two parts or two names of one
    site when they share a word (give or take a typo: ``woods`` ~ ``wood``) that is rare
    among the snapshot's names (``share``, the share of names holding it: ``ritz carlton
    cafe`` ~ ``ritz carlton dining room``, two restaurants of one hotel; ``rauner family
    ymca`` ~ ``ymca of metropolitan chicago rauner``, one site;
    :data:`DISTINCT_NAMES` at most), two firms when they do not (:data:`UNRELATED_NAMES` at
    most); when one only adds a word that is rare, they are a weak match
    (:data:`EXTRA_RARE_WORD` at most). Words of one or two letters never count; a word matches
    one a typo away or one it abbreviates (``intl``). Names that differ only in where their
    words break are one (:data:`JOINED_NAMES`).
    """
    if a == b:
        return 1.0
    if joined(a) == joined(b):
        return JOINED_NAMES
    similarity = _token_set(a, b)
    words_a, words_b = a.split(), b.split()
    extra_a = [w for w in words_a if len(w) > 2 and not any(_close(w, v) for v in words_b)]
    extra_b = [w for w in words_b if len(w) > 2 and not any(_close(w, v) for v in words_a)]
    if extra_a and extra_b:
        # a word in both, give or take a typo (either name's spelling of it rare)
        common = [w for w in words_a if w not in extra_a] + [w for w in words_b if w not in extra_b]
        if any(len(w) > 2 and share(w) < RARE_WORD_SHARE for w in common):
            return min(similarity, DISTINCT_NAMES)
        return min(similarity, UNRELATED_NAMES)
    if any(share(w) < RARE_WORD_SHARE for w in extra_a + extra_b):
        return min(similarity, EXTRA_RARE_WORD)
    return similarity


CITY_PART = 0.9
"""Similarity of two city names one of which holds the other's words (``new york`` ~ ``new york
city``, ``hollywood`` ~ ``w hollywood``): neither the same nor another city."""


def city_similarity(a: str, b: str) -> float:
    """fuzz.ratio, raised to :data:`CITY_PART` when one name's words are all in the other."""
    similarity = _ratio(a, b)
    if similarity < CITY_PART and _token_set(a, b) >= 1.0:
        return CITY_PART
    return similarity


def zip_similarity(a: str, b: str) -> float:
    """1.0 for the same postcode, 0.8 for one typo apart (same length), else 0."""
    if a == b:
        return 1.0
    if len(a) == len(b) and OSA.distance(a, b, score_cutoff=1) <= 1:
        return 0.8
    return 0.0


BIRTH_TYPO = 0.9
"""Similarity of two dates of birth one digit apart (or two digits swapped), or with the day and
the month swapped (``1980-05-04`` ~ ``1980-04-05``: one written day first)."""
BIRTH_NEAR = 0.7
"""Similarity of two dates of birth within a year of each other, otherwise apart."""
BIRTH_NEAR_DAYS = 365


@lru_cache(maxsize=1 << 16)
def birth_day(key: str) -> int:
    """The day number (:meth:`date.toordinal`) of a :func:`~policies.dedupe.features.birth_key`
    that names a day, -1 for one that does not (its digits only)."""
    if len(key) != 8 or not key.isdigit():
        return -1
    try:
        return date(int(key[:4]), int(key[4:6]), int(key[6:])).toordinal()
    except ValueError:
        return -1


def birth_similarity(a: str, b: str) -> float:
    """Two dates of birth (:func:`~policies.dedupe.features.birth_key`) compared: 1.0 the same,
    :data:`BIRTH_TYPO` one typo apart or day and month swapped, :data:`BIRTH_NEAR` within
    :data:`BIRTH_NEAR_DAYS` days, else 0 (and 0 for a value naming no day, unless a typo)."""
    if a == b:
        return 1.0
    if len(a) == len(b) and OSA.distance(a, b, score_cutoff=1) <= 1:
        return BIRTH_TYPO
    day_a, day_b = birth_day(a), birth_day(b)
    if day_a < 0 or day_b < 0:
        return 0.0
    if a[:4] == b[:4] and a[4:6] == b[6:] and a[6:] == b[4:6]:
        return BIRTH_TYPO
    return BIRTH_NEAR if abs(day_a - day_b) <= BIRTH_NEAR_DAYS else 0.0


UNSEEN_COUNT = 1
"""The count of a value that :class:`Frozen` counts do not hold: one record. They hold the
values two records or more had, so a value one record had is read exactly; one that none had
(new since the weights were learned) is taken as rare as a value can be."""


@dataclass(frozen=True, slots=True)
class Frozen:
    """The population counts stored with learned weights: per term-frequency field the records
    having it (``present``), and per value (``field=value``) held by two records or more the
    records holding it (``counts``; None: weights stored before these were).

    Term frequencies read them in place of the snapshot's counts, so that while the weights
    are frozen an edit shifts no other pair's score, and a full run and an incremental one
    read the same frequencies.
    """

    present: Mapping[str, int]
    counts: Mapping[str, int] | None = None

    @classmethod
    def of(cls, counts: Mapping[str, int], present: Mapping[str, int]) -> Frozen:
        """What a population with these counts (:attr:`Scorer.population`) freezes."""
        kept: dict[str, int] = {}
        for key, count in counts.items():
            field, sep, _ = key.partition("=")
            if sep and (field in TERM_FREQUENCY or field == SITE) and count > UNSEEN_COUNT:
                kept[key] = count
        return cls(dict(present), kept)

    def to_json(self) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
        """``present`` and the counts as ``{field: {value: count}}``, sorted."""
        nested: dict[str, dict[str, int]] = {}
        for key, count in sorted((self.counts or {}).items()):
            field, _, value = key.partition("=")
            nested.setdefault(field, {})[value] = count
        return dict(sorted(self.present.items())), nested

    @classmethod
    def from_json(cls, present: Mapping[str, object], counts: object) -> Frozen:
        """The inverse of :meth:`to_json` (``counts`` None or not a mapping: not stored)."""
        values: dict[str, int] | None = None
        if isinstance(counts, Mapping):
            values = {
                f"{field}={value}": int(str(count))
                for field, held in counts.items()
                if isinstance(held, Mapping)
                for value, count in held.items()
            }
        return cls({str(k): int(str(v)) for k, v in present.items()}, values)


def identifier_scale(model: MatchModel) -> float:
    """The share of ``min_corroboration`` an e-mail or a date of birth agreeing
    (:data:`IDENTIFYING`) must add beside the names to corroborate them under ``model``.

    A value's points are ``ln(m / share)``, and no value is rarer than one record in the
    population: in a few thousand records, a date of birth only one person's records hold is
    worth ``ln(m * records / holders)``, far below the ``min_corroboration`` it is worth in a
    large one, although a namesake shares it no more often. So from
    :data:`FULL_SCALE_RECORDS` records up an identifier must add ``min_corroboration``; below,
    that times ``ln(records) / ln(FULL_SCALE_RECORDS)``. A place is asked the full points at any
    size (and so is a phone, a line a household or a firm shares): namesakes live in one city
    and work at one firm, they are not born on one day.
    """
    return min(1.0, math.log(max(model.records, 2)) / math.log(FULL_SCALE_RECORDS))


def corroboration(support: _Points, identifying: _Points, model: MatchModel) -> _Points:
    """The points that corroborate a pair's names (``support``: what the fields other than the
    names add, of which ``identifying`` the e-mail and the date of birth), the identifiers'
    counted as they would be in :data:`FULL_SCALE_RECORDS` records
    (:func:`identifier_scale`), the places' as they are: one pair, or a column of them."""
    return support + identifying * (1.0 / identifier_scale(model) - 1.0)


class Scorer:
    """Scores pairs of :class:`Features` of one object type under the dedupe settings.

    ``population`` is every record of the type in the snapshot: it tells which e-mails, phones
    and addresses are shared by many records, and how frequent each value is. ``model`` holds
    learned weights (None: the configured ones).
    """

    def __init__(
        self,
        settings: DedupeSettings,
        object_type: str,
        population: Sequence[Features] = (),
        model: MatchModel | None = None,
    ) -> None:
        self.settings = settings
        self.object_type = object_type
        self.model = model
        self._counts, self._present = population_counts(population)
        self._denominator: Mapping[str, int] = self._present  # see using()
        self._values: Mapping[str, int] | None = None  # frozen value counts (see using())
        # see _mailbox_top(); shared with using(): per mailbox its holders' last names, and answers
        self._tops: list[tuple[dict[str, dict[str, int]], dict[str, tuple[int, int]]]] = []
        self._sites: list[dict[str, int]] = []  # see _site_top(): per number, its top count
        w, c = settings.contact_weights, settings.company_weights
        self._weights: Mapping[str, Comparison] = (
            {"name": c.name, "domain": c.domain, "phone": c.phone, "address": c.address,
             "city": c.city, "zip": c.zip}
            if object_type == "companies"
            else {"firstname": w.firstname, "lastname": w.lastname, "email": w.email,
                  "phone": w.phone, "company": w.company, "address": w.address, "city": w.city,
                  "zip": w.zip, "birthdate": w.birthdate}
        )  # fmt: skip
        self._compare: Callable[[Features, Features], Compared] = (
            self._companies if object_type == "companies" else self._contacts
        )

    @classmethod
    def counted(
        cls,
        settings: DedupeSettings,
        object_type: str,
        counts: Counter[str],
        present: Counter[str],
    ) -> Scorer:
        """The scorer whose population gave ``counts`` and ``present`` (what
        :func:`population_keys` of each of its records adds up to): counted elsewhere, kept."""
        scorer = cls(settings, object_type)
        scorer._counts, scorer._present = counts, present
        scorer._denominator = present
        scorer._tops, scorer._sites = [], []
        return scorer

    @property
    def population(self) -> tuple[Counter[str], Counter[str]]:
        """The counts of the population: per value key, and per field the records having it."""
        return self._counts, self._present

    @property
    def configured(self) -> Mapping[str, Comparison]:
        """The configured comparison of each field that has one."""
        return self._weights

    def using(self, model: MatchModel | None, frozen: Frozen | None = None) -> Scorer:
        """The same scorer with other weights (the counts are shared, not recounted).

        ``frozen``: the counts of the population ``model`` was learned from; term frequencies
        are read from them (see :class:`Frozen`). None: from the population now.
        """
        other = object.__new__(Scorer)
        other.settings, other.object_type, other.model = self.settings, self.object_type, model
        other._counts, other._present = self._counts, self._present
        other._tops = self._tops
        other._denominator = self._present if frozen is None else frozen.present
        other._values = None if frozen is None else frozen.counts
        other._sites = self._sites if other._values is self._values else []
        other._weights, other._compare = self._weights, self._compare
        return other

    def reads_as(self, other: Scorer) -> bool:
        """Whether this scorer reads the same frequencies and shared values as ``other``: one
        population's counts, none frozen, one settings (the weights may differ)."""
        return (
            self._counts is other._counts
            and self._denominator is other._denominator
            and self._values is other._values
            and self.settings is other.settings
        )

    @property
    def frozen_values(self) -> bool:
        """Whether term frequencies read counts frozen with the weights (:class:`Frozen`)."""
        return self._values is not None

    def frequency(self, field: str, value: str) -> float:
        """Share of the records having ``field`` whose value is ``value`` (a company's phone:
        the records of its commonest site counted as one, see :data:`SITE`)."""
        present = self._denominator.get(field, 0)
        if not present:
            return 1.0
        if field == "phone" and self.object_type == "companies":
            return self._site_count(value) / present
        return self._value_count(f"{field}={value}") / present

    def _value_count(self, key: str) -> int:
        """How many records hold the term-frequency value ``key`` (``field=value``)."""
        if self._values is None:
            return self._counts[key]
        return self._values.get(key, UNSEEN_COUNT)

    def line_count(self, number: str) -> int:
        """How many records carry ``number`` (without extension) as their phone."""
        return self._value_count(f"phone={number}")

    def _site_count(self, number: str) -> int:
        """:meth:`line_count`, the records at its commonest site counted as one (:data:`SITE`):
        what weighs a match on it."""
        return self.line_count(number) - max(self._site_top(number) - 1, 0)

    def _site_top(self, number: str) -> int:
        """How many records carry ``number`` at its commonest street address (from the counts
        the frequencies read: frozen with the weights, or the population's)."""
        if not self._sites:  # once per population and counts, on the first line asked
            tops: dict[str, int] = {}
            for key, count in (self._counts if self._values is None else self._values).items():
                if key.startswith(_SITE_PREFIX):
                    held = _site_number(key)
                    tops[held] = max(tops.get(held, 0), count)
            self._sites.append(tops)
        return self._sites[0].get(number, 0)

    def raised(self, table: PairTable) -> npt.NDArray[np.bool_]:
        """Per pair of ``table``, whether :func:`raised_by` names a rule: the pairs
        :meth:`finish` proposes for review at least, whatever their bound (none for contacts)."""
        found: npt.NDArray[np.bool_] = self.raised_rules(table) > 0
        return found

    def raised_rules(self, table: PairTable) -> npt.NDArray[np.int8]:
        """Per pair of ``table``, the rule :func:`raised_by` names, as its code in
        ``finish.RAISED`` (0: none)."""
        rows = len(table.levels)
        if self.object_type != "companies":
            return np.zeros(rows, dtype=np.int8)
        column = {f: k for k, f in enumerate(table.fields)}

        def at(field: str) -> npt.NDArray[np.int8]:
            return table.levels[:, column[field]]

        place = np.ones(rows, dtype=np.bool_)
        for field in _SITE_PLACE:
            place &= at(field) != 0
        address = at("address") == len(CUTS["address"])
        site = (at("name") >= 1) & address
        # counted record by record (a building's switchboard is no tenant's own line), not as
        # the frequency counts them (a site's records as one: see SITE)
        count = np.zeros(rows) if table.lines is None else np.nan_to_num(table.lines, nan=np.inf)
        own_line = (at("phone") == len(CUTS["phone"])) & (count < self.settings.shared_value_count)
        line = (at("name") == len(CUTS["name"])) & own_line
        alone = np.ones(rows, dtype=np.bool_)
        for field in table.fields:
            if field != "name":
                alone &= at(field) < 0
        name = (at("name") >= len(CUTS["name"]) - 1) & alone
        found: npt.NDArray[np.int8] = np.select(
            [place & site, place & line, place & name, place & address & own_line], [1, 2, 3, 4], 0
        ).astype(np.int8)
        return found

    def apart(self, table: PairTable, channels: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """Per pair of ``table``, whether :meth:`finish` (with learned weights) holds it below
        ``review_threshold`` as two people beyond doubt (``different_name``: both names
        differ outright; or the first name, and the mailbox; or a name, the mailbox and the
        phone): never an edge, whatever its points. Household members and colleagues sharing
        an address or a line are most of the pairs the bound lets through.

        ``channels``: per pair, whether either record has an e-mail, a phone or a company
        (``Compared.channels``). Decided from the levels alone, which are ``compare``'s.
        """
        rows = len(table.levels)
        rule = self.settings.different_name
        if self.object_type == "companies" or rule == "score":
            return np.zeros(rows, dtype=np.bool_)
        column = {f: k for k, f in enumerate(table.fields)}

        def outright(field: str) -> npt.NDArray[np.bool_]:
            found: npt.NDArray[np.bool_] = table.levels[:, column[field]] == 0
            return found

        first, last, mailbox = outright("firstname"), outright("lastname"), outright("email")
        same_mailbox = table.levels[:, column["email"]] == len(CUTS["email"])
        held = (first | last) & ~same_mailbox & (channels | (rule == "review"))
        two: npt.NDArray[np.bool_] = held & (
            (first & last) | (first & mailbox) | (mailbox & outright("phone"))
        )
        return two

    def exact_u(self) -> dict[str, float]:
        """Per term-frequency field, the chance that two random records agree exactly."""
        sums: dict[str, float] = {}
        for key, count in self._counts.items():
            field, sep, _ = key.partition("=")
            if sep and self._present[field]:
                share = count / self._present[field]
                sums[field] = sums.get(field, 0.0) + share * share
        return sums

    def score(self, a: Features, b: Features) -> PairScore:
        """The score of a pair (pass the records in a fixed order for bit-identical results)."""
        return self.finish(self.compare(a, b))

    def compare(self, a: Features, b: Features) -> Compared:
        """Similarities and flags of a pair, before weights."""
        return self._compare(a, b)

    def weighs_change(self, key: str, before: int, after: int) -> bool:
        """Whether the count of ``key`` (a :func:`population_keys` key) going from ``before``
        to ``after`` can change a score: a term frequency (and a company line's count by
        :data:`SITE`, which its frequency reads) does when it is read from the
        population's counts (learned weights not frozen with theirs: :class:`Frozen`), and so
        does, under configured weights (which read no frequency), a company's phone line
        becoming shared or ceasing to be (:func:`raised_by`); a name's word only when its
        rarity flips (:func:`org_similarity`); a value counted for :meth:`shared` only when it
        becomes shared or stops being so."""
        field, sep, _ = key.partition("=")
        limit = self.settings.shared_value_count
        if sep and field == "word":
            present = self._denominator.get("name", 0)
            if present < _MIN_NAMES_FOR_RARITY:
                return False
            return (before / present < RARE_WORD_SHARE) != (after / present < RARE_WORD_SHARE)
        if sep and field == MAILBOX:  # who holds a mailbox many hold decides if it is shared
            return self._counts[mailbox_of(key)] >= limit
        if sep and (field in TERM_FREQUENCY or field == SITE):
            if self.frozen_values:
                return False
            if self.model is not None:
                return True
            # configured weights read no frequency (nor, so, a line's sites): only whether a
            # company's line is shared, record by record (raised_by)
            line = field == "phone" and self.object_type == "companies"
            return line and (before >= limit) != (after >= limit)
        return (before >= limit) != (after >= limit)

    def shared(self, value: str) -> bool:
        """Whether ``value`` (an e-mail, canonical phone, or ``'@' + address``) is common: held
        by ``shared_value_count`` records or more, and, for an e-mail, not most of its holders
        that carry a last name by one last name (one person's duplicates share their own
        mailbox, some of them without a last name: a missing name is no other person's; a
        firm's ``info@`` box or a switchboard is held by many names)."""
        count = self._counts[value]
        if count < self.settings.shared_value_count:
            return False
        if "@" in value and not value.startswith("@"):
            top, named = self._mailbox_top(value)
            return 2 * top < named
        return True

    def _mailbox_top(self, email: str) -> tuple[int, int]:
        """How many records of the population hold ``email`` with its commonest last name
        (give or take a typo: ``atkinson`` counts the ``atkinsen`` beside it), and how many
        hold it with a last name."""
        if not self._tops:  # once per population, on the first mailbox shared by many
            tops: dict[str, dict[str, int]] = {}
            for key, count in self._counts.items():
                if key.startswith(_MAILBOX_PREFIX):
                    tops.setdefault(mailbox_of(key), {})[key.rpartition("=")[2]] = count
            self._tops.append((tops, {}))
        holders, answers = self._tops[0]
        found = answers.get(email)
        if found is None:  # once per mailbox: pairs ask again and again
            names = holders.get(email, {})
            # the commonest few, each with the names one typo from it: a firm's box held by
            # thousands of names is compared a few thousand times, not millions
            commonest = sorted(names, key=lambda n: (-names[n], n))[:_MAILBOX_CANDIDATES]
            top = max(
                (
                    sum(c for n, c in names.items() if n == name or _one_typo(n, name))
                    for name in commonest
                ),
                default=0,
            )
            found = answers[email] = (top, sum(names.values()))
        return found

    def finish(self, compared: Compared) -> PairScore:
        """The score of a compared pair under the configured or learned weights."""
        sims = compared.similarities
        cap = 1.0
        held = ""
        if self.model is None:
            points = {
                f: compared.overrides.get(f, self._weights[f].points(s))
                for f, s in sims.items()
                if f in self._weights
            }
            prior = self.settings.prior
            total = prior + sum(points.values())
        else:
            points = self._learned(compared)
            names = added(p for f, p in points.items() if f in NAMES)
            others = {f: p for f, p in points.items() if f not in NAMES}
            prior = self.model.prior
            total = prior + names + self._place_total(others)
            support = self._place_total(
                {f: p for f, p in others.items() if p > 0}, CORROBORATION_SHARE
            )
            if support < self.settings.min_corroboration and not self._one_at_a_place(compared):
                # names (and a city, a company) only: a namesake as often as a duplicate --
                # unless an e-mail or a date of birth identifies enough for the population
                # (counted as in a population of FULL_SCALE_RECORDS, beside a place's points)
                kind = IDENTIFYING[self.object_type]
                identifying = added(p for f, p in others.items() if p > 0 and f in kind)
                if (
                    corroboration(support, identifying, self.model)
                    < self.settings.min_corroboration
                ):
                    cap = self.settings.review_cap
            rule = self.settings.different_name
            other = [f for f in ("firstname", "lastname") if _outright(sims, f)]
            same_mailbox = _exact(sims, "email")
            if (
                rule != "score"
                and other
                and not same_mailbox
                and (rule == "review" or compared.channels)
            ):
                # another name at one firm or address, on records that carry an e-mail, a phone
                # or a company: a spouse, a child, a colleague -- or one person with a mangled
                # name or a new surname; a person tells which
                cap = self.settings.review_cap
                held = another(other)
                mailbox = _outright(sims, "email")
                if (
                    len(other) == 2
                    or (other == ["firstname"] and mailbox)
                    or (mailbox and _outright(sims, "phone"))
                ):
                    # ... unless two people beyond doubt: both names differ (a swap, a nickname,
                    # a typo would not); another first name with a mailbox of its own (a new
                    # surname may come with a new mailbox; a new first name does not); another
                    # last name with a mailbox and a phone of its own (a person renamed keeps
                    # a number)
                    cap = math.nextafter(self.settings.review_threshold, 0.0)
        fields = CONFLICT[self.object_type]
        conflict = all(f in points and points[f] < 0 for f in fields)
        if conflict:
            total -= self.settings.conflict_penalty
        confidence = min(cap, 1.0 / (1.0 + math.exp(-max(min(total, 700.0), -700.0))))
        if compared.two_mailboxes and self.settings.two_mailboxes == "review":
            # two different mailboxes at one domain: perhaps an alias, perhaps a colleague
            # or a relative at the same firm; a person decides, never an automatic merge
            confidence = min(confidence, self.settings.review_cap)
            if self.model is not None:
                held = held or TWO_MAILBOXES
        if (
            self.object_type == "companies"
            and self.settings.two_sites == "review"
            and "address" in sims
            and level("address", sims["address"]) <= SITE_LEVEL
            and not _exact(sims, "domain")
        ):
            # two sites of one firm (one name, one switchboard), or a firm that moved: a
            # person decides, never an automatic merge -- unless one web domain says one firm
            # (a CRM keeps one company a domain: the head office and a branch are one account)
            confidence = min(confidence, self.settings.review_cap)
            if self.model is not None:
                held = held or TWO_SITES
        raised = ""
        review_at = self.settings.review_threshold
        if confidence < review_at and self.object_type == "companies":
            line = compared.values.get("phone")
            own_line = line is not None and self.line_count(line) < self.settings.shared_value_count
            raised = raised_by({f: level(f, s) for f, s in sims.items()}, own_line=own_line)
            confidence = review_at if raised else confidence
        shown = {f: s for f, s in sims.items() if f in points}
        return PairScore(confidence, shown, points, swapped=compared.swapped,
                         nickname=compared.nickname, conflict=conflict, held=held, raised=raised,
                         evidence_points=total - prior)  # fmt: skip

    def explained(self, compared: Compared, verdict: PairScore) -> PairScore:
        """What :meth:`finish` gives ``compared`` under learned weights, its verdict (the
        confidence, the rules holding and raising it, the conflict, the evidence points) known
        already from :func:`~policies.dedupe.finish.finish_table`: the similarities and points
        to explain it, without working the verdict out again."""
        points = self._learned(compared)
        sims = compared.similarities
        return replace(
            verdict,
            similarities={f: s for f, s in sims.items() if f in points},
            points=points,
            swapped=compared.swapped,
            nickname=compared.nickname,
        )

    def _one_at_a_place(self, compared: Compared) -> bool:
        """Whether the pair shares a full name (give or take a typo: both names at the top two
        levels) and a place exactly where the snapshot shows one name at one place to be one
        person at least ``merge_threshold`` of the time (the model's ``name_place``, measured
        on names agreeing exactly: a typo makes a namesake less likely, not more), or a date of
        birth give or take a typo where it shows one name born on one day to be (the model's
        ``name_birth``): then the names and the place, or the day, are corroboration enough."""
        model = self.model
        if model is None:
            return False
        sims = compared.similarities
        near = all(f in sims and level(f, sims[f]) >= len(CUTS[f]) - 1 for f in NAME_LABELS)
        if not near:
            return False
        merge_at = self.settings.merge_threshold
        if model.name_place >= merge_at and any(_exact(sims, f) for f in PLACES):
            return True
        born = sims.get("birthdate")
        return (
            model.name_birth >= merge_at
            and born is not None
            and level("birthdate", born) >= len(CUTS["birthdate"]) - 1
        )

    def org_similarity(self, a: str, b: str) -> float:
        """:func:`org_similarity` of two organisation keys, word rarity from the snapshot."""
        return org_similarity(a, b, self.word_share)

    def tabulate(
        self,
        feats: Sequence[Features],
        left: npt.NDArray[np.int32],
        right: npt.NDArray[np.int32],
        dtype: type[np.floating[Any]] = np.float32,
    ) -> PairTable:
        """Compare the pairs ``(feats[left[k]], feats[right[k]])`` into columns, one by one
        (frequencies as ``dtype``).

        :func:`policies.dedupe.columns.tabulate` gives the same table column-wise.
        """
        fields = FIELDS[self.object_type]
        column = {f: k for k, f in enumerate(fields)}
        rows = len(left)
        levels = np.full((rows, len(fields)), -1, dtype=np.int8)
        frequency = np.full((rows, len(fields)), np.nan, dtype=dtype)
        email = np.full(rows, np.nan, dtype=np.float64)
        lines = line_column(self.object_type, rows)
        tf = [f for f in fields if f in TERM_FREQUENCY]
        for start in range(0, rows, TABLE_CHUNK):
            stop = min(start + TABLE_CHUNK, rows)
            chunk_levels = []
            chunk_freq: list[tuple[int, int, float]] = []
            chunk_email: list[tuple[int, float]] = []
            pairs = zip(left[start:stop].tolist(), right[start:stop].tolist(), strict=True)
            for n, (i, j) in enumerate(pairs):
                done = self._compare(feats[i], feats[j])
                row = [-1] * len(fields)
                for field, similarity in done.similarities.items():
                    row[column[field]] = level(field, similarity)
                chunk_levels.append(row)
                for field in tf:
                    value = done.values.get(field)
                    if value is not None:
                        chunk_freq.append((n, column[field], self.frequency(field, value)))
                if "email" in done.overrides:
                    chunk_email.append((n, done.overrides["email"]))
                if lines is not None and "phone" in done.values:
                    lines[start + n] = self.line_count(done.values["phone"])
            if chunk_levels:
                levels[start:stop] = np.asarray(chunk_levels, dtype=np.int8)
            for n, k, share in chunk_freq:
                frequency[start + n, k] = share
            for n, points in chunk_email:
                email[start + n] = points
        return PairTable(fields, levels, frequency, email, lines)

    def _learned(self, compared: Compared) -> dict[str, float]:
        model = self.model
        assert model is not None
        points: dict[str, float] = {}
        for field, similarity in compared.similarities.items():
            if field in compared.overrides and field == "email":
                points[field] = compared.overrides[field]
                continue
            lvl = level(field, similarity)
            value = compared.values.get(field)
            if (
                value is not None
                and field in TERM_FREQUENCY
                and lvl == len(model.fields[field].m) - 1
            ):
                points[field] = model.exact_points(field, self.frequency(field, value))
            else:
                points[field] = model.points(field, lvl)
        if model.name_pair and compared.same_full_name:
            points["lastname"] += model.name_pair  # a surname given the first name agrees
        return points

    def _place_total(self, points: Mapping[str, float], share: float | None = None) -> float:
        place = PLACE[self.object_type]
        share = self.settings.place_share if share is None else share
        total = added(p for f, p in points.items() if f not in place or p < 0)
        support = sorted((p for f, p in points.items() if f in place and p > 0), reverse=True)
        if support:
            total += support[0] + share * added(support[1:])
        return total

    def _discount(self, field: str, value: str, sims: Sims, overrides: dict[str, float]) -> None:
        if value and self.shared(value) and field in self._weights:
            points = self._weights[field].points(sims[field])
            if points > 0:
                overrides[field] = points * self.settings.shared_value_factor

    def _contacts(self, a: Features, b: Features) -> Compared:
        w = self.settings.contact_weights
        sims: Sims = {}
        overrides: dict[str, float] = {}
        values: dict[str, str] = {}
        swapped = nickname = two_mailboxes = False
        if a.first and b.first:
            sims["firstname"], nickname = first_name_similarity(a.first, b.first)
            if a.first == b.first:
                values["firstname"] = a.first
        if a.last and b.last:
            sims["lastname"] = name_similarity(a.last, b.last)
            if a.last == b.last:
                values["lastname"] = a.last
        if a.first and a.last and b.first and b.last and a.first != b.first:
            # One record may hold the names the wrong way round. Which of the two crossed
            # pairs is "the first name" depends on which record is swapped: take the better
            # reading, so that the score does not depend on the order of a and b.
            # (a crossed first name may be a nickname: Allen Catherine ~ Katie Allen)
            x, x_nick = first_name_similarity(a.first, b.last)
            y, y_nick = first_name_similarity(a.last, b.first)
            x_last, y_last = name_similarity(a.first, b.last), name_similarity(a.last, b.first)
            straight = w.firstname.points(sims["firstname"]) + w.lastname.points(sims["lastname"])
            as_xy = w.firstname.points(x) + w.lastname.points(y_last)
            as_yx = w.firstname.points(y) + w.lastname.points(x_last)
            if max(as_xy, as_yx) > straight:
                first, last, nickname = (
                    (x, y_last, x_nick) if as_xy >= as_yx else (y, x_last, y_nick)
                )
                sims["firstname"], sims["lastname"] = first, last
                swapped = True
                values.pop("firstname", None)
                values.pop("lastname", None)
        one, both = (a, b) if b.first and b.last else (b, a)
        if bool(one.first) != bool(one.last) and both.first and both.last:
            # One record holds one name, the other both: the one may be in the wrong field (a
            # surname typed as the first name, the last name left empty). Read it in the field
            # where it scores better, as for names crossed; only where it agrees there: a
            # name unlike both is unlike the one in its own field, not another last name.
            name = one.first or one.last
            if one.first:
                other = name_similarity(name, both.last)
                if 0 < w.lastname.points(other) > w.firstname.points(sims["firstname"]):
                    del sims["firstname"]
                    values.pop("firstname", None)
                    sims["lastname"], swapped, nickname = other, True, False
            else:
                other, nick = first_name_similarity(name, both.first)
                if 0 < w.firstname.points(other) > w.lastname.points(sims["lastname"]):
                    del sims["lastname"]
                    values.pop("lastname", None)
                    sims["firstname"], swapped, nickname = other, True, nick
        if a.emails and b.emails:
            common = sorted(set(a.emails) & set(b.emails))
            owners = ((a.first, a.last), (b.first, b.last))
            sims["email"] = 1.0 if common else email_similarity(a.emails, b.emails, owners)
            if common:
                self._discount("email", common[0], sims, overrides)
            elif sims["email"] == 0.0 and not {_domain(e) for e in a.emails}.isdisjoint(
                _domain(e) for e in b.emails
            ):
                overrides["email"] = w.email_same_domain
                two_mailboxes = True
        if a.phones and b.phones:
            sims["phone"], on = phone_similarity(a.phones, b.phones)
            self._discount("phone", on, sims, overrides)
            if sims["phone"] >= 1.0:
                values["phone"] = split_extension(on)[0]
        if a.org and b.org:
            sims["company"] = _token_set(a.org, b.org)
            if a.org == b.org:
                values["company"] = a.org
        self._place(a, b, sims, overrides, values)
        if a.birth and b.birth:
            sims["birthdate"] = birth_similarity(a.birth, b.birth)
            if a.birth == b.birth:
                values["birthdate"] = a.birth
        channels = bool(a.emails or b.emails or a.phones or b.phones or a.org or b.org)
        return Compared(sims, overrides, values, swapped, nickname, two_mailboxes, channels)

    def _companies(self, a: Features, b: Features) -> Compared:
        sims: Sims = {}
        overrides: dict[str, float] = {}
        values: dict[str, str] = {}
        if a.org and b.org:
            sims["name"] = org_similarity(a.org, b.org, self.word_share)
            if a.org == b.org:
                values["name"] = a.org
        if a.domain and b.domain:
            sims["domain"] = 1.0 if a.domain == b.domain else 0.0
        if a.phones and b.phones:
            sims["phone"], on = phone_similarity(a.phones, b.phones)
            self._discount("phone", on, sims, overrides)
            if sims["phone"] >= 1.0:
                values["phone"] = split_extension(on)[0]
        self._place(a, b, sims, overrides, values)
        return Compared(sims, overrides, values)

    def word_share(self, word: str) -> float:
        """Share of the organisation names that contain ``word`` (1.0 in a small snapshot)."""
        present = self._denominator.get("name", 0)
        if present < _MIN_NAMES_FOR_RARITY:
            return 1.0
        return self._counts[f"word={word}"] / present

    def _place(
        self,
        a: Features,
        b: Features,
        sims: Sims,
        overrides: dict[str, float],
        values: dict[str, str],
    ) -> None:
        if a.address and b.address:
            sims["address"] = address_similarity(a.address, b.address)
            if a.address == b.address:
                self._discount("address", f"@{a.address}", sims, overrides)
                values["address"] = a.address
        if a.city and b.city:
            sims["city"] = city_similarity(a.city, b.city)
            if a.city == b.city:
                values["city"] = a.city
        if a.zip and b.zip:
            sims["zip"] = zip_similarity(a.zip, b.zip)
            if a.zip == b.zip:
                values["zip"] = a.zip
        if a.state and b.state:
            sims["state"] = 1.0 if a.state == b.state else 0.0


def added(values: Iterable[float]) -> float:
    """The sum of ``values`` added left to right (``sum`` compensates from Python 3.12 on):
    the column-wise finish (:func:`policies.dedupe.finish.finish_table`) adds the same
    columns in the same order, so both give the same bits."""
    total = 0.0
    for value in values:
        total += value
    return total


def _outright(sims: Mapping[str, float], field: str) -> bool:
    """Whether both records have ``field`` and it differs outright (level 0)."""
    return field in sims and level(field, sims[field]) == 0


def _exact(sims: Mapping[str, float], field: str) -> bool:
    """Whether both records have ``field`` and it agrees at the top level."""
    return field in sims and level(field, sims[field]) == len(CUTS[field])


def another(names: Sequence[str]) -> str:
    """Why a pair whose ``names`` (``firstname``, ``lastname``) differ outright is held."""
    return "another " + " and ".join(NAME_LABELS[f] for f in names)


TABLE_CHUNK = 1 << 16
"""Pairs compared per chunk when tabulating (bounds the Python objects alive at once)."""
BOUND_MARGIN = 1e-3
"""Log-odds a pair's bound may fall short of the review threshold and the pair still be scored
in full: covers the rounding of the stored frequencies and of the order of summation."""


#: Rows of a :class:`PairTable` whose bound is worked out at once (a few MB of temporaries).
BOUND_ROWS = 1 << 18


@dataclass(frozen=True, slots=True)
class PairTable:
    """What comparing many pairs found, as columns (one row per pair, one column per field).

    ``levels`` are the agreement levels (-1: a record lacks the field); ``frequency`` the share
    of records holding the value an exact match rests on (NaN: none, or not a term-frequency
    field); ``email_points`` the fixed points replacing the e-mail field's (a shared mailbox,
    two mailboxes at one domain; NaN: none); ``lines`` how many records carry the phone number
    two companies share (NaN: none shared; None: not counted: contacts', or every line taken
    for its own). No per-pair objects survive tabulating.
    """

    fields: tuple[str, ...]
    levels: LevelMatrix
    frequency: npt.NDArray[np.floating[Any]]  # float32, or float64 for finish_table
    email_points: npt.NDArray[np.float64]
    lines: npt.NDArray[np.float32] | None = None

    def bound(
        self, model: MatchModel, prior: float, place: frozenset[str], share: float
    ) -> npt.NDArray[np.float64]:
        """Per pair, log-odds at least as high as the total :meth:`Scorer.finish` gives it.

        The points of each field as ``finish`` counts them under ``model``, the place fields
        beyond the best at ``share``; the caps, the conflict penalty and the guards only ever
        lower a confidence, so they are left out. Worked out a slice of rows at a time: the
        float temporaries of every row at once were gigabytes at 30 million pairs.
        """
        rows = len(self.levels)
        out = np.empty(rows, dtype=np.float64)
        for start in range(0, rows, BOUND_ROWS):
            part = slice(start, min(start + BOUND_ROWS, rows))
            out[part] = self._bound(part, model, prior, place, share)
        return out

    def _bound(
        self, part: slice, model: MatchModel, prior: float, place: frozenset[str], share: float
    ) -> npt.NDArray[np.float64]:
        levels, frequency, email_points = (
            self.levels[part],
            self.frequency[part],
            self.email_points[part],
        )
        rows = len(levels)
        fixed = np.zeros(rows, dtype=np.float64)  # names and fields counted in full
        place_sum = np.zeros(rows, dtype=np.float64)  # positive place points
        place_top = np.zeros(rows, dtype=np.float64)
        for k, field in enumerate(self.fields):
            found = model.fields[field]
            lvl = levels[:, k]
            table = np.log(np.asarray(found.m) / np.asarray(found.u))
            points = np.where(lvl >= 0, table[np.maximum(lvl, 0)], 0.0)
            if field in TERM_FREQUENCY:
                top = len(found.m) - 1
                freq = frequency[:, k].astype(np.float64)
                exact = (lvl == top) & ~np.isnan(freq)
                tf = np.log(found.m[top] / np.maximum(np.where(exact, freq, 1.0), MIN_FREQUENCY))
                points = np.where(exact, tf, points)
            if field == "email":
                points = np.where(np.isnan(email_points), points, email_points)
            if field in place:
                positive = np.maximum(points, 0.0)
                fixed += np.minimum(points, 0.0)
                place_sum += positive
                np.maximum(place_top, positive, out=place_top)
            else:
                fixed += points
        return prior + fixed + share * place_sum + (1.0 - share) * place_top


CONFLICT: Mapping[str, tuple[str, str, str]] = {
    "contacts": ("email", "phone", "city"),
    "companies": ("domain", "phone", "city"),
}


MAILBOX = "mailbox"
"""The counted key of an e-mail with its holder's last name: ``mailbox=<e-mail>=<last name>``
(a last name is letters only, so the last ``=`` ends the e-mail)."""
_MAILBOX_PREFIX = MAILBOX + "="


def mailbox_of(key: str) -> str:
    """The e-mail of a :data:`MAILBOX` key."""
    return key[len(_MAILBOX_PREFIX) :].rpartition("=")[0]


SITE = "site"
"""The counted key of a company's phone number (its first, without extension, as the
term-frequency ``phone`` value) with its street address as a :func:`site`:
``site=<number>=<site>`` (a number holds no ``=``). The records of one site filed again and
again (several sources' lists) all carry its line: they count as one record in its frequency
(:meth:`Scorer.frequency`), so that a site's own line does not read as a chain's central one
the more copies it has."""
_SITE_PREFIX = SITE + "="


def site(address: str) -> str:
    """A street address as a site: its first house number and the longest word of its street
    (``4444 s kedzie ave`` and ``4444 s kedzie`` are one), or the whole address without a
    number."""
    numbers, words = house_numbers(address), street_words(address).split()
    return f"{numbers[0]} {max(words, key=len)}" if numbers and words else address


def _site_number(key: str) -> str:
    """The phone number of a :data:`SITE` key."""
    return key[len(_SITE_PREFIX) :].partition("=")[0]


def site_of(key: str) -> str:
    """The ``phone=<number>`` key a :data:`SITE` key weighs."""
    return "phone=" + _site_number(key)


def line_column(object_type: str, rows: int) -> npt.NDArray[np.float32] | None:
    """The column of :attr:`PairTable.lines` to fill for ``rows`` pairs: companies' only (a
    contact's line is never asked whether it is shared)."""
    return np.full(rows, np.nan, dtype=np.float32) if object_type == "companies" else None


def _first_line(f: Features) -> str | None:
    """A record's first phone number without its extension: the one its counts hold."""
    return split_extension(f.phones[0])[0] if f.phones else None


def population_keys(f: Features) -> tuple[list[str], list[str]]:
    """What one record adds to a :class:`Scorer`'s counts: the keys of its values (e-mails,
    phones, ``@address``, ``field=value`` of the term-frequency fields, ``word=w`` of a
    company's name, each e-mail with the last name as a :data:`MAILBOX` key) and the
    term-frequency fields it has."""
    counted = list({*f.emails, *f.phones, f"@{f.address}"} - {"@"})
    if f.last:
        counted += [f"{_MAILBOX_PREFIX}{e}={f.last}" for e in f.emails]
    tf = _tf_values(f)
    counted += [f"{field}={value}" for field, value in tf.items()]
    if f.record.object_type == "companies":
        if f.org:
            counted += [f"word={w}" for w in set(f.org.split())]
        if "phone" in tf and f.address:
            counted.append(f"{_SITE_PREFIX}{tf['phone']}={site(f.address)}")
    return counted, list(tf)


def population_counts(population: Sequence[Features]) -> tuple[Counter[str], Counter[str]]:
    """What :func:`population_keys` of each record adds up to (the keys counted, the fields
    present), counted one kind of value at a time: a key's string is made once per distinct
    value, not once per record holding it. Within a field, keys come in the order the records
    first hold them, as summing the records' keys gives (``exact_u`` adds in that order)."""
    companies = [f for f in population if f.record.object_type == "companies"]
    contacts = [f for f in population if f.record.object_type != "companies"]
    counts: Counter[str] = Counter()
    # a record's e-mails, phones and its address as "@address" (each once: a set per record)
    counts.update(chain.from_iterable(f.emails for f in population))
    counts.update(chain.from_iterable(f.phones for f in population))
    addresses = Counter(f.address for f in population if f.address)
    clash = {a for a in addresses if f"@{a}" in counts}  # an e-mail "@<address>" (never, but)
    counts.update({f"@{a}": n for a, n in addresses.items()})
    for f in population if clash else ():
        if f.address in clash and f"@{f.address}" in f.emails:
            counts[f"@{f.address}"] -= 1  # the record's set held the one key once
    mailboxes = Counter((e, f.last) for f in population if f.last for e in f.emails)
    counts.update({f"{MAILBOX}={e}={last}": n for (e, last), n in mailboxes.items()})
    present: Counter[str] = Counter()
    tf: list[tuple[str, Iterable[str]]] = [
        ("name", (f.org for f in companies if f.org)),
        ("firstname", (f.first for f in contacts if f.first)),
        ("lastname", (f.last for f in contacts if f.last)),
        ("company", (f.org for f in contacts if f.org)),
        ("birthdate", (f.birth for f in contacts if f.birth)),
        ("address", (f.address for f in population if f.address)),
        ("city", (f.city for f in population if f.city)),
        ("zip", (f.zip for f in population if f.zip)),
        ("phone", (line for f in population if (line := _first_line(f)))),
    ]
    for field, values in tf:
        held = Counter(values)
        if held:
            counts.update({f"{field}={v}": n for v, n in held.items()})
            present[field] = sum(held.values())
    words = chain.from_iterable(set(f.org.split()) for f in companies if f.org)
    counts.update({f"word={w}": n for w, n in Counter(words).items()})
    sites = Counter(
        (line, site(f.address)) for f in companies if f.address and (line := _first_line(f))
    )
    counts.update({f"{_SITE_PREFIX}{n}={a}": c for (n, a), c in sites.items()})
    return counts, present


def _tf_values(f: Features) -> dict[str, str]:
    """The values of a record whose frequencies weigh exact matches."""
    out: dict[str, str] = {}
    if f.record.object_type == "companies":
        if f.org:
            out["name"] = f.org
    else:
        if f.first:
            out["firstname"] = f.first
        if f.last:
            out["lastname"] = f.last
        if f.org:
            out["company"] = f.org
        if f.birth:
            out["birthdate"] = f.birth
    for field, value in (("address", f.address), ("city", f.city), ("zip", f.zip)):
        if value:
            out[field] = value
    if line := _first_line(f):
        out["phone"] = line
    return out
