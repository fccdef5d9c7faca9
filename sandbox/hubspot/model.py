"""HubSpot's object model as the sandbox keeps it: object types, stored records, time formats.

Everything here is pure data and pure functions; :mod:`sandbox.hubspot.store` holds the state.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

#: Canonical object types the sandbox serves, in HubSpot's URL spelling.
OBJECT_TYPES: tuple[str, ...] = ("contacts", "companies", "deals", "tasks", "notes")

#: Other spellings HubSpot accepts in ``/crm/v3/objects/{objectType}``.
TYPE_ALIASES: dict[str, str] = {
    "0-1": "contacts",
    "0-2": "companies",
    "0-3": "deals",
    "0-27": "tasks",
    "0-46": "notes",
    "contact": "contacts",
    "company": "companies",
    "deal": "deals",
    "task": "tasks",
    "note": "notes",
}

SINGULAR: dict[str, str] = {
    "contacts": "contact",
    "companies": "company",
    "deals": "deal",
    "tasks": "task",
    "notes": "note",
}

#: Object types HubSpot can merge (``POST /crm/v3/objects/{type}/merge``).
MERGEABLE: frozenset[str] = frozenset({"contacts", "companies", "deals"})

#: HubSpot-defined default association type ids, keyed by (from type, to type).
ASSOCIATION_TYPE_IDS: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("deals", "companies"): 341,
    ("companies", "deals"): 342,
    ("tasks", "contacts"): 204,
    ("contacts", "tasks"): 203,
    ("tasks", "companies"): 192,
    ("companies", "tasks"): 191,
    ("tasks", "deals"): 216,
    ("deals", "tasks"): 215,
    ("notes", "contacts"): 202,
    ("contacts", "notes"): 201,
    ("notes", "companies"): 190,
    ("companies", "notes"): 189,
    ("notes", "deals"): 214,
    ("deals", "notes"): 213,
}

#: Association type id -> (from type, to type); includes the "primary" labelled ids.
ASSOCIATION_PAIRS: dict[int, tuple[str, str]] = {
    **{type_id: pair for pair, type_id in ASSOCIATION_TYPE_IDS.items()},
    1: ("contacts", "companies"),
    2: ("companies", "contacts"),
    5: ("deals", "companies"),
    6: ("companies", "deals"),
}

#: Properties HubSpot returns when a read names none.
DEFAULT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    "tasks": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
    "notes": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
}

#: Properties free-text search (``query``) looks in.
QUERY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": ("firstname", "lastname", "email", "hs_additional_emails", "phone", "company"),
    "companies": ("name", "domain", "website", "phone"),
    "deals": ("dealname",),
    "tasks": ("hs_task_subject", "hs_task_body"),
    "notes": ("hs_note_body",),
}

#: Properties the system maintains; a write through the API is refused.
SYSTEM_PROPERTIES: frozenset[str] = frozenset(
    {"hs_object_id", "lastmodifieddate", "hs_lastmodifieddate", "hs_merged_object_ids"}
)


def canonical_type(name: str) -> str | None:
    """Map a URL object type (``contacts``, ``0-1``, ``contact``) to a canonical one, else None."""
    if name in OBJECT_TYPES:
        return name
    return TYPE_ALIASES.get(name.lower())


def last_modified_property(object_type: str) -> str:
    """``lastmodifieddate`` on contacts, ``hs_lastmodifieddate`` on every other type."""
    return "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"


def always_returned(object_type: str) -> tuple[str, ...]:
    """Properties every read returns besides the requested ones."""
    return ("hs_object_id", "createdate", last_modified_property(object_type))


def iso(moment: datetime) -> str:
    """HubSpot's timestamp format: UTC, millisecond precision, ``Z`` suffix."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch (search filter values for dates)."""
    return int(moment.timestamp() * 1000)


@functools.lru_cache(maxsize=262_144)
def parse_instant(value: str) -> int | None:
    """Read epoch milliseconds, an ISO-8601 datetime or an ISO date as epoch milliseconds.

    A naive datetime or a date is taken as UTC. Returns None when ``value`` is none of these.
    """
    text = value.strip()
    if not text:
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return epoch_ms(datetime.combine(day, time(), tzinfo=UTC))
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return epoch_ms(moment)


def from_epoch_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


@dataclass(slots=True)
class StoredObject:
    """One CRM record as the sandbox stores it.

    ``properties`` always holds ``hs_object_id``, ``createdate`` and the type's last-modified
    property, kept equal to ``id``, ``created_at`` and ``updated_at``. Values are strings or
    None (empty).
    """

    object_type: str
    id: str
    properties: dict[str, str | None]
    created_at: datetime
    updated_at: datetime
    archived: bool = False
    archived_at: datetime | None = None
    merged_ids: list[str] = field(default_factory=list)

    def touch(self, moment: datetime) -> None:
        """Set the last-modified time (``updatedAt`` and the last-modified property)."""
        self.updated_at = moment
        self.properties[last_modified_property(self.object_type)] = iso(moment)

    def stamp(self) -> None:
        """Write the system properties from the record's fields."""
        self.properties["hs_object_id"] = self.id
        self.properties["createdate"] = iso(self.created_at)
        self.properties[last_modified_property(self.object_type)] = iso(self.updated_at)
        if self.merged_ids:
            self.properties["hs_merged_object_ids"] = ";".join(self.merged_ids)
