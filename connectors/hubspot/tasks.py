"""Follow-up tasks as HubSpot stores them: properties, associations and the syncd marker.

A task syncd creates carries its outbox key at the end of its body, ``[syncd:<key>]``, so a
task whose creation answer was lost can be found again (on the record it is associated to) and
a batch-create answer, whose results HubSpot does not promise to return in input order, can be
matched to its inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType

from connectors.hubspot.client import TaskInput
from connectors.hubspot.mapping import FieldMap
from model.fields import TASK_OPEN
from model.writes import TaskWrite

TASK_ASSOCIATION_TYPES: Mapping[str, int] = MappingProxyType(
    {"contacts": 204, "companies": 192, "deals": 216}
)
"""HubSpot-defined association type id from a task to a record of each object type."""

TASK_FIELDS: tuple[str, ...] = ("subject", "body", "status", "due", "owner_id")
"""Canonical fields :meth:`~connectors.base.Writer.find_tasks` reads of each task."""
TASK_PRIORITY = "MEDIUM"
TASK_TYPE = "TODO"
"""HubSpot's ``hs_task_priority`` and ``hs_task_type`` of the tasks syncd creates."""


def marker(key: str) -> str:
    """The marker that ties a task to its outbox key."""
    return f"[syncd:{key}]"


def body_with_marker(body: str, key: str) -> str:
    """The task body as stored: the body, a blank line, the marker."""
    return f"{body}\n\n{marker(key)}"


def has_marker(body: str | None, key: str) -> bool:
    """Whether a stored body carries ``key``'s marker (HubSpot may wrap the body in markup,
    so the marker is looked for anywhere, not only at the very end)."""
    return body is not None and marker(key) in body


def key_of(body: str | None, keys: Iterable[str]) -> str | None:
    """Which of ``keys`` the body's marker names (the longest match, so that a key that is a
    prefix of another is not mistaken for it), or ``None``."""
    if body is None:
        return None
    found = [key for key in keys if marker(key) in body]
    return max(found, key=len) if found else None


def hubspot_datetime(moment: datetime) -> str:
    """HubSpot's datetime format: UTC, milliseconds, ``Z`` (a naive datetime is taken as UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def task_input(write: TaskWrite, fields: FieldMap) -> TaskInput:
    """The batch-create input of one task write, through the tasks' field map. Raises
    ``KeyError`` for an object type a task cannot be associated to."""
    type_id = TASK_ASSOCIATION_TYPES[write.object_type]
    canonical: dict[str, str | None] = {
        "subject": write.subject,
        "body": body_with_marker(write.body, write.key),
        "status": TASK_OPEN,
        "priority": TASK_PRIORITY,
        "task_type": TASK_TYPE,
        "due": hubspot_datetime(write.due),
    }
    if write.owner_id:
        canonical["owner_id"] = write.owner_id
    properties = {k: v for k, v in fields.to_vendor(canonical).items() if v is not None}
    return TaskInput(
        properties=properties,
        associations=((write.record_id, type_id),),
        trace_id=write.key,
    )
