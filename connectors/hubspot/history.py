"""Who set a property's value: HubSpot's property history read as a :class:`FieldChange`.

A batch read with ``propertiesWithHistory`` answers each property's values newest first, each a
``ValueWithTimestamp``: ``value``, ``timestamp``, ``sourceType``, ``sourceId``, ``sourceLabel``,
``updatedByUserId`` (OpenAPI, crm/objects). A person in the app is ``CRM_UI`` with
``sourceId`` ``userId:<id>`` (developer changelog, "CRM property change source will show user
ID instead of owner email"); the change that set the current value is the newest entry holding
it. At most :data:`HISTORY_BATCH_MAX` records per call (notes/hubspot.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from connectors.hubspot.mapping import parse_datetime
from model.writes import FieldChange

HISTORY_BATCH_MAX: Final = 50

#: ``sourceType`` → what set the value, in words. Others are shown lower-cased.
SOURCES: Final = {
    "CRM_UI": "the HubSpot app",
    "MOBILE_IOS": "the HubSpot mobile app",
    "MOBILE_ANDROID": "the HubSpot mobile app",
    "AUTOMATION_PLATFORM": "a workflow",
    "WORKFLOWS": "a workflow",
    "INTEGRATION": "an integration",
    "API": "the API",
    "IMPORT": "an import",
    "FORM": "a form",
    "SALES": "HubSpot Sales",
}


def current_change(history: Sequence[Any], current: str | None) -> FieldChange | None:
    """The history entry that set ``current`` (the newest holding it), as a FieldChange;
    ``None`` when no readable entry holds it."""
    for raw in history:  # newest first
        if not isinstance(raw, Mapping):
            continue
        value = raw.get("value")
        if (value or "") != (current or ""):
            continue
        try:
            at = parse_datetime(raw.get("timestamp"))
        except ValueError:
            continue
        return FieldChange(value=current, at=at, user_id=_user(raw), via=_via(raw))
    return None


def _user(raw: Mapping[str, Any]) -> str | None:
    user = raw.get("updatedByUserId")
    if isinstance(user, int | str) and str(user).strip():
        return str(user)
    source_id = str(raw.get("sourceId") or "")
    if source_id.startswith("userId:"):
        return source_id.removeprefix("userId:") or None
    return None


def _via(raw: Mapping[str, Any]) -> str | None:
    source = str(raw.get("sourceType") or "")
    if not source:
        return None
    words = SOURCES.get(source, source.lower().replace("_", " "))
    label = raw.get("sourceLabel")
    return f"{words} ({label})" if isinstance(label, str) and label.strip() else words
