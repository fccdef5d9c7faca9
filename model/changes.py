"""Changes policies propose and plans carry, and the snapshot policies read.

Each change is a frozen value with the reason a person reads. ``change_to_dict`` and
``change_from_dict`` are the JSON form that plan reports and the state store keep, done by
pydantic over the dataclasses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import Field, TypeAdapter

from model.records import PropertyDef, Record, id_key

ChangeKind = Literal["update", "merge", "create_task", "review", "flag", "archive"]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What policies see: the current records of one source, by canonical object type.

    Archived and merged-away records are not in it. ``owners`` maps owner id to owner properties.
    """

    source: str
    now: datetime
    records: Mapping[str, Sequence[Record]]
    owners: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)
    schema: Mapping[str, Mapping[str, PropertyDef]] = field(default_factory=dict)
    #: A person's decisions on proposed duplicates, per object type: the set of record ids of a
    #: pair or cluster → "approved" or "rejected" (``syncd review``). A rejected set must not be
    #: proposed again; an approved one may be merged whatever its score.
    decisions: Mapping[str, Mapping[frozenset[str], str]] = field(default_factory=dict)
    #: What policies learned from an earlier snapshot and the engine stored, by policy name then
    #: key (JSON values): the dedupe policy's match weights per object type, kept frozen
    #: between re-estimations. Empty: a policy that learns estimates afresh.
    learned: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    #: Each type's records are in :func:`~model.records.id_key` order already (the store reads
    #: them so): :meth:`in_id_order` takes them as they are, with no sort over every record.
    ordered: bool = False
    #: :meth:`in_id_order`'s lists, made once per snapshot (not compared, not copied by
    #: ``dataclasses.replace``).
    _in_id_order: dict[str, tuple[Record, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def of(self, object_type: str) -> Sequence[Record]:
        """The records of one object type (empty when none were pulled)."""
        return self.records.get(object_type, ())

    def in_id_order(self, object_type: str) -> Sequence[Record]:
        """:meth:`of` in :func:`~model.records.id_key` order, the order every policy proposes
        its changes in: sorted once per snapshot, not once per policy."""
        found = self._in_id_order.get(object_type)
        if found is None:
            found = tuple(self.of(object_type))
            if not self.ordered:
                found = tuple(sorted(found, key=lambda r: id_key(r.id)))
            self._in_id_order[object_type] = found
        return found


@dataclass(frozen=True, slots=True)
class Update:
    """Set one field of one record. ``old`` is the baseline value the plan was made from."""

    source: str
    object_type: str
    policy: str
    reason: str
    record_id: str
    field: str
    old: str | None
    new: str | None
    kind: Literal["update"] = "update"


@dataclass(frozen=True, slots=True)
class Merge:
    """Merge ``merged_ids`` into ``primary_id``.

    ``field_values`` are the survivor's chosen values to write to the primary before merging;
    ``evidence`` maps field name to the similarity score (0..1) that supports the match.
    ``kind`` is ``review`` when the confidence is below the auto-merge threshold.
    """

    source: str
    object_type: str
    policy: str
    reason: str
    primary_id: str
    merged_ids: tuple[str, ...]
    confidence: float
    evidence: Mapping[str, float] = field(default_factory=dict)
    field_values: Mapping[str, str | None] = field(default_factory=dict)
    kind: Literal["merge", "review"] = "merge"
    #: The primary's own values of the ``field_values`` fields when the plan was made: what a
    #: push compares with the CRM to tell a person's later edit from the plan's baseline.
    field_baseline: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CreateTask:
    """Create a follow-up task on ``record_id`` (a record of ``object_type``)."""

    source: str
    object_type: str
    policy: str
    reason: str
    record_id: str
    subject: str
    owner_id: str | None
    due: date
    body: str = ""
    kind: Literal["create_task"] = "create_task"


@dataclass(frozen=True, slots=True)
class Flag:
    """A finding for a person, changing nothing: an invalid e-mail, a value outside a picklist,
    a missing required field, a stale record. Reports list it; push never sends it.

    ``field`` is None when the finding is about the whole record; ``value`` is what was found.
    """

    source: str
    object_type: str
    policy: str
    reason: str
    record_id: str
    field: str | None
    value: str | None
    kind: Literal["flag"] = "flag"


@dataclass(frozen=True, slots=True)
class Archive:
    """Archive (soft-delete) a record, e.g. one retired for staleness."""

    source: str
    object_type: str
    policy: str
    reason: str
    record_id: str
    kind: Literal["archive"] = "archive"


Change = Update | Merge | CreateTask | Flag | Archive


#: Pydantic's view of a change: the union told apart by ``kind`` (a merge's is ``merge`` or
#: ``review``).
_FORM: Any = Annotated[Change, Field(discriminator="kind")]  # a type form, given as a value
_CHANGE: Final[TypeAdapter[Change]] = TypeAdapter(_FORM)


def change_to_dict(change: Change) -> dict[str, object]:
    """The JSON form of a change, as the plan report and the state store keep it.

    ``kind`` first, then the change's fields in their order: common keys ``source``,
    ``object_type``, ``policy``, ``reason``; then per kind ``update`` → ``record_id``,
    ``field``, ``old``, ``new``; ``merge``/``review`` → ``primary_id``, ``merged_ids`` (a list),
    ``confidence``, ``evidence``, ``field_values``, ``field_baseline``; ``create_task`` →
    ``record_id``, ``subject``, ``owner_id``, ``due`` (ISO date), ``body``; ``flag`` →
    ``record_id``, ``field``, ``value``; ``archive`` → ``record_id``.
    """
    data = _CHANGE.dump_python(change, mode="json")
    return {"kind": data.pop("kind"), **data}


def change_from_dict(data: Mapping[str, object]) -> Change:
    """Rebuild a change from :func:`change_to_dict`'s form (keys a change does not have are
    ignored, ``evidence``, ``field_values``, ``field_baseline`` and ``body`` may be missing).
    Raises ``ValueError`` (a pydantic ``ValidationError``) on a bad kind or value."""
    return _CHANGE.validate_python(data)
