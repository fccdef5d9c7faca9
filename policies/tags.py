"""The tags policy: picklist and tag values brought to the CRM's canonical options.

For every enumeration field of the configured object types (``snapshot.schema``; all of them,
or the configured ``fields``), the allowed values are the field's *visible* options, less those
the ``synonyms`` setting names as a variant of another value. A value outside that set (a
hidden, legacy option; a label typed as the value; another spelling) is mapped, in this order:

1. by the ``synonyms`` setting (field → canonical value → variants), matched case-, space- and
   punctuation-insensitively (``'N.Y.'``, ``'n y'`` and ``'NY'`` are one key);
2. to the one allowed option whose label or value it equals in that insensitive form.

A value that maps gives an :class:`~policies.base.Update` whose reason names the synonym or
option; one that does not (or maps to more than one option) gives a :class:`~policies.base.Flag`.
Multi-select fields (``PropertyDef.multi``, values ``;``-joined) are order-free sets: each item
is mapped on its own, repeats are dropped, mapped values come out in the options' display order
(unmapped items after them, as found, and flagged); a value whose items differ from the result
only in order gives no change. A field named in ``synonyms`` that is not an enumeration of the
schema (a text field, or a source without a schema) gets the synonym mapping only, never a flag.

:func:`label_usage` reports the options that no record, or only a handful of records, use.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from model.changes import Change, Flag, Snapshot, Update
from model.records import PropertyDef, Record
from policies.base import Policy
from policies.normalizers import compact

NAME = "tags"
SEPARATOR = ";"


class TagsSettings(BaseModel):
    """Settings of the tags policy (``[policies.tags]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="Run this policy.")
    object_types: tuple[str, ...] = Field(
        default=("contacts", "companies", "deals"),
        description="Object types whose picklist and tag fields are checked.",
    )
    fields: tuple[str, ...] | None = Field(
        default=None,
        description="Field names to check (in every object type that has them); unset checks "
        "every enumeration field of the CRM's schema.",
    )
    synonyms: dict[str, dict[str, list[str]]] = Field(
        default_factory=dict,
        description="Per field, canonical value → variants that mean it, matched ignoring "
        'case, spaces and punctuation: {"tags": {"follow_up_needed": ["follow up", '
        '"Follow-up needed"]}}. A variant that is a visible option stops being canonical.',
    )
    flag_unmapped: bool = Field(
        default=True,
        description="Flag values outside a field's options that cannot be mapped to one.",
    )
    rare_label_max: int = Field(
        default=3,
        ge=0,
        description="label_usage reports options used by at most this many records "
        "(0: only the unused ones).",
    )

    @model_validator(mode="after")
    def _variants_are_unambiguous(self) -> TagsSettings:
        problems: list[str] = []
        for field_name, table in self.synonyms.items():
            seen: dict[str, str] = {}
            for canonical, variants in table.items():
                for variant in (canonical, *variants):
                    key = compact(variant)
                    if not key:
                        problems.append(f"{field_name}: {variant!r} has no letters or digits")
                    elif seen.setdefault(key, canonical) != canonical:
                        problems.append(
                            f"{field_name}: {variant!r} means both {seen[key]!r} and {canonical!r}"
                        )
        if problems:
            raise ValueError("ambiguous synonyms: " + "; ".join(problems))
        return self


@dataclass(frozen=True, slots=True)
class LabelUsage:
    """How many records of ``object_type`` hold option ``value`` of ``field``.

    ``record_ids`` lists them (at most ``rare_label_max`` of them, by id order).
    """

    object_type: str
    field: str
    value: str
    label: str
    hidden: bool
    records: int
    record_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Verdict:
    """The policy's verdict on one value of a field (see :meth:`TagsPolicy._judge`): whether
    it ``changes`` and to what (``new``, ``None`` for blank) and why; ``problems`` say why
    items map to no option (empty when none, or when unmapped values are not flagged)."""

    changes: bool
    new: str | None
    why: str
    problems: tuple[str, ...]


#: A value that stays and holds nothing to flag (most values): one verdict shared by them all.
_KEPT = _Verdict(False, None, "", ())


@dataclass(frozen=True, slots=True)
class _Mapped:
    value: str | None  # None: unmapped
    why: str  # how it was mapped, or why not


