"""The outbox form of a plan: each change as operations with idempotency keys, read back.

A change at position ``seq`` of plan ``plan_id`` becomes operations keyed
``<plan_id>:<seq>:<op_index>`` (:func:`key`), so the same plan always yields the same keys and
enqueueing it again adds nothing (:meth:`state.base.StateStore.enqueue`):

- an update: one ``update`` op, ``{"fields": {field: {"old": old, "new": new}}}``;
- a merge: an ``update`` of the primary with the survivor's chosen values (op 0, with the
  primary's plan-time values as ``old``, so a person's edit since the plan is a conflict like
  any other), then one ``merge`` op per absorbed id (``{"merged_id": id}``, op 1, 2...);
- a review pair: one ``review`` op on the primary, held for a person;
- a follow-up task: one ``create_task`` op (subject, body, owner_id, due as an ISO date);
- an archive: one ``archive`` op. Flags change nothing and have no op.

Every payload carries the change's ``policy`` and ``reason``. :func:`fields_of` and
:func:`task_write` read payloads back into what a writer takes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, time

from model.changes import Archive, Change, CreateTask, Merge, Update
from model.writes import TaskWrite
from state.base import OutboxEntry, OutboxOp, StoredPlan

#: A field an update op writes: its plan-time value (``old``) and the value to write (``new``).
FieldPlan = Mapping[str, str | None]

#: The hour (UTC) a task is due on its due date when the plan gave a date without a time.
TASK_DUE_HOUR = time(15, 0)


def expand(plan: StoredPlan) -> list[OutboxOp]:
    """The outbox operations of ``plan``, in plan order (see the module docstring)."""
    return [op for seq, change in enumerate(plan.changes) for op in _ops_of(plan.id, seq, change)]


def key(plan_id: str, seq: int, op_index: int) -> str:
    """The idempotency key of operation ``op_index`` of change ``seq`` of a plan."""
    return f"{plan_id}:{seq}:{op_index}"


def _ops_of(plan_id: str, seq: int, change: Change) -> Iterator[OutboxOp]:
    def op(index: int, kind: str, record_id: str, payload: Mapping[str, object]) -> OutboxOp:
        common = {"policy": change.policy, "reason": change.reason}
        return OutboxOp(
            key(plan_id, seq, index),
            seq,
            index,
            kind,
            change.object_type,
            record_id,
            {**common, **payload},
        )

    if isinstance(change, Update):
        fields = {change.field: {"old": change.old, "new": change.new}}
        yield op(0, "update", change.record_id, {"fields": fields})
    elif isinstance(change, Merge):
        if change.kind == "review":
            review = {"merged_ids": list(change.merged_ids), "confidence": change.confidence}
            yield op(0, "review", change.primary_id, review)
            return
        if change.field_values:
            fields = {
                k: {"old": change.field_baseline.get(k), "new": v}
                for k, v in change.field_values.items()
            }
            yield op(0, "update", change.primary_id, {"fields": fields})
        for index, merged_id in enumerate(change.merged_ids, start=1):
            yield op(index, "merge", change.primary_id, {"merged_id": merged_id})
    elif isinstance(change, Archive):
        yield op(0, "archive", change.record_id, {})
    elif isinstance(change, CreateTask):
        task = {
            "subject": change.subject,
            "body": change.body,
            "owner_id": change.owner_id,
            "due": change.due.isoformat(),
        }
        yield op(0, "create_task", change.record_id, task)


def fields_of(entry: OutboxEntry) -> dict[str, FieldPlan]:
    """The fields an ``update`` op writes, each with its ``old`` and ``new`` value."""
    raw = entry.payload.get("fields")
    assert isinstance(raw, dict)
    return {str(k): {"old": v.get("old"), "new": v.get("new")} for k, v in raw.items()}


def task_write(entry: OutboxEntry, record_id: str) -> TaskWrite:
    """The task a ``create_task`` op creates on ``record_id`` (the op's record as the CRM has
    it now: a merge's survivor may have a new id), marked with the op's key; a due date
    without a time is due at :data:`TASK_DUE_HOUR` UTC that day."""
    due = datetime.fromisoformat(str(entry.payload["due"]))
    if due.tzinfo is None:
        due = datetime.combine(due.date(), TASK_DUE_HOUR, tzinfo=UTC)
    owner = entry.payload.get("owner_id")
    return TaskWrite(
        entry.key,
        entry.object_type,
        record_id,
        str(entry.payload.get("subject", "")),
        str(entry.payload.get("body") or ""),
        None if owner is None else str(owner),
        due,
    )
