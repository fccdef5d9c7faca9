"""A configuration written for the previous vocabulary is refused, naming the new one.

Field names became canonical (:mod:`model.fields`): a configuration that still names a field or a
value by the vendor's name would silently match nothing, so it is refused with the key and the
new name (``policies.follow_up.rules[0].when[0].field: '<the vendor's name>' was renamed;
use 'lead_status'``). The renames are the registered connectors' own (each registration lists the
vendor names it maps to other canonical ones, and the values it maps), never a copy kept here.

Policy keys that carried a vendor's values, or that rules replaced, are refused the same way,
naming what replaces them (:data:`REMOVED`).

Where a configuration names fields: ``sources.NAME.apply.protected_fields``; in ``[policies]``
(and each ``[sources.NAME.policies]``) normalize's ``fields``, dedupe's
``survivorship_exclude`` and ``field_survivorship``, follow-up rules (condition fields and
values, and the ``{field}`` placeholders of their templates), tags' ``fields`` and
``synonyms``, required ``fields`` (with ``by`` and its stage values), retire's
``activity_fields`` and ``tag_field``; and wherever a connector's registration says its own
settings do (``field_keys``: the CSV connector's ``columns``).
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.base import Registration
from model.fields import FIELDS

Loc = tuple[str | int, ...]


def _lead_statuses(connectors: Sequence[str]) -> str:
    where = ", ".join(connectors) or "the connector"
    return (
        "removed; whether a contact is an open lead is its CRM's to say (canonical field "
        f"lead_open): set open_lead_statuses on the source ({where})"
    )


_CLOSED = (
    "removed; a deal is closed when its CRM says so (canonical field is_closed); use a rule on "
    "`stage` to pick stages"
)
_DONE = "removed; a task is open unless its status is 'completed', as its connector decides"
_RULES = (
    "removed; write [[policies.follow_up.rules]] (without rules: open leads, lead_open = "
    "'true', and open deals, is_closed not 'true', as before)"
)
REMOVED: Mapping[tuple[str, str], str] = {
    ("follow_up", "open_lead_statuses"): "",  # filled with the connectors that take it
    ("follow_up", "closed_deal_stages"): _CLOSED,
    ("follow_up", "completed_task_statuses"): _DONE,
    ("follow_up", "object_types"): _RULES,
    ("follow_up", "contact_subject"): _RULES,
    ("follow_up", "contact_body"): _RULES,
    ("follow_up", "deal_subject"): _RULES,
    ("follow_up", "deal_body"): _RULES,
    ("retire", "open_lead_statuses"): "",
    ("retire", "closed_deal_stages"): _CLOSED,
    ("retire", "completed_task_statuses"): _DONE,
}
"""Policy keys refused with what replaces them."""


def dotted(loc: Sequence[str | int]) -> str:
    """``policies.follow_up.rules[0].when[1].field``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True, slots=True)
class _Field:
    loc: Loc
    object_type: str | None
    name: str


@dataclass(frozen=True, slots=True)
class _Value:
    loc: Loc
    object_type: str | None
    field: str
    value: str


def _items(node: Any) -> Iterator[tuple[int, Any]]:
    return enumerate(node) if isinstance(node, list) else iter(())


def _keys(node: Any) -> Iterator[tuple[str, Any]]:
    return ((str(k), v) for k, v in node.items()) if isinstance(node, Mapping) else iter(())


def _names(node: Any, loc: Loc, object_type: str | None) -> Iterator[_Field]:
    """The names of a list of field names."""
    for i, name in _items(node):
        if isinstance(name, str):
            yield _Field((*loc, i), object_type, name)


def _placeholders(template: Any, loc: Loc, object_type: str | None) -> Iterator[_Field]:
    if not isinstance(template, str):
        return
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return  # not a format string: the policy's own validation says so
    for _, name, _, _ in parsed:
        if name:
            yield _Field(loc, object_type, name.split(".")[0].split("[")[0])