class _FieldRules:
    """The allowed values of one field and how other values map to them."""

    def __init__(self, definition: PropertyDef | None, synonyms: Mapping[str, Sequence[str]]):
        self.definition = definition
        self.multi = definition is not None and definition.multi
        options = definition.options if definition is not None else ()
        hidden = definition.hidden_options if definition is not None else frozenset()
        self.synonym_of: dict[str, str] = {}
        for canonical, variants in synonyms.items():
            for variant in (canonical, *variants):
                self.synonym_of[compact(variant)] = canonical
        self.allowed: dict[str, str] = {
            value: label
            for value, label in options
            if value not in hidden and self.synonym_of.get(compact(value), value) == value
        }
        self.rank = {value: n for n, value in enumerate(self.allowed)}
        self.by_key: dict[str, set[str]] = {}
        for value, label in self.allowed.items():
            for text in (value, label):
                self.by_key.setdefault(compact(text), set()).add(value)
        self.hidden = hidden

    @property
    def checks_membership(self) -> bool:
        """True for a field with options (values outside them are mapped or flagged)."""
        return self.definition is not None and bool(self.definition.options)

    def map(self, item: str) -> _Mapped:
        """``item`` (not allowed as it is) mapped to an allowed value, or why it cannot be."""
        what = "hidden (legacy) option" if item in self.hidden else "value"
        key = compact(item)
        canonical = self.synonym_of.get(key)
        if canonical is not None:
            if self.checks_membership and canonical not in self.allowed:
                return _Mapped(None, f"{item!r} is a synonym of {canonical!r}, not an option")
            return _Mapped(canonical, f"{what} {item!r} is a synonym of {canonical!r}")
        candidates = sorted(self.by_key.get(key, ()), key=self.rank.__getitem__)
        if len(candidates) > 1:
            exact = [c for c in candidates if item.strip() in (c, self.allowed[c])]
            candidates = exact or candidates
        if len(candidates) == 1:
            (value,) = candidates
            how = "label" if compact(self.allowed[value]) == key else "value"
            return _Mapped(value, f"{what} {item!r} matches the {how} of option {value!r}")
        if candidates:
            listed = ", ".join(repr(c) for c in candidates)
            return _Mapped(None, f"{what} {item!r} could be any of {listed}")
        return _Mapped(None, f"{what} {item!r} is not an allowed option")


class TagsPolicy(Policy):
    """Proposes updates that bring picklist and tag values to canonical options, and flags for
    values that cannot be brought there (see the module docstring)."""

    name = NAME

    def __init__(self, settings: TagsSettings) -> None:
        self.settings = settings

    def __call__(self, snapshot: Snapshot) -> list[Change]:
        changes: list[Change] = []
        for object_type in self.settings.object_types:
            rules = field_rules(snapshot, object_type, self.settings)
            if not rules:
                continue
            # a field's verdict depends on its value only: judged once per distinct value
            judged: dict[str, dict[str, _Verdict]] = {name: {} for name in rules}
            for record in snapshot.in_id_order(object_type):
                for field_name, rule in rules.items():
                    value = record.properties.get(field_name)
                    if value is None or not value.strip():
                        continue
                    verdict = judged[field_name].get(value)
                    if verdict is None:
                        verdict = judged[field_name][value] = self._judge(value, rule)
                    if verdict.changes or verdict.problems:
                        changes.extend(
                            self._changes(snapshot.source, record, field_name, value, verdict)
                        )
        return changes

    def _judge(self, value: str, rule: _FieldRules) -> _Verdict:
        """What the policy says of one value of a field: its canonical form (if it changes)
        and why, and why not (values that map to no option)."""
        if not rule.checks_membership:  # a field without options: synonyms of the whole value
            canonical = rule.synonym_of.get(compact(value))
            if canonical is None or canonical == value:
                return _KEPT
            why = f"{value!r} is a synonym of {canonical!r} (→ {canonical!r})"
            return _Verdict(True, canonical, why, ())
        items = value.split(SEPARATOR) if rule.multi else [value]
        stripped = [item.strip() for item in items if item.strip()]
        kept: list[str] = []
        unmapped: list[str] = []
        notes: list[str] = []
        problems: list[str] = []
        for item in stripped:
            mapped = _Mapped(item, "") if item in rule.allowed else rule.map(item)
            if mapped.value is None:
                problems.append(mapped.why)
                if item not in unmapped:
                    unmapped.append(item)
                continue
            notes.append(mapped.why)
            if mapped.value not in kept:
                kept.append(mapped.value)
        kept.sort(key=rule.rank.__getitem__)
        result = kept + [u for u in unmapped if u not in kept]
        if len(stripped) != len(set(stripped)):
            notes.append("repeats dropped")
        flagged = tuple(dict.fromkeys(problems)) if self.settings.flag_unmapped else ()
        if set(result) != set(items) or len(items) != len(set(items)):
            new = SEPARATOR.join(result) if result else None
            detail = "; ".join(dict.fromkeys(n for n in notes if n)) or "stray whitespace"
            return _Verdict(True, new, f"{detail} (→ {new!r})", flagged)
        return _Verdict(False, None, "", flagged) if flagged else _KEPT

    def _changes(
        self, source: str, record: Record, field_name: str, value: str, verdict: _Verdict
    ) -> list[Change]:
        changes: list[Change] = []
        if verdict.changes:
            changes.append(
                self._update(
                    source, record, field_name, old=value, new=verdict.new, why=verdict.why
                )
            )
        if verdict.problems:
            changes.append(
                Flag(
                    source=source,
                    object_type=record.object_type,
                    policy=self.name,
                    reason=f"{field_name}: " + "; ".join(verdict.problems),
                    record_id=record.id,
                    field=field_name,
                    value=value,
                )
            )
        return changes

    def _update(
        self, source: str, record: Record, field_name: str, *, old: str, new: str | None, why: str
    ) -> Update:
        return Update(
            source=source,
            object_type=record.object_type,
            policy=self.name,
            reason=f"{field_name} {old!r}: {why}",
            record_id=record.id,
            field=field_name,
            old=old,
            new=new,
        )


