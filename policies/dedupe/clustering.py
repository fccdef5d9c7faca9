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

import numpy as np
import numpy.typing as npt

Edge = tuple[float, int, int]


def sort_edges(edges: Iterable[Edge]) -> list[Edge]:
    """Edges best first; ties by item indices, so the order never depends on input order."""
    return sorted(edges, key=lambda e: (-e[0], e[1], e[2]))


@dataclass(frozen=True, slots=True)
class Cluster:
    """Items that belong together, and the edges that joined them (a spanning tree).

    ``wholes``: for each join of two clusters that the caller's ``rescue`` allowed although
    some pair across them was not compatible, one such pair.
    """

    items: tuple[int, ...]
    links: tuple[Edge, ...]
    wholes: tuple[tuple[int, int], ...] = ()


Rescue = Callable[[Sequence[int], Sequence[int], Sequence[tuple[int, int]]], bool]
"""Whether two clusters (their items) may join although the pairs given across them are not
compatible: a rule on the clusters as wholes."""


def agglomerate(
    initial: Iterable[Sequence[int]],
    edges: Sequence[Edge],
    threshold: float,
    compatible: Callable[[int, int], bool],
    max_size: int,
    *,
    joinable: Callable[[Sequence[int], Sequence[int]], bool] | None = None,
    rescue: Rescue | None = None,
) -> list[Cluster]:
    """Join clusters along ``edges`` (sorted by :func:`sort_edges`) scoring ``threshold`` or more.

    ``initial`` holds the clusters to start from (from a stricter pass, or groups a person
    joined); every other item starts alone. Two clusters join when every cross pair is
    ``compatible``, the two are ``joinable`` as wholes (when given: a rule on the clusters, not
    their pairs) and the result has at most ``max_size`` items; or, where some cross pairs are
    not compatible, when ``rescue`` (when given) allows the join given those pairs. Returns the
    clusters of two items or more (the rest are alone), ordered by their smallest item, each with
    its items sorted and the edges of this pass that joined them (so every link scores
    ``threshold`` or more, and every item of a joined cluster has at least one).
    """
    # a cluster is named by its smallest item: joining two keeps the smaller name
    members: dict[int, list[int]] = {}
    links: dict[int, list[Edge]] = {}
    wholes: dict[int, list[tuple[int, int]]] = {}  # per cluster, a pair rescue overlooked
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
        if joinable is not None and not joinable(a, b):
            continue
        whole: list[tuple[int, int]] = []
        if rescue is None:
            if not all(compatible(x, y) for x in a for y in b):
                continue
        else:  # every pair across asked once
            apart = [(x, y) for x in a for y in b if not compatible(x, y)]
            if apart and not rescue(a, b, apart):
                continue
            whole = apart[:1]
        keep, drop = min(ci, cj), max(ci, cj)
        joined = members[keep] = sorted(a + b)
        links[keep] = [*links.get(keep, ()), *links.pop(drop, ()), edge]
        wholes[keep] = [*wholes.get(keep, ()), *wholes.pop(drop, ()), *whole]
        members.pop(drop, None)
        owner.update(dict.fromkeys(joined, keep))
    return [
        Cluster(tuple(members[c]), tuple(links[c]), tuple(wholes.get(c, ())))
        for c in sorted(members)
    ]


DENSE = 4
"""A connected component of the edges whose pairs number at most this many times its edges is
dense: clustering it asks about most of its pairs (complete linkage checks every pair across
two clusters it joins), so they are worth scoring column-wise ahead (:func:`dense_pairs`)."""


def dense_pairs(
    edges: Sequence[Edge], size: int
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """Every pair ``(i, j)``, ``i < j``, of items of one dense connected component of
    ``edges`` (items ``0 .. size - 1``; see :data:`DENSE`)."""
    if not edges:
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty
    ends = np.asarray([(i, j) for _, i, j in edges], dtype=np.int64)
    i, j = ends[:, 0], ends[:, 1]
    label = np.arange(size, dtype=np.int64)
    while True:  # the smallest item of each component, by hooking and pointer jumping
        low = np.minimum(label[i], label[j])
        found = label.copy()
        np.minimum.at(found, i, low)
        np.minimum.at(found, j, low)
        found = found[found]
        if np.array_equal(found, label):
            break
        label = found
    members = np.bincount(label, minlength=size)
    linked = np.bincount(label[i], minlength=size)
    dense = (members >= 2) & (members * (members - 1) // 2 <= DENSE * linked)
    order = np.argsort(label, kind="stable")
    order = order[dense[label[order]]]
    heads, starts = np.unique(label[order], return_index=True)
    lefts, rights = [], []
    for head, start in zip(heads.tolist(), starts.tolist(), strict=True):
        items = order[start : start + int(members[head])]
        x, y = np.triu_indices(len(items), 1)
        lefts.append(items[x])
        rights.append(items[y])
    return (
        np.concatenate(lefts).astype(np.int32) if lefts else np.zeros(0, dtype=np.int32),
        np.concatenate(rights).astype(np.int32) if rights else np.zeros(0, dtype=np.int32),
    )
