"""Safety rails: what no plan may do, checked before anything is pushed.

Pure functions of a plan's changes and the source's settings; the engine calls them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from model.changes import Archive, Change, CreateTask, Merge, Update
from model.errors import SyncdError
from syncd.config import Ceiling, Limits


class SafetyRailError(SyncdError):
    """A plan went past a ceiling: nothing was pushed. Alert-worthy."""


def drop_protected(
    changes: Sequence[Change], protected: Sequence[str]
) -> tuple[list[Change], list[Change]]:
    """Split changes into those allowed and those that would write a protected field.

    A merge whose survivor would inherit a protected field's value keeps the merge and drops that
    value (the merge itself does not write the field).
    """
    if not protected:
        return list(changes), []
    blocked = set(protected)
    kept: list[Change] = []
    dropped: list[Change] = []
    for change in changes:
        if isinstance(change, Update) and change.field in blocked:
            dropped.append(change)
        elif isinstance(change, Merge) and blocked & change.field_values.keys():
            values = {k: v for k, v in change.field_values.items() if k not in blocked}
            kept.append(replace(change, field_values=values))
        else:
            kept.append(change)
    return kept, dropped


def counts(changes: Sequence[Change]) -> dict[str, int]:
    """How many records each kind of change touches: updates per record, merges per absorbed."""
    updated = {(c.object_type, c.record_id) for c in changes if isinstance(c, Update)}
    merged = sum(len(c.merged_ids) for c in changes if isinstance(c, Merge) and c.kind == "merge")
    tasks = sum(1 for c in changes if isinstance(c, CreateTask))
    archives = sum(1 for c in changes if isinstance(c, Archive))
    return {"updates": len(updated), "merges": merged, "tasks": tasks, "archives": archives}


def ceiling_violations(
    changes: Sequence[Change], limits: Limits, total_records: int, max_changes: int | None = None
) -> list[str]:
    """Every ceiling the plan goes past, as sentences; empty when the plan may be pushed."""
    problems = []
    for kind, n in counts(changes).items():
        ceiling: Ceiling = getattr(limits, kind)
        share = n / total_records if total_records else 0.0
        if n > ceiling.max:
            problems.append(
                f"{n} {kind} exceed the ceiling of {ceiling.max} per run (apply.limits.{kind}.max)"
            )
        if n and share > ceiling.share:
            problems.append(
                f"{n} {kind} touch {share:.1%} of the source's {total_records} "
                f"records, above {ceiling.share:.1%} (apply.limits.{kind}.share)"
            )
    writes = [c for c in changes if c.kind not in ("flag", "review")]  # these change nothing
    if max_changes is not None and len(writes) > max_changes:
        problems.append(f"{len(writes)} changes exceed --max-changes {max_changes}")
    return problems
