"""What the push asks a connector to write, and what the CRM answered, in canonical terms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class FieldWrite:
    """Set fields of one record. ``key`` is the outbox idempotency key, echoed in the result."""

    key: str
    record_id: str
    properties: Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class TaskWrite:
    """Create one task associated to ``record_id`` (a record of ``object_type``).

    ``key`` is the outbox idempotency key; the connector stores it on the task (HubSpot: a
    ``[syncd:<key>]`` marker at the end of the body) so a lost answer can be recovered by
    :meth:`Connector.find_tasks`.
    """

    key: str
    object_type: str
    record_id: str
    subject: str
    body: str
    owner_id: str | None
    due: datetime


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What the CRM answered for one write.

    ``ok`` — applied; ``remote_id`` — the id of what was written (the new task's id, the merge
    survivor's id); ``retriable`` — a failure that a later attempt may fix (429, 5xx, timeout);
    ``error`` — the vendor's message; ``response`` — the vendor's answer for the audit log,
    trimmed to status, category and ids (never whole records: they hold personal data).
    """

    key: str
    ok: bool
    remote_id: str | None = None
    error: str | None = None
    retriable: bool = False
    response: Mapping[str, object] = field(default_factory=dict)
