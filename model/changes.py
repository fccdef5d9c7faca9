"""Changes policies propose and plans carry, and the snapshot policies read.

Each change is a frozen value with the reason a person reads. ``change_to_dict`` and
``change_from_dict`` are the JSON form that plan reports and the state store keep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from model.records import PropertyDef, Record

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

    def of(self, object_type: str) -> Sequence[Record]:
        """The records of one object type (empty when none were pulled)."""
        return self.records.get(object_type, ())


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


def change_to_dict(change: Change) -> dict[str, object]:
    """The JSON form of a change, as the plan report and the state store keep it.

    Common keys: ``kind``, ``source``, ``object_type``, ``policy``, ``reason``; then per kind:
    ``update`` → ``record_id``, ``field``, ``old``, ``new``; ``merge``/``review`` →
    ``primary_id``, ``merged_ids``, ``confidence``, ``evidence``, ``field_values``;
    ``create_task`` → ``record_id``, ``subject``, ``owner_id``, ``due`` (ISO date), ``body``.
    """
    common: dict[str, object] = {
        "kind": change.kind,
        "source": change.source,
        "object_type": change.object_type,
        "policy": change.policy,
        "reason": change.reason,
    }
    if isinstance(change, Update):
        return common | {
            "record_id": change.record_id,
            "field": change.field,
            "old": change.old,
            "new": change.new,
        }
    if isinstance(change, Merge):
        return common | {
            "primary_id": change.primary_id,
            "merged_ids": list(change.merged_ids),
            "confidence": change.confidence,
            "evidence": dict(change.evidence),
            "field_values": dict(change.field_values),
            "field_baseline": dict(change.field_baseline),
        }
    if isinstance(change, Flag):
        return common | {
            "record_id": change.record_id,
            "field": change.field,
            "value": change.value,
        }
    if isinstance(change, Archive):
        return common | {"record_id": change.record_id}
    return common | {
        "record_id": change.record_id,
        "subject": change.subject,
        "owner_id": change.owner_id,
        "due": change.due.isoformat(),
        "body": change.body,
    }


def change_from_dict(data: Mapping[str, object]) -> Change:
    """Rebuild a change from :func:`change_to_dict`'s form. Raises ``ValueError`` on bad kinds."""
    kind = data["kind"]
    source, object_type = str(data["source"]), str(data["object_type"])
    policy, reason = str(data["policy"]), str(data["reason"])
    if kind == "update":
        old, new = data.get("old"), data.get("new")
        return Update(
            source=source,
            object_type=object_type,
            policy=policy,
            reason=reason,
            record_id=str(data["record_id"]),
            field=str(data["field"]),
            old=None if old is None else str(old),
            new=None if new is None else str(new),
        )
    if kind in ("merge", "review"):
        merged = data["merged_ids"]
        evidence = data.get("evidence") or {}
        values = data.get("field_values") or {}
        before = data.get("field_baseline") or {}
        assert isinstance(merged, list | tuple)
        assert isinstance(evidence, dict)
        assert isinstance(values, dict)
        assert isinstance(before, dict)
        return Merge(
            source=source,
            object_type=object_type,
            policy=policy,
            reason=reason,
            primary_id=str(data["primary_id"]),
            merged_ids=tuple(str(m) for m in merged),
            confidence=float(str(data["confidence"])),
            evidence={str(k): float(v) for k, v in evidence.items()},
            field_values={str(k): None if v is None else str(v) for k, v in values.items()},
            kind="merge" if kind == "merge" else "review",
            field_baseline={str(k): None if v is None else str(v) for k, v in before.items()},
        )
    if kind == "create_task":
        owner = data.get("owner_id")
        return CreateTask(
            source=source,
            object_type=object_type,
            policy=policy,
            reason=reason,
            record_id=str(data["record_id"]),
            subject=str(data["subject"]),
            owner_id=None if owner is None else str(owner),
            due=date.fromisoformat(str(data["due"])),
            body=str(data.get("body") or ""),
        )
    if kind == "flag":
        name, value = data.get("field"), data.get("value")
        return Flag(
            source=source,
            object_type=object_type,
            policy=policy,
            reason=reason,
            record_id=str(data["record_id"]),
            field=None if name is None else str(name),
            value=None if value is None else str(value),
        )
    if kind == "archive":
        return Archive(
            source=source,
            object_type=object_type,
            policy=policy,
            reason=reason,
            record_id=str(data["record_id"]),
        )
    raise ValueError(f"unknown change kind {kind!r}")
