"""HubSpot's wire objects to canonical records and back, in one place.

Each object type has one :class:`FieldMap`: HubSpot's property names to canonical ones
(:mod:`model.fields`) on every pull, and back on every write. Plain names map to themselves
(``firstname``, ``email``, ``dealname``); what HubSpot brands is renamed (:data:`RENAMES`:
``hubspot_owner_id`` → ``owner_id``, ``hs_lead_status`` → ``lead_status``, ``dealstage`` →
``stage``, ``hs_task_status`` → ``status``...). Values with a meaning policies rely on are
decided here: a task's ``hs_task_status`` becomes ``completed`` (``COMPLETED``) or ``open``
(every other status; ``open`` is written as ``NOT_STARTED``); ``lead_open`` is ``true`` when
``hs_lead_status`` is one of the source's ``open_lead_statuses``; a deal's ``stage`` (the stage
id) and ``pipeline`` (its id) are HubSpot's, and what the stage means comes from the pipelines'
metadata (:mod:`connectors.hubspot.pipelines`): ``stage_label``, ``stage_order``,
``pipeline_label``, ``is_closed`` and ``is_won`` (closed with probability 1.0), never from the
stage id's spelling. A stage the pipelines do not know leaves those empty (a deal without a
stage is not closed).
Properties the connector needs itself (``hs_object_id``) are requested but never exposed.
A property the map does not know (one configured in ``properties``) passes through under its
HubSpot name; the ``fields`` setting names custom properties canonically.

Parsing works on the decoded JSON of one object at a time so that one malformed object is
skipped with a reason instead of failing its whole page (the SDK deserializes a page as a unit
and would raise on the first bad object).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from connectors.hubspot.pipelines import Stage, StageBook
from connectors.hubspot.settings import (
    CRM_OBJECT_TYPES,
    DEFAULT_PROPERTIES,
    LAST_MODIFIED,
    MERGEABLE,
    MERGED_IDS,
    OBJECT_ID,
    OBJECT_TYPES,
    HubSpotSettings,
)
from model.fields import FALSE, TASK_COMPLETED, TASK_OPEN, TRUE
from model.records import Record

RENAMES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "contacts": {
            "hs_additional_emails": "additional_emails",
            "lifecyclestage": "lifecycle_stage",
            "hs_lead_status": "lead_status",
            "hubspot_owner_id": "owner_id",
            "notes_last_updated": "last_activity_at",
            "createdate": "created_at",
            "lastmodifieddate": "updated_at",
            MERGED_IDS: "merged_ids",
        },
        "companies": {
            "hubspot_owner_id": "owner_id",
            "createdate": "created_at",
            "hs_lastmodifieddate": "updated_at",
            MERGED_IDS: "merged_ids",
        },
        "deals": {
            "dealstage": "stage",
            "hubspot_owner_id": "owner_id",
            "createdate": "created_at",
            "hs_lastmodifieddate": "updated_at",
            MERGED_IDS: "merged_ids",
        },
        "tasks": {
            "hs_task_subject": "subject",
            "hs_task_body": "body",
            "hs_task_status": "status",
            "hs_task_priority": "priority",
            "hs_task_type": "task_type",
            "hs_timestamp": "due",
            "hubspot_owner_id": "owner_id",
            "hs_createdate": "created_at",
            "hs_lastmodifieddate": "updated_at",
        },
        "owners": {"firstName": "firstname", "lastName": "lastname", "userId": "user_id"},
    }
)
"""HubSpot property names that differ from the canonical ones, per object type (vendor →
canonical); every other property keeps its name."""

INTERNAL: frozenset[str] = frozenset({OBJECT_ID})
"""Properties the connector requests for itself and never exposes."""

TASK_DONE = "COMPLETED"
TASK_NEW = "NOT_STARTED"
"""HubSpot's ``hs_task_status`` of a done task, and the one an open task is written with."""
TASK_STATUSES = (TASK_NEW, "IN_PROGRESS", "WAITING", TASK_DONE, "DEFERRED")
"""Every ``hs_task_status`` HubSpot defines."""


@dataclass(frozen=True, slots=True)
class ValueMap:
    """How one field's values differ between HubSpot and canonical (both ways)."""

    to_canonical: Callable[[str], str]
    to_vendor: Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Derived:
    """A read-only canonical field the connector computes from other fields' values.

    ``bases`` are the canonical names of the fields it is computed from (their HubSpot
    properties are whatever the map says); the first is required (without it the field is not
    derived), the others are used when mapped. ``compute`` takes the canonical values.
    """

    name: str
    bases: tuple[str, ...]
    compute: Callable[[Mapping[str, str | None]], str | None]


