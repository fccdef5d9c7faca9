"""Weighted picking with precomputed cumulative weights (``random.choices`` recomputes them on
every call, which dominates the generator's run time on large tables)."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Picker(Generic[T]):
    """Picks items of a fixed ``(item, weight)`` table in proportion to their weights."""

    def __init__(self, table: Sequence[tuple[T, float]]) -> None:
        if not table:
            raise ValueError("empty table")
        self._items = [item for item, _ in table]
        self._cum = list(itertools.accumulate(weight for _, weight in table))
        self._total = self._cum[-1]

    def pick(self, rng: random.Random) -> T:
        """One item, drawn with a single ``rng.random()``."""
        i = bisect.bisect_right(self._cum, rng.random() * self._total)
        return self._items[min(i, len(self._items) - 1)]
