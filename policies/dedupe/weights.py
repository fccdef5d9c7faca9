"""Match weights estimated from the snapshot itself (Fellegi-Sunter), versioned and explainable.

Each compared field falls, for a pair, into one of a few agreement *levels* (its similarity cut
at the field's :data:`CUTS`: level 0 differs, the top level is an exact match). A level is worth
``ln(m / u)`` points, where

- ``u`` is how often two records that are *not* one entity land on that level: measured on
  random pairs of the snapshot (drawn with the seed the settings give: the policy draws nothing
  of its own), the exact level from the values' frequencies;
- ``m`` is how often two records of one entity do: estimated by expectation maximisation (a
  two-class mixture, fields independent given the class, started from the configured weights)
  in *training sessions* over blocked candidate pairs, as Splink does. Each session (see
  :data:`SESSIONS`) takes the pairs that agree on some fields and estimates only the *other*
  fields: the pairs with alike names teach what a match looks like in the address, e-mail and
  phone; the pairs sharing an e-mail (a place, where there are too few) teach it for the names.
  Otherwise the largest group of alike pairs wins: colleagues sharing a firm's address, not
  duplicates. A place is seen once (:func:`nested`: a postcode says its city and state). Pairs
  a person approved (rejected) in ``syncd review`` are held at match (non-match) probability 1
  (0) in every iteration, so decisions sharpen the estimate. The pairs reach it as a
  :class:`Tally`: each distinct row of levels once, with how many pairs hold it.

The prior is the share of matches among *all* pairs (the estimated number of matches over
``n(n-1)/2``), so a pair's points are its log-odds of being one entity. At scoring, an exact
match on a name, a contact's company, a phone, an address, a city or a postcode uses the
value's own frequency instead of the level's average (term-frequency adjustment: ``Smith``
counts for less than ``Zbyszewski``, a firm of thousands for less than a firm of ten).
The two names' frequencies are not independent, though: a culture's first names go with its
surnames, so two records sharing a full name are far more often two people than the names'
frequencies multiplied say (8.8 times on 300k generated contacts, counting pairs that are not
duplicates). :func:`name_pair_points` measures that excess on the snapshot and the model takes
its log off a last name's match when the first names match too (``name_pair``).

Below ``min_records`` records, or when fewer than ``min_matches`` matches are estimated, there is
too little to learn from and the configured weights are used instead (:func:`estimate` returns
``None``). A :class:`MatchModel` is a frozen value with a content-derived ``version``; its JSON
form (:meth:`MatchModel.to_json`) is what an engine stores with the plan and passes back in the
snapshot (``snapshot.learned["dedupe"]``) to keep the weights frozen between re-estimations.
"""

from __future__ import annotations

import hashlib
import json
import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from policies.dedupe.settings import Comparison