def _enumerations(
    snapshot: Snapshot, object_type: str, settings: TagsSettings
) -> dict[str, PropertyDef]:
    schema = snapshot.schema.get(object_type, {})
    return {
        name: definition
        for name, definition in schema.items()
        if definition.type == "enumeration"
        and definition.options
        and (settings.fields is None or name in settings.fields)
    }


def field_rules(
    snapshot: Snapshot, object_type: str, settings: TagsSettings
) -> dict[str, _FieldRules]:
    """The fields of ``object_type`` the policy checks, with their rules, in schema order
    (then synonym-only fields in settings order)."""
    rules = {
        name: _FieldRules(definition, settings.synonyms.get(name, {}))
        for name, definition in _enumerations(snapshot, object_type, settings).items()
    }
    schema = snapshot.schema.get(object_type, {})
    for name, table in settings.synonyms.items():
        if name in rules or (settings.fields is not None and name not in settings.fields):
            continue
        if name in schema and schema[name].type == "enumeration":
            continue  # an enumeration without options (owner ids): nothing to map to
        rules[name] = _FieldRules(None, table)
    return rules


def _items(value: str, multi: bool) -> set[str]:
    """The options a value holds as written: a multi-select's ``;``-separated ones, trimmed."""
    items = value.split(SEPARATOR) if multi else [value]
    return {item.strip() for item in items if item.strip()}


def label_usage(snapshot: Snapshot, settings: TagsSettings) -> list[LabelUsage]:
    """The options of the checked enumeration fields that at most ``rare_label_max`` records
    use (unused ones included), hidden ones too, in object type, field and display order.

    A multi-select value counts once per option it holds. Pure: a report helper.
    """
    found: list[LabelUsage] = []
    for object_type in settings.object_types:
        records = snapshot.in_id_order(object_type)
        for field_name, definition in _enumerations(snapshot, object_type, settings).items():
            # the records by the value they hold as written (a picklist's values repeat: a
            # value is split into options once, not once per record holding it)
            holding: dict[str, list[int]] = defaultdict(list)
            for n, record in enumerate(records):
                value = record.properties.get(field_name)
                if value is not None:
                    holding[value].append(n)
            users: dict[str, list[int]] = {value: [] for value, _ in definition.options}
            for written, held in holding.items():
                for item in _items(written, definition.multi):
                    if item in users:
                        users[item] += held
            for value, label in definition.options:
                positions = users[value]
                if len(positions) <= settings.rare_label_max:
                    ids = [records[n].id for n in sorted(positions)]
                    found.append(
                        LabelUsage(
                            object_type=object_type,
                            field=field_name,
                            value=value,
                            label=label,
                            hidden=value in definition.hidden_options,
                            records=len(ids),
                            record_ids=tuple(ids),
                        )
                    )
    return found
