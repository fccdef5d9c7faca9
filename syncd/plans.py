"""Which saved plan is which: plans of the policies, and the plans ``undo`` makes.

An undo plan reverses a run's field updates; its baseline names that run under
:data:`UNDO_OF`. Everything that means "the source's latest plan" (the review queue, the HTML
report) means the latest plan of the policies: undoing a run must not empty the review queue.
"""

from __future__ import annotations

from typing import Final

from state.base import PlanInfo, StateStore

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
