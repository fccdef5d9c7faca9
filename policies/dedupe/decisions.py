"""A person's review decisions, as constraints on clustering.

``snapshot.decisions[object_type]`` maps a group of record ids (the ids of a proposed merge or
review: primary and merged) to ``"approved"`` or ``"rejected"``:

- **approved**: the group's records (those still in the snapshot, at least two) start pass one
  of clustering already joined (a *must-link*), so they are merged whatever their score.
  Overlapping approved groups join into one.
- **rejected**: no two records of the group may share a cluster (a *cannot-link* on every pair
  of the group), in either pass, so the group is never proposed again, neither on its own nor
  inside a larger cluster: such a cluster is split instead. A pair that also lies inside one
  approved group is not forbidden (the narrower, explicit approval wins).

Ids the snapshot no longer holds (merged away, archived) are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

APPROVED = "approved"
REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Constraints:
    """Clustering constraints over record indices.

    ``groups`` is the initial partition for pass one (approved groups joined, every other index
    alone), ordered by smallest index; ``approved`` the joined groups alone; ``forbidden`` the
    index pairs ``(i, j)``, ``i < j``, that must never share a cluster.
    """

    groups: tuple[tuple[int, ...], ...]
    approved: tuple[tuple[int, ...], ...]
    forbidden: frozenset[tuple[int, int]]

    def allows(self, i: int, j: int) -> bool:
        """Whether records ``i`` and ``j`` may share a cluster."""
        return ((i, j) if i < j else (j, i)) not in self.forbidden


def constraints(ids: Sequence[str], decisions: Mapping[frozenset[str], str] | None) -> Constraints:
    """The constraints of ``decisions`` over records whose ids are ``ids`` (index = position)."""
    if not decisions:  # what the rest gives without decisions, without a map of every id
        return Constraints(tuple((n,) for n in range(len(ids))), (), frozenset())
    index = {record_id: n for n, record_id in enumerate(ids)}
    parent = list(range(len(ids)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    approved_pairs: set[tuple[int, int]] = set()
    rejected_pairs: set[tuple[int, int]] = set()
    for group, decision in sorted((decisions or {}).items(), key=lambda kv: sorted(kv[0])):
        live = sorted(index[i] for i in group if i in index)
        pairs = set(combinations(live, 2))
        if decision == APPROVED:
            approved_pairs |= pairs
            for other in live[1:]:
                parent[find(other)] = find(live[0])
        elif decision == REJECTED:
            rejected_pairs |= pairs
    members: dict[int, list[int]] = {}
    for n in range(len(ids)):
        members.setdefault(find(n), []).append(n)
    groups = tuple(sorted((tuple(m) for m in members.values()), key=lambda g: g[0]))
    return Constraints(
        groups=groups,
        approved=tuple(g for g in groups if len(g) > 1),
        forbidden=frozenset(rejected_pairs - approved_pairs),
    )
