"""The connector interface: one vendor's API as a stream of canonical records.

A connector knows its vendor and nothing about policies. Field names that cross this boundary are
canonical (HubSpot's contact property names: ``firstname``, ``email``, ``hubspot_owner_id``...);
object types are canonical (``contacts``, ``companies``, ``deals``, ``tasks``, ``owners``).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Record:
    """One CRM record as pulled.

    ``properties`` maps canonical field names to string values (``None`` when empty);
    ``associations`` maps a canonical object type to the ids of associated records.
    ``merged_into`` is set on a record that the CRM merged into another (it no longer exists on
    its own); ``merged_ids`` lists ids the CRM says this record absorbed.
    """

    object_type: str
    id: str
    properties: Mapping[str, str | None]
    updated_at: datetime
    created_at: datetime | None = None
    archived: bool = False
    merged_into: str | None = None
    merged_ids: tuple[str, ...] = ()
    associations: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PropertyDef:
    """One field's definition in the CRM (HubSpot property, Salesforce field).

    ``options`` are the allowed values of a picklist (enumeration) in display order, with their
    labels; ``multi`` is true for multi-select fields (values ``;``-joined).
    """

    name: str
    label: str
    type: str
    options: tuple[tuple[str, str], ...] = ()
    multi: bool = False
    hidden_options: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where an incremental pull of one object type resumes.

    ``updated_at`` is the last-modified time up to which everything has been read;
    ``None`` means no pull has completed yet (a full pull follows).
    """

    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PullBatch:
    """A page of pulled records, with the cursor that is safe to commit once they are stored.

    The engine stores ``records`` and ``cursor`` in one transaction. ``skipped`` lists records
    the connector could not read (id and why), so the run can report them and go on.
    """

    object_type: str
    records: tuple[Record, ...]
    cursor: Cursor
    skipped: tuple[tuple[str, str], ...] = ()


class Connector(abc.ABC):
    """A vendor's CRM seen as canonical records.

    Subclasses declare ``name`` (the connector name used in configuration),
    ``object_types`` (the canonical object types they can pull) and ``capabilities`` (what
    their source can do beyond a full pull; see :class:`Capability`).
    """

    name: ClassVar[str]
    object_types: ClassVar[tuple[str, ...]]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    @abc.abstractmethod
    def pull(
        self, object_type: str, cursor: Cursor, *, run_started_at: datetime
    ) -> Iterator[PullBatch]:
        """Yield batches of records of ``object_type`` changed since ``cursor``.

        With an empty cursor this is a full pull (live and archived records). Each batch carries a
        cursor that never moves backwards and never past ``run_started_at``; committing it with
        the batch's records means a crash after the commit loses nothing and a rerun re-reads at
        most the lookback window. Records may repeat across batches (the engine de-duplicates by
        id, keeping the newest ``updated_at``).
        """

    def properties(self, object_type: str) -> list[PropertyDef]:
        """The CRM's field definitions of ``object_type`` (picklist options included).

        Connectors whose source has no schema (a CSV file) return an empty list, the default.
        """
        del object_type
        return []

    def check(self) -> str:
        """Make the cheapest call that proves the source is there and takes the credentials,
        and say what was checked in a few words (``syncd check-config --connect``).

        Raises :class:`syncd.errors.SourceFatalError` when the credentials are refused and
        another :class:`syncd.errors.SyncdError` when the source cannot be reached. The
        default checks nothing.
        """
        return "nothing to check"

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""


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
    trimmed to status, category and ids (never whole records: they hold personal data);
    ``already`` — ok, but this call changed nothing: the CRM already held the outcome (two ids
    of a merge that resolve to one record already), so it is no change of syncd's to audit.
    """

    key: str
    ok: bool
    remote_id: str | None = None
    error: str | None = None
    retriable: bool = False
    response: Mapping[str, object] = field(default_factory=dict)
    already: bool = False


class Writer(abc.ABC):
    """The write half of a connector: what the push step calls. Batches at the vendor's maximum.

    Every method retries transient failures itself (tenacity, honouring ``Retry-After``) and
    reports per input: a partial failure of a batch fails only its failed inputs. Auth failures
    (401/403) raise :class:`syncd.errors.SourceFatalError`.
    """

    @abc.abstractmethod
    def read(
        self, object_type: str, ids: Sequence[str], properties: Sequence[str]
    ) -> dict[str, Record | None]:
        """Current values of ``ids`` (batch reads). ``None`` for an id that no longer exists.

        An id the CRM merged into another comes back as the survivor's record (its ``id``
        differs from the id asked for), so the caller can tell "merged since" from "deleted".
        """

    @abc.abstractmethod
    def update(self, object_type: str, writes: Sequence[FieldWrite]) -> list[WriteResult]:
        """Write field values (batch update), one result per write, in order."""

    @abc.abstractmethod
    def create_tasks(self, writes: Sequence[TaskWrite]) -> list[WriteResult]:
        """Create tasks with their association (batch create), one result per write."""

    @abc.abstractmethod
    def find_tasks(self, object_type: str, record_ids: Sequence[str]) -> dict[str, list[Record]]:
        """The tasks associated to each record (all statuses), for idempotent task creation."""

    @abc.abstractmethod
    def merge(self, object_type: str, primary_id: str, merged_id: str, key: str) -> WriteResult:
        """Merge ``merged_id`` into ``primary_id``; ``remote_id`` is the survivor's id."""

    @abc.abstractmethod
    def archive(
        self, object_type: str, ids: Sequence[str], keys: Sequence[str]
    ) -> list[WriteResult]:
        """Archive (soft-delete) records, e.g. tasks syncd created, when a run is undone."""


class Capability(Enum):
    """What a connector's source can do beyond a full pull. The connector contract suite
    (``tests/connectors/contract``) checks each capability a connector declares and skips, with
    the reason, the tests of those it does not."""

    INCREMENTAL = "incremental"
    """A pull from a cursor reads only what changed since it."""
    DELETIONS = "deletions"
    """Records deleted in the source are pulled, flagged ``archived``."""
    MERGED_RECORDS = "merged records"
    """Records merged in the source are pulled, flagged ``merged_into`` their survivor."""
    WRITES = "writes"
    """:meth:`Writer.read`, :meth:`Writer.update` and :meth:`Writer.archive`."""
    MERGES = "merges"
    """:meth:`Writer.merge`; an absorbed id then reads back as its survivor."""
    TASKS = "tasks"
    """:meth:`Writer.create_tasks`, and :meth:`Writer.find_tasks` finds a task by its key."""
    LIVE = "live"
    """The source is shared and live: people edit it while syncd runs (:meth:`Writer.read`
    shows their edits), and writes land at once and outlive the connector."""
    REFUSED_VALUES = "refused values"
    """The source checks values and refuses some; a refusal fails only its own write."""
    RATE_LIMITS = "rate limits"
    """The source answers "too many requests" with a wait, which the connector honours."""
    AUTH = "auth"
    """The source checks credentials; a refusal raises :class:`syncd.errors.SourceFatalError`."""
