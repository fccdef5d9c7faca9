"""Stored records and batch outcomes as HubSpot's JSON shapes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sandbox.hubspot.model import (
    DEFAULT_PROPERTIES,
    SINGULAR,
    HistoryEntry,
    StoredObject,
    always_returned,
    iso,
)
from sandbox.hubspot.store import SandboxState


def select_properties(
    state: SandboxState, record: StoredObject, requested: Sequence[str] | None
) -> dict[str, str | None]:
    """The ``properties`` of a read: the type's defaults when none are requested, else the
    requested ones plus ``hs_object_id``, the create date and the last-modified property.

    A requested property the record has no value for is answered as null when the property is
    defined, and left out when it is not (HubSpot ignores unknown names).
    """
    object_type = record.object_type
    if not requested:
        names: Sequence[str] = DEFAULT_PROPERTIES.get(object_type, always_returned(object_type))
    else:
        names = [*requested, *always_returned(object_type)]
    selected: dict[str, str | None] = {}
    for name in names:
        if name in record.properties:
            selected[name] = record.properties[name]
        elif state.catalog.get(object_type, name) is not None:
            selected[name] = None
    return selected


def all_properties(record: StoredObject) -> dict[str, str | None]:
    """Every property with a value (what writes answer)."""
    return {k: v for k, v in record.properties.items() if v is not None}


def _value_with_timestamp(entry: HistoryEntry) -> dict[str, Any]:
    body: dict[str, Any] = {
        "value": entry.value,
        "timestamp": iso(entry.timestamp),
        "sourceType": entry.source.type,
    }
    if entry.source.id is not None:
        body["sourceId"] = entry.source.id
    if entry.source.user_id is not None:
        body["updatedByUserId"] = entry.source.user_id
    return body


def render_object(
    record: StoredObject,
    properties: dict[str, str | None],
    *,
    associations: dict[str, list[str]] | None = None,
    history: dict[str, list[HistoryEntry]] | None = None,
) -> dict[str, Any]:
    """``SimplePublicObject`` (or ``...WithAssociations`` when ``associations`` is given).

    ``associations`` maps a to-type to associated ids; types without ids are left out.
    ``history`` maps a property to its values newest first (``propertiesWithHistory``, each a
    ``ValueWithTimestamp``); properties without any are left out.
    """
    body: dict[str, Any] = {
        "id": record.id,
        "properties": properties,
        "createdAt": iso(record.created_at),
        "updatedAt": iso(record.updated_at),
        "archived": record.archived,
    }
    if record.archived_at is not None:
        body["archivedAt"] = iso(record.archived_at)
    if history is not None:
        body["propertiesWithHistory"] = {
            name: [_value_with_timestamp(e) for e in entries]
            for name, entries in history.items()
            if entries
        }
    if associations:
        kind = SINGULAR.get(record.object_type, record.object_type)
        rendered = {
            to_type: {
                "results": [
                    {"id": to_id, "type": f"{kind}_to_{SINGULAR.get(to_type, to_type)}"}
                    for to_id in ids
                ]
            }
            for to_type, ids in associations.items()
            if ids
        }
        if rendered:
            body["associations"] = rendered
    return body


def batch_error(
    category: str,
    message: str,
    context: dict[str, list[str]] | None = None,
    *,
    details: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One ``StandardError`` of a 207 multi-status answer (``details``: its ``errors``)."""
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": context or {},
        "errors": list(details or []),
        "links": {},
    }


def batch_body(
    results: list[dict[str, Any]],
    errors: list[dict[str, Any]],
    started: datetime,
    completed: datetime,
) -> dict[str, Any]:
    """``BatchResponse...`` (no errors) or ``BatchResponse...WithErrors`` (207)."""
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso(started),
        "completedAt": iso(completed),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    return body
