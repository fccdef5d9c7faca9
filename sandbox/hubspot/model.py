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
    "tasks": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
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
    {
        "hs_object_id",
        "lastmodifieddate",
        "hs_lastmodifieddate",
        "hs_merged_object_ids",
        "hs_createdate",
    }
)

#: Most merged identities one record may hold; a merge past it answers 414 (HubSpot's merge
#: guide; ``shared/notes/hubspot.md``).
MAX_MERGED_IDENTITIES = 250


def canonical_type(name: str) -> str | None:
    """Map a URL object type (``contacts``, ``0-1``, ``contact``) to a canonical one, else None."""
    if name in OBJECT_TYPES:
        return name
    return TYPE_ALIASES.get(name.lower())


def last_modified_property(object_type: str) -> str:
    """``lastmodifieddate`` on contacts, ``hs_lastmodifieddate`` on every other type."""
    return "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"


def created_property(object_type: str) -> str:
    """``hs_createdate`` on tasks (they have no ``createdate``: a search filter on it is refused,
    ``shared/notes/hubspot.md``), ``createdate`` on every other type."""
    return "hs_createdate" if object_type == "tasks" else "createdate"


def always_returned(object_type: str) -> tuple[str, ...]:
    """Properties every read returns besides the requested ones."""
    return ("hs_object_id", created_property(object_type), last_modified_property(object_type))


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


@dataclass(frozen=True, slots=True)
class ChangeSource:
    """Who or what set a property value, as HubSpot's property history tells it
    (``ValueWithTimestamp``: ``sourceType``, ``sourceId``, ``updatedByUserId``).

    A person in the app is ``CRM_UI`` with ``sourceId`` ``userId:<id>`` (HubSpot developer
    changelog, "CRM property change source will show user ID instead of owner email"); a
    workflow is ``AUTOMATION_PLATFORM``; a write through the API with a private app's token is
    ``INTEGRATION``.
    """

    type: str
    id: str | None = None
    user_id: int | None = None

    @classmethod
    def user(cls, user_id: int) -> ChangeSource:
        """A person (HubSpot user ``user_id``) editing the record in the app."""
        return cls("CRM_UI", f"userId:{user_id}", user_id)


#: What the sandbox answers as the source of a write made through its HTTP API. Invented:
#: HubSpot does not document what a private app's writes carry in ``sourceId``.
API_WRITE = ChangeSource("INTEGRATION", "sandbox-private-app")
#: A person in the app whose user the test does not name (``SandboxState.update``'s default).
APP_EDIT = ChangeSource("CRM_UI")
#: The source of values a record was seeded with. Invented: the sandbox does not know where
#: generated data came from; an import is how such data usually arrives.
SEEDED = ChangeSource("IMPORT")


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One value a property held: when it was set and by whom (oldest first in a history)."""

    value: str
    timestamp: datetime
    source: ChangeSource


@dataclass(slots=True)
class StoredObject:
    """One CRM record as the sandbox stores it.

    ``properties`` always holds ``hs_object_id``, the type's create-date property
    (:func:`created_property`) and its last-modified property, kept equal to ``id``,
    ``created_at`` and ``updated_at``. Values are strings or None (empty).
    """

    object_type: str
    id: str
    properties: dict[str, str | None]
    created_at: datetime
    updated_at: datetime
    archived: bool = False
    archived_at: datetime | None = None
    merged_ids: list[str] = field(default_factory=list)
    #: Property name → the values it held, oldest first, for the properties written since the
    #: record was seeded (``propertiesWithHistory``; see :meth:`history_of`).
    history: dict[str, list[HistoryEntry]] = field(default_factory=dict)

    def record_change(
        self, name: str, value: str | None, moment: datetime, source: ChangeSource
    ) -> None:
        """Add one value to ``name``'s history (the seeded value first, the first time)."""
        entries = self.history.get(name)
        if entries is None:
            entries = self.history[name] = []
            seeded = self.properties.get(name)
            if seeded is not None:
                entries.append(HistoryEntry(seeded, self.created_at, SEEDED))
        entries.append(HistoryEntry(value or "", moment, source))

    def history_of(self, name: str) -> list[HistoryEntry]:
        """The values ``name`` held, newest first as HubSpot lists them; a property never
        written since seeding has its seeded value only, set when the record was created."""
        entries = self.history.get(name)
        if entries is None:
            value = self.properties.get(name)
            return [] if value is None else [HistoryEntry(value, self.created_at, SEEDED)]
        return entries[::-1]

    def touch(self, moment: datetime) -> None:
        """Set the last-modified time (``updatedAt`` and the last-modified property)."""
        self.updated_at = moment
        self.properties[last_modified_property(self.object_type)] = iso(moment)

    def stamp(self) -> None:
        """Write the system properties from the record's fields."""
        self.properties["hs_object_id"] = self.id
        self.properties[created_property(self.object_type)] = iso(self.created_at)
        self.properties[last_modified_property(self.object_type)] = iso(self.updated_at)
        if self.merged_ids:
            self.properties["hs_merged_object_ids"] = ";".join(self.merged_ids)
