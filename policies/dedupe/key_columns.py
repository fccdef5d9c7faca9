"""The blocking keys of many contacts at once, as integers built column-wise.

:func:`~policies.dedupe.blocking.contact_keys` spells each record's keys as strings
(``"w|12|baker"``): at 100,000 contacts some 1.6 million strings formatted and hashed one record
at a time, most of the time blocking takes. Here a key is its kind and the codes of its one or
two parts (names, postcodes, house numbers, street words, e-mails... interned in one
vocabulary), packed into one 64-bit integer. What a key's parts come from is worked out once
per *distinct* value in Python (a name's formal names, sound code and deletions, an address's
house numbers and street words), and the keys of every record are spread from it with numpy.

Two records share a packed key exactly when they share the string key: the kinds are told apart
by their letter, and no part holds a ``|`` (names, postcodes, numbers and words are letters and
digits; an e-mail or a phone is a key's only part), so a key string reads back into the very
same parts. A test pins the blocks to those of the strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import chain

import numpy as np
import numpy.typing as npt

from policies.dedupe.features import (
    Features,
    deletions,
    house_numbers,
    phonetic,
    street_words,
)
from policies.dedupe.nicknames import nicknames
from policies.normalizers import split_extension

Codes = npt.NDArray[np.int64]
Positions = npt.NDArray[np.int32]
"""Records' positions in the snapshot (fewer than 2**31)."""
_PART_BITS = 29  # codes of parts below 2**29: half a billion distinct values
#: The kinds of contact key, by the letter of their string form (see blocking.contact_keys).
_KIND = {letter: n for n, letter in enumerate("ntiepzyawhsvlcbgjf")}
ROLE_MAILBOXES = frozenset((
    "info", "sales", "admin", "contact", "hello", "support", "office", "team", "mail", "noreply",
    "no-reply", "billing", "hr", "jobs", "careers", "marketing", "help", "service", "enquiries",
    "inquiries", "accounts", "finance",
))  # fmt: skip
_MIN_STREET_WORD = 4
_MIN_LOCAL_PART = 4


def street_keys(address: str) -> list[str]:
    """The words of an address key's street name long enough to block on."""
    return [w for w in street_words(address).split() if len(w) >= _MIN_STREET_WORD]


def mailbox(email: str) -> str | None:
    """An e-mail's mailbox name to block on: None when too short or a role's (``info``)."""
    local = email.split("@", 1)[0]
    return local if len(local) >= _MIN_LOCAL_PART and local not in ROLE_MAILBOXES else None


class _Parts:
    """Interned parts of keys: one code per distinct string."""

    def __init__(self) -> None:
        self._code: dict[str, int] = {}
        self.words: list[str] = []

    def __call__(self, value: str) -> int:
        code = self._code.get(value)
        if code is None:
            code = self._code[value] = len(self.words)
            self.words.append(value)
        return code

    def column(self, values: Iterable[str]) -> Codes:
        """The codes of ``values`` (-1 for an empty one)."""
        values = list(values)
        # one Python call per distinct value; the rest runs in C (dict.fromkeys, map)
        code = {v: self(v) if v else -1 for v in dict.fromkeys(values)}
        return np.fromiter(map(code.__getitem__, values), dtype=np.int64, count=len(values))

    def mapped(self, codes: Codes, make: Callable[[str], str | None]) -> Codes:
        """Per code (up to the largest of ``codes``), the code of ``make`` of its value (-1:
        None, or not among ``codes``): worked out once per distinct value."""
        out = np.full(int(codes.max(initial=-1)) + 1, -1, dtype=np.int64)
        for code in np.unique(codes[codes >= 0]).tolist():
            made = make(self.words[code])
            out[code] = -1 if made is None else self(made)
        return out

    def lists(self, codes: Codes, make: Callable[[str], Iterable[str]]) -> _Lists:
        """Per code among ``codes``, the codes of the values ``make`` gives of its value."""
        distinct = np.unique(codes[codes >= 0])
        made = [[self(v) for v in make(self.words[c])] for c in distinct.tolist()]
        return _Lists(distinct, made)


