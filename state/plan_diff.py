"""A plan as what differs from a plan stored whole (pure; the store writes and reads it).

The service plans each source every few minutes, and most of a plan is the last one's: the
same normalizations, merges and findings of the records that did not change. Storing each
plan whole costs a row per change per cycle (a hundred thousand records: over two hundred
thousand rows, seconds of a cycle that pulled a hundred). A plan most of whose changes equal
those of a plan stored whole (its *base*) is stored as its own changes and the runs it reuses
of the base's: ``[seq, base_seq, length]``, changes ``seq .. seq + length - 1`` of the plan
are the base's from ``base_seq`` on. A base is always stored whole, so a plan is read from two
plans' rows at most.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from model.changes import Change
from model.errors import StateError
from state.rows import change_record_id

T = TypeVar("T")

#: A plan is stored as a difference when at least this share of its changes are its base's;
#: else whole, and it becomes the base of the plans after it.
REUSED_SHARE = 0.5

Run = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Difference:
    """How a plan's changes are stored against a base: ``reused`` runs, and the positions of
    the changes stored as rows of their own (``fresh``)."""

    reused: list[Run]
    fresh: list[int]


def _key(change: Change) -> tuple[str, str, str]:
    return (change.kind, change.object_type, change_record_id(change))


def index(base: Sequence[Change]) -> dict[tuple[str, str, str], list[int]]:
    """The positions of ``base``'s changes by kind, object type and record (what
    :func:`difference` looks a change up by): built once per base, which serves many plans."""
    at: dict[tuple[str, str, str], list[int]] = {}
    for seq, change in enumerate(base):
        at.setdefault(_key(change), []).append(seq)
    return at


def difference(
    base: Sequence[Change],
    changes: Sequence[Change],
    at: Mapping[tuple[str, str, str], Sequence[int]] | None = None,
) -> Difference | None:
    """``changes`` against ``base`` (``at``: its :func:`index`, built when not given): each
    change equal to a change of ``base`` (each of those reused once) is reused; ``None`` when
    fewer than :data:`REUSED_SHARE` of them are."""
    at = index(base) if at is None else at
    used = bytearray(len(base))
    runs: list[list[int]] = []
    fresh: list[int] = []
    after = 0  # the base position after the last reused: most changes follow their run there
    for seq, change in enumerate(changes):
        found = -1
        if after < len(base) and not used[after]:
            guess = base[after]
            if guess is change or guess == change:
                found = after
        if found < 0:
            for candidate in at.get(_key(change), ()):
                if not used[candidate] and (base[candidate] is change or base[candidate] == change):
                    found = candidate
                    break
        if found < 0:
            fresh.append(seq)
            continue
        used[found] = 1
        after = found + 1
        last = runs[-1] if runs else None
        if last is not None and last[0] + last[2] == seq and last[1] + last[2] == found:
            last[2] += 1
        else:
            runs.append([seq, found, 1])
    if len(changes) - len(fresh) < REUSED_SHARE * len(changes) or not runs:
        return None
    return Difference([(seq, at_base, n) for seq, at_base, n in runs], fresh)


def assemble(
    reused: Iterable[Sequence[int]],
    base: Mapping[int, T],
    own: Mapping[int, T],
    read: Callable[[T], Change],
    plan_id: str,
) -> list[Change]:
    """The changes of a plan stored as a difference, in order: ``base`` and ``own`` map the
    base's and the plan's stored positions to their rows (``read`` turns a row into its
    change). A position neither fills means a row is gone: ``StateError``."""
    rows = dict(own)
    total = len(own)
    for seq, base_seq, length in reused:
        total += length
        rows.update((seq + k, base[base_seq + k]) for k in range(length) if base_seq + k in base)
    if rows.keys() != set(range(total)):  # a position neither fills, or both
        raise StateError(f"plan {plan_id!r} cannot be read: its stored changes are incomplete")
    return [read(rows[seq]) for seq in range(total)]
