"""Property definitions (``GET /crm/v3/properties/{type}``) and the checks HubSpot runs on writes.

Definitions come from the data generator's ``sandbox.generator.schema.PROPERTIES`` when that module
exists, merged over a minimal built-in set for the canonical data model, so the system
properties (``hs_object_id``, the create date, last-modified) are always defined.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox.hubspot.model import (
    OBJECT_TYPES,
    SINGULAR,
    SYSTEM_PROPERTIES,
    from_epoch_ms,
    iso,
    parse_instant,
)

# name, type, fieldType, options (enumerations only)
_Def = tuple[str, str, str, tuple[str, ...]]

_TEXT = ("string", "text", ())
_PHONE = ("string", "phonenumber", ())
_DATETIME = ("datetime", "date", ())
_OWNER = ("enumeration", "select", ())


def _defs(*rows: tuple[str, tuple[str, str, tuple[str, ...]]]) -> list[_Def]:
    return [(name, kind, field_type, options) for name, (kind, field_type, options) in rows]


def _enum(*values: str, field_type: str = "select") -> tuple[str, str, tuple[str, ...]]:
    return ("enumeration", field_type, values)


_SYSTEM = (
    ("hs_object_id", ("number", "number", ())),
    ("createdate", _DATETIME),
    ("hs_merged_object_ids", ("enumeration", "checkbox", ())),
)
#: Tasks have ``hs_createdate`` and no ``createdate`` (``shared/notes/hubspot.md``).
_TASK_SYSTEM = (
    ("hs_object_id", ("number", "number", ())),
    ("hs_createdate", _DATETIME),
)

_BUILTIN: dict[str, list[_Def]] = {
    "contacts": _defs(
        *_SYSTEM,
        ("lastmodifieddate", _DATETIME),
        ("firstname", _TEXT),
        ("lastname", _TEXT),
        ("email", _TEXT),
        ("hs_additional_emails", ("enumeration", "checkbox", ())),
        ("phone", _PHONE),
        ("mobilephone", _PHONE),
        ("company", _TEXT),
        ("jobtitle", _TEXT),
        ("address", _TEXT),
        ("city", _TEXT),
        ("state", _TEXT),
        ("zip", _TEXT),
        ("country", _TEXT),
        ("website", _TEXT),
        (
            "lifecyclestage",
            _enum(
                "subscriber",
                "lead",
                "marketingqualifiedlead",
                "salesqualifiedlead",
                "opportunity",
                "customer",
                "other",
                field_type="radio",
            ),
        ),
        (
            "hs_lead_status",
            _enum(
                "NEW",
                "OPEN",
                "IN_PROGRESS",
                "OPEN_DEAL",
                "UNQUALIFIED",
                "ATTEMPTED_TO_CONTACT",
                "CONNECTED",
                "BAD_TIMING",
                field_type="radio",
            ),
        ),
        ("hubspot_owner_id", _OWNER),
        ("tags", ("enumeration", "checkbox", ())),
        ("notes_last_updated", _DATETIME),
    ),
    "companies": _defs(
        *_SYSTEM,
        ("hs_lastmodifieddate", _DATETIME),
        ("name", _TEXT),
        ("domain", _TEXT),
        ("website", _TEXT),
        ("phone", _PHONE),
        ("address", _TEXT),
        ("city", _TEXT),
        ("state", _TEXT),
        ("zip", _TEXT),
        ("country", _TEXT),
        ("industry", _TEXT),
        ("hubspot_owner_id", _OWNER),
    ),
    "deals": _defs(
        *_SYSTEM,
        ("hs_lastmodifieddate", _DATETIME),
        ("dealname", _TEXT),
        ("amount", ("number", "number", ())),
        (
            "dealstage",
            _enum(
                "appointmentscheduled",
                "qualifiedtobuy",
                "presentationscheduled",
                "decisionmakerboughtin",
                "contractsent",
                "closedwon",
                "closedlost",
                field_type="radio",
            ),
        ),
        ("pipeline", _enum("default")),
        ("closedate", _DATETIME),
        ("hubspot_owner_id", _OWNER),
    ),
    "tasks": _defs(
        *_TASK_SYSTEM,
        ("hs_lastmodifieddate", _DATETIME),
        ("hs_task_subject", _TEXT),
        ("hs_task_body", ("string", "html", ())),
        ("hs_task_status", _enum("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED")),
        ("hs_task_priority", _enum("NONE", "LOW", "MEDIUM", "HIGH")),
        ("hs_task_type", _enum("TODO", "CALL", "EMAIL")),
        ("hs_timestamp", _DATETIME),
        ("hubspot_owner_id", _OWNER),
    ),
    "notes": _defs(
        *_SYSTEM,
        ("hs_lastmodifieddate", _DATETIME),
        ("hs_note_body", ("string", "html", ())),
        ("hs_timestamp", _DATETIME),
        ("hubspot_owner_id", _OWNER),
    ),
}

#: Keys of HubSpot's ``Property`` schema; anything else in a definition is dropped.
PROPERTY_KEYS: frozenset[str] = frozenset(
    {
        "archived",
        "archivedAt",
        "calculated",
        "calculationFormula",
        "createdAt",
        "createdUserId",
        "currencyPropertyName",
        "dataSensitivity",
        "dateDisplayHint",
        "description",
        "displayOrder",
        "externalOptions",
        "fieldType",
        "formField",
        "groupName",
        "hasUniqueValue",
        "hidden",
        "hubspotDefined",
        "label",
        "modificationMetadata",
        "name",
        "numberDisplayHint",
        "options",
        "referencedObjectType",
        "sensitiveDataCategories",
        "showCurrencySymbol",
        "textDisplayHint",
        "type",
        "updatedAt",
        "updatedUserId",
    }
)
_OPTION_KEYS = frozenset({"label", "value", "hidden", "displayOrder", "description"})


def _builtin_definition(object_type: str, row: _Def, order: int) -> dict[str, Any]:
    name, kind, field_type, options = row
    return {
        "name": name,
        "label": name.replace("_", " ").capitalize(),
        "type": kind,
        "fieldType": field_type,
        "groupName": f"{SINGULAR[object_type]}information",
        "description": "",
        "displayOrder": order,
        "options": [
            {"label": value.replace("_", " ").capitalize(), "value": value} for value in options
        ],
        "externalOptions": name == "hubspot_owner_id",
    }


def normalize_definition(
    object_type: str, raw: Mapping[str, Any], order: int, created: datetime
) -> dict[str, Any]:
    """Shape a property definition the way ``GET /crm/v3/properties`` answers it.

    Keeps the keys of HubSpot's ``Property`` schema, fills the required ones and the option
    fields (``hidden``, ``displayOrder``), and marks system properties read-only.
    """
    name = str(raw["name"])
    kind = str(raw.get("type", "string"))
    definition: dict[str, Any] = {k: v for k, v in raw.items() if k in PROPERTY_KEYS}
    definition.setdefault("label", name)
    definition["type"] = kind
    definition.setdefault("fieldType", "text")
    definition.setdefault("groupName", f"{SINGULAR.get(object_type, object_type)}information")
    definition.setdefault("description", "")
    definition.setdefault("displayOrder", order)
    definition.setdefault("hidden", False)
    definition.setdefault("calculated", False)
    definition.setdefault("externalOptions", False)
    definition.setdefault("hasUniqueValue", name in {"hs_object_id"})
    definition.setdefault("formField", False)
    definition.setdefault("hubspotDefined", True)
    definition.setdefault("createdAt", iso(created))
    definition.setdefault("updatedAt", iso(created))
    definition.setdefault("archived", False)
    read_only = name in SYSTEM_PROPERTIES
    definition.setdefault(
        "modificationMetadata",
        {"archivable": not read_only, "readOnlyDefinition": True, "readOnlyValue": read_only},
    )
    definition["options"] = [
        {
            **{k: v for k, v in option.items() if k in _OPTION_KEYS},
            "label": str(option.get("label", option["value"])),
            "value": str(option["value"]),
            "hidden": bool(option.get("hidden", False)),
            "displayOrder": int(option.get("displayOrder", index)),
        }
        for index, option in enumerate(raw.get("options") or ())
    ]
    return definition


def _generator_properties() -> Mapping[str, Sequence[Mapping[str, Any]]] | None:
    try:
        module = importlib.import_module("sandbox.generator.schema")
    except ImportError:
        return None
    found = getattr(module, "PROPERTIES", None)
    return found if isinstance(found, Mapping) else None


@dataclass(frozen=True, slots=True)
class WriteProblem:
    """Why one property value of a write is refused (HubSpot's ``errors[]`` entry)."""

    name: str
    code: str
    message: str


class PropertyCatalog:
    """The property definitions of every object type, and the write checks derived from them.

    ``definitions`` maps an object type to HubSpot-shaped definitions. When ``definitions`` is
    None, the generator's schema (if present) is merged over the built-in defaults.
    """

    def __init__(
        self,
        definitions: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        *,
        created: datetime | None = None,
    ) -> None:
        stamp = created or datetime(2020, 1, 1, tzinfo=UTC)
        merged: dict[str, dict[str, Mapping[str, Any]]] = {}
        for object_type in OBJECT_TYPES:
            rows = _BUILTIN[object_type]
            merged[object_type] = {
                row[0]: _builtin_definition(object_type, row, i) for i, row in enumerate(rows)
            }
        extra = definitions if definitions is not None else _generator_properties()
        for object_type, defs in (extra or {}).items():
            target = merged.setdefault(object_type, {})
            for raw in defs:
                target[str(raw["name"])] = raw
        self._by_type: dict[str, dict[str, dict[str, Any]]] = {
            object_type: {
                name: normalize_definition(object_type, raw, i, stamp)
                for i, (name, raw) in enumerate(defs.items())
            }
            for object_type, defs in merged.items()
        }

    def definitions(self, object_type: str) -> list[dict[str, Any]]:
        """All definitions of ``object_type`` (empty for an unknown type)."""
        return list(self._by_type.get(object_type, {}).values())

    def get(self, object_type: str, name: str) -> dict[str, Any] | None:
        return self._by_type.get(object_type, {}).get(name)

    def set_options(self, object_type: str, name: str, options: Sequence[tuple[str, str]]) -> None:
        """Replace the options of an enumeration property with ``(value, label)`` pairs (how
        ``dealstage`` and ``pipeline`` follow the portal's pipelines). No-op for a property the
        catalog does not define."""
        definition = self.get(object_type, name)
        if definition is None:
            return
        definition["options"] = [
            {"label": label, "value": value, "hidden": False, "displayOrder": n}
            for n, (value, label) in enumerate(options)
        ]

    def kind(self, object_type: str, name: str) -> str:
        """The property's ``type`` (``string``, ``number``, ``datetime``, ``date``, ...)."""
        definition = self.get(object_type, name)
        return str(definition["type"]) if definition else "string"

    def check_write(
        self, object_type: str, values: Mapping[str, object]
    ) -> tuple[dict[str, str | None], list[WriteProblem]]:
        """Validate and normalize the property values of a create or update.

        Returns the values as stored (strings, None for cleared) and the problems; a write with
        any problem must be refused as a whole (HTTP 400, ``VALIDATION_ERROR``).
        """
        stored: dict[str, str | None] = {}
        problems: list[WriteProblem] = []
        for name, raw in values.items():
            definition = self.get(object_type, name)
            if definition is None:
                problems.append(
                    WriteProblem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                )
                continue
            if definition["modificationMetadata"].get("readOnlyValue"):
                problems.append(
                    WriteProblem(
                        name, "READ_ONLY_VALUE", f'Property "{name}" is a read only property'
                    )
                )
                continue
            value, problem = _normalize_value(definition, raw)
            if problem is not None:
                problems.append(WriteProblem(name, problem[0], problem[1]))
            else:
                stored[name] = value
        return stored, problems


def _as_text(raw: object) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def _normalize_value(
    definition: Mapping[str, Any], raw: object
) -> tuple[str | None, tuple[str, str] | None]:
    name = definition["name"]
    text = _as_text(raw)
    if text is None or text == "":
        return None, None
    kind = definition["type"]
    if name == "email" and not _EMAIL.fullmatch(text):
        return None, ("INVALID_EMAIL", f"Email address {text} is invalid")
    if kind == "number":
        try:
            float(text)
        except ValueError:
            return None, ("INVALID_LONG", f"{text!r} is not a valid number for {name}")
        return text, None
    if kind in {"datetime", "date"}:
        instant = parse_instant(text)
        if instant is None:
            return None, ("INVALID_DATE", f"{text!r} is not a valid date for {name}")
        moment = from_epoch_ms(instant)
        return (iso(moment) if kind == "datetime" else moment.date().isoformat()), None
    if kind == "bool":
        if text.lower() not in {"true", "false"}:
            return None, ("INVALID_BOOLEAN", f"{text!r} is not a valid boolean for {name}")
        return text.lower(), None
    if kind == "enumeration" and definition["options"] and not definition["externalOptions"]:
        allowed = {option["value"] for option in definition["options"]}
        parts = text.split(";") if definition["fieldType"] == "checkbox" else [text]
        for part in parts:
            if part not in allowed:
                return None, (
                    "INVALID_OPTION",
                    f"{part!r} was not one of the allowed options: {sorted(allowed)}",
                )
    return text, None