class _Lists:
    """A list of codes per code (``of``), held flat."""

    def __init__(self, of: Codes, lists: Sequence[Sequence[int]]) -> None:
        self.row = np.full(int(of.max(initial=-1)) + 1, -1, dtype=np.int64)
        self.row[of] = np.arange(len(of))
        self.length = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        self.start = np.cumsum(self.length) - self.length
        self.flat = np.fromiter(chain.from_iterable(lists), dtype=np.int64)

    def expand(self, at: Codes, codes: Codes) -> tuple[Codes, Codes]:
        """For each ``(at[k], codes[k])``, ``at[k]`` beside each code of the list of
        ``codes[k]``: the two as flat arrays."""
        row = self.row[codes]
        count = self.length[row]
        total = int(count.sum())
        offset = np.repeat(self.start[row] - (np.cumsum(count) - count), count)
        return np.repeat(at, count), self.flat[offset + np.arange(total)]


class _Keys:
    """Packed keys of records, gathered kind by kind (a record's position in 4 bytes: there
    are some 30 keys a record, 27 million at a million contacts)."""

    def __init__(self) -> None:
        self.records: list[Positions] = []
        self.keys: list[Codes] = []

    def add(self, kind: str, records: Codes, a: Codes, b: Codes) -> None:
        """The keys ``kind|a[k]|b[k]`` of ``records[k]``, where both parts are there."""
        there = (a >= 0) & (b >= 0)
        self.records.append(records[there].astype(np.int32))
        self.keys.append((_KIND[kind] << 2 * _PART_BITS) | (a[there] << _PART_BITS) | b[there])

    def arrays(self) -> tuple[Positions, Codes]:
        if not self.keys:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int64)
        records = np.concatenate(self.records)
        self.records.clear()  # each list let go once joined: the two are never held twice
        keys = np.concatenate(self.keys)
        self.keys.clear()
        return records, keys


def contact_key_codes(
    features: Sequence[Features], kinds: Iterable[str]
) -> tuple[Positions, Codes]:
    """The blocking keys of contacts as ``(record, key)`` pairs: a record's position and one of
    its keys (:func:`~policies.dedupe.blocking.contact_keys`) packed into an integer. A record
    may hold a key more than once (a first name that is also the last name)."""
    kinds = frozenset(kinds)
    parts, out = _Parts(), _Keys()
    first = parts.column(f.first for f in features)
    last = parts.column(f.last for f in features)
    # each record's formal first names (bob: bob, robert)
    has_first = np.flatnonzero(first >= 0).astype(np.int64)
    each, formal = parts.lists(first, nicknames().formal_names).expand(has_first, first[has_first])
    _name_keys(out, parts, kinds, (first, last), (each, formal))
    _channel_keys(out, parts, kinds, features)
    if "zip_name" in kinds or "address" in kinds:
        zips = parts.column(f.zip for f in features)
        cities = parts.column(f.city for f in features)
        if "zip_name" in kinds:
            prefix = parts.mapped(np.r_[first, last], lambda v: v[:3])
            for names in (first, last):
                at = np.flatnonzero((zips >= 0) & (names >= 0))
                out.add("z", at, zips[at], prefix[names[at]])
            # a city with the last name, or with the one name a record holds (a surname filed
            # as a first name: `waite` ~ `a. waite`)
            named = np.where(last >= 0, last, first)
            at = np.flatnonzero((cities >= 0) & (named >= 0))
            out.add("y", at, cities[at], named[at])
            # ... and with the first name, formal (a record without its last name meets the
            # others of its first name there: `joe` ~ `joseph bradshaw`)
            at = np.flatnonzero(cities[each] >= 0)
            out.add("f", each[at], cities[each[at]], formal[at])
        if "address" in kinds:
            _address_keys(out, parts, features, (first, last, zips, cities))
    if "company_name" in kinds:
        org = parts.column(f.org for f in features)
        firm = parts.mapped(org, lambda o: o.split()[0])  # the first word of a firm's name
        works = org[each] >= 0
        out.add("c", each[works], firm[org[each[works]]], formal[works])
    if "birthdate" in kinds:  # the date of birth with either name's sound or initial, or a place
        birth = parts.column(f.birth for f in features)
        sound = parts.mapped(np.r_[first, last], lambda v: phonetic(v) or None)
        initial = parts.mapped(np.r_[first, last], lambda v: v[:1] or None)
        for names in (first, last):
            at = np.flatnonzero((birth >= 0) & (names >= 0))
            out.add("b", at, birth[at], sound[names[at]])
            out.add("j", at, birth[at], initial[names[at]])
        for place in (
            parts.column(f.city for f in features),
            parts.column(f.zip for f in features),
        ):
            at = np.flatnonzero((birth >= 0) & (place >= 0))
            out.add("g", at, birth[at], place[at])
    return out.arrays()


