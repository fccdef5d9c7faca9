"""HubSpot connector settings and the facts about HubSpot's object model the connector relies on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from connectors.retry import RetrySettings
from model.errors import ConfigError

OBJECT_TYPES: tuple[str, ...] = ("contacts", "companies", "deals", "tasks", "owners")
"""Canonical object types this connector pulls."""

CRM_OBJECT_TYPES: tuple[str, ...] = ("contacts", "companies", "deals", "tasks")
"""The object types read through ``/crm/v3/objects`` (owners have their own API)."""

LAST_MODIFIED: Mapping[str, str] = MappingProxyType(
    {
        "contacts": "lastmodifieddate",
        "companies": "hs_lastmodifieddate",
        "deals": "hs_lastmodifieddate",
        "tasks": "hs_lastmodifieddate",
    }
)
"""The last-modified property per object type (contacts differ from the rest)."""

OBJECT_ID = "hs_object_id"
MERGED_IDS = "hs_merged_object_ids"

MERGEABLE: frozenset[str] = frozenset({"contacts", "companies", "deals"})
"""Object types HubSpot can merge (a primary lists absorbed ids in ``hs_merged_object_ids``)."""

ASSOCIATION_TARGETS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "contacts": ("companies",),
        "companies": (),
        "deals": ("contacts", "companies"),
        "tasks": ("contacts", "companies", "deals"),
    }
)
"""Associated object types read with each object type."""

DEFAULT_PROPERTIES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "contacts": (
            "firstname",
            "lastname",
            "email",
            "hs_additional_emails",
            "phone",
            "mobilephone",
            "company",
            "jobtitle",
            "address",
            "city",
            "state",
            "zip",
            "country",
            "website",
            "lifecyclestage",
            "hs_lead_status",
            "hubspot_owner_id",
            "tags",
            "notes_last_updated",
            "createdate",
            "lastmodifieddate",
            "hs_object_id",
            "hs_merged_object_ids",
        ),
        "companies": (
            "name",
            "domain",
            "website",
            "phone",
            "address",
            "city",
            "state",
            "zip",
            "country",
            "industry",
            "hubspot_owner_id",
            "createdate",
            "hs_lastmodifieddate",
            "hs_object_id",
            "hs_merged_object_ids",
        ),
        "deals": (
            "dealname",
            "amount",
            "dealstage",
            "pipeline",
            "closedate",
            "hubspot_owner_id",
            "createdate",
            "hs_lastmodifieddate",
            "hs_object_id",
        ),
        "tasks": (
            "hs_task_subject",
            "hs_task_body",
            "hs_task_status",
            "hs_task_priority",
            "hs_task_type",
            "hs_timestamp",
            "hubspot_owner_id",
            "createdate",
            "hs_lastmodifieddate",
            "hs_object_id",
        ),
        "owners": ("email", "firstName", "lastName", "userId"),
    }
)
"""HubSpot properties requested per object type (HubSpot's names; see
:mod:`connectors.hubspot.mapping` for their canonical names)."""

LIST_PAGE_MAX = 100
SEARCH_PAGE_MAX = 200
ASSOCIATION_BATCH_MAX = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class HubSpotSettings:
    """One HubSpot account as the connector sees it.

    ``token`` is the private-app access token, already resolved from its secret reference (it is
    kept out of ``repr``). ``lookback`` is how far before the stored cursor an incremental pull
    starts reading, to cover HubSpot's search lag and clock skew. ``search_window_cap`` is how
    many results one search may page through (10,000 at HubSpot) before the connector restarts
    the window. ``properties`` overrides the HubSpot properties requested per object type (a
    property the field map does not know passes through under its HubSpot name); ``fields``
    names custom properties canonically (object type → HubSpot name → canonical name; they
    are requested too). ``open_lead_statuses`` are the ``hs_lead_status`` values of an open
    lead (canonical ``lead_open``).
    """

    token: str = field(repr=False)
    base_url: str = "https://api.hubapi.com"
    object_types: tuple[str, ...] = OBJECT_TYPES
    lookback: timedelta = timedelta(minutes=5)
    page_size_list: int = LIST_PAGE_MAX
    page_size_search: int = SEARCH_PAGE_MAX
    search_window_cap: int = 10_000
    properties: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_PROPERTIES)
    fields: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    open_lead_statuses: tuple[str, ...] = ("NEW", "OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT")
    retry: RetrySettings = field(default_factory=RetrySettings)
    request_timeout: float = 60.0

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not self.token:
            problems.append("token: must not be empty")
        unknown = sorted(set(self.object_types) - set(OBJECT_TYPES))
        if unknown:
            problems.append(f"object_types: unknown {unknown}; expected some of {OBJECT_TYPES}")
        unknown_props = sorted(set(self.properties) - set(OBJECT_TYPES))
        if unknown_props:
            problems.append(f"properties: unknown object types {unknown_props}")
        unknown_fields = sorted(set(self.fields) - set(OBJECT_TYPES))
        if unknown_fields:
            problems.append(f"fields: unknown object types {unknown_fields}")
        for object_type, names in self.fields.items():
            if len(set(names.values())) != len(names):
                problems.append(f"fields.{object_type}: two properties map to one field")
        if not 1 <= self.page_size_list <= LIST_PAGE_MAX:
            problems.append(f"page_size_list: expected 1..{LIST_PAGE_MAX}")
        if not 1 <= self.page_size_search <= SEARCH_PAGE_MAX:
            problems.append(f"page_size_search: expected 1..{SEARCH_PAGE_MAX}")
        if self.search_window_cap < self.page_size_search:
            problems.append("search_window_cap: must be at least page_size_search")
        if self.lookback < timedelta(0):
            problems.append("lookback: must not be negative")
        if self.request_timeout <= 0:
            problems.append("request_timeout: must be positive")
        if problems:
            raise ConfigError("invalid HubSpot settings: " + "; ".join(problems))
