"""Blocking: only records that share a cheap key are compared, so cost grows near-linearly.

Each record gets several keys per configured kind, built from independent fields, so that a
pair whose one field is mistyped still meets through another: the sound of both names (either
way round), the names one typo apart (every name with one letter dropped, beside the other
name: a typo anywhere, the first letter included), the last name beside the first's initial,
postcode or city with a name, postcode with house number, house number with a street word or a
name, e-mail, e-mail local part, phone, company with first name. Records sharing any key form
candidate pairs.

A key shared by more than ``max_block_size`` records is not skipped: its block is split by
sorted neighbourhood (members sorted by name and address, each compared with the next
``block_window`` ones), so a common key still finds typo-free neighbours at a bounded cost.
:class:`Candidates` reports how many pairs there were and how many blocks were split.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from policies.dedupe.features import (
    Features,
    deletions,
    first_initials,
    house_numbers,
    phonetic,
    street_words,
)
from policies.dedupe.nicknames import nicknames
from policies.normalizers import split_extension

ROLE_MAILBOXES = frozenset((
    "info", "sales", "admin", "contact", "hello", "support", "office", "team", "mail", "noreply",
    "no-reply", "billing", "hr", "jobs", "careers", "marketing", "help", "service", "enquiries",
    "inquiries", "accounts", "finance",
))  # fmt: skip
_MIN_STREET_WORD = 4
Indices = npt.NDArray[np.int32]


def _names(f: Features) -> list[tuple[str, str]]:
    """(name, other name) both ways round, first names also as their formal names."""
    if not f.first or not f.last:
        return [(f.last or f.first, "")] if f.last or f.first else []
    firsts = nicknames().formal_names(f.first)
    return [(x, y) for first in firsts for x, y in ((first, f.last), (f.last, first))]


def _address_keys(f: Features) -> set[str]:
    keys: set[str] = set()
    numbers = house_numbers(f.address)
    street = [w for w in street_words(f.address).split() if len(w) >= _MIN_STREET_WORD]
    names = [name for name in (f.first, f.last) if len(name) > 1]
    for number in numbers:
        if f.zip:
            keys.add(f"a|{f.zip}|{number}")
        keys.update(f"w|{number}|{word}" for word in street)
        keys.update(f"h|{number}|{name}" for name in names)
    if f.zip:  # the same street in one postcode, numbers mistyped or missing
        keys.update(f"s|{f.zip}|{word}" for word in street)
    if f.city:  # ... or in one city, the postcode mistyped
        keys.update(f"v|{f.city}|{word}" for word in street)
    return keys


def contact_keys(f: Features, kinds: Iterable[str]) -> set[str]:
    """The blocking keys of a contact for the given kinds (see ``ContactBlockingKey``)."""
    keys: set[str] = set()
    for kind in kinds:
        if kind == "email":
            keys.update(f"e|{e}" for e in f.emails)
        elif kind == "phone":
            keys.update(f"p|{split_extension(p)[0]}" for p in f.phones)
        elif kind == "name":
            keys.update(f"n|{phonetic(x)}|{phonetic(y)}" for x, y in _names(f) if y)
        elif kind == "name_typo":
            for x, y in _names(f):  # a typo in one name, the other right
                keys.update(f"t|{d}|{y}" for d in deletions(x))
            if f.last and f.first:  # the last name beside the first's initial (J. ~ John)
                keys.update(f"i|{f.last}|{i}" for i in first_initials(f.first))
        elif kind == "zip_name":
            if f.zip:
                keys.update(f"z|{f.zip}|{name[:3]}" for name in (f.first, f.last) if name)
            if f.city and f.last:
                keys.add(f"y|{f.city}|{f.last}")
        elif kind == "address":
            keys |= _address_keys(f)
        elif kind == "email_local":
            for email in f.emails:
                local = email.split("@", 1)[0]
                if len(local) >= 4 and local not in ROLE_MAILBOXES:
                    keys.add(f"l|{local}")
        elif kind == "company_name" and f.org and f.first:
            org = f.org.split()[0]
            keys.update(f"c|{org}|{name}" for name in nicknames().formal_names(f.first))
    return keys


def company_keys(f: Features, kinds: Iterable[str]) -> set[str]:
    """The blocking keys of a company for the given kinds (see ``CompanyBlockingKey``)."""
    keys: set[str] = set()
    for kind in kinds:
        if kind == "domain" and f.domain:
            keys.add(f"d|{f.domain}")
        elif kind == "phone":
            keys.update(f"p|{split_extension(p)[0]}" for p in f.phones)
        elif kind == "name" and f.org:
            keys.add(f"n|{f.org.split()[0]}")
            keys.add(f"s|{f.org.replace(' ', '')[:6]}")
        elif kind == "name_words" and f.org:
            keys.update(f"o|{w}" for w in f.org.split() if len(w) >= 3)
        elif kind == "zip_name" and f.zip and f.org:
            keys.add(f"z|{f.zip}|{f.org[:3]}")
        elif kind == "address":
            keys |= _address_keys(f)
    return keys


@dataclass(frozen=True, slots=True)
class Candidates:
    """The pairs to compare and what blocking did to find them.

    The pairs are two index arrays (``left[k] < right[k]``), sorted by ``(left, right)``,
    without repeats: a pair sharing several keys is compared once.
    """

    left: Indices
    right: Indices
    blocks: int  # keys shared by two records or more
    split: int  # blocks larger than max_block_size, compared by sorted neighbourhood

    @property
    def count(self) -> int:
        """How many candidate pairs."""
        return len(self.left)

    @property
    def pairs(self) -> list[tuple[int, int]]:
        """The pairs as ``(i, j)`` tuples (for small inputs: each is a Python object)."""
        return list(zip(self.left.tolist(), self.right.tolist(), strict=True))


def _order(f: Features) -> tuple[str, ...]:
    return (f.last, f.first, f.org, f.address, f.id)


def _block_pairs(blocks: Sequence[Sequence[int]]) -> tuple[Indices, Indices]:
    """Every pair inside each block, blocks of one size handled as one array."""
    by_size: dict[int, list[Sequence[int]]] = defaultdict(list)
    for members in blocks:
        by_size[len(members)].append(members)
    lefts, rights = [], []
    for size, same in by_size.items():
        grid = np.asarray(same, dtype=np.int32)  # one row per block
        a, b = np.triu_indices(size, k=1)
        lefts.append(grid[:, a].ravel())
        rights.append(grid[:, b].ravel())
    return _concat(lefts), _concat(rights)


def _window_pairs(ordered: Sequence[int], window: int) -> tuple[Indices, Indices]:
    """Each member of a sorted block with the next ``window`` ones."""
    members = np.asarray(ordered, dtype=np.int32)
    lefts, rights = [], []
    for step in range(1, min(window, len(members) - 1) + 1):
        lefts.append(members[:-step])
        rights.append(members[step:])
    return _concat(lefts), _concat(rights)


def _concat(parts: Sequence[Indices]) -> Indices:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)


def unique_pairs(left: Indices, right: Indices, n: int) -> tuple[Indices, Indices]:
    """The pairs ``(min, max)`` of two index arrays, repeats dropped, sorted."""
    low = np.minimum(left, right).astype(np.int64)
    high = np.maximum(left, right).astype(np.int64)
    keys = np.unique(low * max(n, 1) + high)
    return (keys // max(n, 1)).astype(np.int32), (keys % max(n, 1)).astype(np.int32)


def record_keys(f: Features, kinds: Iterable[str]) -> set[str]:
    """The blocking keys of a record (a company's or a contact's, by its type)."""
    if f.record.object_type == "companies":
        return company_keys(f, kinds)
    return contact_keys(f, kinds)


def window_order(f: Features) -> tuple[str, ...]:
    """The order of a split block's members (sorted neighbourhood)."""
    return _order(f)


