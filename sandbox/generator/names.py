"""People's names: picking one, its nicknames, and the small edits real duplicates show.

``NICKNAMES`` (formal given name -> informal forms) is read from ``nicknames.csv`` in this
package. :func:`given_names_related` is what "the same given name" means for the ground truth:
equal ignoring case and accents, or one a nickname of the other, or both nicknames of one
formal name.
"""

from __future__ import annotations

import csv
import random
import unicodedata
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Final

from sandbox.generator.name_pools import (
    ANGLICISED_GIVEN,
    ANGLO_FEMALE,
    ANGLO_LAST,
    ANGLO_MALE,
    CULTURES,
    FEMININE_SURNAME,
    HISPANIC_LAST,
)


def _load_nicknames() -> dict[str, tuple[str, ...]]:
    text = resources.files("sandbox.generator").joinpath("nicknames.csv").read_text("utf-8")
    rows = [line for line in text.splitlines() if line and not line.startswith("#")]
    table: dict[str, tuple[str, ...]] = {}
    for row in csv.DictReader(rows):
        table[row["formal"]] = tuple(row["nicknames"].split("|"))
    return table


NICKNAMES: Final[Mapping[str, tuple[str, ...]]] = _load_nicknames()

_FORMALS_OF: Final[dict[str, tuple[str, ...]]] = {}
for _formal, _nicks in NICKNAMES.items():
    for _nick in _nicks:
        _FORMALS_OF[_nick] = (*_FORMALS_OF.get(_nick, ()), _formal)

_SPECIAL_FOLDS: Final[dict[str, str]] = {
    "ß": "ss", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "æ": "ae", "Æ": "AE", "đ": "d", "ı": "i",
}  # fmt: skip

_KEYBOARD: Final[dict[str, str]] = {
    "a": "qwsz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc",
    "g": "ftyhbv", "h": "gyujnb", "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop",
    "m": "njk", "n": "bhjm", "o": "iklp", "p": "ol", "q": "wa", "r": "edft", "s": "awedxz",
    "t": "rfgy", "u": "yhji", "v": "cfgb", "w": "qase", "x": "zsdc", "y": "tghu", "z": "asx",
}  # fmt: skip


@cache
def ascii_fold(text: str) -> str:
    """``text`` without diacritics (José -> Jose, Müller -> Muller, Łukasz -> Lukasz)."""
    text = "".join(_SPECIAL_FOLDS.get(ch, ch) for ch in text)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@cache
def slug(text: str) -> str:
    """Lower-case ASCII letters and digits of ``text`` (O'Brien -> obrien), for e-mails."""
    return "".join(ch for ch in ascii_fold(text).lower() if ch.isascii() and ch.isalnum())


def name_key(text: str) -> str:
    """A comparison key: accents dropped, case folded, whitespace collapsed."""
    return " ".join(ascii_fold(text).casefold().split())


def nickname_variants(given: str) -> tuple[str, ...]:
    """Other forms of ``given`` a person goes by: its nicknames, or the formal names of it."""
    return NICKNAMES.get(given, ()) or _FORMALS_OF.get(given, ())


def given_names_related(a: str, b: str) -> bool:
    """Whether two given names are the same name, a nickname of it, or share a formal name."""
    ka, kb = name_key(a), name_key(b)
    if ka == kb:
        return True
    groups_a = _groups(ka)
    return bool(groups_a) and not groups_a.isdisjoint(_groups(kb))


_GROUPS: Final[dict[str, frozenset[str]]] = {}
for _formal, _nicks in NICKNAMES.items():
    for _name in (_formal, *_nicks):
        _key = name_key(_name)
        _GROUPS[_key] = _GROUPS.get(_key, frozenset()) | {name_key(_formal)}


def _groups(key: str) -> frozenset[str]:
    return _GROUPS.get(key, frozenset())


def typo(rng: random.Random, text: str) -> str:
    """``text`` with one edit (Levenshtein distance 1) a typist makes; the first letter is kept.

    Drops one of a doubled letter, doubles a letter, or hits a neighbouring key. Texts shorter
    than four letters come back unchanged.
    """
    letters = [i for i in range(1, len(text)) if text[i].isalpha()]
    if len(text) < 4 or not letters:
        return text
    doubled = [i for i in letters if text[i].lower() == text[i - 1].lower()]
    roll = rng.random()
    if doubled and roll < 0.35:
        i = rng.choice(doubled)
        return text[:i] + text[i + 1 :]
    i = rng.choice(letters)
    if roll < 0.6:
        return text[:i] + text[i] + text[i:]
    ch = text[i]
    near = _KEYBOARD.get(ch.lower())
    if not near:
        return text[:i] + text[i + 1 :]
    sub = rng.choice(near)
    return text[:i] + (sub.upper() if ch.isupper() else sub) + text[i + 1 :]


def _feminine(surname: str) -> str:
    for masc, fem in FEMININE_SURNAME:
        if surname.endswith(masc):
            return surname[: -len(masc)] + fem
    return surname


def pick_name(rng: random.Random, culture: str, *, female: bool, fold: bool) -> tuple[str, str]:
    """A (given name, surname) pair of ``culture``; ``fold`` drops diacritics as US forms do."""
    male_pool, female_pool, last_pool = CULTURES[culture]
    if culture in ANGLICISED_GIVEN and rng.random() < 0.3:
        given = rng.choice(ANGLO_FEMALE if female else ANGLO_MALE)
    else:
        given = rng.choice(female_pool if female else male_pool)
    if culture in ("anglo", "irish") and given in NICKNAMES and rng.random() < 0.15:
        given = rng.choice(NICKNAMES[given])
    last = rng.choice(last_pool)
    if culture == "slavic" and female:
        last = _feminine(last)
    if culture == "hispanic" and rng.random() < 0.12:
        sep = rng.choice((" ", "-"))
        last = f"{last}{sep}{rng.choice(HISPANIC_LAST)}"
    elif culture in ("anglo", "irish") and rng.random() < 0.03:
        last = f"{last}-{rng.choice(ANGLO_LAST)}"
    if fold:
        given, last = ascii_fold(given), ascii_fold(last)
    return given, last


def name_case(name: str, style: str) -> str:
    """``name`` as typed with caps lock (``upper``) or without shift (``lower``)."""
    return name.upper() if style == "upper" else name.lower()


def within_one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are at Levenshtein distance at most one."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i + 1 :] == b[i + 1 :] if len(a) == len(b) else a[i:] == b[i + 1 :]


def _given_match(a: str, b: str) -> bool:
    if given_names_related(a, b) or within_one_edit(a, b):
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) == 2 and short.endswith(".") and long_.startswith(short[0])


def names_compatible(first_a: str, last_a: str, first_b: str, last_b: str) -> bool:
    """Whether two records' names can be one person's: same surname and a matching given name
    (nickname, one typo, initial), same given name and a surname one typo apart, or the two
    swapped. Case, accents and whitespace are ignored."""
    fa, la, fb, lb = (name_key(x) for x in (first_a, last_a, first_b, last_b))
    if la == lb and _given_match(fa, fb):
        return True
    if fa == fb and within_one_edit(la, lb):
        return True
    return fa == lb and la == fb
