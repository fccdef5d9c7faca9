"""Blocking: only records that share a cheap key are compared, so cost grows near-linearly.

Each record gets several keys per configured kind, built from independent fields, so that a
pair whose one field is mistyped still meets through another: the sound of both names (either
way round), the names one typo apart (every name with one letter dropped, beside the other
name: a typo anywhere, the first letter included), the last name beside the first's initial,
postcode or city with a name (a record without its last name meets by its first), postcode
with house number, house number with a street word or a name, e-mail, e-mail local part, phone,
company with first name, date of birth with the sound of either name or with the city or the
postcode. Records sharing any key form candidate pairs.

A key shared by more than ``max_block_size`` records is not skipped: its block is split by
sorted neighbourhood (members sorted by name and address, each compared with the next
``block_window`` ones), so a common key still finds typo-free neighbours at a bounded cost.
Members alike in all they are sorted by (a firm filed a hundred times) are one value: each
value's first member is also compared with the next ``block_window`` values' first, so a run
of copies longer than the window does not hide the spellings beside it.

Blocks grow with the population (a common surname has ten times the holders in ten times the
records), so a fixed size limit lets the pairs per record grow with it, and the pairs overall
quadratically: at a million records the candidate pairs alone no longer fit in memory. So the
size past which a block is split is chosen per run (:func:`block_cap`): the largest, up to
``max_block_size``, whose pairs stay within ``max_pairs_per_record`` times the records. Rare
keys, the telling ones, stay whole blocks; common ones are walked by sorted neighbourhood.

Blocks with the very same members (the one-letter-dropped variants of a name that no record
mistyped are all held by that name's holders) give the very same pairs: one of them is kept.
:class:`Candidates` reports how many pairs there were, the size past which blocks were split
and how many were.

The keys as strings (:func:`contact_keys`, :func:`company_keys`) say what a key is, and are what
an incremental run keeps per record; a full run over contacts builds the very same keys as
integers, column-wise (:mod:`policies.dedupe.key_columns`), in under a third of the time.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from policies.dedupe.features import (
    Features,
    deletions,
    first_initials,
    house_numbers,
    joined,
    phonetic,
)
from policies.dedupe.key_columns import contact_key_codes, mailbox, street_keys
from policies.dedupe.nicknames import nicknames
from policies.normalizers import split_extension

Indices = npt.NDArray[np.int32]


def _names(first: str, last: str) -> list[tuple[str, str]]:
    """(name, other name) both ways round, first names also as their formal names."""
    if not first or not last:
        return [(last or first, "")] if last or first else []
    firsts = nicknames().formal_names(first)
    return [(x, y) for name in firsts for x, y in ((name, last), (last, name))]


NAME_KINDS = frozenset(("name", "name_typo"))
"""The kinds of contact key made of the first and last name alone (:func:`name_keys`)."""


def name_keys(first: str, last: str, kinds: Iterable[str]) -> set[str]:
    """The keys of the kinds in :data:`NAME_KINDS` of a contact with these names."""
    return set(_name_keys(first, last, tuple(k for k in kinds if k in NAME_KINDS)))


@lru_cache(maxsize=1 << 16)
def _name_keys(first: str, last: str, kinds: tuple[str, ...]) -> frozenset[str]:
    """:func:`name_keys`, remembered: names repeat across records (and every incremental
    cycle asks again for the records it compares)."""
    keys: set[str] = set()
    for kind in kinds:
        if kind == "name":
            keys.update(f"n|{phonetic(x)}|{phonetic(y)}" for x, y in _names(first, last) if y)
        elif kind == "name_typo":
            for x, y in _names(first, last):  # a typo in one name, the other right
                keys.update(f"t|{d}|{y}" for d in deletions(x))
            if last and first:  # the last name beside the first's initial (J. ~ John)
                keys.update(f"i|{last}|{i}" for i in first_initials(first))
    return frozenset(keys)


def _address_keys(f: Features) -> set[str]:
    keys: set[str] = set()
    numbers = house_numbers(f.address)
    street = street_keys(f.address)
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
    kinds = tuple(kinds)
    keys = name_keys(f.first, f.last, kinds)
    for kind in kinds:
        if kind == "email":
            keys.update(f"e|{e}" for e in f.emails)
        elif kind == "phone":
            keys.update(f"p|{split_extension(p)[0]}" for p in f.phones)
        elif kind == "zip_name":
            if f.zip:
                keys.update(f"z|{f.zip}|{name[:3]}" for name in (f.first, f.last) if name)
            if f.city and (f.last or f.first):  # or the one name it holds: a surname filed
                keys.add(f"y|{f.city}|{f.last or f.first}")  # as a first name
            if f.city and f.first:  # ... and with the first name, formal (joe ~ joseph)
                keys.update(f"f|{f.city}|{x}" for x in nicknames().formal_names(f.first))
        elif kind == "address":
            keys |= _address_keys(f)
        elif kind == "email_local":
            keys.update(f"l|{local}" for local in map(mailbox, f.emails) if local)
        elif kind == "company_name" and f.org and f.first:
            org = f.org.split()[0]
            keys.update(f"c|{org}|{name}" for name in nicknames().formal_names(f.first))
        elif kind == "birthdate" and f.birth:
            sounds = (phonetic(name) for name in (f.first, f.last) if name)
            keys.update(f"b|{f.birth}|{sound}" for sound in sounds if sound)
            # ... or its first letter: a typo after it changes the sound's code (dviis ~ davis)
            keys.update(f"j|{f.birth}|{name[0]}" for name in (f.first, f.last) if name)
            keys.update(f"g|{f.birth}|{place}" for place in (f.city, f.zip) if place)
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
            words = f.org.split()
            keys.add(f"n|{words[0]}")
            keys.add(f"s|{joined(f.org)[:6]}")
            # the first word one typo away, beside the next word's first letter
            after = words[1][:1] if len(words) > 1 else ""
            if len(words[0]) >= 4:
                keys.update(f"t|{d}|{after}" for d in deletions(words[0]))
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
    split: int  # blocks larger than ``cap``, compared by sorted neighbourhood
    cap: int = 0  # the size past which a block was split (see block_cap)

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


PAIR_ROWS = 1 << 20
"""Pairs of one block size made at once (their temporaries are a few bytes a pair each)."""


class _PairKeys:
    """The keys ``min * n + max`` of pairs of record indices, written into one array made at
    its final size: every pair blocking makes, repeats included, is 8 bytes once (two index
    arrays, their concatenation and the keys were 40 bytes a pair: gigabytes at a million)."""

    def __init__(self, total: int, n: int) -> None:
        self.keys = np.empty(total, dtype=np.int64)
        self.n, self.at = max(n, 1), 0

    def add(self, left: Indices, right: Indices) -> None:
        end = self.at + len(left)
        out = self.keys[self.at : end]
        np.multiply(np.minimum(left, right), self.n, out=out, dtype=np.int64)
        out += np.maximum(left, right)
        self.at = end

    def unique(self) -> tuple[Indices, Indices]:
        """The pairs ``(min, max)``, repeats dropped, sorted (the array is handed over and let
        go: the pairs are made without it)."""
        keys, self.keys = self.keys[: self.at], np.empty(0, dtype=np.int64)
        return _unique_keys(keys, self.n)


def _block_pair_count(sizes: npt.NDArray[np.int64]) -> int:
    return int((sizes.astype(np.int64) * (sizes - 1) // 2).sum())


def _window_pair_count(size: int, window: int) -> int:
    return sum(size - step for step in range(1, min(window, size - 1) + 1))


def _block_pairs(members: Indices, starts: Indices, sizes: Indices, out: _PairKeys) -> None:
    """Every pair inside each block (``members[starts[b]:starts[b] + sizes[b]]``), the blocks of
    one size handled as one array (:data:`PAIR_ROWS` pairs at a time)."""
    for size in np.flatnonzero(np.bincount(sizes)).tolist():
        at = starts[sizes == size]
        a, b = np.triu_indices(size, k=1)
        step = max(1, PAIR_ROWS // len(a))
        for k in range(0, len(at), step):
            grid = members[at[k : k + step, None] + np.arange(size)]  # one row per block
            out.add(grid[:, a].ravel(), grid[:, b].ravel())


def window_ranks(
    features: Sequence[Features],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per record, its place in window order (:func:`window_order`) and the number of its
    value there (:func:`window_value`: records alike in all but their ids share one)."""
    keys = [_order(f) for f in features]
    order = sorted(range(len(features)), key=keys.__getitem__)
    rank = np.empty(len(features), dtype=np.int64)
    rank[order] = np.arange(len(features))
    value = np.empty(len(features), dtype=np.int64)
    number, last = -1, None
    for i in order:
        here = keys[i][:-1]
        if here != last:
            number, last = number + 1, here
        value[i] = number
    return rank, value


