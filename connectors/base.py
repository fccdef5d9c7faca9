"""The connector interface: one vendor's API as a stream of canonical records.

A connector knows its vendor and nothing about policies. Field names that cross this boundary are
canonical (HubSpot's contact property names: ``firstname``, ``email``, ``hubspot_owner_id``...);
object types are canonical (``contacts``, ``companies``, ``deals``, ``tasks``, ``owners``).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
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

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""
