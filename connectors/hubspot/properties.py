"""HubSpot property definitions (``GET /crm/v3/properties/{type}``) as :class:`PropertyDef`.

An enumeration's options become ``(value, label)`` pairs in display order (HubSpot's
``displayOrder``, ties and missing orders kept in the answer's order); options marked
``hidden`` are still listed and also named in ``hidden_options`` (legacy values records may hold
but a person can no longer pick). ``multi`` is true for a multiple-checkbox field
(``fieldType: "checkbox"``), whose values are ``;``-joined.

Only the fields of the connector's field map come out, under their canonical names, and the
options of a field whose values the map converts (a task's status) as canonical values; a malformed
definition (no name, options that are not objects with a string value) is skipped, not fatal:
a field without its definition is simply not checked by the policies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from connectors.hubspot.mapping import FieldMap
from model.records import PropertyDef

MULTI_FIELD_TYPE = "checkbox"
"""HubSpot's ``fieldType`` of a multi-select enumeration."""


def _options(raw: object) -> tuple[tuple[tuple[str, str], ...], frozenset[str]] | None:
    """(value, label) pairs in display order and the hidden values; ``None`` if malformed."""
    if raw is None:
        return (), frozenset()
    if not isinstance(raw, list):
        return None
    ranked: list[tuple[float, int, str, str, bool]] = []
    for index, option in enumerate(raw):
        if not isinstance(option, Mapping) or not isinstance(option.get("value"), str):
            return None
        value = option["value"]
        label = option.get("label")
        order = option.get("displayOrder")
        rank = float(order) if isinstance(order, int | float) and order >= 0 else float("inf")
        hidden = option.get("hidden") is True
        ranked.append((rank, index, value, label if isinstance(label, str) else value, hidden))
    ranked.sort(key=lambda item: (item[0], item[1]))
    pairs = tuple(dict.fromkeys((value, label) for _, _, value, label, _ in ranked))
    hidden_values = frozenset(value for _, _, value, _, hidden in ranked if hidden)
    return pairs, hidden_values


def property_def(raw: Mapping[str, Any], canonical_name: str) -> PropertyDef | None:
    """One HubSpot ``Property`` object as a :class:`PropertyDef` named ``canonical_name``;
    ``None`` when it is malformed."""
    kind = raw.get("type")
    options = _options(raw.get("options"))
    if not isinstance(kind, str) or options is None:
        return None
    label = raw.get("label")
    pairs, hidden = options
    return PropertyDef(
        name=canonical_name,
        label=label if isinstance(label, str) else canonical_name,
        type=kind,
        options=pairs,
        multi=kind == "enumeration" and raw.get("fieldType") == MULTI_FIELD_TYPE,
        hidden_options=hidden,
    )


def property_defs(body: Mapping[str, Any], fields: FieldMap) -> list[PropertyDef]:
    """The definitions in a ``CollectionResponseProperty`` answer of the fields in ``fields``,
    in the field map's order."""
    results = body.get("results")
    by_vendor: dict[str, Mapping[str, Any]] = {}
    for raw in results if isinstance(results, list) else []:
        if isinstance(raw, Mapping) and isinstance(raw.get("name"), str):
            by_vendor.setdefault(raw["name"], raw)
    found: list[PropertyDef] = []
    for vendor, canonical in fields.pairs:
        raw = by_vendor.get(vendor)
        definition = property_def(raw, canonical) if raw is not None else None
        convert = fields.values.get(canonical)
        if definition is not None and convert is not None:
            labels: dict[str, str] = {}
            for value, label in definition.options:
                labels.setdefault(convert.to_canonical(value), label)
            definition = replace(
                definition, options=tuple(labels.items()), hidden_options=frozenset()
            )
        if definition is not None:
            found.append(definition)
    return found