def _value_starts(line: Indices, value: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """The places in a split block's ``line`` of the first member of each run of one value."""
    values = value[line]
    return np.flatnonzero(np.r_[True, values[1:] != values[:-1]])


def _head_pairs(line: Indices, heads: npt.NDArray[np.intp], window: int) -> tuple[Indices, Indices]:
    """Each value's first member in ``line`` (at the places ``heads``) with the next
    ``window`` values' first members, where the members between them number more than the
    window (the others are window pairs already)."""
    lefts, rights = [line[:0]], [line[:0]]
    for step in range(1, min(window, len(heads) - 1) + 1):
        far = np.flatnonzero(heads[step:] - heads[:-step] > window)
        lefts.append(line[heads[far]])
        rights.append(line[heads[far + step]])
    return np.concatenate(lefts), np.concatenate(rights)


def _window_pairs(members: Indices, window: int, out: _PairKeys) -> None:
    """Each member of a sorted block with the next ``window`` ones."""
    for step in range(1, min(window, len(members) - 1) + 1):
        out.add(members[:-step], members[step:])


def unique_pairs(left: Indices, right: Indices, n: int) -> tuple[Indices, Indices]:
    """The pairs ``(min, max)`` of two index arrays, repeats dropped, sorted."""
    keys = _PairKeys(len(left), n)
    keys.add(left, right)
    return keys.unique()


def _unique_keys(keys: npt.NDArray[np.int64], n: int) -> tuple[Indices, Indices]:
    """The pairs of the keys ``low * n + high``, repeats dropped, sorted (``keys`` is sorted in
    place)."""
    # sorted, then the first of each run: np.unique (numpy 2.3+) hashes first, which takes
    # ten times as long as this sort on a few million keys
    keys.sort()
    first = np.ones(len(keys), dtype=np.bool_)
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    kept = keys[first]
    del first, keys  # the repeats' array (the caller holds it no more: _PairKeys.unique)
    low, high = np.empty(len(kept), dtype=np.int32), np.empty(len(kept), dtype=np.int32)
    np.floor_divide(kept, n, out=low, casting="unsafe")  # no int64 temporary of every pair
    np.remainder(kept, n, out=high, casting="unsafe")
    return low, high


def record_keys(f: Features, kinds: Iterable[str]) -> set[str]:
    """The blocking keys of a record (a company's or a contact's, by its type)."""
    if f.record.object_type == "companies":
        return company_keys(f, kinds)
    return contact_keys(f, kinds)


def window_order(f: Features) -> tuple[str, ...]:
    """The order of a split block's members (sorted neighbourhood)."""
    return _order(f)


def window_value(f: Features) -> tuple[str, ...]:
    """What a split block's member is sorted by but its id: members alike in it are one value,
    and each value's first member meets the next ``window`` values' first members."""
    return _order(f)[:-1]


def block_cap(sizes: npt.NDArray[np.int64], limit: int, window: int, budget: float) -> int:
    """The largest block size, up to ``limit``, past which splitting the blocks of these
    ``sizes`` keeps their pairs within ``budget``; never below ``2 * window + 1`` (a block
    that small costs fewer pairs whole than split), which is what a budget too small gives.

    A whole block of ``s`` members costs ``s(s - 1)/2`` pairs, a split one ``s * window``.
    """
    floor = min(limit, 2 * window + 1)
    sizes = np.sort(sizes[sizes >= 2].astype(np.int64))
    if not len(sizes):
        return limit
    # option k: the blocks up to the k-th whole, the others split; it is the cap from
    # sizes[k] to just under the next size (an option among equal sizes has no cap: none)
    whole = np.cumsum(sizes * (sizes - 1) // 2)
    split = (int(sizes.sum()) - np.cumsum(sizes)) * window
    caps = np.minimum(np.r_[sizes[1:] - 1, limit], limit)
    fits = (whole + split <= budget) & (caps >= sizes) & (caps >= floor)
    best = int(caps[np.flatnonzero(fits)[-1]]) if fits.any() else floor
    none_whole = min(int(sizes[0]) - 1, limit)  # every block split
    if int(sizes.sum()) * window <= budget and none_whole > best:
        best = none_whole
    return max(best, floor)


def distinct_blocks(
    members: Indices, starts: Indices, sizes: Indices, n: int
) -> npt.NDArray[np.bool_]:
    """Per block, whether it is the first with its very members (the others give its pairs
    again). Members are told apart by two random 64-bit sums: two different sets taken for
    one would need both sums to agree."""
    keep = np.ones(len(starts), dtype=np.bool_)
    if len(starts) < 2:
        return keep
    rng = np.random.default_rng(0x5EED)  # any fixed draw: the sums only compare blocks
    one, two = (rng.integers(0, 2**63, size=n, dtype=np.uint64) for _ in range(2))
    ends = starts + sizes

    def sums(draw: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
        running = np.r_[np.uint64(0), np.cumsum(draw[members], dtype=np.uint64)]
        total: npt.NDArray[np.uint64] = running[ends] - running[starts]  # modulo 2**64
        return total

    first, second = sums(one), sums(two)
    order = np.lexsort((second, first, sizes))
    same = (
        (sizes[order][1:] == sizes[order][:-1])
        & (first[order][1:] == first[order][:-1])
        & (second[order][1:] == second[order][:-1])
    )
    keep[order[1:][same]] = False
    return keep


def candidates(
    features: Sequence[Features],
    kinds: Iterable[str],
    max_block_size: int,
    window: int,
    *,
    keys: Sequence[Iterable[str]] | None = None,
    max_pairs_per_record: float | None = None,
    cap: int | None = None,
) -> Candidates:
    """Pairs of records sharing a blocking key; an oversized block by sorted neighbourhood.

    Each key is an integer (contacts: :func:`~policies.dedupe.key_columns.contact_key_codes`;
    companies and ``keys`` given: each distinct string coded as it is met), and the (key,
    record) pairs are sorted into blocks in numpy: no Python list per key, no Python loop over
    the blocks but the oversized ones. ``keys``: each record's :func:`record_keys`, when the
    caller has them already. ``max_pairs_per_record``: the budget of :func:`block_cap` (None:
    blocks are split past ``max_block_size`` only). ``cap``: the size past which blocks are
    split, when the caller has it (kept with the weights), rather than worked out from the
    budget.
    """
    kinds = tuple(kinds)
    if keys is None and all(f.record.object_type != "companies" for f in features):
        records, codes = contact_key_codes(features, kinds)
    else:
        records, codes = _string_codes(features, kinds, keys)
    # blocks: the records of each key, in index order, each once (reordered one array at a
    # time: the original and the sorted copy of both were 40 bytes a key at once)
    order = np.lexsort((records, codes))
    codes = codes[order]
    records = records[order]
    del order
    if len(codes):
        again = (codes[1:] == codes[:-1]) & (records[1:] == records[:-1])
        codes, records = codes[np.r_[True, ~again]], records[np.r_[True, ~again]]
    members = records
    first = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.zeros(0, int)
    sizes = np.diff(np.r_[first, len(codes)])
    del records, codes
    shared = sizes >= 2
    first, sizes = first[shared], sizes[shared]
    distinct = distinct_blocks(members, first, sizes, len(features))
    first, sizes = first[distinct], sizes[distinct]
    if cap is None:
        cap = max_block_size
        if max_pairs_per_record is not None:
            budget = max_pairs_per_record * len(features)
            cap = block_cap(sizes, max_block_size, window, budget)
    small = sizes <= cap
    large = np.flatnonzero(sizes > cap)
    # split blocks in window order, each with the places where its values start: a run of
    # one value (a firm filed a hundred times) must not fill the window of the values beside it
    lines: list[tuple[Indices, tuple[Indices, Indices]]] = []  # and their values' pairs
    if len(large):  # the records in window order once, each split block sorted by that rank
        rank, value = window_ranks(features)
        for start, size in zip(first[large].tolist(), sizes[large].tolist(), strict=True):
            block = members[start : start + size]
            line = block[np.argsort(rank[block])]
            lines.append((line, _head_pairs(line, _value_starts(line, value), window)))
    total = _block_pair_count(sizes[small])
    total += sum(_window_pair_count(len(line), window) + len(heads[0]) for line, heads in lines)
    pairs = _PairKeys(total, len(features))
    _block_pairs(members, first[small], sizes[small], pairs)
    for line, heads in lines:
        _window_pairs(line, window, pairs)
        pairs.add(*heads)
    del members
    left, right = pairs.unique()
    return Candidates(left, right, int(shared.sum()), len(large), cap)


def _string_codes(
    features: Sequence[Features], kinds: tuple[str, ...], keys: Sequence[Iterable[str]] | None
) -> tuple[Indices, npt.NDArray[np.int64]]:
    """The ``(record, key)`` pairs of :func:`record_keys` (or of ``keys``), each distinct key
    string coded as it is met."""
    code: dict[str, int] = {}
    found = array("q")
    counts = np.zeros(len(features), dtype=np.int64)
    for index, f in enumerate(features):
        own = record_keys(f, kinds) if keys is None else keys[index]
        before = len(found)
        found.extend([code.setdefault(key, len(code)) for key in own])
        counts[index] = len(found) - before
    codes = np.frombuffer(found, dtype=np.int64) if len(found) else np.zeros(0, dtype=np.int64)
    return np.repeat(np.arange(len(features), dtype=np.int32), counts), codes


def candidate_pairs(
    features: Sequence[Features], kinds: Iterable[str], max_block_size: int, window: int = 10
) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, of records sharing a blocking key, sorted."""
    return candidates(features, kinds, max_block_size, window).pairs
