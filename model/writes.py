"""What the push asks a connector to write, and what the CRM answered, in canonical terms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class WriteErrorKind(StrEnum):
    """What a refused write means, as the connector reads its vendor's answer.

    The push decides on these, never on a vendor's message text.
    """

    DUPLICATE_VALUE = "duplicate_value"
    """A value the CRM keeps unique is another record's already (a contact's e-mail)."""
    INVALID_VALUE = "invalid_value"
    """The CRM refused a value (not an allowed option, not a number, a read-only field)."""
    NOT_FOUND = "not_found"
    """The record is not there (deleted, archived, never existed)."""
    MERGED = "merged"
    """The record was merged into another."""
    RATE_LIMITED = "rate_limited"
    """Too many requests: a later attempt may pass."""
    UNAVAILABLE = "unavailable"
    """No usable answer (5xx, timeout, dropped connection): a later attempt may pass."""
    AUTH = "auth"
    """The credentials were refused."""
    PERMISSION = "permission"
    """The credentials lack a permission (scope) the write needs."""
    NOT_MERGEABLE = "not_mergeable"
    """The CRM never merges these records together (kinds it keeps apart, such as a person
    account and a business contact): nothing to retry, a person decides."""
    OTHER = "other"
    """Anything else; ``error`` says what."""


@dataclass(frozen=True, slots=True)
class FieldWrite:
    """Set fields of one record. ``key`` is the outbox idempotency key, echoed in the result."""

    key: str
    record_id: str
    properties: Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class TaskWrite:
    """Create one task associated to ``record_id`` (a record of ``object_type``).

    ``key`` is the outbox idempotency key; the connector stores it on the task (where is its
    business: HubSpot puts a ``[syncd:<key>]`` marker at the end of the body) so a lost answer
    can be recovered through ``Writer.find_tasks`` and ``Writer.is_task_of``.
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
    ``error`` — the vendor's message, for people; ``error_kind`` — what the failure means, for
    code; ``fields`` — the canonical fields the CRM refused, when it says; ``response`` — the
    vendor's answer for the audit log, trimmed to status, category and ids (never whole
    records: they hold personal data).
    ``already`` — ok, but this call changed nothing: the CRM already held the outcome (two ids
    of a merge that resolve to one record already), so it is no change of syncd's to audit.
    """

    key: str
    ok: bool
    remote_id: str | None = None
    error: str | None = None
    retriable: bool = False
    response: Mapping[str, object] = field(default_factory=dict)
    error_kind: WriteErrorKind | None = None
    fields: tuple[str, ...] = ()
    already: bool = False


@dataclass(frozen=True, slots=True)
class FieldChange:
    """Who or what set a field to a value, as the CRM's field history says.

    ``user_id`` is the CRM user who set it (``None`` for a workflow, an integration or an
    import, or when the CRM does not say); ``via`` says through what, in words a person reads
    ("the HubSpot app", "a workflow", "an integration").
    """

    value: str | None
    at: datetime
    user_id: str | None = None
    via: str | None = None