def _rules(rules: Any, loc: Loc) -> Iterator[_Field | _Value]:
    for i, rule in _items(rules):
        if not isinstance(rule, Mapping):
            continue
        kind = rule.get("object_type")
        object_type = kind if isinstance(kind, str) else None
        here = (*loc, i)
        for j, condition in _items(rule.get("when")):
            name = condition.get("field") if isinstance(condition, Mapping) else None
            if not isinstance(name, str):
                continue
            yield _Field((*here, "when", j, "field"), object_type, name)
            for operator in ("equals", "contains"):
                value = condition.get(operator)
                if isinstance(value, str):
                    yield _Value((*here, "when", j, operator), object_type, name, value)
            for operator in ("in", "not_in"):
                for k, value in _items(condition.get(operator)):
                    if isinstance(value, str):
                        yield _Value((*here, "when", j, operator, k), object_type, name, value)
        for key in ("reason", "subject", "body"):
            yield from _placeholders(rule.get(key), (*here, key), object_type)


def _required(fields: Any, loc: Loc) -> Iterator[_Field | _Value]:
    for object_type, rule in _keys(fields):
        here = (*loc, object_type)
        if isinstance(rule, list):
            yield from _names(rule, here, object_type)
            continue
        if not isinstance(rule, Mapping):
            continue
        yield from _names(rule.get("always"), (*here, "always"), object_type)
        by = rule.get("by")
        if isinstance(by, str):
            yield _Field((*here, "by"), object_type, by)
        for stage, names in _keys(rule.get("stages")):
            if isinstance(by, str):
                yield _Value((*here, "stages", stage), object_type, by, stage)
            yield from _names(names, (*here, "stages", stage), object_type)


def _policies(policies: Any, loc: Loc) -> Iterator[_Field | _Value]:
    """Every place a ``[policies]`` table names a field or a field's value."""
    if not isinstance(policies, Mapping):
        return

    def section(name: str) -> Mapping[str, Any]:
        found = policies.get(name)
        return found if isinstance(found, Mapping) else {}

    for object_type, fields in _keys(section("normalize").get("fields")):
        for name, _ in _keys(fields):
            yield _Field((*loc, "normalize", "fields", object_type, name), object_type, name)
    dedupe = section("dedupe")
    yield from _names(
        dedupe.get("survivorship_exclude"), (*loc, "dedupe", "survivorship_exclude"), None
    )
    for name, _ in _keys(dedupe.get("field_survivorship")):
        yield _Field((*loc, "dedupe", "field_survivorship", name), None, name)
    yield from _rules(section("follow_up").get("rules"), (*loc, "follow_up", "rules"))
    tags = section("tags")
    yield from _names(tags.get("fields"), (*loc, "tags", "fields"), None)
    for name, _ in _keys(tags.get("synonyms")):
        yield _Field((*loc, "tags", "synonyms", name), None, name)
    yield from _required(section("required").get("fields"), (*loc, "required", "fields"))
    retire = section("retire")
    yield from _names(retire.get("activity_fields"), (*loc, "retire", "activity_fields"), None)
    tag_field = retire.get("tag_field")
    if isinstance(tag_field, str):
        yield _Field((*loc, "retire", "tag_field"), None, tag_field)