class ReadOnlyFieldError(KeyError):
    """A write named fields the connector decides (``lead_open``) or HubSpot keeps to itself."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(f"read-only field(s) {sorted(names)}: decided by the connector")
        self.names = tuple(names)


def _task_status(value: str) -> str:
    return TASK_COMPLETED if value.strip().upper() == TASK_DONE else TASK_OPEN


def _task_status_vendor(value: str) -> str:
    if value == TASK_COMPLETED:
        return TASK_DONE
    return TASK_NEW if value == TASK_OPEN else value


TASK_STATUS = ValueMap(_task_status, _task_status_vendor)


def _flag(value: bool) -> str:
    return TRUE if value else FALSE


def lead_open(open_statuses: Iterable[str]) -> Derived:
    """``lead_open`` from ``lead_status``: true for one of ``open_statuses`` (any case)."""
    wanted = frozenset(s.strip().casefold() for s in open_statuses)

    def compute(values: Mapping[str, str | None]) -> str:
        status = values.get("lead_status")
        return _flag(status is not None and status.strip().casefold() in wanted)

    return Derived("lead_open", ("lead_status",), compute)


def deal_stage(stages: StageBook) -> tuple[Derived, ...]:
    """What a deal's stage means, from ``stages``: ``stage_label``, ``stage_order``,
    ``pipeline_label``, ``is_closed``, ``is_won``. A deal without a stage is not closed nor
    won; a stage the book does not know leaves every one of them empty."""

    def of(values: Mapping[str, str | None]) -> Stage | None:
        return stages.stage(values.get("pipeline"), values.get("stage"))

    def flag(test: Callable[[Stage], bool]) -> Callable[[Mapping[str, str | None]], str | None]:
        def compute(values: Mapping[str, str | None]) -> str | None:
            if not (values.get("stage") or "").strip():
                return FALSE
            found = of(values)
            return None if found is None else _flag(test(found))

        return compute

    def text(read: Callable[[Stage], str]) -> Callable[[Mapping[str, str | None]], str | None]:
        def compute(values: Mapping[str, str | None]) -> str | None:
            found = of(values)
            return None if found is None else read(found)

        return compute

    bases = ("stage", "pipeline")
    return (
        Derived("stage_label", bases, text(lambda s: s.label)),
        Derived("stage_order", bases, text(lambda s: str(s.order))),
        Derived("pipeline_label", bases, text(lambda s: s.pipeline_label)),
        Derived("is_closed", bases, flag(lambda s: s.closed)),
        Derived("is_won", bases, flag(lambda s: s.won)),
    )


@dataclass(frozen=True, slots=True)
class FieldMap:
    """A one-to-one map between HubSpot's property names and canonical field names, with the
    values that differ and the fields derived from others (see the module docstring).

    ``to_canonical`` drops vendor fields it does not know (vendor names never pass the boundary
    unless the map passes them through); ``to_vendor`` writes a canonical field it does not
    know under the same name (a custom property) and refuses derived ones.
    """

    pairs: tuple[tuple[str, str], ...]
    """(vendor name, canonical name) pairs."""
    values: Mapping[str, ValueMap] = field(default_factory=dict)
    """Value conversions by canonical name."""
    derived: tuple[Derived, ...] = ()
    internal: tuple[str, ...] = ()
    """Vendor properties requested for the connector itself, never exposed."""

    def __post_init__(self) -> None:
        vendor = [v for v, _ in self.pairs]
        canonical = [c for _, c in self.pairs] + [d.name for d in self.derived]
        if len(set(vendor)) != len(vendor) or len(set(canonical)) != len(canonical):
            raise ValueError("a field map must be one-to-one")

    @classmethod
    def identity(cls, names: Iterable[str]) -> FieldMap:
        """The map of a vendor whose names are the canonical ones."""
        return cls(tuple((name, name) for name in dict.fromkeys(names)))

    @property
    def vendor_names(self) -> tuple[str, ...]:
        """Every property to request: the mapped ones and the internal ones."""
        return tuple(dict.fromkeys([*(v for v, _ in self.pairs), *self.internal]))

    @property
    def canonical_names(self) -> tuple[str, ...]:
        """Every canonical field the map delivers (derived ones included)."""
        return tuple(c for _, c in self.pairs) + tuple(d.name for d in self.derived)

    @property
    def writable_names(self) -> tuple[str, ...]:
        """The canonical fields a write may name through this map."""
        return tuple(c for _, c in self.pairs)

    def vendor_name(self, canonical: str) -> str:
        """The vendor name of a canonical field (itself when unmapped)."""
        return next((v for v, c in self.pairs if c == canonical), canonical)

    def canonical_name(self, vendor: str) -> str:
        """The canonical name of a vendor field (itself when unmapped)."""
        return next((c for v, c in self.pairs if v == vendor), vendor)

    def renames(self) -> dict[str, str]:
        """Vendor names that differ from their canonical name (vendor → canonical)."""
        return {v: c for v, c in self.pairs if v != c}

    def subset(self, canonical: Iterable[str]) -> FieldMap:
        """The map restricted to ``canonical`` fields (those derived come with their base),
        without the internal ones; a name the map does not know passes through unchanged."""
        wanted = list(dict.fromkeys(canonical))
        derived = tuple(d for d in self.derived if d.name in wanted)
        bases = {base for d in derived for base in d.bases}
        known = {c for _, c in self.pairs}
        pairs = [(v, c) for v, c in self.pairs if c in wanted or c in bases]
        derived_names = {d.name for d in self.derived}
        pairs += [(n, n) for n in wanted if n not in known and n not in derived_names]
        return FieldMap(tuple(pairs), self.values, derived)

    def to_canonical(self, values: Mapping[str, str | None]) -> dict[str, str | None]:
        """Vendor values to canonical ones; every mapped field present, missing ones ``None``."""
        found: dict[str, str | None] = {}
        for vendor, canonical in self.pairs:
            value = values.get(vendor)
            convert = self.values.get(canonical)
            found[canonical] = convert.to_canonical(value) if convert and value else value
        mapped = dict(found)
        for derived in self.derived:
            found[derived.name] = derived.compute(mapped)
        return found

    def to_vendor(self, values: Mapping[str, str | None]) -> dict[str, str | None]:
        """Canonical values to vendor ones (only the fields given). Raises
        :class:`ReadOnlyFieldError` for a derived field, ``KeyError`` for a canonical name that
        is also another field's vendor name (it would write the wrong property)."""
        derived = [name for name in values if name in {d.name for d in self.derived}]
        if derived:
            raise ReadOnlyFieldError(derived)
        by_canonical = {c: v for v, c in self.pairs}
        shadowed = sorted(
            name for name in values if name not in by_canonical and name in dict(self.pairs)
        )
        if shadowed:
            raise KeyError(f"{shadowed} are HubSpot names of other fields; write canonical names")
        out: dict[str, str | None] = {}
        for name, value in values.items():
            convert = self.values.get(name)
            out[by_canonical.get(name, name)] = (
                convert.to_vendor(value) if convert and value else value
            )
        return out


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


