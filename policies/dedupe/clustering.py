"""Cohesive clustering: greedy agglomeration over scored pairs, complete-linkage style.

Edges are taken best first. Two clusters join only when *every* pair across them is
compatible (the caller's test: typically "scores at or above the threshold, or at least has no
field that disagrees"), so A~B and B~C never pull A and C together when A and C contradict each
other (no chaining).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

Edge = tuple[float, int, int]


def sort_edges(edges: Iterable[Edge]) -> list[Edge]:
    """Edges best first; ties by item indices, so the order never depends on input order."""
    return sorted(edges, key=lambda e: (-e[0], e[1], e[2]))


@dataclass(frozen=True, slots=True)
class Cluster:
    """Items that belong together, and the edges that joined them (a spanning tree)."""

    items: tuple[int, ...]
    links: tuple[Edge, ...]


def agglomerate(
    initial: Sequence[Sequence[int]],
    edges: Sequence[Edge],
    threshold: float,
    compatible: Callable[[int, int], bool],
    max_size: int,
) -> list[Cluster]:
    """Join clusters along ``edges`` (sorted by :func:`sort_edges`) scoring ``threshold`` or more.

    ``initial`` partitions the items (singletons, or clusters from a stricter pass). Two
    clusters join when every cross pair is ``compatible`` and the result has at most
    ``max_size`` items. Returns the clusters ordered by their smallest item, each with its items
    sorted and the edges of this pass that joined them (so every link scores ``threshold`` or
    more, and every item of a joined cluster has at least one).
    """
    members: dict[int, list[int]] = {c: sorted(m) for c, m in enumerate(initial)}
    links: dict[int, list[Edge]] = {c: [] for c in members}
    owner = {item: c for c, items in members.items() for item in items}
    for edge in edges:
        value, i, j = edge
        if value < threshold:
            break
        ci, cj = owner[i], owner[j]
        if ci == cj:
            continue
        a, b = members[ci], members[cj]
        if len(a) + len(b) > max_size:
            continue
        if all(compatible(x, y) for x in a for y in b):
            keep, drop = min(ci, cj), max(ci, cj)
            members[keep] = sorted(a + b)
            links[keep] += [*links.pop(drop), edge]
            for item in members.pop(drop):
                owner[item] = keep
    return sorted(
        (Cluster(tuple(m), tuple(links[c])) for c, m in members.items()), key=lambda c: c.items[0]
    )
