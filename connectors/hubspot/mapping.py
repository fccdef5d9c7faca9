"""HubSpot's wire objects to canonical records, in one place.

Canonical field names are HubSpot's property names, so each :class:`FieldMap` here is the
identity; the shape (one map per object type, both directions, round-trip tested) is what later
connectors follow. Parsing works on the decoded JSON of one object at a time so that one malformed
object is skipped with a reason instead of failing its whole page (the SDK deserializes a page
as a unit and would raise on the first bad object).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.hubspot.settings import CRM_OBJECT_TYPES, MERGED_IDS, OBJECT_TYPES, HubSpotSettings
from model.records import Record


@dataclass(frozen=True, slots=True)
class FieldMap:
    """A one-to-one map between a vendor's field names and canonical ones.

    ``to_canonical`` drops vendor fields it does not know (vendor names never pass the boundary);
    ``to_vendor`` refuses canonical fields it does not know (nothing is written by accident).
    """

    pairs: tuple[tuple[str, str], ...]
    """(vendor name, canonical name) pairs."""

    def __post_init__(self) -> None:
        vendor = [v for v, _ in self.pairs]
        canonical = [c for _, c in self.pairs]
        if len(set(vendor)) != len(vendor) or len(set(canonical)) != len(canonical):
            raise ValueError("a field map must be one-to-one")

    @classmethod
    def identity(cls, names: Iterable[str]) -> FieldMap:
        """The map of a vendor whose names are the canonical ones."""
        return cls(tuple((name, name) for name in dict.fromkeys(names)))

    @property
    def vendor_names(self) -> tuple[str, ...]:
        return tuple(v for v, _ in self.pairs)

    @property
    def canonical_names(self) -> tuple[str, ...]:
        return tuple(c for _, c in self.pairs)

    def to_canonical(self, values: Mapping[str, str | None]) -> dict[str, str | None]:
        """Vendor values to canonical ones; every mapped field present, missing ones ``None``."""
        return {canonical: values.get(vendor) for vendor, canonical in self.pairs}

    def to_vendor(self, values: Mapping[str, str | None]) -> dict[str, str | None]:
        """Canonical values to vendor ones (only the fields given)."""
        by_canonical = {c: v for v, c in self.pairs}
        unknown = sorted(set(values) - set(by_canonical))
        if unknown:
            raise KeyError(f"no vendor field for canonical field(s) {unknown}")
        return {by_canonical[name]: value for name, value in values.items()}


class MalformedObjectError(ValueError):
    """A wire object the connector cannot turn into a record; ``object_id`` may be ``"?"``."""

    def __init__(self, object_id: str, reason: str) -> None:
        super().__init__(reason)
        self.object_id = object_id
        self.reason = reason


ASSOCIATION_KEYS: Mapping[str, str] = {
    **{t: t for t in CRM_OBJECT_TYPES},
    "contact": "contacts",
    "company": "companies",
    "deal": "deals",
    "task": "tasks",
}
"""Keys HubSpot may use in an object's ``associations`` map, to canonical object types."""


