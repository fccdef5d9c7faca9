"""Saved plans: which is which (plans of the policies, and the plans ``undo`` makes), and one
loaded again with the names of its records.

An undo plan reverses a run's field updates; its baseline names that run under
:data:`UNDO_OF`. Everything that means "the source's latest plan" (the review queue, the HTML
report) means the latest plan of the policies: undoing a run must not empty the review queue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Final

from model.changes import CreateTask, Merge
from model.fields import record_label
from model.records import Record
from state.base import PlanInfo, StateStore
from syncd.plan import Plan

#: The baseline key of an undo plan: the run it reverts.
UNDO_OF: Final = "undo_of"
#: How many of a source's newest plans are searched for one of the policies.
_SEARCHED: Final = 200


def is_undo(plan: PlanInfo) -> bool:
    """Whether ``plan`` was made by ``undo`` (not by the policies)."""
    return plan.baseline.get(UNDO_OF) is not None


def kind_of(plan: PlanInfo) -> str:
    """``undo`` for an undo plan, ``policies`` for a plan of the policies."""
    return "undo" if is_undo(plan) else "policies"


def latest_policy_plan(store: StateStore, source: str) -> str | None:
    """The id of ``source``'s newest plan made by the policies, ``None`` when it has none."""
    for plan in store.list_plans(source, limit=_SEARCHED):
        if not is_undo(plan):
            return plan.id
    return None


def stored_plan(store: StateStore, plan_id: str) -> Plan:
    """A saved plan with the names of its records (and of its tasks' owners) as stored, for
    reports (``syncd show``); ``StateError`` when unknown."""
    stored = store.load_plan(plan_id)
    keys: list[tuple[str, str]] = []
    for change in stored.changes:
        if isinstance(change, Merge):
            keys += [(change.object_type, i) for i in (change.primary_id, *change.merged_ids)]
        else:
            keys.append((change.object_type, change.record_id))
        if isinstance(change, CreateTask) and change.owner_id:
            keys.append(("owners", change.owner_id))
    labels = {
        key: label
        for key, record in stored_records(store, stored.source, keys).items()
        if (label := record_label(record.object_type, record.properties))
    }
    return Plan(
        id=stored.id,
        source=stored.source,
        created_at=stored.created_at,
        changes=tuple(stored.changes),
        run_id=stored.run_id,
        baseline=stored.baseline,
        labels=labels,
    )


def stored_records(
    store: StateStore, source: str, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Record]:
    """The stored records (as last pulled) of ``source`` at ``(object type, id)`` ``keys``, one
    read per type; keys of records not stored are absent."""
    wanted: defaultdict[str, set[str]] = defaultdict(set)
    for object_type, record_id in keys:
        wanted[object_type].add(record_id)
    return {
        (object_type, record_id): record
        for object_type, ids in sorted(wanted.items())
        for record_id, record in store.get_records(source, object_type, sorted(ids)).items()
    }