def _name_keys(
    out: _Keys,
    parts: _Parts,
    kinds: frozenset[str],
    names: tuple[Codes, Codes],
    formal: tuple[Codes, Codes],
) -> None:
    """The keys of first and last names (``name``, ``name_typo``), from each record's names
    and its formal first names (the records and the names, flat)."""
    first, last = names
    named = last[formal[0]] >= 0  # formal names of those with both names
    by, name = formal[0][named], formal[1][named]
    other = last[by]
    empty = np.int64(parts(""))  # the second part of a key of one name
    if "name" in kinds:
        sound = parts.mapped(np.r_[name, other], phonetic)
        out.add("n", by, sound[name], sound[other])
        out.add("n", by, sound[other], sound[name])
    if "name_typo" in kinds:
        lone = np.flatnonzero((first >= 0) != (last >= 0)).astype(np.int64)
        alone = np.where(last[lone] >= 0, last[lone], first[lone])
        dropped = parts.lists(np.r_[name, other, alone], deletions)
        pair = np.arange(len(by))
        at, typo = dropped.expand(pair, name)  # a typo in the first name, the last name right
        out.add("t", by[at], typo, other[at])
        at, typo = dropped.expand(pair, other)  # ... the other way round
        out.add("t", by[at], typo, name[at])
        at, typo = dropped.expand(lone, alone)  # the one name there is
        out.add("t", at, typo, np.full(len(at), empty))
        both = np.flatnonzero((first >= 0) & (last >= 0)).astype(np.int64)
        at, initial = parts.lists(first[both], nicknames().initials).expand(both, first[both])
        out.add("i", at, last[at], initial)


def _channel_keys(
    out: _Keys, parts: _Parts, kinds: frozenset[str], features: Sequence[Features]
) -> None:
    """The keys of e-mails, mailbox names and phones."""
    empty = np.int64(parts(""))
    at, email = _each(parts, (f.emails for f in features))
    if "email" in kinds:
        out.add("e", at, email, np.full(len(at), empty))
    if "email_local" in kinds:
        out.add("l", at, parts.mapped(email, mailbox)[email], np.full(len(at), empty))
    if "phone" in kinds:
        at, phone = _each(parts, (f.phones for f in features))
        number = parts.mapped(phone, lambda p: split_extension(p)[0])
        out.add("p", at, number[phone], np.full(len(at), empty))


def _each(parts: _Parts, lists: Iterable[Sequence[str]]) -> tuple[Codes, Codes]:
    """Each value of each record's list: the record's position and the value's code."""
    lists = list(lists)
    count = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    at = np.repeat(np.arange(len(lists), dtype=np.int64), count)
    return at, parts.column(chain.from_iterable(lists))


def _address_keys(
    out: _Keys,
    parts: _Parts,
    features: Sequence[Features],
    columns: tuple[Codes, Codes, Codes, Codes],
) -> None:
    """Postcode with house number, house number with a street word or a name, postcode or city
    with a street word."""
    first, last, zips, cities = columns
    address = parts.column(f.address for f in features)
    rows = np.flatnonzero(address >= 0).astype(np.int64)
    numbers = parts.lists(address, house_numbers)
    street = parts.lists(address, street_keys)
    at, number = numbers.expand(rows, address[rows])
    out.add("a", at, zips[at], number)
    pair, word = street.expand(np.arange(len(at)), address[at])
    out.add("w", at[pair], number[pair], word)
    longer = parts.mapped(np.r_[first, last], lambda v: v if len(v) > 1 else None)
    for names in (first, last):
        name = names[at]
        known = name >= 0
        out.add("h", at[known], number[known], longer[name[known]])
    at, word = street.expand(rows, address[rows])
    out.add("s", at, zips[at], word)
    out.add("v", at, cities[at], word)