def parse_datetime(value: object) -> datetime:
    """An ISO-8601 timestamp (as HubSpot writes ``updatedAt``) as an aware UTC datetime.

    A value without a zone is taken as UTC. Raises ``ValueError`` when it is not a timestamp.
    """
    if not isinstance(value, str) or not value:
        raise ValueError(f"not a timestamp: {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def split_ids(value: str | None) -> tuple[str, ...]:
    """``;``-joined ids (as in ``hs_merged_object_ids``) as a tuple, blanks dropped."""
    if not value:
        return ()
    return tuple(dict.fromkeys(part.strip() for part in value.split(";") if part.strip()))


def _string(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _object_id(raw: Mapping[str, Any]) -> str:
    value = raw.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise MalformedObjectError("?", "missing id")
    return value


def _timestamps(raw: Mapping[str, Any], object_id: str) -> tuple[datetime, datetime | None]:
    try:
        updated_at = parse_datetime(raw.get("updatedAt"))
    except ValueError:
        raise MalformedObjectError(
            object_id, f"unparseable updatedAt {raw.get('updatedAt')!r}"
        ) from None
    try:
        created_at: datetime | None = parse_datetime(raw.get("createdAt"))
    except ValueError:
        created_at = None
    return updated_at, created_at


def _associations(raw: Mapping[str, Any], targets: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {target: [] for target in targets}
    listed = raw.get("associations")
    if isinstance(listed, Mapping):
        for key, collection in listed.items():
            target = ASSOCIATION_KEYS.get(str(key))
            if target not in found or not isinstance(collection, Mapping):
                continue
            for item in collection.get("results") or ():
                if isinstance(item, Mapping) and _string(item.get("id")) is not None:
                    found[target].append(str(item["id"]))
    return {target: tuple(dict.fromkeys(ids)) for target, ids in found.items()}


def more_associated(raw: Mapping[str, Any]) -> bool:
    """Whether an object lists only the first page of some associations (``paging.next``)."""
    listed = raw.get("associations")
    if not isinstance(listed, Mapping):
        return False
    for collection in listed.values():
        paging = collection.get("paging") if isinstance(collection, Mapping) else None
        if isinstance(paging, Mapping) and paging.get("next"):
            return True
    return False


def crm_record(
    object_type: str,
    raw: Mapping[str, Any],
    fields: FieldMap,
    targets: tuple[str, ...],
) -> Record:
    """One CRM object (``SimplePublicObject[WithAssociations]`` JSON) as a record.

    ``targets`` are the associated object types expected (each gets a tuple, empty when none is
    listed). Raises :class:`MalformedObjectError` on a missing id, missing properties or an
    unparseable ``updatedAt``.
    """
    if not isinstance(raw, Mapping):
        raise MalformedObjectError("?", "not an object")
    object_id = _object_id(raw)
    updated_at, created_at = _timestamps(raw, object_id)
    wire_properties = raw.get("properties")
    if not isinstance(wire_properties, Mapping):
        raise MalformedObjectError(object_id, "missing properties")
    values = {str(k): _string(v) for k, v in wire_properties.items()}
    properties = fields.to_canonical(values)
    merged_ids = tuple(i for i in split_ids(values.get(MERGED_IDS)) if i != object_id)
    return Record(
        object_type=object_type,
        id=object_id,
        properties=properties,
        updated_at=updated_at,
        created_at=created_at,
        archived=bool(raw.get("archived", False)),
        merged_ids=merged_ids,
        associations=_associations(raw, targets),
    )


def merged_away(primary: Record) -> tuple[Record, ...]:
    """The records ``primary`` absorbed, each marked ``merged_into`` the primary.

    HubSpot never lists an absorbed record again; these tell the state store to retire them
    (their properties are empty: the store keeps their baseline).
    """
    return tuple(
        Record(
            object_type=primary.object_type,
            id=absorbed,
            properties={},
            updated_at=primary.updated_at,
            merged_into=primary.id,
        )
        for absorbed in primary.merged_ids
    )


def owner_record(raw: Mapping[str, Any], fields: FieldMap) -> Record:
    """One owner (``PublicOwner`` JSON: id, email, firstName, lastName, userId...) as a record."""
    if not isinstance(raw, Mapping):
        raise MalformedObjectError("?", "not an object")
    object_id = _object_id(raw)
    updated_at, created_at = _timestamps(raw, object_id)
    values = {str(k): _string(v) for k, v in raw.items() if not isinstance(v, Mapping | list)}
    return Record(
        object_type="owners",
        id=object_id,
        properties=fields.to_canonical(values),
        updated_at=updated_at,
        created_at=created_at,
        archived=bool(raw.get("archived", False)),
    )


def archived_at(raw: Mapping[str, Any]) -> datetime | None:
    """When an archived object was archived (``archivedAt``, else ``updatedAt``), if readable."""
    for key in ("archivedAt", "updatedAt"):
        try:
            return parse_datetime(raw.get(key))
        except ValueError:
            continue
    return None


def field_maps(settings: HubSpotSettings | None = None) -> dict[str, FieldMap]:
    """The vendor/canonical field map of every object type, for ``settings`` (default ones)."""
    settings = settings or HubSpotSettings(token="unused")
    return {t: FieldMap.identity(settings.properties_for(t)) for t in OBJECT_TYPES}
