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
    """Clustering constraints over ``size`` record indices.

    ``approved`` holds the joined groups (each sorted, ordered by smallest index); ``forbidden``
    the index pairs ``(i, j)``, ``i < j``, that must never share a cluster.
    """

    size: int
    approved: tuple[tuple[int, ...], ...]
    forbidden: frozenset[tuple[int, int]]

    @property
    def groups(self) -> tuple[tuple[int, ...], ...]:
        """The initial partition for pass one: the approved groups joined, every other index
        alone, ordered by smallest index. Worked out when asked: at a million records without
        decisions, a million 1-tuples held through learning took 90 MB at its peak."""
        joined = {i for group in self.approved for i in group}
        alone = ((n,) for n in range(self.size) if n not in joined)
        return tuple(sorted([*self.approved, *alone], key=lambda group: group[0]))

    def allows(self, i: int, j: int) -> bool:
        """Whether records ``i`` and ``j`` may share a cluster."""
        return ((i, j) if i < j else (j, i)) not in self.forbidden


def constraints(ids: Sequence[str], decisions: Mapping[frozenset[str], str] | None) -> Constraints:
    """The constraints of ``decisions`` over records whose ids are ``ids`` (index = position)."""
    if not decisions:  # what the rest gives without decisions, without a map of every id
        return Constraints(len(ids), (), frozenset())
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
    return Constraints(
        size=len(ids),
        approved=tuple(sorted(tuple(m) for m in members.values() if len(m) > 1)),
        forbidden=frozenset(rejected_pairs - approved_pairs),
    )