def field_map(
    object_type: str, settings: HubSpotSettings | None = None, stages: StageBook | None = None
) -> FieldMap:
    """The field map of ``object_type`` for ``settings`` (default ones): the configured
    ``properties`` (HubSpot's names) plus what the connector needs, renamed by :data:`RENAMES`
    and the source's ``fields``, with the task status values and the derived fields (a deal's
    from ``stages``, the portal's pipelines; none known without it)."""
    settings = settings or HubSpotSettings.model_construct()
    requested = settings.properties.get(object_type, DEFAULT_PROPERTIES[object_type])
    custom = dict(settings.fields.get(object_type, {}))
    needed: list[str] = []
    if object_type in LAST_MODIFIED:
        needed.append(LAST_MODIFIED[object_type])
    if object_type in MERGEABLE:
        needed.append(MERGED_IDS)
    renames = RENAMES.get(object_type, {})
    pairs = [
        (vendor, custom.get(vendor) or renames.get(vendor, vendor))
        for vendor in dict.fromkeys([*requested, *needed, *custom])
        if vendor not in INTERNAL
    ]
    # a custom property mapped onto a canonical name takes it over from HubSpot's own
    claimed = {custom[v] for v, _ in pairs if v in custom}
    pairs = [(v, c) for v, c in pairs if v in custom or c not in claimed]
    values = {"status": TASK_STATUS} if object_type == "tasks" else {}
    derived: list[Derived] = []
    if object_type == "contacts":
        derived.append(lead_open(settings.open_lead_statuses))
    elif object_type == "deals":
        derived += deal_stage(stages or StageBook())
    mapped = {c for _, c in pairs}
    internal = () if object_type == "owners" else tuple(INTERNAL)
    kept = tuple(d for d in derived if d.bases[0] in mapped)
    return FieldMap(tuple(pairs), values, kept, internal)


def field_maps(
    settings: HubSpotSettings | None = None, stages: StageBook | None = None
) -> dict[str, FieldMap]:
    """The vendor/canonical field map of every object type, for ``settings`` (default ones)
    and the portal's deal ``stages``."""
    return {t: field_map(t, settings, stages) for t in OBJECT_TYPES}
