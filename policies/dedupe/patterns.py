"""Candidate pairs by their row of agreement levels (a *pattern*), with what bounds their points.

When the table of every candidate pair is too large to keep from learning for the merge call
(:data:`~policies.dedupe.policy.KEPT_TABLE_BYTES`), learning keeps instead, per pair, which
pattern it has (4 bytes: an index into the distinct patterns, thousands, rather than the
pattern's 8-byte code, 160 MB less at a million contacts) and, per pattern, what the bound of
any of its pairs can at most be:

- per term-frequency field, the least frequency an exact match of its pairs rests on, and
  whether one of its pairs has none (its level's points count then);
- the most e-mail points a pair of it has (a shared mailbox, two mailboxes at one domain), and
  whether one has none.

:meth:`Patterns.reach` works out, once the weights are known, the bound of each pattern with
those extremes: :meth:`~policies.dedupe.scoring.PairTable.bound` only grows with each field's
points, and a field's points only grow as the frequency falls, so no pair of a pattern has a
higher bound than its pattern. The merge call then tabulates again only the pairs of the
patterns that reach the review threshold (about 2 % of 2.4 million at 100k generated contacts)
instead of every candidate pair.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from policies.dedupe.scoring import PairTable, Scorer
from policies.dedupe.weights import (
    TERM_FREQUENCY,
    LevelMatrix,
    MatchModel,
    Tally,
    level_codes,
    levels_of,
)


@dataclass(frozen=True, slots=True)
class _Extremes:
    """Per pattern (``codes``, sorted): the least frequency per field (inf: none), whether a
    pair has no frequency per field, the most e-mail points (-inf: none), whether a pair has
    none."""

    codes: npt.NDArray[np.int64]
    least: npt.NDArray[np.float32]
    unweighed: npt.NDArray[np.bool_]
    email_most: npt.NDArray[np.float64]
    email_none: npt.NDArray[np.bool_]
    counts: npt.NDArray[np.int64]  # pairs per pattern

    @classmethod
    def of_pairs(
        cls, codes: npt.NDArray[np.int64], table: PairTable
    ) -> tuple[_Extremes, npt.NDArray[np.intp]]:
        """The extremes of the pairs of ``table`` (with their patterns' ``codes``), and per pair
        the index of its pattern among them: a pass over the pairs that have a value, field by
        field (most have none)."""
        found, inverse = np.unique(codes, return_inverse=True)
        inverse = inverse.reshape(-1)
        rows, columns = len(found), table.levels.shape[1]

        def some(at: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
            held: npt.NDArray[np.bool_] = np.bincount(inverse[at], minlength=rows) > 0
            return held

        least = np.full((rows, columns), np.inf, dtype=np.float32)
        unweighed = np.zeros((rows, columns), dtype=np.bool_)
        for k in range(columns):
            frequency = table.frequency[:, k]
            known = ~np.isnan(frequency)
            column = np.full(rows, np.inf, dtype=np.float32)
            np.minimum.at(column, inverse[known], frequency[known])
            least[:, k] = column
            unweighed[:, k] = some(~known)
        email = table.email_points
        known = ~np.isnan(email)
        email_most = np.full(rows, -np.inf)
        np.maximum.at(email_most, inverse[known], email[known])
        counts = np.bincount(inverse, minlength=rows).astype(np.int64)
        return cls(found, least, unweighed, email_most, some(~known), counts), inverse

    @classmethod
    def merged(cls, parts: Sequence[_Extremes]) -> _Extremes:
        """The extremes of the pairs of all ``parts`` (one at least)."""
        # the distinct patterns of all parts (thousands): reduced row by row
        codes, inverse = np.unique(np.concatenate([p.codes for p in parts]), return_inverse=True)
        inverse = inverse.reshape(-1)
        rows, columns = len(codes), parts[0].least.shape[1]
        least = np.full((rows, columns), np.inf, dtype=np.float32)
        np.minimum.at(least, inverse, np.concatenate([p.least for p in parts]))
        unweighed = np.zeros((rows, columns), dtype=np.bool_)
        np.logical_or.at(unweighed, inverse, np.concatenate([p.unweighed for p in parts]))
        email_most = np.full(rows, -np.inf)
        np.maximum.at(email_most, inverse, np.concatenate([p.email_most for p in parts]))
        email_none = np.zeros(rows, dtype=np.bool_)
        np.logical_or.at(email_none, inverse, np.concatenate([p.email_none for p in parts]))
        counts = np.bincount(inverse, weights=np.concatenate([p.counts for p in parts]))
        return cls(codes, least, unweighed, email_most, email_none, counts.astype(np.int64))


@dataclass(frozen=True, slots=True)
class Patterns:
    """The candidate pairs' patterns (``pairs[k]``: the index in ``extremes.codes`` of pair k's
    row of levels) and each pattern's extremes (see the module docstring)."""

    fields: tuple[str, ...]
    pairs: npt.NDArray[np.int32]
    extremes: _Extremes

    @classmethod
    def collect(cls, fields: Sequence[str], count: int) -> PatternsBuilder:
        """A builder for ``count`` pairs, given their table a slice at a time, in order."""
        return PatternsBuilder(tuple(fields), np.empty(count, dtype=np.int32))

    def reach(
        self,
        model: MatchModel,
        scorer: Scorer,
        *,
        place: frozenset[str],
        share: float,
        floor: float,
    ) -> npt.NDArray[np.bool_]:
        """Per pair, whether its pattern's bound reaches ``floor`` or the rules may raise it
        for review (:meth:`Scorer.raised` with every phone line its own): the pairs that may
        become edges. The others need no table."""
        levels = levels_of(self.fields, self.extremes.codes)
        table = PairTable(self.fields, levels, *self._highest(model, levels))
        bound = table.bound(model, model.prior, place, share)
        any_line = PairTable(
            self.fields,
            levels,
            np.zeros(levels.shape, dtype=np.float32),  # a share of 0: a line of its own
            np.full(len(levels), np.nan),
        )
        reaching = (bound >= floor) | scorer.raised(any_line)
        found: npt.NDArray[np.bool_] = reaching[self.pairs]
        return found

    def _highest(
        self, model: MatchModel, levels: LevelMatrix
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
        """The frequencies and e-mail points that give each pattern the highest points any of
        its pairs has, field by field."""
        ext = self.extremes
        frequency = np.where(np.isinf(ext.least), np.float32(np.nan), ext.least)
        email = ext.email_most.copy()
        for k, field in enumerate(self.fields):
            found = model.fields[field]
            top = len(found.m) - 1
            if field in TERM_FREQUENCY:
                # some pairs weighed by frequency, some by the level: the frequency whose points
                # equal the level's (u of the exact level), if lower, stands for both; rounded
                # down to float32 so that it never gives fewer points
                u_top = np.nextafter(np.float32(found.u[top]), np.float32(0))
                both = ext.unweighed[:, k] & ~np.isinf(ext.least[:, k]) & (levels[:, k] == top)
                frequency[both, k] = np.minimum(ext.least[both, k], u_top)
            if field == "email":
                table = np.log(np.asarray(found.m) / np.asarray(found.u))
                lvl = levels[:, k]
                points = np.where(lvl >= 0, table[np.maximum(lvl, 0)], 0.0)
                some = ext.email_none & ~np.isinf(ext.email_most)
                email[some] = np.maximum(ext.email_most[some], points[some])
                email[np.isinf(ext.email_most)] = np.nan  # none has e-mail points
        return frequency.astype(np.float32), email


@dataclass
class PatternsBuilder:
    """:class:`Patterns` built from the candidate pairs' table, a slice at a time."""

    fields: tuple[str, ...]
    pairs: npt.NDArray[np.int32]  # per pair added, its pattern's index among its slice's
    at: int = 0
    parts: list[_Extremes] = dataclasses.field(default_factory=list)
    ends: list[int] = dataclasses.field(default_factory=list)  # where each slice's pairs end

    def add(self, table: PairTable) -> Tally:
        """The next ``len(table.levels)`` pairs; their tally (no decisions)."""
        part, inverse = _Extremes.of_pairs(level_codes(self.fields, table.levels), table)
        self.pairs[self.at : self.at + len(inverse)] = inverse
        self.at += len(inverse)
        self.parts.append(part)
        self.ends.append(self.at)
        return Tally.of_codes(self.fields, part.codes, part.counts)

    def build(self) -> Patterns:
        """The patterns of every pair added (one at least): each slice's indices made indices
        among the patterns of all."""
        merged = _Extremes.merged(self.parts)
        start = 0
        for part, end in zip(self.parts, self.ends, strict=True):
            among = np.searchsorted(merged.codes, part.codes).astype(np.int32)
            self.pairs[start:end] = among[self.pairs[start:end]]
            start = end
        return Patterns(self.fields, self.pairs[: self.at], merged)
