"""Conflict decisions: what of a planned write still holds, checked against the CRM just before
it goes out. Pure functions of values; the push reads the CRM and records what they decide.

Per field of an update (:func:`decide`), with ``now`` the CRM's current value:

1. ``now`` is the new value already: nothing to write (a resumed push wrote it, or a person made
   the same fix); a push resumed over an op left ``sending`` counts it as *landed*.
2. ``now`` is the plan's baseline (``old``), or a value one of the records this plan merged into
   the record had when the plan was made (the CRM may carry it over in the merge): written.
3. Otherwise a person changed the field since the plan, a *conflict*, resolved by the strategy:
   ``syncd-wins`` writes anyway, ``review`` holds the op for a person, ``crm-wins`` keeps the
   CRM's value. Each conflict is a note a person reads.

Before a merge (:func:`match_changes`), the fields that identify a person
(:data:`MATCH_FIELDS`) are compared on both records with their baselines: one a person changed
since the plan (to something this plan does not write itself) holds the merge for review.
Empty and missing values are the same (:func:`same`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from model.changes import Merge, Update
from model.records import Record
from state.base import StoredPlan
from syncd.config import ConflictStrategy
from syncd.push.outbox import FieldPlan

#: Fields compared between the plan's baseline and the CRM before a merge: if a person changed
#: one of them on either record since the plan, the pair may no longer be the same person.
MATCH_FIELDS: Final = ("firstname", "lastname", "email", "phone", "name", "domain")


def same(a: str | None, b: str | None) -> bool:
    """Whether two field values are equal, empty and missing being the same."""
    return (a or "") == (b or "")


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one update op's fields.

    ``writes``: field → value to write now; ``landed``: field → new value the CRM holds already,
    written by an interrupted push (only for a resumed op); ``notes``: conflicts resolved by the
    strategy (written anyway or kept), ``held``: conflicts held for review.
    """

    writes: dict[str, str | None] = field(default_factory=dict)
    landed: dict[str, str | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)


def decide(
    fields: Mapping[str, FieldPlan],
    current: Mapping[str, str | None],
    carried: Mapping[str, Sequence[str | None]],
    strategy: ConflictStrategy,
    *,
    resumed: bool,
) -> Decision:
    """Decide each of ``fields`` (name → ``old``/``new``) against the record's ``current``
    properties; ``carried`` holds per field the plan-time values of records this plan merged
    into it; ``resumed`` says the op was left ``sending`` by an interrupted push."""
    decision = Decision()
    for name, values in fields.items():
        now_value = current.get(name)
        if same(now_value, values["new"]):
            if resumed:
                decision.landed[name] = values["new"]
            continue
        if any(same(now_value, v) for v in (values["old"], *carried.get(name, ()))):
            decision.writes[name] = values["new"]
            continue
        note = f"{name}: changed in the CRM since the plan ({values['old']!r} → {now_value!r})"
        if strategy == "syncd-wins":
            decision.writes[name] = values["new"]
            decision.notes.append(note + "; written anyway (syncd-wins)")
        elif strategy == "review":
            decision.held.append(note)
        else:
            decision.notes.append(note + "; kept the CRM's value (crm-wins)")
    return decision


def planned_values(plan: StoredPlan) -> dict[tuple[str, str, str], list[str | None]]:
    """Values this plan itself writes, per (object type, record, field): not a person's edit."""
    values: dict[tuple[str, str, str], list[str | None]] = defaultdict(list)
    for change in plan.changes:
        if isinstance(change, Update):
            values[(change.object_type, change.record_id, change.field)].append(change.new)
        elif isinstance(change, Merge) and change.kind == "merge":
            for name, value in change.field_values.items():
                values[(change.object_type, change.primary_id, name)].append(value)
    return values


def match_changes(
    object_type: str,
    records: Mapping[str, Record],
    baseline: Mapping[str, Record],
    planned: Mapping[tuple[str, str, str], Sequence[str | None]],
) -> list[str]:
    """``record_id.field`` for each :data:`MATCH_FIELDS` field of ``records`` (id → the CRM's
    record of ``object_type``, in the order given) whose value is neither its ``baseline`` one
    nor one this plan writes (``planned``, from :func:`planned_values`). Records without a
    baseline, and fields the CRM did not return, are not compared."""
    return [
        f"{rid}.{name}"
        for rid, record in records.items()
        if rid in baseline
        for name in MATCH_FIELDS
        if name in record.properties
        and not any(
            same(record.properties.get(name), expected)
            for expected in (
                baseline[rid].properties.get(name),
                *planned.get((object_type, rid, name), ()),
            )
        )
    ]
