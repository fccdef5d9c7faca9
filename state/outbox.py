"""Values of the push step's state: outbox operations, their outcomes, the audit log.

Re-exported from :mod:`state.base`, whose :class:`~state.base.StateStore` methods take and return
them. Plain frozen values with no behaviour; datetimes are timezone-aware (UTC when read back).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

#: An outbox operation's lifecycle. ``pending`` when enqueued; ``sending`` while its write is in
#: flight (a crash leaves it there: whether the CRM applied it is unknown until checked);
#: ``applied`` is final; ``failed``, ``skipped`` (nothing to do, e.g. the CRM already holds the
#: value), ``conflict`` (a person changed the field since the plan) and ``held`` (waiting for
#: review) end an attempt, and the engine may move them back to ``pending``.
OUTBOX_PENDING: Final = "pending"
OUTBOX_SENDING: Final = "sending"
OUTBOX_APPLIED: Final = "applied"
OUTBOX_STATUSES: Final = (
    OUTBOX_PENDING,
    OUTBOX_SENDING,
    OUTBOX_APPLIED,
    "failed",
    "skipped",
    "conflict",
    "held",
)
#: Statuses of operations a crashed or interrupted push left to finish.
OUTBOX_UNFINISHED: Final = (OUTBOX_PENDING, OUTBOX_SENDING)

#: A plan's lifecycle: saved ``planned``; ``applying`` while pushed; then ``applied`` (every
#: operation applied or skipped), ``partial``, ``failed`` or ``held`` (waiting for review).
PLAN_STATUSES: Final = ("planned", "applying", "applied", "partial", "failed", "held")

#: A person's verdict on a merge held for review.
REVIEW_DECISIONS: Final = ("approved", "rejected")


@dataclass(frozen=True, slots=True)
class OutboxOp:
    """One operation to push: one vendor call's worth of one plan change.

    A change (``seq`` in its plan) may expand into several operations numbered by ``op_index``
    (a merge: one field write on the primary, then one merge call per absorbed id). ``key`` is the
    idempotency key, unique across all plans (convention: ``f"{plan_id}:{seq}:{op_index}"``); the
    connector echoes it and may store it remotely. ``payload`` is JSON: what to send.
    """

    key: str
    seq: int
    op_index: int
    kind: str
    object_type: str
    record_id: str
    payload: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """An outbox row as stored. ``run_id`` is the run that enqueued it; ``result`` is JSON (the
    vendor's trimmed response, error, remote ids) of the latest attempt; ``reason`` says why it
    is not applied (conflict, skip, failure), in words a person can read."""

    id: int
    plan_id: str
    seq: int
    op_index: int
    key: str
    source: str
    run_id: str
    kind: str
    object_type: str
    record_id: str
    payload: Mapping[str, object]
    status: str
    attempts: int
    result: Mapping[str, object]
    reason: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One change syncd made to a CRM, as the audit log keeps it.

    ``run_id`` is the run that applied it, ``key`` its outbox key. For a field write ``field``,
    ``before`` (the remote value just before the write) and ``after`` are set; for a merge, a task
    creation or an archive they are usually ``None`` and ``response`` carries the remote ids.
    ``response`` is JSON, trimmed (never whole records: they hold personal data).
    """

    run_id: str
    plan_id: str
    key: str
    source: str
    policy: str
    kind: str
    object_type: str
    record_id: str
    field: str | None
    before: str | None
    after: str | None
    applied_at: datetime
    response: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class AuditEntry(AuditRecord):
    """An audit record as stored: its id (increasing in the order entries were committed) and,
    once undone, the run that undid it and when."""

    id: int
    undone_by_run: str | None = None
    undone_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OpOutcome:
    """What happened to one outbox operation, recorded by :meth:`StateStore.record_results`.

    ``status`` is one of :data:`OUTBOX_STATUSES`; ``attempts_increment`` is added to the row's
    attempt count (0 for a status change that made no call, e.g. holding for review); ``result``
    (JSON) replaces the stored one; ``audit`` lists the changes the operation made, committed
    with its status (only an ``applied`` outcome may carry any).
    """

    key: str
    status: str
    attempts_increment: int = 1
    result: Mapping[str, object] = field(default_factory=dict)
    reason: str | None = None
    audit: Sequence[AuditRecord] = ()


@dataclass(frozen=True, slots=True)
class Revert:
    """A value syncd wrote that someone changed back: not proposed again until released.

    One per field of a record. ``value`` is what syncd wrote (audit entry ``audit_id``, at
    ``written_at``); ``reverted_to`` the field's value when syncd found it changed back
    (``found_at``). ``changed_by``, ``changed_via`` and ``changed_at`` say who, through what and
    when the value was set, where the CRM says (``None`` where it does not). ``released_at`` and
    ``released_by`` are set once a person released it: syncd may propose ``value`` again, and a
    later write of it that is changed back again is a new revert.
    """

    source: str
    object_type: str
    record_id: str
    field: str
    value: str | None
    reverted_to: str | None
    audit_id: int
    written_at: datetime
    found_at: datetime
    changed_by: str | None = None
    changed_via: str | None = None
    changed_at: datetime | None = None
    released_at: datetime | None = None
    released_by: str | None = None