#: Similarity cut points per field, ascending: level = number of cuts the similarity reaches.
CUTS: Mapping[str, tuple[float, ...]] = {
    "firstname": (0.80, 0.90, 0.95, 1.0),
    "lastname": (0.80, 0.90, 0.95, 1.0),
    "email": (0.85, 1.0),
    "phone": (0.75, 1.0),
    "company": (0.80, 0.90, 1.0),
    "name": (0.50, 0.80, 0.90, 1.0),
    "domain": (1.0,),
    "address": (0.70, 0.85, 0.95, 1.0),
    "city": (0.85, 1.0),
    "zip": (0.8, 1.0),
    "state": (1.0,),
    "birthdate": (0.7, 0.9, 1.0),
}
#: Training sessions per object type: (the pairs taken, as alternatives tried in turn: field ->
#: lowest level, ``all`` of them or ``any`` of them; the fields whose m the session estimates).
#: A session takes the first alternative that finds :data:`MIN_PREFERRED_PAIRS` pairs, the last
#: one with :data:`MIN_SESSION_PAIRS`.
#:
#: The names are learned where the records share what only one person (firm) holds: an e-mail
#: (a web domain). Pairs sharing a place or a date of birth are the fallback, for data without
#: one: among them are
#: a household's members (one surname, two first names) and, since the candidates met through
#: keys that hold a name (a postcode with a name), namesakes at one postcode, which random pairs
#: do not predict and the match class then takes in: on 300k generated contacts that halved the
#: estimated share of duplicates whose names agree (0.45 against 0.99) and so doubled the
#: matches counted (75k against 32k true).
SESSIONS: Mapping[
    str, tuple[tuple[str, tuple[Mapping[str, int], ...], tuple[str, ...]], ...]
] = {
    "contacts": (
        ("all", ({"firstname": 3, "lastname": 3},),
         ("email", "phone", "company", "address", "city", "zip", "state", "birthdate")),
        ("any", ({"email": 2},
                 {"address": 3, "zip": 2, "phone": 2, "email": 2, "birthdate": 3}),
         ("firstname", "lastname")),
    ),
    "companies": (
        ("all", ({"name": 2},), ("domain", "phone", "address", "city", "zip", "state")),
        ("any", ({"domain": 1}, {"domain": 1, "phone": 2, "address": 3}), ("name",)),
    ),
}  # fmt: skip
MIN_SESSION_PAIRS = 20
MIN_PREFERRED_PAIRS = 200
"""Pairs a session's preferred alternative must find to be taken over the next one."""
#: Place fields that a finer one agreeing exactly already says: a postcode names its city and
#: state, a city its state. Expectation maximisation does not see them then (see :func:`nested`).
IMPLIED_BY: Mapping[str, tuple[str, ...]] = {"state": ("city", "zip"), "city": ("zip",)}
#: Fields whose exact matches are weighed by the value's frequency.
TERM_FREQUENCY = frozenset(
    ("firstname", "lastname", "company", "phone", "address", "city", "zip", "name", "birthdate")
)
_EPS = 1e-6
MIN_FREQUENCY = _EPS
"""The least frequency an exact match is weighed by (a value the counts never saw)."""
LevelMatrix = npt.NDArray[np.int8]


@dataclass(frozen=True, slots=True)
class Tally:
    """Blocked pairs counted by their row of agreement levels and the decision a person took on
    them: all that expectation maximisation asks of the pairs, in the memory of the distinct
    rows (a few thousand) instead of one row per pair (tens of millions at a million records).

    ``levels`` holds the distinct rows, ``counts`` how many pairs each stands for, ``clamp``
    1 (approved), 0 (rejected) or NaN (no decision) per row. Every step of
    :func:`expectation_maximisation` is a function of a pair's row, so the estimate over a
    tally is the estimate over its pairs.
    """

    fields: tuple[str, ...]
    levels: LevelMatrix
    counts: npt.NDArray[np.float64]
    clamp: npt.NDArray[np.float64]

    @classmethod
    def of(
        cls,
        fields: Sequence[str],
        levels: LevelMatrix,
        clamp: npt.NDArray[np.float64] | None = None,
    ) -> Tally:
        """The tally of the pairs with these rows (and decisions; ``None``: none)."""
        parts = []
        for start in range(0, len(levels), _TALLY_ROWS):
            part = slice(start, start + _TALLY_ROWS)
            codes = _codes(fields, levels[part], None if clamp is None else clamp[part])
            found, counts = np.unique(codes, return_counts=True)
            parts.append((found, counts.astype(np.float64)))
        return cls._of_codes(tuple(fields), parts)

    @classmethod
    def of_codes(
        cls, fields: Sequence[str], codes: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]
    ) -> Tally:
        """The tally of ``counts[k]`` pairs with the row of :func:`level_codes` ``codes[k]``
        (no decisions)."""
        return cls._of_codes(tuple(fields), [(codes, counts.astype(np.float64))])

    @classmethod
    def merged(cls, tallies: Sequence[Tally]) -> Tally:
        """One tally of the pairs of all ``tallies`` (of the same fields)."""
        fields = tallies[0].fields if tallies else ()
        parts = [(_codes(fields, t.levels, t.clamp), t.counts) for t in tallies]
        return cls._of_codes(fields, parts)

    @classmethod
    def _of_codes(
        cls,
        fields: tuple[str, ...],
        parts: Sequence[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]],
    ) -> Tally:
        if not parts:
            return cls(fields, np.empty((0, len(fields)), np.int8), np.empty(0), np.empty(0))
        codes = np.concatenate([c for c, _ in parts])
        found, inverse = np.unique(codes, return_inverse=True)
        counts = np.bincount(
            inverse.reshape(-1), weights=np.concatenate([n for _, n in parts]), minlength=len(found)
        )
        levels = levels_of(fields, found)
        decided = found % 3
        clamp = np.where(decided == 0, np.nan, (decided == 2).astype(np.float64))
        return cls(fields, levels, np.asarray(counts, dtype=np.float64), clamp)

    @property
    def pairs(self) -> int:
        """How many pairs the tally counts."""
        return round(float(self.counts.sum()))

    def decided(self) -> npt.NDArray[np.float64] | None:
        """``clamp``, or ``None`` when no row holds a decision."""
        return None if bool(np.isnan(self.clamp).all()) else self.clamp


