"""What one dedupe run leaves for the next, so that the next compares only what changed.

A run over an object type keeps, per record, the record and its features, which records hold
which blocking keys and which counted values (as hashes), the population counts, the pairs that
scored ``review_threshold`` or more (the *edges*), which connected group of edges (a
*component*) each record sat in, and the merges and reviews it proposed.

The next run (:meth:`DedupePolicy.incremental <policies.dedupe.policy.DedupePolicy.incremental>`)
proposes exactly what a full run would, on these rules:

- A record whose content is unchanged keeps its features (they are a function of the record).
  The others, and those gone, are *touched*.
- A pair's score depends on the two records and on the population's counts of the values it
  consults (shared e-mails, phones and addresses, term frequencies, a company name's words).
  Term frequencies read the counts frozen with the learned weights
  (:class:`~policies.dedupe.scoring.Frozen`: the records having each field, and each value
  two records or more had, when the weights were learned; a value they lack counts as one
  record), so while the weights are frozen an edit shifts no other pair's frequency: a full
  run on the same snapshot reads the same ones. What still moves with the snapshot's counts:
  a shared value crossing ``shared_value_count``, a company name's word whose rarity flips,
  and -- with weights stored before their counts were, which read the snapshot's -- every
  term frequency (:meth:`Scorer.weighs_change
  <policies.dedupe.scoring.Scorer.weighs_change>`). The pairs of such a value's holders are
  scored again: those among them when both records of a pair must hold it
  (:func:`both_sided`), all of theirs otherwise. Without frozen counts, a run in which the
  number of records having a field changed is a full one.
- A pair of two records that are neither touched nor dirty is a candidate when it was: blocks
  (records sharing a key) change only by the touched records. In a split block (over
  ``max_block_size``, sorted neighbourhood) the windows move only around the members that
  entered, left or moved within it: their neighbours (:func:`window_neighbours`, in the order
  before and after) are compared again, and the first members of the values near their
  values (:func:`head_neighbours`); a block that becomes split or stops being so, whole.
  So every candidate pair with an affected record is found from the key index and scored
  (column-wise, the bound, in full: as the full run does); the other edges are kept with
  their scores.
- Clustering joins records only along edges, so it is decided per component: a component
  without an affected record, equal to one of the last run, gives the same merges, which are
  kept; the others are clustered again, on their own.

The weights, the settings and a person's review decisions are part of the memory's
``signature``: when any differs, the run is a full one (and leaves a new memory).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from model.changes import Merge
from model.records import Record
from policies.dedupe.blocking import distinct_blocks
from policies.dedupe.features import Features
from policies.dedupe.scoring import population_keys
from policies.dedupe.weights import TERM_FREQUENCY
from policies.normalizers import split_extension

Positions = npt.NDArray[np.int32]
Hashes = npt.NDArray[np.int64]


def _hashes(key: str) -> tuple[int, int]:
    """Two independent 64-bit hashes of a key (the process's string hash, salted twice): two
    different keys taken for one would need both to collide. The memory never leaves the
    process, so the process's hash seed is the same for every run that reads it."""
    return hash(key), hash(key + "\x1f")


@dataclass(frozen=True, slots=True)
class KeyIndex:
    """Which records (positions) hold which keys, sorted by the keys' first hash (the records
    of one key in no particular order)."""

    first: Hashes
    second: Hashes
    position: Positions

    @classmethod
    def build(cls, keys: Iterable[tuple[int, Iterable[str]]]) -> KeyIndex:
        """The index of ``(position, keys of the record there)``."""
        firsts: list[int] = []
        seconds: list[int] = []
        positions: list[int] = []
        for position, held in keys:
            for key in held:
                a, b = _hashes(key)
                firsts.append(a)
                seconds.append(b)
                positions.append(position)
        return cls._sorted(
            np.asarray(firsts, dtype=np.int64),
            np.asarray(seconds, dtype=np.int64),
            np.asarray(positions, dtype=np.int32),
        )

    @classmethod
    def _sorted(cls, first: Hashes, second: Hashes, position: Positions) -> KeyIndex:
        order = np.argsort(first, kind="stable")
        return cls(first[order], second[order], position[order])

    def holders(self, key: str) -> Positions:
        """The positions of the records holding ``key``."""
        a, b = _hashes(key)
        lo = int(self.first.searchsorted(a, side="left"))
        hi = int(self.first.searchsorted(a, side="right"))
        found: Positions = self.position[lo:hi][self.second[lo:hi] == b]
        return found

    def block_sizes(self, records: int) -> npt.NDArray[np.int64]:
        """The sizes of the blocks (keys held by two records or more), a block with the very
        members of another counted once: what :func:`~policies.dedupe.blocking.block_cap`
        weighs, as blocking counted them from the keys themselves."""
        first, second, position = self.first, self.second, self.position
        # sorted by the first hash, the entries of one key are together already, in the order
        # a stable sort by both hashes leaves them: sorted again only when two keys share a
        # first hash (and then their entries may be interleaved)
        if ((first[1:] == first[:-1]) & (second[1:] != second[:-1])).any():
            order = np.lexsort((second, first))
            first, second, position = first[order], second[order], position[order]
        new = (first[1:] != first[:-1]) | (second[1:] != second[:-1])
        starts = np.flatnonzero(np.r_[True, new])
        sizes = np.diff(np.r_[starts, len(first)])
        shared = sizes >= 2
        starts, sizes = starts[shared], sizes[shared]
        distinct: npt.NDArray[np.int64] = sizes[distinct_blocks(position, starts, sizes, records)]
        return distinct

    def moved(self, remap: Positions, add: Iterable[tuple[int, Iterable[str]]]) -> KeyIndex:
        """This index with every position ``p`` moved to ``remap[p]`` (-1: dropped), then the
        keys ``add`` of records at new positions added (merged in: the rest stays sorted)."""
        keep = remap[self.position] >= 0
        extra = KeyIndex.build(add)
        first = self.first[keep]
        at = first.searchsorted(extra.first)
        return KeyIndex(
            np.insert(first, at, extra.first),
            np.insert(self.second[keep], at, extra.second),
            np.insert(remap[self.position[keep]], at, extra.position),
        )


def looked_up(f: Features) -> set[str]:
    """The population counts a score of ``f`` with any other record may consult: what it adds
    to them (:func:`~policies.dedupe.scoring.population_keys`), every phone number's
    frequency, and the words of its organisation name."""
    counted, _ = population_keys(f)
    return {
        *counted,
        *(f"phone={split_extension(p)[0]}" for p in f.phones),
        *(f"word={w}" for w in f.org.split()),
    }


def both_sided(key: str) -> bool:
    """Whether a counted value weighs only the pairs whose two records both hold it: a
    term-frequency value (an exact match), an e-mail or an address (shared by many); a raw
    phone (the same number with an extension on one side) and a company name's words (one
    name's distinctive word) weigh pairs where one record holds them."""
    if key.startswith("word="):
        return False
    field, sep, _ = key.partition("=")
    if sep and field in TERM_FREQUENCY:
        return True
    return "@" in key


def window_neighbours(line: Sequence[int], moved: Iterable[int], window: int) -> set[int]:
    """The members of a split block within ``window`` places of a member of ``moved`` (those
    included), the block's members in ``line`` in sorted-neighbourhood order.

    The other members keep their order. A pair of them that is a window pair (``window``
    places apart or less) in one order, before or after an edit, and not in the other has
    more members between them in the other: some of ``moved`` (members that entered, left or
    moved within the block). In that order the one nearest to either member of the pair is
    at most as far from it as the pair's two members are in the first: within ``window``. So
    both are among the neighbours of ``moved`` in one of the two orders.
    """
    at = {p: n for n, p in enumerate(line)}
    found: set[int] = set()
    for p in moved:
        n = at[p]
        found.update(line[max(0, n - window) : n + window + 1])
    return found


def value_heads(line: Sequence[int], value: Callable[[int], Hashable]) -> list[int]:
    """The first member of each run of one ``value`` in a split block's ``line`` (each meets
    the next ``window`` values' first: :func:`~policies.dedupe.blocking.window_value`)."""
    out: list[int] = []
    last: Hashable = None  # a value is a tuple
    for p in line:
        here = value(p)
        if here != last:
            out.append(p)
            last = here
    return out


def head_neighbours(
    line: Sequence[int], value: Callable[[int], Hashable], changed: Set[Hashable], window: int
) -> set[int]:
    """The first members of values within ``window`` values of a value in ``changed`` (those
    included), in a split block's ``line``.

    A value none of whose members entered, left or moved keeps its members, so its first
    member: the values' first members that are not ``changed`` keep their order, and the
    argument of :func:`window_neighbours` holds for them."""
    heads = value_heads(line, value)
    return window_neighbours(heads, [p for p in heads if value(p) in changed], window)


@dataclass(frozen=True, slots=True)
class Memory:
    """What one run over an object type leaves for the next (see the module docstring)."""

    signature: tuple[str, str, str]
    ids: tuple[str, ...]  # the records, in the order of the positions below (by id_key)
    records: Mapping[str, Record]
    feats: Mapping[str, Features]
    blocks: KeyIndex  # blocking keys
    looks: KeyIndex  # counted values the records' scores consult
    counts: Counter[str]
    present: Counter[str]
    holders: frozenset[str]  # records with an open deal (for the guard; empty when unused)
    edges: Mapping[tuple[str, str], float]  # (id, id) in position order -> confidence
    component: Mapping[str, int]  # record id -> its component (records with an edge)
    members: Mapping[int, tuple[str, ...]]
    merges: tuple[Merge, ...]
    cap: int = 0  # the block size past which blocks were split (blocking's block_cap)


SIGNED = ("settings", "weights", "review decisions")
"""What a memory is only good for, in the order of :func:`signature`."""


def signature(
    settings_json: str,
    model: Mapping[str, object] | None,
    decisions: Mapping[frozenset[str], str] | None,
) -> tuple[str, str, str]:
    """What a memory is only good for: the settings, the weights and the review decisions."""
    return (
        settings_json,
        json.dumps(model, sort_keys=True, default=str),
        json.dumps(sorted([sorted(group), d] for group, d in (decisions or {}).items())),
    )


def components(
    ids: Sequence[str], links: Iterable[tuple[str, str]]
) -> tuple[dict[str, int], dict[int, tuple[str, ...]]]:
    """The connected components of ``links`` (records without a link are in none): per
    record its component, per component its records (in the order of ``ids``)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra
    number: dict[str, int] = {}
    component: dict[str, int] = {}
    members: dict[int, list[str]] = {}
    for record_id in ids:
        if record_id not in parent:
            continue
        c = number.setdefault(find(record_id), len(number))
        component[record_id] = c
        members.setdefault(c, []).append(record_id)
    return component, {c: tuple(m) for c, m in members.items()}


def count_changes(
    memory: Memory, before: Iterable[Features], after: Iterable[Features]
) -> tuple[Counter[str], Counter[str], set[str]]:
    """The population counts once the records ``before`` (touched or gone, as they were) are
    replaced by ``after`` (touched, as they are): counts, records having each field, and the
    keys whose count changed."""
    counts, present = Counter(memory.counts), Counter(memory.present)
    touched: set[str] = set()
    for f in before:
        counted, fields = population_keys(f)
        counts.subtract(counted)
        present.subtract(fields)
        touched.update(counted)
    for f in after:
        counted, fields = population_keys(f)
        counts.update(counted)
        present.update(fields)
        touched.update(counted)
    for key in touched:
        if counts[key] <= 0:
            del counts[key]
    for field in list(present):
        if present[field] <= 0:
            del present[field]
    changed = {k for k in touched if counts.get(k, 0) != memory.counts.get(k, 0)}
    return counts, present, changed
