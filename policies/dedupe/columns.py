"""Comparing many candidate pairs at once: their agreement levels as columns, without a Python
call per pair.

:func:`tabulate` gives exactly the :class:`~policies.dedupe.scoring.PairTable` that comparing
each pair with :meth:`Scorer.compare <policies.dedupe.scoring.Scorer.compare>` would: each
record's values are interned into integer codes once, each *distinct* pair of values is
compared once with the same rapidfuzz scorers (run element-wise in C by
``rapidfuzz.process.cpdist``), and the results are spread back over the pairs and cut into
levels with the same cuts. The pairs whose outcome the columns do not settle exactly are
compared one by one, as before:

- first and last names that might be read the wrong way round (a crossing scores within a
  hair of the straight reading, or above it);
- several e-mails or several phones on both sides are compared per distinct pair of value
  lists in Python (cheap), not per pair of records;
- two organisation names that agree at all (token_set level 1 or more) go through
  :func:`~policies.dedupe.scoring.org_similarity` per distinct pair of names.

The per-field functions mirror :mod:`policies.dedupe.scoring`; a test checks, on generated and
FEBRL records, that the table equals the one-by-one table cell for cell.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler

from policies.dedupe.features import Features, house_numbers
from policies.dedupe.nicknames import nicknames
from policies.dedupe.settings import Comparison
from policies.dedupe.weights import levels
from policies.normalizers import split_extension

if TYPE_CHECKING:
    from policies.dedupe.scoring import PairTable, Scorer

Ints = npt.NDArray[np.int32]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
#: A similarity over distinct pairs of value codes (codes into one vocabulary).
PairFunction = Callable[[Ints, Ints], Floats]
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
        self.array = np.asarray(self.words + [""], dtype=object)[:-1]

    def take(self, codes: Ints) -> list[str]:
        """The values of ``codes`` (all >= 0)."""
        return list(self.array[codes])


def _by_values(a: Ints, b: Ints, size: int, compare: PairFunction) -> Floats:
    """``compare`` over the distinct pairs of codes ``(a[k], b[k])``, spread back over k."""
    if not len(a):
        return np.zeros(0, dtype=np.float64)
    key = a.astype(np.int64) * size + b
    unique, inverse = np.unique(key, return_inverse=True)
    out = compare((unique // size).astype(np.int32), (unique % size).astype(np.int32))
    return np.asarray(out, dtype=np.float64)[inverse.reshape(-1)]


def _cpdist(a: list[str], b: list[str], scorer: Callable[..., float], **kwargs: object) -> Floats:
    if not a:
        return np.zeros(0, dtype=np.float64)
    found = process.cpdist(a, b, scorer=scorer, dtype=np.float64, workers=-1, **kwargs)
    return np.asarray(found, dtype=np.float64)


def _token_set(vocab: _Vocab) -> PairFunction:
    def compare(a: Ints, b: Ints) -> Floats:
        return _cpdist(vocab.take(a), vocab.take(b), fuzz.token_set_ratio) / 100.0

    return compare


def _ratio(vocab: _Vocab) -> PairFunction:
    def compare(a: Ints, b: Ints) -> Floats:
        return _cpdist(vocab.take(a), vocab.take(b), fuzz.ratio) / 100.0

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
        from policies.dedupe.scoring import ONE_EDIT_SIMILARITY

        wa, wb = self.vocab.take(a), self.vocab.take(b)
        similarity = _cpdist(wa, wb, JaroWinkler.normalized_similarity)
        close = np.minimum(self.length[a], self.length[b]) >= 4
        if close.any():
            at = np.flatnonzero(close)
            edits = _cpdist([wa[k] for k in at], [wb[k] for k in at], OSA.distance, score_cutoff=1)
            lifted = at[edits <= 1]
            similarity[lifted] = np.maximum(similarity[lifted], ONE_EDIT_SIMILARITY)
        similarity[a == b] = 1.0
        return similarity

    def first_similarity(self, a: Ints, b: Ints) -> Floats:
        """:func:`~policies.dedupe.scoring.first_name_similarity` of distinct code pairs."""
        from policies.dedupe.scoring import INITIAL_SIMILARITY

        similarity = self.similarity(a, b)
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


class _Table:
    """The columns being filled for the pairs ``(left[k], right[k])``."""

    def __init__(self, scorer: Scorer, left: Ints, right: Ints, fields: Sequence[str]) -> None:
        self.scorer, self.left, self.right = scorer, left, right
        self.column = {f: k for k, f in enumerate(fields)}
        rows = len(left)
        self.levels = np.full((rows, len(fields)), -1, dtype=np.int8)
        self.frequency = np.full((rows, len(fields)), np.nan, dtype=np.float32)
        self.email = np.full(rows, np.nan, dtype=np.float64)
        self.unsure = np.zeros(rows, dtype=np.bool_)  # compared one by one afterwards

    def both(self, codes: Ints) -> tuple[Ints, Ints, Ints]:
        """The rows where both records have a value, and the two codes there."""
        a, b = codes[self.left], codes[self.right]
        rows = np.flatnonzero((a >= 0) & (b >= 0))
        return rows, a[rows], b[rows]

    def put(self, field: str, rows: Ints, similarity: Floats) -> None:
        self.levels[rows, self.column[field]] = levels(field, similarity)

    def exact(self, field: str, rows: Ints, a: Ints, b: Ints, vocab: _Vocab) -> None:
        """Frequencies of the exact matches (``Compared.values``) among ``rows``."""
        same = a == b
        if not same.any():
            return
        count = self.scorer.frequency
        shares = np.fromiter(
            (count(field, w) for w in vocab.words), dtype=np.float64, count=len(vocab.words)
        )
        self.frequency[rows[same], self.column[field]] = shares[a[same]]

    def text(self, field: str, vocab: _Vocab, compare: PairFunction) -> tuple[Ints, Floats]:
        rows, a, b = self.both(vocab.codes)
        similarity = _by_values(a, b, len(vocab.words), compare)
        self.put(field, rows, similarity)
        return rows, similarity


def tabulate(
    scorer: Scorer,
    feats: Sequence[Features],
    left: Ints,
    right: Ints,
    each: Callable[[Ints, Ints], PairTable],
) -> PairTable:
    """The table of the pairs ``(feats[left[k]], feats[right[k]])``; ``each`` tabulates pairs
    one by one (used for the pairs the columns do not settle)."""
    from policies.dedupe.scoring import FIELDS, PairTable

    fields = FIELDS[scorer.object_type]
    table = _Table(scorer, np.asarray(left, np.int32), np.asarray(right, np.int32), fields)
    if scorer.object_type == "companies":
        _company_columns(table, feats)
    else:
        _contact_columns(table, feats)
    _phone_column(table, feats)
    _place_columns(table, feats)
    unsure = np.flatnonzero(table.unsure)
    if len(unsure):
        slow = each(table.left[unsure], table.right[unsure])
        table.levels[unsure] = slow.levels
        table.frequency[unsure] = slow.frequency
        table.email[unsure] = slow.email_points
    return PairTable(tuple(fields), table.levels, table.frequency, table.email)


def _contact_columns(table: _Table, feats: Sequence[Features]) -> None:
    names = _Names([f.first for f in feats], [f.last for f in feats])
    size = len(names.vocab.words)
    first_rows, fa, fb = table.both(names.first)
    first = _by_values(fa, fb, size, names.first_similarity)
    table.put("firstname", first_rows, first)
    last_rows, la, lb = table.both(names.last)
    last = _by_values(la, lb, size, names.similarity)
    table.put("lastname", last_rows, last)
    table.exact("firstname", first_rows, fa, fb, names.vocab)
    table.exact("lastname", last_rows, la, lb, names.vocab)
    # a pair whose names might be read crossed: compared one by one unless clearly straight
    a_first, a_last = names.first[table.left], names.last[table.left]
    b_first, b_last = names.first[table.right], names.last[table.right]
    crossing = np.flatnonzero(
        (a_first >= 0) & (a_last >= 0) & (b_first >= 0) & (b_last >= 0) & (a_first != b_first)
    )
    if len(crossing):
        w = table.scorer.settings.contact_weights
        at_first = np.full(len(table.left), np.nan)
        at_last = np.full(len(table.left), np.nan)
        at_first[first_rows], at_last[last_rows] = first, last
        af, al, bf, bl = a_first[crossing], a_last[crossing], b_first[crossing], b_last[crossing]
        x = _by_values(af, bl, size, names.first_similarity)
        y = _by_values(al, bf, size, names.first_similarity)
        x_last = _by_values(af, bl, size, names.similarity)
        y_last = _by_values(al, bf, size, names.similarity)
        straight = _points(w.firstname, at_first[crossing]) + _points(
            w.lastname, at_last[crossing]
        )
        as_xy = _points(w.firstname, x) + _points(w.lastname, y_last)
        as_yx = _points(w.firstname, y) + _points(w.lastname, x_last)
        table.unsure[crossing[np.maximum(as_xy, as_yx) > straight - SWAP_MARGIN]] = True
    _email_column(table, feats)
    org = _Vocab([f.org for f in feats])
    table.text("company", org, _token_set(org))


def _email_column(table: _Table, feats: Sequence[Features]) -> None:
    scorer = table.scorer
    weights = scorer.configured.get("email")
    factor = scorer.settings.shared_value_factor
    same_domain = scorer.settings.contact_weights.email_same_domain

    def outcome(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[float, float]:
        """The similarity and the fixed points (NaN: none), as ``Scorer._contacts`` finds."""
        common = sorted(set(a) & set(b))
        if common:
            override = np.nan
            if weights is not None and scorer.shared(common[0]):
                points = weights.points(1.0)
                if points > 0:
                    override = points * factor
            return 1.0, override
        domains = {e.rpartition("@")[2] for e in a}
        if not domains.isdisjoint(e.rpartition("@")[2] for e in b):
            return 0.0, same_domain
        return 0.0, np.nan

    lists = _Vocab(["\n".join(f.emails) for f in feats])
    rows, a, b = table.both(lists.codes)
    parts = [tuple(w.split("\n")) for w in lists.words]
    found = {}
    for key in set(zip(a.tolist(), b.tolist(), strict=True)):
        found[key] = outcome(parts[key[0]], parts[key[1]])
    if not found:
        return
    keys = list(found)
    similarity = np.asarray([found[k][0] for k in keys], dtype=np.float64)
    override = np.asarray([found[k][1] for k in keys], dtype=np.float64)
    lookup = {k: n for n, k in enumerate(keys)}
    at = np.fromiter(
        (lookup[k] for k in zip(a.tolist(), b.tolist(), strict=True)), np.int64, count=len(a)
    )
    table.put("email", rows, similarity[at])
    table.email[rows] = override[at]


def _phone_column(table: _Table, feats: Sequence[Features]) -> None:
    from policies.dedupe.scoring import phone_similarity

    lists = _Vocab(["\n".join(f.phones) for f in feats])
    rows, a, b = table.both(lists.codes)
    if not len(rows):
        return
    parts = [tuple(w.split("\n")) for w in lists.words]
    numbers = _Vocab([split_extension(p[0])[0] for p in parts])
    share = table.scorer.frequency

    def compare(x: Ints, y: Ints) -> Floats:
        out = np.empty((len(x), 2), dtype=np.float64)
        for k, (i, j) in enumerate(zip(x.tolist(), y.tolist(), strict=True)):
            similarity, on = phone_similarity(parts[i], parts[j])
            value = split_extension(on)[0] if similarity >= 1.0 else ""
            out[k] = (similarity, share("phone", value) if value else np.nan)
        return out

    size = len(lists.words)
    key = a.astype(np.int64) * size + b
    unique, inverse = np.unique(key, return_inverse=True)
    found = compare((unique // size).astype(np.int32), (unique % size).astype(np.int32))
    found = found[inverse.reshape(-1)]
    table.put("phone", rows, found[:, 0])
    exact = ~np.isnan(found[:, 1])
    table.frequency[rows[exact], table.column["phone"]] = found[exact, 1]
    del numbers


def _company_columns(table: _Table, feats: Sequence[Features]) -> None:
    from policies.dedupe.scoring import DISTINCT_NAMES

    del DISTINCT_NAMES
    org = _Vocab([f.org for f in feats])
    rows, a, b = table.both(org.codes)
    similarity = _by_values(a, b, len(org.words), _token_set(org))
    similarity[a == b] = 1.0
    lvl = levels("name", similarity)
    close = np.flatnonzero((lvl >= 1) & (a != b))
    if len(close):  # distinctive words decide: org_similarity per distinct pair of names
        words = org.words

        def exact(x: Ints, y: Ints) -> Floats:
            return np.fromiter(
                (table.scorer.org_similarity(words[i], words[j]) for i, j in zip(x, y, strict=True)),
                dtype=np.float64,
                count=len(x),
            )

        similarity[close] = _by_values(a[close], b[close], len(words), exact)
    table.put("name", rows, similarity)
    table.exact("name", rows, a, b, org)
    domain = _Vocab([f.domain for f in feats])
    rows, a, b = table.both(domain.codes)
    table.put("domain", rows, (a == b).astype(np.float64))


def _place_columns(table: _Table, feats: Sequence[Features]) -> None:
    address = _Vocab([f.address for f in feats])
    numbers = [set(house_numbers(w)) for w in address.words]
    plain = _token_set(address)

    def address_similarity(a: Ints, b: Ints) -> Floats:
        similarity = plain(a, b)
        for k in np.flatnonzero(similarity > 0.7).tolist():
            x, y = numbers[a[k]], numbers[b[k]]
            if x and y and x.isdisjoint(y):
                similarity[k] = 0.7
        return similarity

    rows, similarity = table.text("address", address, address_similarity)
    table.exact("address", rows, address.codes[table.left[rows]], address.codes[table.right[rows]],
                address)  # fmt: skip
    city = _Vocab([f.city for f in feats])
    rows, _ = table.text("city", city, _ratio(city))
    table.exact("city", rows, city.codes[table.left[rows]], city.codes[table.right[rows]], city)
    zips = _Vocab([f.zip for f in feats])
    length = np.fromiter(map(len, zips.words), dtype=np.int32, count=len(zips.words))

    def zip_similarity(a: Ints, b: Ints) -> Floats:
        from policies.dedupe.scoring import zip_similarity as one

        out = np.zeros(len(a), dtype=np.float64)
        near = np.flatnonzero(length[a] == length[b])
        if len(near):
            wa, wb = zips.take(a[near]), zips.take(b[near])
            edits = _cpdist(wa, wb, OSA.distance, score_cutoff=1)
            out[near[edits <= 1]] = 0.8
        out[a == b] = 1.0
        del one
        return out

    rows, _ = table.text("zip", zips, zip_similarity)
    table.exact("zip", rows, zips.codes[table.left[rows]], zips.codes[table.right[rows]], zips)
    state = _Vocab([f.state for f in feats])
    rows, a, b = table.both(state.codes)
    table.put("state", rows, (a == b).astype(np.float64))
