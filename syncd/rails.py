"""Safety rails: what no plan may do, checked before anything is pushed.

Pure functions of a plan's changes and the source's settings; the engine calls them.

Drift (:func:`drift`), what ``syncd apply`` measures before it pushes a saved plan:

- Only what the plan writes counts: each field an update sets, and each survivor value a merge
  writes on its primary. Tasks, archives, findings and reviews write no field.
- A field drifted when the CRM now holds neither the value the plan was made from (``old``) nor
  one syncd wrote: the plan's own value (an apply that a crash cut short wrote it) or a value
  written by another plan pushed in the same run.
- Records absorbed or produced by the plan's own merges are left out: their fields moved with
  the merge. A record archived, deleted or merged in the CRM otherwise has drifted.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import replace

from model.changes import Archive, Change, CreateTask, Merge, Update
from model.errors import SyncdError
from model.records import Record
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


#: A field of a record: (object type, record id, field).
FieldKey = tuple[str, str, str]


def written_fields(changes: Sequence[Change]) -> Iterator[tuple[FieldKey, str | None, str | None]]:
    """Each field a plan writes, with the value it was made from and the value it writes."""
    for change in changes:
        if isinstance(change, Update):
            yield (change.object_type, change.record_id, change.field), change.old, change.new
        elif isinstance(change, Merge) and change.kind == "merge":
            for name, value in change.field_values.items():
                key = (change.object_type, change.primary_id, name)
                yield key, change.field_baseline.get(name), value


def drift(
    changes: Sequence[Change],
    current: Mapping[tuple[str, str], Record],
    written: Mapping[FieldKey, Collection[str | None]] | None = None,
) -> tuple[int, int]:
    """``(drifted, counted)``: how many of the fields a plan writes someone other than syncd
    changed since the plan was made, out of how many were counted (rules in the module doc).

    ``current`` holds the stored records by (object type, id), archived and merged ones
    included; ``written`` the values syncd wrote in this run by field.
    """
    merged = {
        (c.object_type, record_id)
        for c in changes
        if isinstance(c, Merge) and c.kind == "merge"
        for record_id in (c.primary_id, *c.merged_ids)
    }
    drifted = counted = 0
    for key, old, new in written_fields(changes):
        object_type, record_id, name = key
        record = current.get((object_type, record_id))
        gone = record is None or record.archived or record.merged_into is not None
        if gone and (object_type, record_id) in merged:
            continue
        counted += 1
        if record is None or gone:
            drifted += 1
            continue
        value = record.properties.get(name)
        expected = (old, new, *(written or {}).get(key, ()))
        if not any(_same(value, v) for v in expected):
            drifted += 1
    return drifted, counted


def _same(a: str | None, b: str | None) -> bool:
    return (a or "") == (b or "")
