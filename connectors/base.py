"""The connector interface: one vendor's API as a stream of canonical records.

A connector knows its vendor and nothing about policies. Object types, field names and the values
with a meaning policies rely on that cross this boundary are canonical (:mod:`model.fields`:
``contacts``, ``firstname``, ``owner_id``, a task's ``status`` ``open``/``completed``...), both
ways: the connector maps its vendor's names to them on every pull and back on every write.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from importlib import import_module
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Generic, TypeVar

from model.errors import SourceFatalError, SyncdError
from model.records import Cursor, PropertyDef, PullBatch, Record
from model.writes import FieldChange, FieldWrite, TaskWrite, WriteResult

#: Fields a CRM keeps unique among the live records of one object type: object type → field →
#: the fields whose values the field may not repeat (the field itself, and e.g. a record's
#: alternate values). Values compare without case and surrounding spaces; a field holding a
#: list is ``;``-joined. A write that repeats another record's value is refused by the CRM.
UniqueFields = Mapping[str, Mapping[str, tuple[str, ...]]]


S = TypeVar("S")


class Connector(abc.ABC):
    """A vendor's CRM seen as canonical records.

    Subclasses declare ``name`` (the connector name used in configuration), ``object_types``
    (the canonical object types they can pull), ``capabilities`` (what their source can do
    beyond a full pull; see :class:`Capability`), when their CRM refuses duplicate values of
    some fields, ``unique_fields`` (:data:`UniqueFields`; none by default), and with
    ``Capability.MERGES`` the ``mergeable_types``: the object types :meth:`Writer.merge` takes.
    A merge is always between records of one type: a CRM that keeps leads apart from contacts
    never merges a lead into a contact (that a lead duplicates a contact is a finding for a
    person, who converts the lead).
    """

    name: ClassVar[str]
    object_types: ClassVar[tuple[str, ...]]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    unique_fields: ClassVar[UniqueFields] = MappingProxyType({})
    mergeable_types: ClassVar[frozenset[str]] = frozenset()

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

    def pull_all(
        self, cursors: Mapping[str, Cursor], *, run_started_at: datetime
    ) -> Iterator[PullBatch]:
        """Every batch :meth:`pull` yields for each object type of ``cursors`` (its stored
        cursor), with the same cursors: batches of one type come in the order :meth:`pull`
        gives them, batches of different types may interleave (a connector may pull several
        types at once). Whoever stores them does so in the order they come. Closing the
        iterator early stops every pull. The default pulls one type after another.
        """
        for object_type, cursor in cursors.items():
            yield from self.pull(object_type, cursor, run_started_at=run_started_at)

    def properties(self, object_type: str) -> list[PropertyDef]:
        """The CRM's field definitions of ``object_type`` (picklist options included).

        Connectors whose source has no schema (a CSV file) return an empty list, the default.
        """
        del object_type
        return []

    def account_id(self) -> str | None:
        """The id of the CRM account (HubSpot portal, Salesforce org) the credentials reach, as
        an opaque string; the engine keeps a store's records of one account apart from
        another's. ``None`` (the default): the connector cannot tell, nothing is checked.

        Raises as :meth:`check` does when the source cannot be reached or refuses.
        """
        return None

    def count(
        self, object_type: str, modified_from: datetime, modified_before: datetime
    ) -> int | None:
        """How many live records of ``object_type`` the CRM says were last modified in
        ``[modified_from, modified_before)``: what the completeness audit compares with the
        store. ``None`` when the CRM cannot count them (the default)."""
        del object_type, modified_from, modified_before
        return None

    def archived_ids(self, object_type: str, archived_before: datetime) -> set[str] | None:
        """The ids of the records of ``object_type`` archived (deleted) before
        ``archived_before``, for the completeness audit's check of deletions. ``None`` when the
        CRM cannot list them (the default)."""
        del object_type, archived_before
        return None

    def usage(self) -> ApiUsage:
        """The vendor API calls made since the connector was built (retries included), how
        many of them the vendor answered "too many requests" (or "allowance spent"), and the
        latest reading of the daily allowance. None by default."""
        return ApiUsage()

    def allowance(self) -> AllowanceReading | None:
        """A fresh reading of the vendor's daily API allowance, by a call that does not spend
        it (Salesforce's ``limits/``): what the service probes while the source is paused
        (:class:`~model.errors.SourcePausedError`). ``None`` (the default): the connector
        cannot probe; the service then tries a run once the probe interval has passed.

        Raises as :meth:`check` does when the source cannot be reached or refuses.
        """
        return None

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
class AllowanceReading:
    """A vendor's daily API allowance as read: requests counted in its window, the allowance,
    and the ``ceiling``: the usage at which syncd stops (the allowance less the reserve it
    keeps for people and other tools; the allowance itself when it keeps none)."""

    used: int
    limit: int
    ceiling: int

    @property
    def has_room(self) -> bool:
        """Whether syncd may go on: the usage is below the ceiling."""
        return self.used < self.ceiling


@dataclass(frozen=True, slots=True)
class ApiUsage:
    """A connector's calls to its vendor's API (for metrics): all of them, the 429s (and
    whatever else the vendor answers to say "too many", such as Salesforce's 403
    ``REQUEST_LIMIT_EXCEEDED``), the latest reading of the daily allowance, if any, and the
    seconds the thread asking spent waiting on the API (in calls, pacing and retry waits, and
    for the results of calls made by other threads on its behalf)."""

    calls: int = 0
    rate_limited: int = 0
    allowance: AllowanceReading | None = None
    waited_seconds: float = 0.0


class Writer(abc.ABC):
    """The write half of a connector: what the push step calls. Batches at the vendor's maximum.

    Every method retries transient failures itself (tenacity, honouring ``Retry-After``) and
    reports per input: a partial failure of a batch fails only its failed inputs. Auth failures
    (401/403) raise :class:`model.errors.SourceFatalError`.
    """

    @abc.abstractmethod
    def read(
        self,
        object_type: str,
        ids: Sequence[str],
        properties: Sequence[str],
        associations: Sequence[str] = (),
    ) -> dict[str, Record | None]:
        """Current values of ``ids`` (batch reads). ``None`` for an id that no longer exists.

        An id the CRM merged into another comes back as the survivor's record (its ``id``
        differs from the id asked for), so the caller can tell "merged since" from "deleted".
        ``associations`` names the object types whose associated ids each record carries (each
        present, empty when none): what a pull would store, e.g. to refresh a merge survivor.
        """

    @abc.abstractmethod
    def update(self, object_type: str, writes: Sequence[FieldWrite]) -> list[WriteResult]:
        """Write field values (batch update), one result per write, in order."""

    @abc.abstractmethod
    def create_tasks(self, writes: Sequence[TaskWrite]) -> list[WriteResult]:
        """Create tasks with their association (batch create), one result per write."""

    @abc.abstractmethod
    def find_tasks(self, object_type: str, record_ids: Sequence[str]) -> dict[str, list[Record]]:
        """The tasks associated to each record (all statuses), for idempotent task creation:
        canonical task records (``subject``, ``body``, ``status``, ``due``, ``owner_id``)."""

    @abc.abstractmethod
    def is_task_of(self, task: Record, key: str) -> bool:
        """Whether ``task`` (from :meth:`find_tasks`) is the one a :class:`TaskWrite` with
        ``key`` created: where the connector keeps the key is its own business."""

    max_merged_per_call: int = 1
    """How many records one merge call absorbs into its primary (:meth:`merge_group`): 1 where
    the CRM merges one pair a call (HubSpot), more where one request takes several
    (Salesforce: a master and up to two records)."""

    @abc.abstractmethod
    def merge(self, object_type: str, primary_id: str, merged_id: str, key: str) -> WriteResult:
        """Merge ``merged_id`` into ``primary_id``; ``remote_id`` is the survivor's id."""

    def merge_group(
        self, object_type: str, primary_id: str, merged_ids: Sequence[str], keys: Sequence[str]
    ) -> list[WriteResult]:
        """Merge up to :attr:`max_merged_per_call` records into ``primary_id``, one result per
        merged id (its ``key``), in order; ``remote_id`` is the survivor's id.

        Where one call takes several records, its outcome is reported for each of them: a
        request the CRM refuses fails every one of its records with its error, and after an
        answer that was lost, :meth:`merged_already` decides for each. The default merges one
        at a time through :meth:`merge`, each into the survivor the one before answered.
        """
        if len(merged_ids) != len(keys):
            raise ValueError("merge_group needs one key per merged id")
        if len(merged_ids) > self.max_merged_per_call:
            raise ValueError(f"at most {self.max_merged_per_call} records per merge call")
        results: list[WriteResult] = []
        into = primary_id
        for merged_id, key in zip(merged_ids, keys, strict=True):
            result = self.merge(object_type, into, merged_id, key)
            results.append(result)
            if result.ok and result.remote_id:
                into = result.remote_id
        return results

    @abc.abstractmethod
    def archive(
        self, object_type: str, ids: Sequence[str], keys: Sequence[str]
    ) -> list[WriteResult]:
        """Archive (soft-delete) records, e.g. tasks syncd created, when a run is undone."""

    def field_changes(
        self, object_type: str, fields: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], FieldChange]:
        """Who last set each ``(record id, field)`` to its current value, where the CRM keeps
        field history; pairs it says nothing about are absent. The default: it keeps none."""
        del object_type, fields
        return {}

    def merged_already(self, object_type: str, primary_id: str, merged_id: str) -> str | None:
        """The survivor's id when both ids resolve to one record (:meth:`read`), else ``None``
        (also when the check itself cannot be made): how a writer tells a merge that already
        happened from one that failed."""
        try:
            found = self.read(object_type, [primary_id, merged_id], [])
        except SourceFatalError:
            raise
        except SyncdError:
            return None
        primary, merged = found.get(primary_id), found.get(merged_id)
        if primary is not None and merged is not None and primary.id == merged.id:
            return primary.id
        return None


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
    """The source checks credentials; a refusal raises :class:`model.errors.SourceFatalError`."""
    FIELD_HISTORY = "field history"
    """:meth:`Writer.field_changes` says who set a field a person edited (where the source keeps
    that field's history), told apart from what the connector itself wrote."""


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What building a connector needs besides its settings: where relative paths start
    (the configuration file's folder), the dotted key of the source (for messages), and the
    time that retries and pacing wait on (tests pass a fake one)."""

    base_dir: Path
    key: str
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic


FieldKey = tuple[tuple[str | int, ...], str | None, str]
"""Where a connector's raw settings name a canonical field: (location in the settings, object
type or None for any, field name)."""


def _nothing(_: Mapping[str, Any]) -> Iterable[FieldKey]:
    return ()


@dataclass(frozen=True, slots=True)
class Registration(Generic[S]):
    """A connector as the configuration and the engine know it (see :mod:`connectors.registry`).

    ``name`` is the ``connector`` value of a ``[sources.NAME]`` table; ``settings`` the ONE
    pydantic model (a :class:`connectors.settings.ConnectorSettings`) that validates the rest of
    the table; ``build`` makes the connector (secrets resolved). ``renames`` are the vendor's
    names the connector maps to other canonical ones (object type → vendor → canonical) and
    ``value_renames`` the vendor values it maps ((object type, canonical field) → vendor value
    → canonical value), so a configuration still naming them is refused with the new name.
    ``retired`` are vendor names that no longer stand for a field at all, with why.
    ``field_keys`` says where the raw settings themselves name canonical fields.
    """

    name: str
    settings: type[S]
    build: Callable[[S, BuildContext], Connector]
    renames: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    value_renames: Mapping[tuple[str, str], Mapping[str, str]] = field(default_factory=dict)
    retired: Mapping[str, str] = field(default_factory=dict)
    field_keys: Callable[[Mapping[str, Any]], Iterable[FieldKey]] = _nothing


def lazy_exports(package: str, where: Mapping[str, str]) -> Callable[[str], object]:
    """A package's ``__getattr__`` (PEP 562) that imports ``where[name]``, the module defining
    ``name``, when ``name`` is first asked for: a connector package names its SDK-bound classes
    without importing the SDK until one is used (the registration needs none of them)."""

    def exported(name: str) -> object:
        if name in where:
            return getattr(import_module(where[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return exported
