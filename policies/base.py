"""The policy interface: a pure function of a read-only snapshot to proposed changes.

A policy knows canonical records and nothing about vendors. It does no I/O, reads no clock and
draws no random numbers: the engine passes ``now`` in the snapshot.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from datetime import timedelta
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from model.changes import Change, Snapshot
from model.records import Record


class Policy(abc.ABC):
    """A hygiene rule. Built from its settings; called with a snapshot; returns changes.

    A policy that ``decides_merges`` runs first, on the snapshot as pulled; the others see the
    records as they will be once its merges are applied (absorbed records gone, survivors
    with their chosen values and their duplicates' associations).
    """

    name: str
    decides_merges: bool = False

    @abc.abstractmethod
    def __call__(self, snapshot: Snapshot) -> list[Change]:
        """Return the changes this policy proposes for ``snapshot``, each with its reason.

        Must be pure: the same snapshot gives the same changes in the same order.
        """

    def counts(self) -> Mapping[str, int]:
        """What the last call counted besides its changes, for the run's log and the plan's
        ``stats`` (the dedupe policy's candidate pairs: ``{"candidates": N}``). Empty unless a
        policy says more; reading it changes nothing."""
        return {}


@runtime_checkable
class Learner(Protocol):
    """A policy that learns parameters from a snapshot (the dedupe policy's match weights).

    The engine calls :meth:`learn` when the stored parameters are older than
    ``relearn_after`` (or missing), stores the result with the plan, and passes the stored
    parameters back in ``snapshot.learned[name]`` in between, so that they stay frozen.
    """

    name: str

    @property
    def relearn_after(self) -> timedelta:
        """How long learned parameters are kept before they are learned again."""

    def learn(self, snapshot: Snapshot) -> Mapping[str, object]:
        """The parameters ``snapshot`` gives (JSON-able); pure, like ``__call__``."""


@runtime_checkable
class Incremental(Protocol):
    """A policy that starts a run from what its last run left (the dedupe policy).

    The engine hands each such policy, before the call, a mapping it keeps between runs of one
    source (in the process; an empty one at first and after a restart). The policy reads and
    replaces what it left there; its changes must be those a run without the mapping gives on
    the same snapshot: whatever it cannot be sure of, it recomputes.
    """

    name: str

    def incremental(self, memory: MutableMapping[str, Any]) -> None:
        """Use ``memory`` (and leave this run's there) in the calls that follow."""

    @property
    def notes(self) -> Mapping[str, str]:
        """How the last call ran, in words (per part: incremental, or full and why)."""


AheadWork = Mapping[str, Mapping[str, Sequence[Change]]]
"""What a policy worked out ahead: per object type it covers, per record id, the record's
changes (a record it covers and does not name has none)."""


@runtime_checkable
class Ahead(Protocol):
    """A policy whose changes to a record are a function of that record alone (and of its
    settings and the snapshot's source), so that they can be worked out before the merges, on
    the records as pulled, in another process while the merging policies run
    (:mod:`syncd.ahead`): only survivors change in the merges, absorbed records go, and the
    call after them works out again only the records whose properties the merges changed.
    """

    name: str

    def ahead(self, snapshot: Snapshot) -> AheadWork:
        """The changes of every record of ``snapshot`` this policy covers (pure, picklable)."""

    def use(self, snapshot: Snapshot, work: AheadWork) -> None:
        """Take ``work`` (what :meth:`ahead` gave on ``snapshot``) for the next call: a record
        of that call whose properties are those it had in ``snapshot`` gets its changes from
        ``work``; any other is worked out as usual. The call after it forgets ``work``."""


def same_properties(last: Mapping[str, str | None], record: Record) -> bool:
    """Whether ``record`` holds the properties ``last`` still: the very dict, for a record a
    service's kept snapshot did not read again (no comparison), else an equal one. What an
    incremental policy worked out from a record's properties alone holds while this does."""
    return last is record.properties or last == record.properties


T = TypeVar("T")


class RecordMemory(Generic[T]):
    """What an incremental policy works out from one record alone, kept in its memory (under
    ``part``) from one run to the next and reused while the record holds the same properties
    (:func:`same_properties`), ``also`` is the same (what the value reads besides them) and
    the policy's ``signature`` (its settings) is the one it was kept under. Without a memory
    (a one-off run) every value is worked out. :meth:`keep` leaves this run's for the next."""

    def __init__(
        self, memory: MutableMapping[str, Any] | None, part: str, signature: object
    ) -> None:
        self._memory, self._part, self._signature = memory, part, signature
        last = memory.get(part) if memory is not None else None
        self._known: Mapping[tuple[str, str], tuple[Mapping[str, str | None], object, T]] = (
            last[1] if last is not None and last[0] == signature else {}
        )
        self._kept: dict[tuple[str, str], tuple[Mapping[str, str | None], object, T]] = {}
        self._again = 0

    def value(self, record: Record, compute: Callable[[Record], T], also: object = None) -> T:
        """``compute(record)``, or what it gave last run for the same record."""
        key = (record.object_type, record.id)
        hit = self._known.get(key)
        if (
            hit is None
            or not (hit[1] is also or hit[1] == also)
            or not same_properties(hit[0], record)
        ):
            hit = (record.properties, also, compute(record))
            self._again += 1
        if self._memory is not None:
            self._kept[key] = hit
        return hit[2]

    def keep(self) -> str | None:
        """Leave this run's values for the next; how many were worked out again, as ``'N of
        M'`` (None without a memory)."""
        if self._memory is None:
            return None
        self._memory[self._part] = (self._signature, self._kept)
        return f"{self._again} of {len(self._kept)}"