class Vocabulary:
    """The renames of the registered connectors, and the canonical names they lead to."""

    def __init__(self, registrations: Mapping[str, Registration[Any]]) -> None:
        self.renames: dict[str, dict[str, set[str]]] = {}
        self.values: dict[tuple[str, str], dict[str, set[str]]] = {}
        self.retired: dict[str, str] = {}
        self.registrations = registrations
        for found in registrations.values():
            for object_type, names in found.renames.items():
                for old, new in names.items():
                    self.renames.setdefault(object_type, {}).setdefault(old, set()).add(new)
            for key, values in found.value_renames.items():
                for old, new in values.items():
                    self.values.setdefault(key, {}).setdefault(old, set()).add(new)
            self.retired.update(found.retired)
        self.canonical = {t: {f.name for f in specs} for t, specs in FIELDS.items()}

    def _types(self, object_type: str | None) -> list[str]:
        if object_type in self.canonical:
            return [object_type]
        return sorted(set(self.canonical) | set(self.renames))

    def new_names(self, name: str, object_type: str | None) -> list[str]:
        """The canonical names that replaced ``name`` (none when it is not an old name)."""
        types = self._types(object_type)
        if any(name in self.canonical.get(t, ()) for t in types):
            return []
        return sorted({new for t in types for new in self.renames.get(t, {}).get(name, ())})

    def field_problem(self, mention: _Field) -> str | None:
        key = dotted(mention.loc)
        if mention.name in self.retired and not self.new_names(mention.name, None):
            why = self.retired[mention.name]
            return f"{key}: {mention.name!r} is no longer a field ({why})"
        new = self.new_names(mention.name, mention.object_type)
        if not new:
            return None
        return f"{key}: {mention.name!r} was renamed; use " + " or ".join(repr(n) for n in new)

    def value_problem(self, mention: _Value) -> str | None:
        field = mention.field
        canonical = [*self.new_names(field, mention.object_type), field]
        for object_type in self._types(mention.object_type):
            for name in canonical:
                new = self.values.get((object_type, name), {}).get(mention.value, set())
                changed = sorted(v for v in new if v.casefold() != mention.value.casefold())
                if changed:
                    return (
                        f"{dotted(mention.loc)}: value {mention.value!r} of {name} was renamed; "
                        "use " + " or ".join(repr(v) for v in changed)
                    )
        return None

    def removed(self, section: str, key: str) -> str | None:
        """Why ``[policies.SECTION] KEY`` is refused, or ``None``."""
        why = REMOVED.get((section, key))
        if why == "":
            takers = [
                name
                for name, found in self.registrations.items()
                if "open_lead_statuses" in getattr(found.settings, "model_fields", {})
            ]
            return _lead_statuses(takers)
        return why

    def screen(self, data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The configuration without its removed keys, and every refusal (removed keys, old
        field names and values), each with its dotted key."""
        problems: list[str] = []
        cleaned = dict(data)
        cleaned["policies"] = self._screen_policies(data.get("policies"), ("policies",), problems)
        if "policies" not in data:
            del cleaned["policies"]
        mentions: list[_Field | _Value] = list(_policies(data.get("policies"), ("policies",)))
        sources = data.get("sources")
        if isinstance(sources, Mapping):
            screened = {}
            for name, raw in sources.items():
                if not isinstance(raw, Mapping):
                    screened[name] = raw
                    continue
                here: Loc = ("sources", str(name))
                source = dict(raw)
                if "policies" in raw:
                    source["policies"] = self._screen_policies(
                        raw["policies"], (*here, "policies"), problems
                    )
                    mentions += _policies(raw["policies"], (*here, "policies"))
                apply = raw.get("apply")
                if isinstance(apply, Mapping):
                    protected = apply.get("protected_fields")
                    mentions += _names(protected, (*here, "apply", "protected_fields"), None)
                connector = raw.get("connector")
                found = self.registrations.get(connector) if isinstance(connector, str) else None
                if found is not None:
                    mentions += (
                        _Field((*here, *loc), object_type, field)
                        for loc, object_type, field in found.field_keys(raw)
                    )
                screened[name] = source
            cleaned["sources"] = screened
        for mention in mentions:
            problem = (
                self.field_problem(mention)
                if isinstance(mention, _Field)
                else self.value_problem(mention)
            )
            if problem is not None:
                problems.append(problem)
        return cleaned, problems

    def _screen_policies(self, policies: Any, loc: Loc, problems: list[str]) -> Any:
        if not isinstance(policies, Mapping):
            return policies
        cleaned = dict(policies)
        for section, table in policies.items():
            if not isinstance(table, Mapping):
                continue
            kept = {}
            for key, value in table.items():
                why = self.removed(str(section), str(key))
                if why is None:
                    kept[key] = value
                else:
                    problems.append(f"{dotted((*loc, str(section), str(key)))}: {why}")
            cleaned[section] = kept
        return cleaned
