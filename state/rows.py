"""Conversions between the project's values and the state store's rows (pure functions)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.base import Record
from policies.base import Change, Merge
from syncd.errors import StateError


def utc(value: datetime, what: str) -> datetime:
    """``value`` in UTC; ``StateError`` when it is naive."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise StateError(f"{what} must be a timezone-aware datetime, got {value.isoformat()}")
    return value.astimezone(UTC)


def id_sort_key(remote_id: str) -> tuple[int, int, str]:
    """Numeric ids by value, before other ids in text order ("2" < "10" < "a")."""
    if remote_id.isdigit():
        return (0, int(remote_id), remote_id)
    return (1, 0, remote_id)


def record_to_row(source: str, run_id: str, record: Record) -> dict[str, Any]:
    """The ``records`` row of a pulled record."""
    return {
        "source": source,
        "object_type": record.object_type,
        "remote_id": record.id,
        "properties": dict(record.properties),
        "associations": {k: list(v) for k, v in record.associations.items()},
        "remote_created_at": (
            None if record.created_at is None else utc(record.created_at, "Record.created_at")
        ),
        "remote_updated_at": utc(record.updated_at, "Record.updated_at"),
        "archived": record.archived,
        "merged_into": record.merged_into,
        "merged_ids": list(record.merged_ids),
        "last_seen_run_id": run_id,
    }


def row_to_record(row: Mapping[Any, Any]) -> Record:
    """Rebuild a record from its ``records`` row."""
    associations = row["associations"]
    return Record(
        object_type=row["object_type"],
        id=row["remote_id"],
        properties=dict(row["properties"]),
        updated_at=row["remote_updated_at"],
        created_at=row["remote_created_at"],
        archived=bool(row["archived"]),
        merged_into=row["merged_into"],
        merged_ids=tuple(row["merged_ids"]),
        associations={k: tuple(v) for k, v in associations.items()},
    )


def newest_per_id(records: tuple[Record, ...]) -> list[Record]:
    """One version per id: the newest ``updated_at``, the later on a tie; first-seen order."""
    kept: dict[tuple[str, str], Record] = {}
    for record in records:
        key = (record.object_type, record.id)
        old = kept.get(key)
        if old is None or utc(record.updated_at, "Record.updated_at") >= utc(
            old.updated_at, "Record.updated_at"
        ):
            kept[key] = record
    return list(kept.values())


def change_record_id(change: Change) -> str:
    """The record a change is about: a merge's primary, otherwise its ``record_id``."""
    return change.primary_id if isinstance(change, Merge) else change.record_id


def iso(value: datetime | None) -> str | None:
    """ISO 8601 text of an aware datetime, ``None`` for ``None``."""
    return None if value is None else value.isoformat()