def candidates(
    features: Sequence[Features],
    kinds: Iterable[str],
    max_block_size: int,
    window: int,
    keys: Sequence[Iterable[str]] | None = None,
) -> Candidates:
    """Pairs of records sharing a blocking key; an oversized block by sorted neighbourhood.

    ``keys``: each record's :func:`record_keys`, when the caller has them already."""
    kinds = tuple(kinds)
    blocks: dict[str, list[int]] = defaultdict(list)
    for index, f in enumerate(features):
        for key in record_keys(f, kinds) if keys is None else keys[index]:
            blocks[key].append(index)
    small: list[list[int]] = []
    lefts, rights = [], []
    shared = split = 0
    for members in blocks.values():
        if len(members) < 2:
            continue
        shared += 1
        if len(members) <= max_block_size:
            small.append(members)
            continue
        split += 1
        ordered = sorted(members, key=lambda i: _order(features[i]))
        left, right = _window_pairs(ordered, window)
        lefts.append(left)
        rights.append(right)
    del blocks
    left, right = _block_pairs(small)
    left, right = unique_pairs(_concat([left, *lefts]), _concat([right, *rights]), len(features))
    return Candidates(left, right, shared, split)


def candidate_pairs(
    features: Sequence[Features], kinds: Iterable[str], max_block_size: int, window: int = 10
) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, of records sharing a blocking key, sorted."""
    return candidates(features, kinds, max_block_size, window).pairs
