"""Conversions between the project's values and the state store's rows (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from sys import intern
from typing import TYPE_CHECKING, Any, Final, TypeVar

from model.changes import Change, Merge, Snapshot, change_to_dict
from model.errors import StateError
from model.records import Record, id_key
from state.base import OWNERS

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_T = TypeVar("_T")
_V = TypeVar("_V", bound="DataclassInstance")

#: How many rows one executemany or one fetch from a server-side cursor holds: bounded memory
#: for a plan of a million changes or a snapshot of a million records.
ROW_BATCH: Final = 5000
#: Values up to this long are interned in records read back (names, codes, stages, cities).
_INTERNED_MAX: Final = 64
#: How many values one ``IN (...)`` list holds (well under SQLite's bound-parameter limit).
IN_CHUNK: Final = 500


def utc(value: datetime, what: str) -> datetime:
    """``value`` in UTC; ``StateError`` when it is naive."""
    if value.tzinfo is UTC:  # what connectors give: nothing to check or convert
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise StateError(f"{what} must be a timezone-aware datetime, got {value.isoformat()}")
    return value.astimezone(UTC)


def record_to_row(source: str, run_id: str | None, record: Record) -> dict[str, Any]:
    """The ``records`` row of a record pulled by ``run_id`` (``None``: written, not pulled)."""
    return {
        "source": source,
        "object_type": record.object_type,
        "remote_id": record.id,
        # written as JSON as they are (orjson writes a tuple as an array), copied only when
        # another mapping than a dict holds them
        "properties": _dict(record.properties),
        "associations": _dict(record.associations),
        "remote_created_at": (
            None if record.created_at is None else utc(record.created_at, "Record.created_at")
        ),
        "remote_updated_at": utc(record.updated_at, "Record.updated_at"),
        "archived": record.archived,
        "merged_into": record.merged_into,
        "merged_ids": list(record.merged_ids),
        "last_seen_run_id": run_id,
    }


def _dict(mapping: Mapping[str, _T]) -> dict[str, _T]:
    return mapping if type(mapping) is dict else dict(mapping)


def from_row(kind: type[_V], row: Mapping[Any, Any]) -> _V:
    """A value of the dataclass ``kind`` from a row with a column named after each of its
    fields (other columns ignored): tables name their columns after the values they hold."""
    return kind(**{f.name: row[f.name] for f in fields(kind)})


def row_to_record(row: Mapping[Any, Any]) -> Record:
    """Rebuild a record from its ``records`` row.

    Field names and short values are interned: a snapshot of a million records holds each name,
    and each stage, status, city or owner id, once rather than once per record (JSON decoding
    makes a new string of each); 100,000 generated contacts' properties take 90 MB, not 206.
    """
    associations = row["associations"]
    return Record(
        object_type=intern(row["object_type"]),
        id=row["remote_id"],
        properties={
            intern(k): intern(v) if isinstance(v, str) and len(v) <= _INTERNED_MAX else v
            for k, v in row["properties"].items()
        },
        updated_at=row["remote_updated_at"],
        created_at=row["remote_created_at"],
        archived=bool(row["archived"]),
        merged_into=row["merged_into"],
        merged_ids=tuple(row["merged_ids"]),
        associations={intern(k): tuple(v) for k, v in associations.items()},
    )


def newest_per_id(records: Iterable[Record]) -> list[Record]:
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


def as_stored(record: Record) -> Record:
    """``record`` as the store gives it back once stored (:func:`record_to_row`, then
    :func:`row_to_record`: times in UTC, short values interned), without a store."""
    return row_to_record(record_to_row("", None, record))


def snapshot_of(
    source: str,
    now: datetime,
    records: Iterable[Record],
    object_types: Sequence[str] | None = None,
) -> Snapshot:
    """The snapshot of ``records`` as the store reads it: the live ones (neither archived nor
    merged away) of ``object_types`` (None: all), sorted by id; the owners' records as its
    owners (and as records too when ``object_types`` names them)."""
    by_type: dict[str, list[Record]] = {t: [] for t in object_types or ()}
    owner_props: dict[str, Mapping[str, str | None]] = {}
    for record in records:
        if record.archived or record.merged_into is not None:
            continue
        if record.object_type == OWNERS:
            owner_props[record.id] = record.properties
            if object_types is None or OWNERS not in object_types:
                continue
        elif object_types is not None and record.object_type not in object_types:
            continue
        by_type.setdefault(record.object_type, []).append(record)
    return Snapshot(
        source=source,
        now=now,
        records={t: tuple(sorted(by_type[t], key=lambda r: id_key(r.id))) for t in sorted(by_type)},
        owners=dict(sorted(owner_props.items(), key=lambda kv: id_key(kv[0]))),
        ordered=True,
    )


def baseline_of(records: Iterable[Record]) -> dict[str, object]:
    """Per object type, the records (``count``), the live ones and the newest change: what
    the store's baseline summary of these records would say."""
    found: dict[str, tuple[int, int, datetime | None]] = {}
    for record in records:
        count, live, newest = found.get(record.object_type, (0, 0, None))
        updated = utc(record.updated_at, "Record.updated_at")
        found[record.object_type] = (
            count + 1,
            live + (not record.archived and record.merged_into is None),
            updated if newest is None or updated > newest else newest,
        )
    return {
        t: {"count": count, "live": live, "max_updated_at": iso(newest)}
        for t, (count, live, newest) in sorted(found.items())
    }


def change_record_id(change: Change) -> str:
    """The record a change is about: a merge's primary, otherwise its ``record_id``."""
    return change.primary_id if isinstance(change, Merge) else change.record_id


def change_row(plan_id: str, seq: int, change: Change) -> dict[str, Any]:
    """The ``plan_changes`` row of a plan's change at ``seq``."""
    return {
        "plan_id": plan_id,
        "seq": seq,
        "kind": change.kind,
        "object_type": change.object_type,
        "record_id": change_record_id(change),
        "payload": change_to_dict(change),
    }


def iso(value: datetime | None) -> str | None:
    """ISO 8601 text of an aware datetime, ``None`` for ``None``."""
    return None if value is None else value.isoformat()


def chunks(values: Sequence[_T], size: int = IN_CHUNK) -> Iterator[Sequence[_T]]:
    """Consecutive slices of at most ``size`` values (for ``IN`` lists)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def group_key(ids: Sequence[str]) -> str:
    """The stored key of a group of ids: de-duplicated, sorted by :func:`id_key`, joined by
    ``,``. ``StateError`` for an empty group or an id that is empty or contains ``,``."""
    if not ids:
        raise StateError("a review group needs at least one id")
    for remote_id in ids:
        if not remote_id or "," in remote_id:
            raise StateError(f"bad id {remote_id!r} in a review group: empty or contains ','")
    return ",".join(sorted(set(ids), key=id_key))


def group_ids(key: str) -> frozenset[str]:
    """The ids of a :func:`group_key`."""
    return frozenset(key.split(","))
