"""HubSpot connector settings and the facts about HubSpot's object model the connector relies on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator

from connectors.settings import (
    ConnectorSettings,
    RetryConfig,
    resolve_secret,
    secret_reference,
    unset_reference,
)
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

UNIQUE_FIELDS: Mapping[str, Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {"contacts": MappingProxyType({"email": ("email", "additional_emails")})}
)
"""Fields HubSpot keeps unique, by canonical name: a contact's e-mail may be no other live
contact's e-mail or additional e-mail (a write answers 409 ``CONFLICT`` "Contact already exists.
Existing ID: …")."""

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
            "hs_createdate",  # tasks have no createdate (shared/notes/hubspot.md)
            "hs_lastmodifieddate",
            "hs_object_id",
        ),
        "owners": ("email", "firstName", "lastName", "userId"),
    }
)
"""HubSpot properties requested per object type (HubSpot's names; see
:mod:`connectors.hubspot.mapping` for their canonical names)."""

LIST_PAGE_MAX = 100
SEARCH_PER_SECOND_MAX = 5
"""HubSpot's search limit: requests per second per account (``shared/notes/hubspot.md``)."""
SEARCH_PAGE_MAX = 200
ASSOCIATION_BATCH_MAX = 1000
"""Ids per associations batch read (v3 and v4): "may not exceed 1000 IDs per request body",
HubSpot developer changelog, "Bug Fix: Batch Read Limit for HubSpot Associations API"
(effective 10 February 2025; https://developers.hubspot.com/changelog/
bug-fix-batch-read-limit-for-hubspot-associations-api)."""
IN_FLIGHT_MAX = 10
"""Requests in flight at most: the SDK's connection pool holds ``cpu_count() * 5`` connections
per host (10 on two cores); more would wait for a connection anyway."""


DECIDED_FIELDS: frozenset[str] = frozenset(
    {"lead_open", "is_closed", "is_won", "stage_label", "stage_order", "pipeline_label"}
)
"""Canonical fields the connector computes; no custom property may be mapped onto them."""


class HubSpotSettings(ConnectorSettings):
    """A HubSpot account, reached through ``hubspot-api-client`` (``connector = "hubspot"``).

    ``token`` is a ``${ENV_VAR}`` reference to the private-app access token (or ``token_file``
    the path of a file holding it); the connector is built with the token resolved
    (:meth:`with_token`), which never shows in a ``repr``. ``lookback_seconds`` is how far
    before the stored cursor an incremental pull starts reading, to cover HubSpot's search lag
    and clock skew. ``properties`` overrides the
    HubSpot properties requested per object type (a property the field map does not know passes
    through under its HubSpot name); ``fields`` names custom properties canonically (object type
    → HubSpot name → canonical name; they are requested too). ``open_lead_statuses`` are the
    ``hs_lead_status`` values of an open lead (canonical ``lead_open``).
    ``search_requests_per_second`` paces search under HubSpot's own limit for it (5 per second
    per account, shared by every client of the account). ``requests_in_flight`` is how many
    requests a pull keeps in flight at once (object types pulled side by side, association
    reads of several types at once), all paced by the rate limit: 1 pulls one request at a
    time. ``archived_every_hours`` is how often
    an incremental pull reads the listing of archived records, which HubSpot cannot filter and
    so is read in full each time (0: on every run).
    """

    base_url: str = Field(
        default="https://api.hubapi.com",
        description="API base URL: https://api.hubapi.com, or a sandbox.",
    )
    token: str | None = Field(default=None, description='"${ENV_VAR}" reference to the token')
    token_file: Path | None = Field(default=None, description="A file holding only the token.")
    object_types: tuple[str, ...] = OBJECT_TYPES
    lookback_seconds: int = Field(default=300, ge=0)
    request_timeout_seconds: float = Field(default=60.0, gt=0)
    page_size_list: int = Field(default=LIST_PAGE_MAX, ge=1, le=LIST_PAGE_MAX)
    page_size_search: int = Field(default=SEARCH_PAGE_MAX, ge=1, le=SEARCH_PAGE_MAX)
    properties: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    fields: dict[str, dict[str, str]] = Field(default_factory=dict)
    open_lead_statuses: tuple[str, ...] = ("NEW", "OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT")
    search_requests_per_second: int = Field(default=4, ge=1, le=SEARCH_PER_SECOND_MAX)
    requests_in_flight: int = Field(default=4, ge=1, le=IN_FLIGHT_MAX)
    archived_every_hours: float = Field(default=24.0, ge=0)
    retry: RetryConfig = RetryConfig()

    _token: SecretStr | None = PrivateAttr(default=None)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("expected an http(s) URL such as https://api.hubapi.com")
        return value.rstrip("/")

    @field_validator("token")
    @classmethod
    def _no_plain_secret(cls, value: str | None) -> str | None:
        return secret_reference(value, "${HUBSPOT_TOKEN}")

    @field_validator("object_types")
    @classmethod
    def _types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [t for t in value if t not in OBJECT_TYPES]
        if unknown:
            raise ValueError(
                f"unknown object type(s) {unknown}; expected some of {list(OBJECT_TYPES)}"
            )
        return value

    @field_validator("properties", "fields")
    @classmethod
    def _known_types(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(OBJECT_TYPES))
        if unknown:
            raise ValueError(f"unknown object type(s) {unknown}; expected some of {OBJECT_TYPES}")
        return value

    @field_validator("fields")
    @classmethod
    def _one_to_one(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for object_type, names in value.items():
            if len(set(names.values())) != len(names):
                raise ValueError(f"{object_type}: two HubSpot properties map to one field")
            decided = sorted(set(names.values()) & DECIDED_FIELDS)
            if decided:
                raise ValueError(f"{object_type}: {decided} are decided by the connector")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> HubSpotSettings:
        if self.token is None and self.token_file is None:
            raise ValueError('a token is required: token = "${HUBSPOT_TOKEN}" or token_file')
        return self

    def pulled_types(self) -> tuple[str, ...]:
        return self.object_types

    def unset_secrets(self) -> list[str]:
        return unset_reference("token", self.token)

    @property
    def lookback(self) -> timedelta:
        return timedelta(seconds=self.lookback_seconds)

    @property
    def archived_every(self) -> timedelta:
        return timedelta(hours=self.archived_every_hours)

    @property
    def request_timeout(self) -> float:
        return self.request_timeout_seconds

    def resolve_token(self, base_dir: Path, key: str) -> SecretStr:
        """Read the token from the environment or its file; ``ConfigError`` names ``key``."""
        return resolve_secret(self.token, self.token_file, base_dir, f"{key}.token")

    def with_token(self, token: str | SecretStr) -> HubSpotSettings:
        """These settings carrying the resolved token the connector sends."""
        copy = self.model_copy()
        copy._token = token if isinstance(token, SecretStr) else SecretStr(token)
        return copy

    def access_token(self) -> str:
        """The resolved token (:meth:`with_token`); ``ConfigError`` when there is none."""
        if self._token is None or not self._token.get_secret_value():
            raise ConfigError("the HubSpot token was not resolved: build the connector with it")
        return self._token.get_secret_value()
