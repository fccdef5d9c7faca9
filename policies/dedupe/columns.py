"""Comparing many candidate pairs at once: their agreement levels as columns, without a Python
call per pair.

:meth:`Columns.tabulate` gives exactly the :class:`~policies.dedupe.scoring.PairTable` that
comparing each pair with :meth:`Scorer.compare <policies.dedupe.scoring.Scorer.compare>` would
(:meth:`Scorer.tabulate <policies.dedupe.scoring.Scorer.tabulate>`): each record's values are
interned into integer codes once, each *distinct* pair of values is compared once with the same
rapidfuzz scorers (run element-wise in C by ``rapidfuzz.process.cpdist``), the results are
spread back over the pairs and cut into levels with the same cuts. E-mails and phones are
compared every value of one record against every value of the other, in columns. What stays in
Python runs per distinct pair of *values*, not of records: the house-number cap of two addresses
alike above 0.7. :func:`~policies.dedupe.scoring.org_similarity` of two organisation names that
agree at all (token_set level 1 or more) is worked out in grids of their words, each distinct
pair of words compared once. Names read crossed are settled in columns too:
the points of the straight and of both crossed readings are the same IEEE operations ``compare``
does, so a crossed reading clearly ahead is the swap ``compare`` makes; only the pairs where two
readings are within a hair of each other without an exact tie are compared one by one.

Exact, not a bound: the weights are learned (expectation maximisation) from the levels of
*every* candidate pair and of the random pairs, so these must be the levels ``compare`` gives.
The bound (:meth:`PairTable.bound <policies.dedupe.scoring.PairTable.bound>`) then leaves to a
full score only the pairs that may reach the review threshold. A test checks, on generated
contacts and companies, FEBRL and records made to reach every branch of ``compare``, that the
table equals the one-by-one table cell for cell.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler

from policies.dedupe.features import Features, house_numbers, joined
from policies.dedupe.nicknames import nicknames
from policies.dedupe.scoring import (
    BIRTH_NEAR,
    BIRTH_NEAR_DAYS,
    BIRTH_TYPO,
    CITY_PART,
    DISTINCT_NAMES,
    EMAIL_NEAR,
    EMAIL_TYPO_EDITS,
    EXTENSION_ON_ONE_SIDE,
    EXTRA_RARE_WORD,
    FIELDS,
    INITIAL_SIMILARITY,
    JOINED_NAMES,
    ONE_EDIT_SIMILARITY,
    OTHER_REGION,
    RARE_WORD_SHARE,
    UNRELATED_NAMES,
    PairTable,
    Scorer,
    birth_day,
    line_column,
    own_names,
    unpunctuated,
)
from policies.dedupe.settings import Comparison
from policies.dedupe.weights import levels
from policies.normalizers import split_extension

Ints = npt.NDArray[np.int32]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Rows = npt.NDArray[np.intp]
Strings = npt.NDArray[np.object_]
#: A similarity over distinct pairs of value codes (codes into one vocabulary).
PairFunction = Callable[[Ints, Ints], Floats]
T = TypeVar("T")
CHUNK = 1 << 18
"""Pairs tabulated at once, on all threads together (each chunk is this over :data:`THREADS`,
so the temporaries take what one chunk of this took)."""
THREADS = min(4, os.cpu_count() or 1)
"""Chunks of one table tabulated at once: numpy's and rapidfuzz's loops release the GIL, so the
chunks run on the machine's cores (100,000 contacts on 2 cores: learning 12.9-13.5 ->
10.6-11.8 s wall). Each chunk writes its own rows of the table: the same table whatever the
order they end in."""
SWAP_MARGIN = 1e-9
"""Points within which a crossed reading of the names counts as possibly better: such pairs are
compared one by one, so that float rounding never decides a swap."""


class _Vocab:
    """Interned values of one field: per record a code (-1: missing), per code the value."""

    def __init__(self, values: Sequence[str]) -> None:
        index: dict[str, int] = {}
        self.codes: Ints = np.fromiter(
            (index.setdefault(v, len(index)) if v else -1 for v in values),
            dtype=np.int32,
            count=len(values),
        )
        self.words: list[str] = list(index)
        self.array = np.asarray([*self.words, ""], dtype=object)[:-1]

    def take(self, codes: Ints) -> Strings:
        """The values of ``codes`` (all >= 0), as an object array (what ``cpdist`` reads
        without a list in between)."""
        found: Strings = self.array[codes]
        return found


def _by_values(a: Ints, b: Ints, size: int, compare: PairFunction) -> Floats:
    """``compare`` over the distinct pairs of codes ``(a[k], b[k])``, spread back over k."""
    if not len(a):
        return np.zeros(0, dtype=np.float64)
    # pairs of one value (most, in blocks that share it) are found without sorting them
    same = a == b
    out = np.empty(len(a), dtype=np.float64)
    if same.any():
        at = np.flatnonzero(same)
        held = np.bincount(a[at], minlength=size)
        codes = np.flatnonzero(held).astype(np.int32)
        position = np.zeros(size, dtype=np.intp)
        position[codes] = np.arange(len(codes))
        out[at] = compare(codes, codes)[position[a[at]]]
    if not same.all():
        at = np.flatnonzero(~same)
        x, y, inverse = _distinct(a[at], b[at], size)
        out[at] = compare(x, y)[inverse]
    return out


def _distinct(a: Ints, b: Ints, size: int) -> tuple[Ints, Ints, Rows]:
    """The distinct pairs of codes ``(a[k], b[k])`` as two arrays, and for each k its pair."""
    key = a.astype(np.int64) * size + b
    unique, inverse = np.unique(key, return_inverse=True)
    return (unique // size).astype(np.int32), (unique % size).astype(np.int32), inverse.reshape(-1)


def _cpdist(a: Strings, b: Strings, scorer: Any, **kwargs: Any) -> Floats:
    if not len(a):
        return np.zeros(0, dtype=np.float64)
    found = process.cpdist(a, b, scorer=scorer, dtype=np.float64, workers=-1, **kwargs)
    return np.asarray(found, dtype=np.float64)


def _token_set(vocab: _Vocab) -> PairFunction:
    def compare(a: Ints, b: Ints) -> Floats:
        return _cpdist(vocab.take(a), vocab.take(b), fuzz.token_set_ratio) / 100.0

    return compare


def _city(vocab: _Vocab) -> PairFunction:
    """:func:`~policies.dedupe.scoring.city_similarity` of distinct code pairs."""

    def compare(a: Ints, b: Ints) -> Floats:
        wa, wb = vocab.take(a), vocab.take(b)
        similarity = _cpdist(wa, wb, fuzz.ratio) / 100.0
        part = similarity < CITY_PART
        if part.any():
            at = np.flatnonzero(part)
            words = _cpdist(wa[at], wb[at], fuzz.token_set_ratio)
            similarity[at[words >= 100.0]] = CITY_PART
        return similarity

    return compare


class _Names:
    """First and last names in one vocabulary (names are compared crossed, too)."""

    def __init__(self, firsts: Sequence[str], lasts: Sequence[str]) -> None:
        self.vocab = _Vocab([*firsts, *lasts])
        n = len(firsts)
        self.first, self.last = self.vocab.codes[:n], self.vocab.codes[n:]
        words = self.vocab.words
        self.length = np.fromiter(map(len, words), dtype=np.int32, count=len(words))
        self.initial = np.fromiter((ord(w[0]) for w in words), dtype=np.int32, count=len(words))
        table = nicknames()
        found = [sorted(table.groups.get(w, ())) for w in words]
        width = max(map(len, found), default=0)
        self.groups = np.full((len(words), width), -1, dtype=np.int32)
        for k, ids in enumerate(found):
            self.groups[k, : len(ids)] = ids

    def similarity(self, a: Ints, b: Ints) -> Floats:
        """:func:`~policies.dedupe.scoring.name_similarity` of distinct code pairs."""
        wa, wb = self.vocab.take(a), self.vocab.take(b)
        similarity = _cpdist(wa, wb, JaroWinkler.normalized_similarity)
        close = np.minimum(self.length[a], self.length[b]) >= 4
        if close.any():
            at = np.flatnonzero(close)
            edits = _cpdist(self.vocab.take(a[at]), self.vocab.take(b[at]), OSA.distance,
                            score_cutoff=1)  # fmt: skip
            lifted = at[edits <= 1]
            similarity[lifted] = np.maximum(similarity[lifted], ONE_EDIT_SIMILARITY)
        similarity[a == b] = 1.0
        return similarity

    def first_similarity(self, a: Ints, b: Ints) -> Floats:
        """:func:`~policies.dedupe.scoring.first_name_similarity` of distinct code pairs."""
        return self.as_first(a, b, self.similarity(a, b))

    def as_first(self, a: Ints, b: Ints, similarity: Floats) -> Floats:
        """:meth:`first_similarity` from :meth:`similarity` of the same pairs (which it
        changes in place)."""
        initial = (self.length[a] == 1) | (self.length[b] == 1)
        same_letter = self.initial[a] == self.initial[b]
        similarity[initial] = np.where(same_letter[initial], INITIAL_SIMILARITY, 0.0)
        similarity[self.nickname(a, b)] = 1.0
        similarity[a == b] = 1.0
        return similarity

    def nickname(self, a: Ints, b: Ints) -> Bools:
        """Whether the names share a nickname group."""
        out = np.zeros(len(a), dtype=np.bool_)
        ga, gb = self.groups[a], self.groups[b]
        for p in range(self.groups.shape[1]):
            for q in range(self.groups.shape[1]):
                out |= (ga[:, p] >= 0) & (ga[:, p] == gb[:, q])
        return out


def _points(weights: Comparison, similarity: Floats) -> Floats:
    """:meth:`Comparison.points` of many similarities."""
    share = np.minimum(1.0, (similarity - weights.floor) / (1.0 - weights.floor))
    linear = weights.disagree + (weights.agree - weights.disagree) * share
    return np.where(similarity <= weights.floor, weights.disagree, linear)


class Columns:
    """One snapshot's records of one object type as codes, to tabulate pairs of them.

    What each field needs (interned values, per-value frequencies) is built on first use and
    kept, so that tabulating the candidate pairs and then the random sample builds it once.
    The parts that read the scorer (frequencies, a shared mailbox's points) are named with
    :data:`SCORED` first; the others (codes) serve the same records under any scorer
    (:meth:`using`).
    """

    def __init__(self, scorer: Scorer, feats: Sequence[Features]) -> None:
        self.scorer, self.feats = scorer, feats
        self._built: dict[str, object] = {}
        self.each = 0  # pairs compared one by one so far
        self._lock = threading.RLock()  # chunks of one table run on threads

    def get(self, key: str, build: Callable[[], T]) -> T:
        """The part named ``key``, built by ``build`` the first time (once: the chunks of a
        table ask on several threads)."""
        if key not in self._built:
            with self._lock:
                if key not in self._built:
                    self._built[key] = build()
        return cast(T, self._built[key])

    def using(self, scorer: Scorer) -> Columns:
        """The same records' columns under ``scorer``: the codes built so far are shared, the
        parts that read the scorer are built again (at a million contacts, building the codes
        again for the merge call after learning took 10 s), unless ``scorer`` reads what this
        one does (:meth:`Scorer.reads_as`)."""
        other = Columns(scorer, self.feats)
        same = scorer.reads_as(self.scorer)
        other._built = {k: v for k, v in self._built.items() if same or not k.startswith(SCORED)}
        return other

    def vocab(self, key: str, value: Callable[[Features], str]) -> _Vocab:
        """The interned values of a field."""
        return self.get(key, lambda: _Vocab([value(f) for f in self.feats]))

    def tabulate(self, left: Ints, right: Ints, *, exact: bool = False) -> PairTable:
        """The table of the pairs ``(feats[left[k]], feats[right[k]])``: what
        :meth:`Scorer.tabulate` gives, which compares the pairs the columns do not settle.

        In chunks of :data:`CHUNK` pairs over :data:`THREADS`, which bounds the memory the
        temporaries take, :data:`THREADS` of them at once.
        ``exact``: frequencies as float64, as ``finish`` reads them (float32 serves learning
        and the bound, in half the memory).
        """
        fields = tuple(FIELDS[self.scorer.object_type])
        rows = len(left)
        dtype = np.float64 if exact else np.float32
        size = max(1, CHUNK // THREADS)
        if rows <= size:
            return self._tabulate(np.asarray(left, np.int32), np.asarray(right, np.int32), dtype)
        out = PairTable(
            fields,
            np.empty((rows, len(fields)), dtype=np.int8),
            np.empty((rows, len(fields)), dtype=dtype),
            np.empty(rows, dtype=np.float64),
            lines := line_column(self.scorer.object_type, rows),
        )

        def chunk(start: int) -> None:
            stop = min(start + size, rows)
            part = self._tabulate(
                np.asarray(left[start:stop], np.int32),
                np.asarray(right[start:stop], np.int32),
                dtype,
            )
            out.levels[start:stop] = part.levels
            out.frequency[start:stop] = part.frequency
            out.email_points[start:stop] = part.email_points
            if lines is not None and part.lines is not None:  # companies'
                lines[start:stop] = part.lines

        chunk(0)  # alone: it builds the parts every chunk reads (get)
        starts = range(size, rows, size)
        if THREADS == 1:
            for start in starts:
                chunk(start)
            return out
        with ThreadPoolExecutor(THREADS, thread_name_prefix="tabulate") as pool:
            for done in [pool.submit(chunk, start) for start in starts]:
                done.result()
        return out

    def _tabulate(self, left: Ints, right: Ints, dtype: type[np.floating[Any]]) -> PairTable:
        scorer, feats = self.scorer, self.feats
        fields = FIELDS[scorer.object_type]
        table = _Table(self, left, right, fields, dtype)
        if scorer.object_type == "companies":
            _company_columns(table)
        else:
            _contact_columns(table)
        _phone_column(table)
        _place_columns(table)
        unsure = np.flatnonzero(table.unsure)
        if len(unsure):
            with self._lock:
                self.each += len(unsure)
            slow = scorer.tabulate(feats, table.left[unsure], table.right[unsure], dtype)
            table.levels[unsure] = slow.levels
            table.frequency[unsure] = slow.frequency
            table.email[unsure] = slow.email_points
            if table.lines is not None and slow.lines is not None:  # companies'
                table.lines[unsure] = slow.lines
        return PairTable(tuple(fields), table.levels, table.frequency, table.email, table.lines)


SCORED = "scored "
"""The first word of the name of a :class:`Columns` part that reads the scorer."""


def tabulate(
    scorer: Scorer, feats: Sequence[Features], left: Ints, right: Ints, *, exact: bool = False
) -> PairTable:
    """:meth:`Columns.tabulate` of the records ``feats``."""
    return Columns(scorer, feats).tabulate(left, right, exact=exact)


class _Table:
    """The columns being filled for the pairs ``(left[k], right[k])``."""

    def __init__(
        self,
        cols: Columns,
        left: Ints,
        right: Ints,
        fields: Sequence[str],
        dtype: type[np.floating[Any]],
    ) -> None:
        self.cols, self.scorer, self.left, self.right = cols, cols.scorer, left, right
        self.column = {f: k for k, f in enumerate(fields)}
        rows = len(left)
        self.levels = np.full((rows, len(fields)), -1, dtype=np.int8)
        self.frequency = np.full((rows, len(fields)), np.nan, dtype=dtype)
        self.email = np.full(rows, np.nan, dtype=np.float64)
        self.lines = line_column(cols.scorer.object_type, rows)  # see PairTable.lines
        self.unsure = np.zeros(rows, dtype=np.bool_)  # compared one by one afterwards

    def both(self, codes: Ints) -> tuple[Rows, Ints, Ints]:
        """The rows where both records have a value, and the two codes there."""
        a, b = codes[self.left], codes[self.right]
        rows = np.flatnonzero((a >= 0) & (b >= 0))
        return rows, a[rows], b[rows]

    def put(self, field: str, rows: Rows, similarity: Floats) -> None:
        self.levels[rows, self.column[field]] = levels(field, similarity)

    def exact(self, field: str, rows: Rows, a: Ints, b: Ints, vocab: _Vocab) -> None:
        """Frequencies of the exact matches (``Compared.values``) among ``rows``."""
        same = a == b
        if not same.any():
            return
        count = self.scorer.frequency
        shares = self.cols.get(
            f"{SCORED}shares {field} {id(vocab)}",
            lambda: np.fromiter(
                (count(field, w) for w in vocab.words), dtype=np.float64, count=len(vocab.words)
            ),
        )
        self.frequency[rows[same], self.column[field]] = shares[a[same]]

    def text(self, field: str, vocab: _Vocab, compare: PairFunction) -> None:
        """A field of interned values: its levels by ``compare`` and the frequencies of its
        exact matches (every such field is a term-frequency one)."""
        rows, a, b = self.both(vocab.codes)
        self.put(field, rows, _by_values(a, b, len(vocab.words), compare))
        self.exact(field, rows, a, b, vocab)


def _contact_columns(table: _Table) -> None:
    feats = table.cols.feats
    names = table.cols.get(
        "names", lambda: _Names([f.first for f in feats], [f.last for f in feats])
    )
    size = len(names.vocab.words)
    first_rows, fa, fb = table.both(names.first)
    first = _by_values(fa, fb, size, names.first_similarity)
    table.put("firstname", first_rows, first)
    last_rows, la, lb = table.both(names.last)
    last = _by_values(la, lb, size, names.similarity)
    table.put("lastname", last_rows, last)
    table.exact("firstname", first_rows, fa, fb, names.vocab)
    table.exact("lastname", last_rows, la, lb, names.vocab)
    straight = np.full((len(table.left), 2), np.nan)  # the first and last similarities
    straight[first_rows, 0], straight[last_rows, 1] = first, last
    _crossed(table, names, straight)
    _lone(table, names, straight)
    _email_column(table)
    org = table.cols.vocab("org", lambda f: f.org)
    table.text("company", org, _token_set(org))
    births = table.cols.vocab("birth", lambda f: f.birth)
    table.text("birthdate", births, _births(table.cols, births))


def _births(cols: Columns, vocab: _Vocab) -> PairFunction:
    """:func:`~policies.dedupe.scoring.birth_similarity` of distinct code pairs."""

    def parts() -> tuple[Ints, Ints, Ints, Ints, Ints]:
        words = vocab.words
        length = np.fromiter(map(len, words), dtype=np.int32, count=len(words))
        day = np.fromiter(map(birth_day, words), dtype=np.int32, count=len(words))
        named = [w if d >= 0 else "00000000" for w, d in zip(words, day.tolist(), strict=True)]
        year, month, dom = (
            np.fromiter((int(w[k : k + n]) for w in named), dtype=np.int32, count=len(named))
            for k, n in ((0, 4), (4, 2), (6, 2))
        )
        return length, day, year, month, dom

    def compare(a: Ints, b: Ints) -> Floats:
        length, day, year, month, dom = cols.get("birth parts", parts)
        out = np.zeros(len(a), dtype=np.float64)
        near = np.flatnonzero((length[a] == length[b]) & (a != b))
        if len(near):
            edits = _cpdist(vocab.take(a[near]), vocab.take(b[near]), OSA.distance,
                            score_cutoff=1)  # fmt: skip
            out[near[edits <= 1]] = BIRTH_TYPO
        named = (day[a] >= 0) & (day[b] >= 0) & (out == 0.0)
        swapped = named & (year[a] == year[b]) & (month[a] == dom[b]) & (dom[a] == month[b])
        out[swapped] = BIRTH_TYPO
        close = named & ~swapped & (np.abs(day[a] - day[b]) <= BIRTH_NEAR_DAYS)
        out[close] = BIRTH_NEAR
        out[a == b] = 1.0
        return out

    return compare


def _crossed(table: _Table, names: _Names, straight: Floats) -> None:
    """The pairs whose names may be read crossed: the reading ``compare`` takes, or left to it
    when two readings are too close to tell (``straight``: per pair, the first and the last
    names' similarities read straight)."""
    a_first, a_last = names.first[table.left], names.last[table.left]
    b_first, b_last = names.first[table.right], names.last[table.right]
    crossing = np.flatnonzero(
        (a_first >= 0) & (a_last >= 0) & (b_first >= 0) & (b_last >= 0) & (a_first != b_first)
    )
    if not len(crossing):
        return
    w = table.scorer.settings.contact_weights
    x, x_last = _as_first_and_last(names, a_first[crossing], b_last[crossing])
    y, y_last = _as_first_and_last(names, a_last[crossing], b_first[crossing])
    now = _points(w.firstname, straight[crossing, 0]) + _points(w.lastname, straight[crossing, 1])
    as_xy = _points(w.firstname, x) + _points(w.lastname, y_last)
    as_yx = _points(w.firstname, y) + _points(w.lastname, x_last)
    best = np.maximum(as_xy, as_yx)
    # the points are the same IEEE operations compare does, so an exact tie is no swap there
    # either; anything closer than SWAP_MARGIN without a tie is left to compare, and so is a
    # swap whose two crossed readings are that close
    near = (np.abs(best - now) <= SWAP_MARGIN) & (best != now)
    swap = (best > now) & ~near
    torn = (as_xy != as_yx) & (np.abs(as_xy - as_yx) <= SWAP_MARGIN)
    table.unsure[crossing[near | (swap & torn)]] = True
    sure = swap & ~torn
    rows, xy = crossing[sure], (as_xy >= as_yx)[sure]  # compare takes x-y on a tie
    table.put("firstname", rows, np.where(xy, x[sure], y[sure]))
    table.put("lastname", rows, np.where(xy, y_last[sure], x_last[sure]))
    _no_exact_names(table, rows)


def _no_exact_names(table: _Table, rows: Rows) -> None:
    """Names read crossed or in the other field are no exact match of a first or a last name
    (``Compared.values`` holds neither): no frequency."""
    table.frequency[rows, table.column["firstname"]] = np.nan
    table.frequency[rows, table.column["lastname"]] = np.nan


def _lone(table: _Table, names: _Names, straight: Floats) -> None:
    """The pairs where one record holds one name and the other both: the lone name read in the
    other field where it scores better (``compare`` does the same), near ties left to it."""
    w = table.scorer.settings.contact_weights
    first = names.first[table.left], names.first[table.right]
    last = names.last[table.left], names.last[table.right]
    for k in (0, 1):  # the record holding one name: left (0) or right (1)
        own_first, own_last = first[k], last[k]
        both = (first[1 - k] >= 0) & (last[1 - k] >= 0)
        # its name is a first name: read as a last name against the other's last name
        rows = np.flatnonzero(both & (own_first >= 0) & (own_last < 0))
        if len(rows):
            _, as_last = _as_first_and_last(names, own_first[rows], last[1 - k][rows])
            now = _points(w.firstname, straight[rows, 0])
            _reread(table, rows, now, _points(w.lastname, as_last), ("lastname", as_last))
        # its name is a last name: read as a first name against the other's first name
        rows = np.flatnonzero(both & (own_last >= 0) & (own_first < 0))
        if len(rows):
            as_first, _ = _as_first_and_last(names, own_last[rows], first[1 - k][rows])
            now = _points(w.lastname, straight[rows, 1])
            _reread(table, rows, now, _points(w.firstname, as_first), ("firstname", as_first))


def _reread(
    table: _Table, rows: Rows, now: Floats, then: Floats, reading: tuple[str, Floats]
) -> None:
    """Put the lone name's other reading (``reading``: the field and its similarity) on the
    rows where it scores more (``then`` against ``now``) and agrees (more than no points);
    near ties to ``compare``."""
    agrees = then > 0
    near = (np.abs(then - now) <= SWAP_MARGIN) & (then != now) & agrees
    table.unsure[rows[near]] = True
    better = (then > now) & ~near & agrees
    field, similarity = reading
    moved = "firstname" if field == "lastname" else "lastname"
    sure = rows[better]
    table.levels[sure, table.column[moved]] = -1
    table.put(field, sure, similarity[better])
    _no_exact_names(table, sure)


def _as_first_and_last(names: _Names, a: Ints, b: Ints) -> tuple[Floats, Floats]:
    """The first-name and the last-name similarity of the pairs of name codes ``(a, b)``: one
    comparison per distinct pair serves both (a first name's adds initials and nicknames)."""
    if not len(a):
        return np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.float64)
    x, y, inverse = _distinct(a, b, len(names.vocab.words))
    last = names.similarity(x, y)
    first = names.as_first(x, y, last.copy())
    return first[inverse], last[inverse]


def _padded(lists: Sequence[Sequence[str]], *keys: Callable[[str], str]) -> tuple[Ints, ...]:
    """Per key, per record, the codes of the key of its values (in order; -2 past the end, -1
    for an empty key). Codes follow each key's sorted order. The values are placed once and
    each key is taken once per distinct value."""
    return tuple(matrix for matrix, _ in _padded_words(lists, *keys))


def _padded_words(
    lists: Sequence[Sequence[str]], *keys: Callable[[str], str]
) -> list[tuple[Ints, list[str]]]:
    """:func:`_padded`, each key's matrix with its sorted distinct non-empty keys (code ``n``
    is the ``n``-th of them)."""
    flat = list(chain.from_iterable(lists))
    distinct = list(dict.fromkeys(flat))
    position = {v: n for n, v in enumerate(distinct)}
    index = np.fromiter(map(position.__getitem__, flat), dtype=np.int64, count=len(flat))
    count = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    row = np.repeat(np.arange(len(lists)), count)
    column = np.arange(len(flat)) - (np.cumsum(count) - count)[row]
    width = int(count.max(initial=0))
    out = []
    for key in keys:
        keyed = [key(v) for v in distinct]
        words = sorted(set(keyed) - {""})
        code = {k: n for n, k in enumerate(words)}
        code[""] = -1
        of_value = np.fromiter(map(code.__getitem__, keyed), dtype=np.int32, count=len(keyed))
        matrix = np.full((len(lists), width), -2, dtype=np.int32)
        matrix[row, column] = of_value[index]
        out.append((matrix, words))
    return out


def _share_any(x: Ints, y: Ints) -> Bools:
    """Per row of two code matrices, whether the rows share a code (codes >= 0)."""
    size = int(max(x.max(initial=0), y.max(initial=0))) + 1
    row_x, column_x = np.nonzero(x >= 0)
    row_y, column_y = np.nonzero(y >= 0)
    found = np.isin(
        row_x.astype(np.int64) * size + x[row_x, column_x],
        row_y.astype(np.int64) * size + y[row_y, column_y],
    )
    out = np.zeros(len(x), dtype=np.bool_)
    out[row_x[found]] = True
    return out


class _Emails:
    """Every record's e-mails as padded code matrices (-2 past a record's last): of the
    address, its domain and its local part, each in its own sorted vocabulary."""

    def __init__(self, feats: Sequence[Features]) -> None:
        lists = [f.emails for f in feats]
        self.has = np.fromiter((bool(e) for e in lists), dtype=np.bool_, count=len(lists))
        (self.address, self.addresses), (self.domain, domains), (self.local, locals_) = (
            _padded_words(
                lists, str, lambda e: e.rpartition("@")[2], lambda e: e.rpartition("@")[0]
            )
        )
        self.domains = np.asarray([*domains, ""], dtype=object)[:-1]
        self.locals = np.asarray([*locals_, ""], dtype=object)[:-1]
        # per e-mail of a record, its local part's first letter (-1 past the record's last);
        # per local part, the code of its letters without separators and digits
        first = np.fromiter((ord(w[0]) for w in locals_), dtype=np.int32, count=len(locals_))
        self.initial = np.where(self.local >= 0, np.append(first, -1)[self.local], -1)
        self.bare = _Vocab([unpunctuated(w) for w in locals_]).codes


def _email_override(scorer: Scorer, names: Sequence[str]) -> Floats:
    """Per e-mail code, the fixed points of a shared mailbox (NaN: not shared)."""
    override = np.full(len(names), np.nan)
    weights = scorer.configured.get("email")
    if weights is not None and weights.points(1.0) > 0:
        discounted = weights.points(1.0) * scorer.settings.shared_value_factor
        override[[n for n, e in enumerate(names) if scorer.shared(e)]] = discounted
    return override


def _email_typos(words: Strings) -> PairFunction:
    """:func:`~policies.dedupe.scoring.email_typo` of distinct code pairs."""

    def compare(a: Ints, b: Ints) -> Floats:
        ratio = _cpdist(words[a], words[b], fuzz.ratio) / 100.0
        edits = _cpdist(words[a], words[b], OSA.distance)
        return np.where(edits <= EMAIL_TYPO_EDITS, ratio, 0.0)

    return compare


def _email_column(table: _Table) -> None:
    """E-mails: a shared address (the first in sorted order); lacking one, two addresses one
    typo apart (:func:`~policies.dedupe.scoring.email_similarity`); lacking that, a shared
    domain (two mailboxes)."""
    scorer = table.scorer
    mail = table.cols.get("emails", lambda: _Emails(table.cols.feats))
    override = table.cols.get(f"{SCORED}emails", lambda: _email_override(scorer, mail.addresses))
    rows = np.flatnonzero(mail.has[table.left] & mail.has[table.right])
    if not len(rows):
        return
    a, b = table.left[rows], table.right[rows]
    address, domain, local = mail.address, mail.domain, mail.local
    feats = table.cols.feats
    common = np.full(len(rows), len(override), dtype=np.int64)  # the least shared address
    same_domain = np.zeros(len(rows), dtype=np.bool_)
    near = np.zeros(len(rows), dtype=np.float64)
    for p in range(address.shape[1]):
        xa, xd, xl, xf = address[a, p], domain[a, p], local[a, p], mail.initial[a, p]
        for q in range(address.shape[1]):
            ya, yd, yl, yf = address[b, q], domain[b, q], local[b, q], mail.initial[b, q]
            hit = (xa >= 0) & (xa == ya)
            common = np.where(hit, np.minimum(common, xa), common)
            one_domain = (xd >= 0) & (xd == yd)
            bare_apart = mail.bare[np.maximum(xl, 0)] != mail.bare[np.maximum(yl, 0)]
            same_domain |= one_domain
            for at, x, y, words in (
                (np.flatnonzero(one_domain & ~hit & (xf >= 0) & (xf == yf) & bare_apart),
                 xl, yl, mail.locals),
                (np.flatnonzero((xl >= 0) & (xl == yl) & (xd >= 0) & (yd >= 0) & (xd != yd)),
                 xd, yd, mail.domains),
            ):  # fmt: skip
                if not len(at):
                    continue
                alike = _by_values(x[at], y[at], len(words), _email_typos(words))
                if words is mail.locals:  # the few one typo apart: their holders' own names?
                    for k in np.flatnonzero(alike >= EMAIL_NEAR).tolist():
                        i, j, row = int(a[at[k]]), int(b[at[k]]), int(at[k])
                        owners = ((feats[i].first, feats[i].last), (feats[j].first, feats[j].last))
                        if own_names(words[xl[row]], words[yl[row]], owners):
                            alike[k] = 0.0
                near[at] = np.maximum(near[at], alike)
    found = common < len(override)
    near[near < EMAIL_NEAR] = 0.0
    table.put("email", rows, np.where(found, 1.0, near))
    points = np.full(len(rows), np.nan)
    points[found] = override[common[found]]
    two = ~found & same_domain & (near == 0.0)
    points[two] = scorer.settings.contact_weights.email_same_domain
    table.email[rows] = points


def _phone_codes(feats: Sequence[Features]) -> tuple[Bools, Ints, Ints, Ints, list[str]]:
    """Who has phones; the codes of their numbers, extensions, last nine digits; the numbers
    in code order."""
    lists = [f.phones for f in feats]
    has = np.fromiter((bool(p) for p in lists), dtype=np.bool_, count=len(lists))

    def digits(phone: str) -> str:
        found = "".join(filter(str.isdigit, split_extension(phone)[0]))
        return found[-9:] if len(found) >= 9 else ""

    (number, numbers), (extension, _), (tail, _) = _padded_words(
        lists, lambda p: split_extension(p)[0], lambda p: split_extension(p)[1], digits
    )
    return has, number, extension, tail, numbers


def _phone_column(table: _Table) -> None:
    """Phones: the best of every number of one record against every number of the other."""
    has, number, extension, tail, numbers = table.cols.get(
        "phones", lambda: _phone_codes(table.cols.feats)
    )
    share = table.scorer.frequency
    shares = table.cols.get(
        f"{SCORED}phones",
        lambda: np.fromiter((share("phone", n) for n in numbers), np.float64, len(numbers)),
    )
    rows = np.flatnonzero(has[table.left] & has[table.right])
    if not len(rows):
        return
    a, b = table.left[rows], table.right[rows]
    best = np.zeros(len(rows), dtype=np.float64)
    on = np.full(len(rows), -1, dtype=np.int64)  # the number of the first exact match
    width = number.shape[1]
    for p in range(width):
        na, ea, ta = number[a, p], extension[a, p], tail[a, p]
        exact_here = np.zeros(len(rows), dtype=np.bool_)
        for q in range(width):
            nb, eb = number[b, q], extension[b, q]
            same = (na >= 0) & (na == nb)
            exact_here |= same & (ea == eb)
            bare = same & (ea != eb) & ((ea == -1) | (eb == -1))
            best = np.where(bare, np.maximum(best, EXTENSION_ON_ONE_SIDE), best)
            subscriber = (na >= 0) & (nb >= 0) & (na != nb) & (ta >= 0) & (ta == tail[b, q])
            best = np.where(subscriber, np.maximum(best, OTHER_REGION), best)
        on = np.where((on < 0) & exact_here, na, on)
    best[on >= 0] = 1.0
    table.put("phone", rows, best)
    exact = on >= 0
    table.frequency[rows[exact], table.column["phone"]] = shares[on[exact]]
    if table.lines is None:  # contacts' (see line_column)
        return
    count = table.scorer.line_count
    lines = table.cols.get(
        f"{SCORED}lines",
        lambda: np.fromiter((count(n) for n in numbers), np.float32, len(numbers)),
    )
    table.lines[rows[exact]] = lines[on[exact]]


def _company_columns(table: _Table) -> None:
    org = table.cols.vocab("org", lambda f: f.org)
    rows, a, b = table.both(org.codes)
    similarity = _by_values(a, b, len(org.words), _token_set(org))
    similarity[a == b] = 1.0
    lvl = levels("name", similarity)
    # names that differ only where their words break, however unlike token_set finds them
    runs = table.cols.get("org_joined", lambda: _Vocab([joined(w) for w in org.words]).codes)
    close = np.flatnonzero(((lvl >= 1) | (runs[a] == runs[b])) & (a != b))
    if len(close):  # distinctive words decide
        compare = table.cols.get(f"{SCORED}org", lambda: _org_similarity(table.cols, org, runs))
        similarity[close] = _by_values(a[close], b[close], len(org.words), compare)
    table.put("name", rows, similarity)
    table.exact("name", rows, a, b, org)
    domain = table.cols.vocab("domain", lambda f: f.domain)
    rows, a, b = table.both(domain.codes)
    table.put("domain", rows, (a == b).astype(np.float64))


GRID = 1 << 20
"""Cells of the word-by-word grids of name pairs compared at once (bounds their memory)."""


GRID_WORDS = 16
"""Words of a name past which its pairs are compared one by one (``org_similarity``), so that
one name pasted with a paragraph does not widen every name's row of word codes."""


class _OrgWords:
    """Organisation names as rows of word codes (-2 past a name's last word; no codes for a
    name of more than :data:`GRID_WORDS` words: ``long``), each word's length, and the words as
    an object array (what ``cpdist`` reads)."""

    def __init__(self, names: Sequence[str]) -> None:
        split = [n.split() for n in names]
        self.long = np.fromiter((len(w) > GRID_WORDS for w in split), np.bool_, len(split))
        ((self.matrix, self.words),) = _padded_words(
            [[] if len(w) > GRID_WORDS else w for w in split], str
        )
        self.length = np.fromiter(map(len, self.words), dtype=np.int32, count=len(self.words))
        self.array: Strings = np.asarray([*self.words, ""], dtype=object)[:-1]


def _org_similarity(cols: Columns, names: _Vocab, runs: Ints) -> PairFunction:
    """:func:`~policies.dedupe.scoring.org_similarity` of distinct pairs of names (``runs``: per
    name, the code of its words run together), the words of both names compared as grids, each
    distinct pair of words once."""
    org = cols.get("org words", lambda: _OrgWords(names.words))
    scorer = cols.scorer
    share = scorer.word_share
    rare = np.fromiter((share(w) < RARE_WORD_SHARE for w in org.words), np.bool_, len(org.words))
    width = org.matrix.shape[1]

    def compare(x: Ints, y: Ints) -> Floats:
        similarity = _cpdist(names.take(x), names.take(y), fuzz.token_set_ratio) / 100.0
        step = max(1, GRID // max(1, width * width))
        for start in range(0, len(x), step):
            at = slice(start, start + step)
            cap = _org_cap(org, rare, org.matrix[x[at]], org.matrix[y[at]])
            similarity[at] = np.minimum(similarity[at], cap)
        similarity[runs[x] == runs[y]] = JOINED_NAMES
        similarity[x == y] = 1.0
        for k in np.flatnonzero(org.long[x] | org.long[y]).tolist():
            similarity[k] = scorer.org_similarity(names.words[x[k]], names.words[y[k]])
        return similarity

    return compare


def _org_cap(org: _OrgWords, rare: Bools, wa: Ints, wb: Ints) -> Floats:
    """Per pair of names (rows of word codes), the highest similarity their words allow: one
    name's extra words against the other's (see ``org_similarity``); infinity: no cap."""
    valid_a, valid_b = wa >= 0, wb >= 0
    pair, i, j = np.nonzero(valid_a[:, :, None] & valid_b[:, None, :])
    u, v = wa[pair, i], wb[pair, j]
    grid = (len(wa), wa.shape[1], wb.shape[1])
    close = np.zeros(grid, dtype=np.bool_)
    close[pair, i, j] = _words_close(org, u, v)
    long_a = valid_a & (org.length[np.maximum(wa, 0)] > 2)
    long_b = valid_b & (org.length[np.maximum(wb, 0)] > 2)
    rare_a = valid_a & rare[np.maximum(wa, 0)]
    rare_b = valid_b & rare[np.maximum(wb, 0)]
    extra_a = long_a & ~close.any(axis=2)
    extra_b = long_b & ~close.any(axis=1)
    both = extra_a.any(axis=1) & extra_b.any(axis=1)
    # a rare word in both names, give or take a typo (either name's spelling of it rare)
    common_rare: Bools = np.any(long_a & rare_a & ~extra_a, axis=1)
    common_rare |= np.any(long_b & rare_b & ~extra_b, axis=1)
    extra_rare = (extra_a & rare_a).any(axis=1) | (extra_b & rare_b).any(axis=1)
    cap = np.full(len(wa), np.inf)
    cap[both] = np.where(common_rare[both], DISTINCT_NAMES, UNRELATED_NAMES)
    cap[~both & extra_rare] = EXTRA_RARE_WORD
    return cap


def _words_close(org: _OrgWords, u: Ints, v: Ints) -> Bools:
    """``_close`` of the pairs of word codes ``(u[k], v[k])``: the same word, one a typo away
    (four letters or more), or one the other's start (three letters or more)."""
    x, y, inverse = _distinct(u, v, len(org.words))
    shortest = np.minimum(org.length[x], org.length[y])
    close = x == y
    typo = np.flatnonzero(~close & (shortest >= 4))
    if len(typo):
        edits = _cpdist(org.array[x[typo]], org.array[y[typo]], OSA.distance, score_cutoff=1)
        close[typo[edits <= 1]] = True
    prefix = np.flatnonzero(~close & (shortest >= 3))
    if len(prefix):
        close[prefix] = [
            b.startswith(a) if len(a) <= len(b) else a.startswith(b)
            for a, b in zip(
                (org.words[k] for k in x[prefix].tolist()),
                (org.words[k] for k in y[prefix].tolist()),
                strict=True,
            )
        ]
    found: Bools = close[inverse]
    return found


def _place_columns(table: _Table) -> None:
    address = table.cols.vocab("address", lambda f: f.address)
    # per address, the codes of its house numbers (-2 past its last)
    numbers = table.cols.get(
        "numbers", lambda: _padded(list(map(house_numbers, address.words)), str)[0]
    )
    plain = _token_set(address)

    def address_similarity(a: Ints, b: Ints) -> Floats:
        """:func:`~policies.dedupe.scoring.address_similarity` of distinct code pairs."""
        similarity = plain(a, b)
        high = np.flatnonzero(similarity > 0.7)
        x, y = numbers[a[high]], numbers[b[high]]
        if x.shape[1]:  # both with house numbers, none of them shared: at most 0.7
            differ = (x[:, 0] >= 0) & (y[:, 0] >= 0) & ~_share_any(x, y)
            similarity[high[differ]] = 0.7
        return similarity

    table.text("address", address, address_similarity)
    city = table.cols.vocab("city", lambda f: f.city)
    table.text("city", city, _city(city))
    zips = table.cols.vocab("zip", lambda f: f.zip)
    length = table.cols.get(
        "zip lengths", lambda: np.fromiter(map(len, zips.words), np.int32, count=len(zips.words))
    )

    def zip_similarity(a: Ints, b: Ints) -> Floats:
        out = np.zeros(len(a), dtype=np.float64)
        near = np.flatnonzero(length[a] == length[b])
        if len(near):
            wa, wb = zips.take(a[near]), zips.take(b[near])
            edits = _cpdist(wa, wb, OSA.distance, score_cutoff=1)
            out[near[edits <= 1]] = 0.8
        out[a == b] = 1.0
        return out

    table.text("zip", zips, zip_similarity)
    state = table.cols.vocab("state", lambda f: f.state)
    rows, a, b = table.both(state.codes)
    table.put("state", rows, (a == b).astype(np.float64))
