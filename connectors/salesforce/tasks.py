"""Follow-up tasks as Salesforce stores them: ``WhoId``/``WhatId``, the owner, and syncd's
marker.

A task syncd creates carries its outbox key at the end of its ``Description``,
``[syncd:<key>]``, so a task whose creation answer was lost can be found again. SOQL cannot
filter a long text area, so it is found by the record it is on (``WhoId`` or ``WhatId``) and read
back whole; it is syncd's when the marker is there and syncd's user created it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC
from types import MappingProxyType
from typing import Any

from connectors.salesforce.settings import QUEUE_PREFIX
from model.fields import TASK_OPEN
from model.writes import TaskWrite

RELATION: Mapping[str, str] = MappingProxyType(
    {"contacts": "WhoId", "leads": "WhoId", "companies": "WhatId", "deals": "WhatId"}
)
"""The Task field that points at a record of each object type."""

TASK_FIELDS: tuple[str, ...] = ("subject", "body", "status", "due", "owner_id", "priority")
PRIORITY = "Normal"
"""Salesforce's ``Priority`` of the tasks syncd creates (the standard org's default)."""


def marker(key: str) -> str:
    return f"[syncd:{key}]"


def has_marker(body: str | None, key: str) -> bool:
    return body is not None and marker(key) in body


def key_of(body: str | None, keys: Iterable[str]) -> str | None:
    """Which of ``keys`` the body's marker names (the longest match), or ``None``."""
    if body is None:
        return None
    found = [key for key in keys if marker(key) in body]
    return max(found, key=len) if found else None


def owner_for_task(owner_id: str | None) -> str | None:
    """The owner to give a task: ``None`` (syncd's user, Salesforce's default) for no owner or a
    queue, which may own a lead but never a task."""
    if not owner_id or owner_id.startswith(QUEUE_PREFIX):
        return None
    return owner_id


def canonical_values(write: TaskWrite) -> dict[str, str | None]:
    """The task's canonical fields (the marker appended to the body)."""
    due = write.due if write.due.tzinfo is not None else write.due.replace(tzinfo=UTC)
    values: dict[str, str | None] = {
        "subject": write.subject,
        "body": f"{write.body}\n\n{marker(write.key)}",
        "status": TASK_OPEN,
        "due": due.astimezone(UTC).isoformat(),
    }
    owner = owner_for_task(write.owner_id)
    if owner is not None:
        values["owner_id"] = owner
    return values


def task_record(write: TaskWrite, vendor: Mapping[str, Any]) -> dict[str, Any]:
    """The sObject Collections record of one task: its vendor values, ``Priority``, and the
    ``WhoId`` or ``WhatId`` of its record."""
    return {
        "attributes": {"type": "Task"},
        **vendor,
        "Priority": PRIORITY,
        RELATION[write.object_type]: write.record_id,
    }
