"""Records as every layer sees them: canonical object types and field names, vendor-neutral.

A connector turns its vendor's objects into these; the state store keeps them; policies read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


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
    labels; ``multi`` is true for multi-select fields (values ``;``-joined). ``writable`` is
    false for a field the CRM delivers but takes no write of through this record (a field of a
    related record, a formula): no plan writes it.
    """

    name: str
    label: str
    type: str
    options: tuple[tuple[str, str], ...] = ()
    multi: bool = False
    hidden_options: frozenset[str] = frozenset()
    writable: bool = True


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where an incremental pull of one object type resumes.

    ``updated_at`` is the last-modified time up to which everything has been read;
    ``None`` means no pull has completed yet (a full pull follows). ``deletions_read_at`` is,
    for a connector that reads deletions (archived records) apart and less often, the start of
    the run that last read them in full (``None``: never, or not tracked); like
    ``updated_at`` it never moves backwards.
    """

    updated_at: datetime | None = None
    deletions_read_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PullBatch:
    """A page of pulled records, with the cursor that is safe to commit once they are stored.

    The engine stores ``records`` and ``cursor`` in one transaction. ``skipped`` lists records
    the connector could not read (id and why), so the run can report them and go on.
    ``live_ids``, when set, is every id of ``object_type`` live in the source now, listed when
    the source can no longer list its deletions since the cursor (Salesforce's recycle bin is
    purged after 15 days): a record stored live whose id is not there is gone, and the engine
    stores it archived. Batches after it may bring records created since the listing.
    """

    object_type: str
    records: tuple[Record, ...]
    cursor: Cursor
    skipped: tuple[tuple[str, str], ...] = ()
    live_ids: frozenset[str] | None = None


def id_key(record_id: str) -> tuple[int, int, str]:
    """Sort key for record ids: numeric ids in numeric order, then any others as text."""
    if record_id.isascii() and record_id.isdigit():  # '²' is a digit, and no number
        return (0, int(record_id), record_id)
    return (1, 0, record_id)
