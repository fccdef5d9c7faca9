"""The scores of one run's pairs, by the records' positions: what clustering and explaining ask.

Clustering asks, for each candidate edge and for the pairs across two clusters it may join,
how a pair scores and whether a rule holds it: a verdict. Explaining a merge asks for the full
score of each link (its similarities and points). :class:`Pairs` answers both: the verdicts of
the pairs finished column-wise (:func:`~policies.dedupe.finish.finish_table`) are looked up,
any other pair is scored one by one and kept when it may link a cluster, and a full score is
worked out when asked (the same confidence, bit for bit: ``finish_table`` and ``finish`` agree).
Guard rules (:mod:`policies.dedupe.guards`) hold a pair that would merge, whichever way it was
scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from policies.dedupe.clustering import Edge
from policies.dedupe.features import Features
from policies.dedupe.finish import HELD, RAISED, Finished
from policies.dedupe.guards import Guard
from policies.dedupe.scoring import PairScore, Scorer

Keys = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
OTHER_SCOPE = "the CRM never merges these two kinds of record (merge_scope)"


class Verdict(NamedTuple):
    """What clustering reads of a pair's score (see :class:`PairScore`)."""

    confidence: float
    held: str
    conflict: bool
    evidence_points: float
    least: float  # the lowest points of a field (0.0: none compared)

    @classmethod
    def of(cls, score: PairScore) -> Verdict:
        """The verdict of a full score."""
        least = min(score.points.values(), default=0.0)
        return cls(score.confidence, score.held, score.conflict, score.evidence_points, least)


class Pairs:
    """Scores of pairs of ``feats`` (by position) under ``scorer``, guards applied.

    ``scope``: per record, its merge scope's code (records of two scopes never merge);
    ``guard``: the guard rules as a function of two records (None: no rule configured).
    """

    def __init__(
        self,
        feats: Sequence[Features],
        scorer: Scorer,
        scope: npt.NDArray[np.int32],
        guard: Guard | None,
    ) -> None:
        self.feats, self.scorer, self.scope, self.guard = feats, scorer, scope, guard
        settings = scorer.settings
        self._merge_at, self._cap = settings.merge_threshold, settings.review_cap
        self._keep = min(settings.cluster_link_floor, settings.review_threshold)
        self._scores: dict[tuple[int, int], PairScore] = {}  # scored one by one, may link
        self._rows: dict[int, int] = {}  # i * len(feats) + j (i < j) -> row of the lists
        # per row of the pairs finished column-wise, what their verdicts hold
        self._confidence: list[float] = []
        self._held: list[str] = []
        self._conflict: list[bool] = []
        self._evidence: list[float] = []
        self._least: list[float] = []
        self._raised: list[str] = []

    def __call__(self, i: int, j: int) -> Verdict:
        """The verdict on a pair: its confidence, the rule holding it, its conflict and
        evidence points."""
        x, y = (i, j) if i < j else (j, i)
        row = self._rows.get(x * len(self.feats) + y)
        if row is None:
            return Verdict.of(self.full(x, y))
        return Verdict(
            self._confidence[row],
            self._held[row],
            self._conflict[row],
            self._evidence[row],
            self._least[row],
        )

    def full(self, i: int, j: int) -> PairScore:
        """The full score of a pair, as :meth:`Scorer.score` gives it, guards applied."""
        key = (i, j) if i < j else (j, i)
        got = self._scores.get(key)
        if got is not None:
            return got
        if self.scope[i] != self.scope[j]:  # merged only with their like
            return PairScore(0.0, {}, {}, conflict=True, held=OTHER_SCOPE)
        a, b = self.feats[key[0]], self.feats[key[1]]
        row = self._rows.get(key[0] * len(self.feats) + key[1])
        if row is not None:  # the verdict is known: only the similarities and points are not
            return self.scorer.explained(
                self.scorer.compare(a, b),
                PairScore(
                    self._confidence[row],
                    {},
                    {},
                    conflict=self._conflict[row],
                    held=self._held[row],
                    raised=self._raised[row],
                    evidence_points=self._evidence[row],
                ),
            )
        got = self.scorer.score(a, b)
        held = self._guarded(a, b, got.confidence)
        if held:
            got = replace(got, confidence=min(got.confidence, self._cap), held=held)
        if got.confidence >= self._keep:
            self._scores[key] = got  # the rest is rarely asked for again: recomputed
        return got

    def _guarded(self, a: Features, b: Features, confidence: float) -> str:
        """The guard rule holding a pair that would merge (``''``: none)."""
        if self.guard is None or confidence < self._merge_at:
            return ""
        return self.guard(a.record, b.record)

    def add(
        self, left: npt.NDArray[np.int32], right: npt.NDArray[np.int32], finished: Finished
    ) -> list[Edge]:
        """Keep the verdicts of the pairs ``(left[k], right[k])`` (of one scope, none kept
        yet) finished column-wise; return those scoring ``review_threshold`` or more as
        edges, in :func:`~policies.dedupe.clustering.sort_edges` order."""
        confidence = finished.confidence
        held = [HELD[n] for n in finished.held.tolist()]
        if self.guard is not None:
            for row in np.flatnonzero(confidence >= self._merge_at).tolist():
                a, b = self.feats[int(left[row])], self.feats[int(right[row])]
                guarded = self._guarded(a, b, float(confidence[row]))
                if guarded:
                    confidence[row] = min(float(confidence[row]), self._cap)
                    held[row] = guarded
        offset = len(self._confidence)
        self._confidence += confidence.tolist()
        self._held += held
        self._conflict += finished.conflict.tolist()
        self._evidence += finished.evidence_points.tolist()
        self._least += finished.least.tolist()
        self._raised += [RAISED[n] for n in finished.raised.tolist()]
        rows = range(offset, offset + len(left))
        self._rows.update(zip(self.keys(left, right).tolist(), rows, strict=True))
        at = np.flatnonzero(confidence >= self.scorer.settings.review_threshold)
        # best first, ties by the items (clustering.sort_edges' order), sorted as arrays
        at = at[np.lexsort((right[at], left[at], -confidence[at]))]
        return list(
            zip(confidence[at].tolist(), left[at].tolist(), right[at].tolist(), strict=True)
        )

    def keys(self, left: npt.NDArray[np.int32], right: npt.NDArray[np.int32]) -> Keys:
        """One integer per pair, whichever way round."""
        size = len(self.feats)
        return np.minimum(left, right).astype(np.int64) * size + np.maximum(left, right)

    def known(self, left: npt.NDArray[np.int32], right: npt.NDArray[np.int32]) -> Bools:
        """Per pair, whether its verdict is kept from a column-wise finish."""
        rows = np.fromiter(self._rows, dtype=np.int64, count=len(self._rows))
        found: Bools = np.isin(self.keys(left, right), rows)
        return found
