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
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from model.records import Cursor, PropertyDef, PullBatch, Record
from model.writes import FieldWrite, TaskWrite, WriteResult

S = TypeVar("S")


class Connector(abc.ABC):
    """A vendor's CRM seen as canonical records.

    Subclasses declare ``name`` (the connector name used in configuration) and
    ``object_types`` (the canonical object types they can pull).
    """

    name: ClassVar[str]
    object_types: ClassVar[tuple[str, ...]]

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

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""


class Writer(abc.ABC):
    """The write half of a connector: what the push step calls. Batches at the vendor's maximum.

    Every method retries transient failures itself (tenacity, honouring ``Retry-After``) and
    reports per input: a partial failure of a batch fails only its failed inputs. Auth failures
    (401/403) raise :class:`model.errors.SourceFatalError`.
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
        """The tasks associated to each record (all statuses), for idempotent task creation:
        canonical task records (``subject``, ``body``, ``status``, ``due``, ``owner_id``)."""

    @abc.abstractmethod
    def is_task_of(self, task: Record, key: str) -> bool:
        """Whether ``task`` (from :meth:`find_tasks`) is the one a :class:`TaskWrite` with
        ``key`` created: where the connector keeps the key is its own business."""

    @abc.abstractmethod
    def merge(self, object_type: str, primary_id: str, merged_id: str, key: str) -> WriteResult:
        """Merge ``merged_id`` into ``primary_id``; ``remote_id`` is the survivor's id."""

    @abc.abstractmethod
    def archive(
        self, object_type: str, ids: Sequence[str], keys: Sequence[str]
    ) -> list[WriteResult]:
        """Archive (soft-delete) records, e.g. tasks syncd created, when a run is undone."""


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
