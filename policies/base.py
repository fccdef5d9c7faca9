"""The policy interface: a pure function of a read-only snapshot to proposed changes.

A policy knows canonical records and nothing about vendors. It does no I/O, reads no clock and
draws no random numbers: the engine passes ``now`` in the snapshot.
"""

from __future__ import annotations

import abc

from model.changes import Change, Snapshot


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