_TALLY_ROWS = 1 << 20
"""Rows encoded at once by :meth:`Tally.of` (a row's code is 8 bytes)."""


def _radix(field: str) -> int:
    return len(CUTS[field]) + 2  # the levels and -1 (absent)


def level_codes(fields: Sequence[str], levels: LevelMatrix) -> npt.NDArray[np.int64]:
    """One integer per row of levels, equal for equal rows (:func:`levels_of` reads it back)."""
    return _codes(fields, levels, None)


def levels_of(fields: Sequence[str], codes: npt.NDArray[np.int64]) -> LevelMatrix:
    """The rows of levels of :func:`level_codes` (a decision digit, if any, is ignored)."""
    levels = np.empty((len(codes), len(fields)), dtype=np.int8)
    rest = codes // 3
    for k in range(len(fields) - 1, -1, -1):
        rest, digit = np.divmod(rest, _radix(fields[k]))
        levels[:, k] = digit - 1
    return levels


def _codes(
    fields: Sequence[str], levels: LevelMatrix, clamp: npt.NDArray[np.float64] | None
) -> npt.NDArray[np.int64]:
    """One integer per row: its levels as digits (base :func:`_radix`), then its decision (0 none,
    1 rejected, 2 approved)."""
    if math.prod(_radix(f) for f in fields) * 3 >= 1 << 62:  # pragma: no cover - 11 fields fit
        raise ValueError(f"too many compared fields to tally: {', '.join(fields)}")
    codes = np.zeros(len(levels), dtype=np.int64)
    for k, field in enumerate(fields):
        codes *= _radix(field)
        codes += levels[:, k].astype(np.int64) + 1
    codes *= 3
    if clamp is not None:
        codes += np.where(np.isnan(clamp), 0, np.where(clamp > 0.5, 2, 1)).astype(np.int64)
    return codes


_BOUNDS = {f: tuple(c - 1e-9 for c in cuts) for f, cuts in CUTS.items()}


def level(field: str, similarity: float) -> int:
    """The agreement level of a similarity (0 = differs, ``len(CUTS[field])`` = exact)."""
    return bisect_right(_BOUNDS[field], similarity)


def levels(field: str, similarities: npt.NDArray[np.float64]) -> LevelMatrix:
    """:func:`level` of many similarities at once (the same cuts, the same comparisons)."""
    cuts = np.asarray(_BOUNDS[field], dtype=np.float64)
    return np.searchsorted(cuts, similarities, side="right").astype(np.int8)


def representative(field: str, lvl: int) -> float:
    """A similarity standing for a level (its lower cut; 0 for level 0)."""
    return CUTS[field][lvl - 1] if lvl else 0.0


@dataclass(frozen=True, slots=True)
class FieldModel:
    """One field's per-level probabilities; ``points[level] = ln(m / u)``."""

    m: tuple[float, ...]
    u: tuple[float, ...]

    @property
    def points(self) -> tuple[float, ...]:
        """Log-odds points of each level."""
        return tuple(math.log(m / u) for m, u in zip(self.m, self.u, strict=True))


