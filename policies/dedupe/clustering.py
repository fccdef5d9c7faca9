"""Cohesive clustering: greedy agglomeration over scored pairs, complete-linkage style.

Edges are taken best first. Two clusters join only when *every* pair across them is
compatible (the caller's test: typically "scores at or above the threshold, or at least has no
field that disagrees"), so A~B and B~C never pull A and C together when A and C contradict each
other (no chaining).

Most records of a snapshot have no duplicate: an item stays implicit, alone, until an edge joins
it, so clustering a hundred thousand records builds objects for the few thousand that join
(a list or a :class:`Cluster` per record would cost more in allocating, and in the garbage
collector walking them, than the joining itself).
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
    initial: Iterable[Sequence[int]],
    edges: Sequence[Edge],
    threshold: float,
    compatible: Callable[[int, int], bool],
    max_size: int,
) -> list[Cluster]:
    """Join clusters along ``edges`` (sorted by :func:`sort_edges`) scoring ``threshold`` or more.

    ``initial`` holds the clusters to start from (from a stricter pass, or groups a person
    joined); every other item starts alone. Two clusters join when every cross pair is
    ``compatible`` and the result has at most ``max_size`` items. Returns the clusters of two
    items or more (the rest are alone), ordered by their smallest item, each with its items
    sorted and the edges of this pass that joined them (so every link scores ``threshold`` or
    more, and every item of a joined cluster has at least one).
    """
    # a cluster is named by its smallest item: joining two keeps the smaller name
    members: dict[int, list[int]] = {}
    links: dict[int, list[Edge]] = {}
    owner: dict[int, int] = {}  # the items of the clusters in ``members``
    for items in initial:
        if len(items) > 1:
            head = min(items)
            members[head], links[head] = sorted(items), []
            owner.update(dict.fromkeys(items, head))
    for edge in edges:
        value, i, j = edge
        if value < threshold:
            break
        ci, cj = owner.get(i, i), owner.get(j, j)
        if ci == cj:
            continue
        a, b = members.get(ci) or [i], members.get(cj) or [j]
        if len(a) + len(b) > max_size:
            continue
        if all(compatible(x, y) for x in a for y in b):
            keep, drop = min(ci, cj), max(ci, cj)
            joined = members[keep] = sorted(a + b)
            links[keep] = [*links.get(keep, ()), *links.pop(drop, ()), edge]
            members.pop(drop, None)
            owner.update(dict.fromkeys(joined, keep))
    return [Cluster(tuple(members[c]), tuple(links[c])) for c in sorted(members)]