@dataclass(frozen=True, slots=True)
class MatchModel:
    """Weights learned from one snapshot of one object type."""

    object_type: str
    seed: int
    records: int  # records in the snapshot it was learned from
    pairs: int  # blocked pairs EM ran over
    sampled: int  # random pairs u was measured on
    matches: float  # estimated matches among the blocked pairs
    prior: float  # log-odds of a match for a pair of two random records
    fields: Mapping[str, FieldModel]
    #: Points (<= 0) a last name's exact match gains when the first names match exactly too:
    #: names of one culture go together, so a shared full name is less telling than the two
    #: names' frequencies multiplied say (see :func:`name_pair_points`).
    name_pair: float = 0.0
    #: Of the candidate pairs sharing a full name and a place that carry an identifier of a
    #: person (an e-mail, a phone, a date of birth), the share whose identifiers do not all
    #: differ: how often one name at one place is one person here (0: too few pairs to tell;
    #: see :func:`name_place_share`).
    name_place: float = 0.0
    #: Of the candidate pairs sharing a full name and a date of birth (give or take a typo)
    #: that carry a place or another identifier, the share whose places and identifiers do not
    #: all differ: how often one name born on one day is one person here (0: too few pairs to
    #: tell; see :func:`name_birth_share`).
    name_birth: float = 0.0

    @property
    def version(self) -> str:
        """A short digest of the weights: equal weights, equal version."""
        text = json.dumps(self.to_json(with_version=False), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def points(self, field: str, lvl: int) -> float:
        """The points of one field's level."""
        found = self.fields[field]
        return math.log(found.m[lvl] / found.u[lvl])

    def exact_points(self, field: str, frequency: float) -> float:
        """Points of an exact match on a value carried by ``frequency`` of the records."""
        found = self.fields[field]
        top = len(found.m) - 1
        return math.log(found.m[top] / max(frequency, _EPS))

    def to_json(self, *, with_version: bool = True) -> dict[str, object]:
        """A JSON-able form (rounded, so that storing and loading gives the same version)."""
        out: dict[str, object] = {
            "object_type": self.object_type,
            "seed": self.seed,
            "records": self.records,
            "pairs": self.pairs,
            "sampled": self.sampled,
            "matches": round(self.matches, 3),
            "prior": round(self.prior, 6),
            "fields": {
                f: {"m": [round(x, 8) for x in fm.m], "u": [round(x, 10) for x in fm.u]}
                for f, fm in sorted(self.fields.items())
            },
        }
        if self.name_pair:  # absent from a model learned before it was (same version)
            out["name_pair"] = round(self.name_pair, 6)
        if self.name_place:  # the same
            out["name_place"] = round(self.name_place, 6)
        if self.name_birth:  # the same
            out["name_birth"] = round(self.name_birth, 6)
        if with_version:
            out["version"] = self.version
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> MatchModel:
        """The model :meth:`to_json` wrote."""
        fields = data["fields"]
        assert isinstance(fields, Mapping)
        return cls(
            object_type=str(data["object_type"]),
            seed=int(str(data["seed"])),
            records=int(str(data["records"])),
            pairs=int(str(data["pairs"])),
            sampled=int(str(data["sampled"])),
            matches=float(str(data["matches"])),
            prior=float(str(data["prior"])),
            fields={
                str(f): FieldModel(tuple(map(float, v["m"])), tuple(map(float, v["u"])))
                for f, v in fields.items()
            },
            name_pair=float(str(data.get("name_pair", 0.0))),
            name_place=float(str(data.get("name_place", 0.0))),
            name_birth=float(str(data.get("name_birth", 0.0))),
        )


def _column_shares(
    column: npt.NDArray[np.int8], weights: npt.NDArray[np.float64], levels: int
) -> npt.NDArray[np.float64]:
    """Weighted share of each level among the rows where the field is present (>= 0)."""
    present = column >= 0
    counts = np.bincount(column[present], weights=weights[present], minlength=levels)
    total = float(counts.sum())
    return np.asarray((counts + _EPS) / (total + _EPS * levels), dtype=np.float64)


def _shares(
    column: npt.NDArray[np.intp], weights: npt.NDArray[np.float64], levels: int
) -> npt.NDArray[np.float64]:
    """:func:`_column_shares` of the rows where the field is present, taken out already."""
    counts = np.bincount(column, weights=weights, minlength=levels)
    total = float(counts.sum())
    return np.asarray((counts + _EPS) / (total + _EPS * levels), dtype=np.float64)


def u_from_random(
    fields: Sequence[str],
    sample: LevelMatrix,
    exact_u: Mapping[str, float],
) -> dict[str, tuple[float, ...]]:
    """u per level from random pairs, the exact level replaced by the frequency estimate.

    The random share of the other levels is rescaled to fill what the exact level leaves.
    """
    out: dict[str, tuple[float, ...]] = {}
    ones = np.ones(len(sample), dtype=np.float64)
    for k, field in enumerate(fields):
        levels = len(CUTS[field]) + 1
        shares = _column_shares(sample[:, k], ones, levels) if len(sample) else None
        if shares is None:
            shares = np.full(levels, 1.0 / levels)
        top = min(max(exact_u.get(field, float(shares[-1])), _EPS), 0.5)
        rest = shares[:-1]
        rest = rest / rest.sum() * (1.0 - top) if rest.sum() > 0 else rest
        # a level the sample never showed is still at least as likely by chance as an exact
        # match, and not much rarer than one pair in the sample
        least = max(top, 0.5 / max(len(sample), 1))
        out[field] = (*(max(float(x), least) for x in rest[:1]),
                      *(max(float(x), least) for x in rest[1:]), top)  # fmt: skip
    return out


def nested(fields: Sequence[str], matrix: LevelMatrix) -> LevelMatrix:
    """``matrix`` with each field of :data:`IMPLIED_BY` made absent (-1) on the rows where a
    finer place field agrees exactly (a copy; the input is left alone).

    Expectation maximisation takes the fields as independent given the class, and the random
    pairs that fix the non-matches' u see a city and its state agree together far more often
    than the product of their rates. Counted twice, that excess looks like a second kind of
    match: at scale, where namesakes in one city outnumber the duplicates, the match class
    drifts into them and the disagreement weights of e-mail, phone, company and address melt.
    Seen once, a place is one witness. Scoring keeps its own treatment of overlapping place
    fields (:data:`~policies.dedupe.scoring.PLACE`); this is for learning only.
    """
    return _nest(fields, matrix.copy())


def _nest(fields: Sequence[str], out: LevelMatrix) -> LevelMatrix:
    """:func:`nested` in place, on a matrix the caller made for it."""
    column = {f: k for k, f in enumerate(fields)}
    said: dict[str, npt.NDArray[np.bool_]] = {}  # all read before any is written
    for field, finer in IMPLIED_BY.items():
        if field in column:
            said[field] = np.zeros(len(out), dtype=np.bool_)
            for other in finer:
                if other in column:
                    said[field] |= out[:, column[other]] == len(CUTS[other])
    for field, rows in said.items():
        out[rows, column[field]] = -1
    return out


def _initial_m(field: str, comparison: Comparison | None) -> npt.NDArray[np.float64]:
    """A starting m: the configured weights say which levels speak for a match."""
    levels = len(CUTS[field]) + 1
    if comparison is None:
        raw = np.linspace(0.05, 1.0, levels) ** 3
    else:
        raw = np.array([
            math.exp(comparison.points(representative(field, lv))) for lv in range(levels)
        ])  # fmt: skip
    return np.asarray(raw / raw.sum(), dtype=np.float64)


def expectation_maximisation(
    fields: Sequence[str],
    blocked: LevelMatrix,
    u_start: Mapping[str, tuple[float, ...]],
    m_start: Mapping[str, npt.NDArray[np.float64]],
    *,
    clamp: npt.NDArray[np.float64] | None = None,
    counts: npt.NDArray[np.float64] | None = None,
    iterations: int = 25,
    fixed_m: bool = False,
    fixed_u: bool = False,
) -> tuple[dict[str, tuple[float, ...]], float]:
    """m per level and the estimated number of matches among ``blocked`` pairs.

    ``clamp`` holds, per row, 1 (approved), 0 (rejected) or NaN (unknown); ``counts`` how many
    pairs each row stands for (``None``: one each; a :class:`Tally`'s rows). With ``fixed_m``
    only u and the share of matches are re-estimated (m is known); with ``fixed_u`` only m and
    the share (the non-matches are taken to look like random pairs, as in Splink).
    """
    m = {f: np.asarray(m_start[f], dtype=np.float64) for f in fields}
    u = {f: np.asarray(u_start[f], dtype=np.float64) for f in fields}
    share = 0.1
    weight = np.ones(len(blocked)) if counts is None else np.asarray(counts, dtype=np.float64)
    total = max(float(weight.sum()), _EPS)
    posterior = np.zeros(len(blocked), dtype=np.float64)
    # per field, the rows where it is present, their levels and counts: the same every iteration
    present = [np.flatnonzero(blocked[:, k] >= 0) for k in range(len(fields))]
    level = [blocked[rows, k].astype(np.intp) for k, rows in enumerate(present)]
    weights = [weight[rows] for rows in present]
    known = None if clamp is None else np.flatnonzero(~np.isnan(clamp))
    for _ in range(iterations):
        odds = np.full(len(blocked), math.log(share / (1.0 - share)), dtype=np.float64)
        for k, field in enumerate(fields):
            ratio = np.log(m[field]) - np.log(u[field])
            odds[present[k]] += ratio[level[k]]
        posterior = 1.0 / (1.0 + np.exp(-np.clip(odds, -50, 50)))
        if clamp is not None and known is not None:
            posterior[known] = clamp[known]
        share = float(min(max(float(posterior @ weight) / total, _EPS), 1 - _EPS))
        for k, field in enumerate(fields):
            levels = len(CUTS[field]) + 1
            if not fixed_m:
                m[field] = _shares(level[k], posterior[present[k]] * weights[k], levels)
            if not fixed_u:
                u[field] = _shares(level[k], (1.0 - posterior[present[k]]) * weights[k], levels)
    return {f: tuple(float(x) for x in m[f]) for f in fields}, float(posterior @ weight)


M_FLOOR = 0.005
"""Least m of a level: no level is ever impossible for a match (a typo, a move, a new job)."""


def _monotone(m: Sequence[float], u: Sequence[float]) -> tuple[float, ...]:
    """m floored at :data:`M_FLOOR`; a lower level never weighs more than the one above it."""
    out = [max(x, M_FLOOR) for x in m]
    for k in range(len(out) - 1, 0, -1):
        out[k - 1] = min(out[k - 1], u[k - 1] * out[k] / u[k])
    total = sum(out)
    return tuple(x / total for x in out)


def _matches(
    blocked: Tally,
    u: Mapping[str, tuple[float, ...]],
    m: Mapping[str, tuple[float, ...]],
    *,
    counted: tuple[float, Mapping[str, int]] | None,
) -> float:
    """How many pairs of the snapshot are matches.

    As Splink does from a deterministic rule and its recall: the matches a session that took
    the pairs agreeing on all of some fields found, over the share of matches that agree so (from
    the other fields' m). Without such a session, by expectation maximisation of the share over
    all blocked pairs (m known, u free), which overcounts where many non-matches look alike.
    """
    if counted is not None:
        found, condition = counted
        recall = 1.0
        for field, lvl in condition.items():
            if field in m:
                recall *= sum(m[field][lvl:])
        if recall > 0.05:
            return found / recall
    fields = blocked.fields
    m_known = {f: np.asarray(m[f]) for f in fields}
    _, matches = expectation_maximisation(
        fields,
        nested(fields, blocked.levels),
        u,
        m_known,
        clamp=blocked.decided(),
        counts=blocked.counts,
        fixed_m=True,
    )
    return matches


def _session_pairs(
    how: str,
    alternatives: Sequence[Mapping[str, int]],
    blocked: Tally,
    column: Mapping[str, int],
) -> tuple[Mapping[str, int], npt.NDArray[np.bool_]] | None:
    """The condition a session trains under and the rows it takes: the first alternative
    with :data:`MIN_PREFERRED_PAIRS` pairs (the last with :data:`MIN_SESSION_PAIRS`), or
    ``None`` when none has enough."""
    for k, condition in enumerate(alternatives):
        tests = [blocked.levels[:, column[f]] >= lvl for f, lvl in condition.items() if f in column]
        if not tests:
            continue
        taken = np.logical_and.reduce(tests) if how == "all" else np.logical_or.reduce(tests)
        least = MIN_SESSION_PAIRS if k == len(alternatives) - 1 else MIN_PREFERRED_PAIRS
        if float(blocked.counts[taken].sum()) >= least:
            return condition, taken
    return None


def estimate(
    object_type: str,
    blocked: Tally,
    *,
    sample: LevelMatrix,
    exact_u: Mapping[str, float],
    configured: Mapping[str, Comparison],
    records: int,
    seed: int,
    min_records: int,
    min_matches: int,
) -> MatchModel | None:
    """A model learned from the blocked pairs' tally and the random pairs' level matrix, or
    None when there is too little to learn."""
    fields = blocked.fields
    if records < min_records or blocked.pairs == 0:
        return None
    u = u_from_random(fields, sample, exact_u)  # what scoring divides by
    u_apart = u_from_random(fields, nested(fields, sample), exact_u)  # what learning does
    m_start = {f: _initial_m(f, configured.get(f)) for f in fields}
    m: dict[str, tuple[float, ...]] = {f: tuple(float(x) for x in m_start[f]) for f in fields}
    column = {f: k for k, f in enumerate(fields)}
    counted: tuple[float, Mapping[str, int]] | None = None
    for how, alternatives, trained in SESSIONS[object_type]:
        chosen = _session_pairs(how, alternatives, blocked, column)
        if chosen is None:
            continue
        condition, taken = chosen
        names = [f for f in trained if f in column]
        rows = _nest(names, blocked.levels[taken][:, [column[f] for f in names]])  # a new array
        clamp = blocked.decided()
        learned, found = expectation_maximisation(
            names,
            rows,
            u_apart,
            m_start,
            clamp=None if clamp is None else clamp[taken],
            counts=blocked.counts[taken],
            fixed_u=True,
        )
        m.update(learned)
        if how == "all" and counted is None:
            counted = (found, condition)
    m = {f: _monotone(m[f], u[f]) for f in fields}
    matches = _matches(blocked, u_apart, m, counted=counted)
    if matches < min_matches:
        return None
    all_pairs = records * (records - 1) / 2
    share = min(max(matches / all_pairs, _EPS * _EPS), 0.5)
    return MatchModel(
        object_type=object_type,
        seed=seed,
        records=records,
        pairs=blocked.pairs,
        sampled=len(sample),
        matches=matches,
        prior=math.log(share / (1.0 - share)),
        fields={f: FieldModel(m[f], u[f]) for f in fields},
    )


#: Non-matching pairs sharing a full name below which :func:`name_pair_points` tells nothing.
MIN_NAME_PAIRS = 50


def name_pair_points(
    first: npt.NDArray[np.int64],
    last: npt.NDArray[np.int64],
    *,
    matches: float,
    m_first: float,
    m_last: float,
) -> float:
    """How much less a full name's exact match tells than its two names' do apart (points).

    ``first`` and ``last`` are codes of the records' first and last names (one per record
    having both, equal codes for equal names, 0 or more, their product with the codes' count
    within int64). Among the pairs of those records, the pairs of non-matches agreeing on both
    names are counted (every agreeing pair, less the matches expected to agree: ``matches *
    m_first * m_last``) and set against what the two names' agreement rates, multiplied,
    predict. The log of the excess, negated, is the correction; 0 where the records show no
    excess or too few such pairs to tell (:data:`MIN_NAME_PAIRS`).
    """
    n = len(first)
    if n < 2:
        return 0.0
    total = n * (n - 1) / 2

    def agreeing(codes: npt.NDArray[np.int64]) -> float:
        _, counts = np.unique(codes, return_counts=True)
        c = counts.astype(np.float64)
        return float((c * (c - 1) / 2).sum())

    both = first * (int(last.max()) + 1) + last  # one code per pair of names (codes >= 0)
    got_first = agreeing(first) - matches * m_first
    got_last = agreeing(last) - matches * m_last
    got_both = agreeing(both) - matches * m_first * m_last
    if got_both < MIN_NAME_PAIRS or got_first <= 0 or got_last <= 0:
        return 0.0
    excess = (got_both / total) / ((got_first / total) * (got_last / total))
    return -math.log(excess) if excess > 1.0 else 0.0


#: Pairs sharing a full name and a place, with an identifier, below which
#: :func:`name_place_share` tells nothing.
MIN_NAME_PLACE_PAIRS = 200
#: The fields that identify a person, not a place: two records of one person rarely differ in
#: all of those both hold.
IDENTIFIERS = ("email", "phone", "birthdate")
#: The fields that say where a person lives or works.
PLACES = ("address", "city", "zip", "company")


def name_place_share(blocked: Tally) -> float:
    """How often two records sharing a full name and a place are one person, from the ones that
    can tell: among the blocked pairs whose first and last names agree at the top level and
    that agree exactly on a place (:data:`PLACES`) and both hold an identifier
    (:data:`IDENTIFIERS`), the share whose identifiers do not all differ outright. An upper
    bound on the namesakes: a typo'd date of birth or a new mailbox counts as a namesake.

    0 when fewer than :data:`MIN_NAME_PLACE_PAIRS` pairs can tell (names and places only, as
    FEBRL's records).
    """
    column = {f: k for k, f in enumerate(blocked.fields)}
    if not {"firstname", "lastname"} <= set(column):
        return 0.0
    levels = blocked.levels

    def top(field: str) -> npt.NDArray[np.bool_]:
        found: npt.NDArray[np.bool_] = levels[:, column[field]] == len(CUTS[field])
        return found

    places = [f for f in PLACES if f in column]
    ids = [f for f in IDENTIFIERS if f in column]
    if not places or not ids:
        return 0.0
    named = top("firstname") & top("lastname") & np.logical_or.reduce([top(f) for f in places])
    return _one_person_share(blocked, named, ids)


def _one_person_share(blocked: Tally, chosen: npt.NDArray[np.bool_], witnesses: list[str]) -> float:
    """Of the ``chosen`` rows' pairs that both hold one of the ``witnesses`` at least, the share
    whose witnesses do not all differ outright; 0 when fewer than
    :data:`MIN_NAME_PLACE_PAIRS` pairs can tell."""
    column = {f: k for k, f in enumerate(blocked.fields)}
    levels = blocked.levels
    told = np.logical_or.reduce([levels[:, column[f]] >= 0 for f in witnesses]) & chosen
    differ = np.logical_and.reduce([levels[:, column[f]] <= 0 for f in witnesses]) & told
    pairs = float(blocked.counts[told].sum())
    if pairs < MIN_NAME_PLACE_PAIRS:
        return 0.0
    return 1.0 - float(blocked.counts[differ].sum()) / pairs


#: The fields that may tell two records sharing a full name and a date of birth apart.
BIRTH_WITNESSES = (*PLACES, "email", "phone")


def name_birth_share(blocked: Tally) -> float:
    """How often two records sharing a full name and a date of birth are one person, from the
    ones that can tell: among the blocked pairs whose first and last names agree at the top
    level and whose dates of birth agree at the top two (exactly, or one typo apart: a typo'd
    date is where the share is used, and a namesake is likelier there than on the very day)
    and that both hold a place or another identifier (:data:`BIRTH_WITNESSES`), the share
    whose witnesses do not all differ outright. An upper bound on the namesakes: a person who
    moved, or changed mailbox, counts as one.

    0 when fewer than :data:`MIN_NAME_PLACE_PAIRS` pairs can tell, or without dates of birth.
    """
    column = {f: k for k, f in enumerate(blocked.fields)}
    if not {"firstname", "lastname", "birthdate"} <= set(column):
        return 0.0
    levels = blocked.levels
    witnesses = [f for f in BIRTH_WITNESSES if f in column]
    if not witnesses:
        return 0.0

    def at_least(field: str, lvl: int) -> npt.NDArray[np.bool_]:
        found: npt.NDArray[np.bool_] = levels[:, column[field]] >= lvl
        return found

    born = at_least("firstname", len(CUTS["firstname"])) & at_least(
        "lastname", len(CUTS["lastname"])
    )
    born &= at_least("birthdate", len(CUTS["birthdate"]) - 1)
    return _one_person_share(blocked, born, witnesses)
