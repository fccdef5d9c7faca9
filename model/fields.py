"""The canonical object types and fields: the one published table every layer speaks.

Plain names (``firstname``, ``email``, ``phone``, ``website``, ``dealname``, ``amount``...) are
kept as they always were, so plan JSON and scripts keep working; what a vendor brands gets a
neutral name (``owner_id``, ``lead_status``, ``lifecycle_stage``, ``merged_ids``,
``additional_emails``, ``created_at``, ``updated_at``, a task's ``subject``/``body``/``status``/
``due``, a deal's ``stage``/``pipeline``). Each connector maps its vendor's names to these on
every pull and back on every write; a field a connector does not know passes through under
its vendor's name (a custom field), unmapped.

Values are the CRM's own (a lead status, a deal stage, a picklist option) except where the
value has a meaning policies rely on: the connector decides it and hands it over canonical.
A task's ``status`` is :data:`TASK_OPEN` or :data:`TASK_COMPLETED`; ``lead_open``,
``is_closed`` and ``is_won`` are :data:`TRUE` or :data:`FALSE`. A deal's ``stage`` and
``pipeline`` are the CRM's ids; what the stage means comes with them from the CRM's pipeline
definitions: ``stage_label``, ``stage_order``, ``pipeline_label``, ``is_closed``, ``is_won``
(empty when the CRM does not define the stage). Those decided fields are read-only: no policy
writes them, no connector accepts them in a write.

The README carries :func:`markdown_table`'s output verbatim (a test checks they agree).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

FieldKind = Literal[
    "text",
    "email",
    "email_list",
    "phone",
    "url",
    "datetime",
    "date",
    "number",
    "enum",
    "multi",
    "bool",
    "id",
    "id_list",
]

TASK_OPEN: Final = "open"
"""A task's ``status`` while something is still to do (the connector decides which of its
vendor's statuses mean that)."""
TASK_COMPLETED: Final = "completed"
"""A task's ``status`` once it is done."""
TRUE: Final = "true"
FALSE: Final = "false"
"""The two values of a ``bool`` field (field values are strings)."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One canonical field: its name, what kind of value it holds, what it means, and whether
    a policy may write it (``False``: the CRM or the connector sets it)."""

    name: str
    kind: FieldKind
    meaning: str
    writable: bool = True


def _f(name: str, kind: FieldKind, meaning: str, *, writable: bool = True) -> FieldSpec:
    return FieldSpec(name, kind, meaning, writable)


_PERSON: Final = (
    _f("firstname", "text", "first name"),
    _f("lastname", "text", "last name"),
    _f("email", "email", "primary e-mail address"),
)
_PHONES: Final = (
    _f("phone", "phone", "phone number"),
    _f("mobilephone", "phone", "mobile phone number"),
)
_WORK: Final = (
    _f("company", "text", "company name as written on the person's record"),
    _f("jobtitle", "text", "job title"),
)
_ADDRESS: Final = (
    _f("address", "text", "street address"),
    _f("city", "text", "city"),
    _f("state", "text", "state, province or region"),
    _f("zip", "text", "postal code"),
    _f("country", "text", "country"),
)
_WEBSITE: Final = _f("website", "url", "web site")
_LEAD: Final = (
    _f("lead_status", "enum", "sales status of the lead (the CRM's own values)"),
    _f(
        "lead_open",
        "bool",
        "whether lead_status counts as an open lead (decided by the connector)",
        writable=False,
    ),
)
_OWNER: Final = _f("owner_id", "id", "id of the owner (an owners record)")
_LAST_ACTIVITY: Final = _f(
    "last_activity_at",
    "datetime",
    "last logged activity (call, e-mail, meeting, note)",
    writable=False,
)
_TIMES: Final = (
    _f("created_at", "datetime", "when the record was created in the CRM", writable=False),
    _f("updated_at", "datetime", "when the record last changed in the CRM", writable=False),
)
_MERGED: Final = _f(
    "merged_ids", "id_list", "ids of records merged into this one, ';'-joined", writable=False
)

FIELDS: Final[Mapping[str, tuple[FieldSpec, ...]]] = MappingProxyType(
    {
        "contacts": (
            *_PERSON,
            _f("additional_emails", "email_list", "other e-mail addresses, ';'-joined"),
            _f("birthdate", "date", "date of birth (a day: YYYY-MM-DD, or as the CRM holds it)"),
            *_PHONES,
            *_WORK,
            *_ADDRESS,
            _WEBSITE,
            _f("lifecycle_stage", "enum", "marketing/sales funnel stage (the CRM's own values)"),
            *_LEAD,
            _OWNER,
            _f("tags", "multi", "labels, ';'-joined"),
            _LAST_ACTIVITY,
            *_TIMES,
            _MERGED,
            _f(
                "merge_scope",
                "text",
                "the kind of record the CRM merges this one only with (empty: an ordinary "
                "contact); two contacts of different scopes are never merged",
                writable=False,
            ),
        ),
        "leads": (
            *_PERSON,
            *_PHONES,
            *_WORK,
            *_ADDRESS,
            _WEBSITE,
            *_LEAD,
            _OWNER,
            _LAST_ACTIVITY,
            *_TIMES,
            _MERGED,
        ),
        "companies": (
            _f("name", "text", "company name"),
            _f("domain", "url", "primary web domain"),
            _WEBSITE,
            _f("phone", "phone", "phone number"),
            *_ADDRESS,
            _f("industry", "text", "industry"),
            _OWNER,
            *_TIMES,
            _MERGED,
        ),
        "deals": (
            _f("dealname", "text", "deal name"),
            _f("amount", "number", "deal amount"),
            _f("closedate", "datetime", "expected or actual close date"),
            _f("stage", "enum", "id of the stage in its pipeline (the CRM's own values)"),
            _f("pipeline", "enum", "id of the pipeline the deal is in (the CRM's own values)"),
            _f(
                "stage_label",
                "text",
                "the stage's name as the CRM shows it (from its pipeline)",
                writable=False,
            ),
            _f(
                "stage_order",
                "number",
                "the stage's position in its pipeline, from 0 (from its pipeline)",
                writable=False,
            ),
            _f(
                "pipeline_label",
                "text",
                "the pipeline's name as the CRM shows it",
                writable=False,
            ),
            _f(
                "is_closed",
                "bool",
                "whether the stage is a closed one, won or lost (from its pipeline)",
                writable=False,
            ),
            _f(
                "is_won",
                "bool",
                "whether the stage is a closed-won one (from its pipeline)",
                writable=False,
            ),
            _OWNER,
            *_TIMES,
            _MERGED,
        ),
        "tasks": (
            _f("subject", "text", "task subject"),
            _f("body", "text", "task notes (may hold markup)"),
            _f("status", "enum", "'open' or 'completed' (decided by the connector)"),
            _f("priority", "enum", "priority (the CRM's own values)"),
            _f("task_type", "enum", "kind of task: to-do, call, e-mail (the CRM's own values)"),
            _f("due", "datetime", "when the task is due"),
            _OWNER,
            *_TIMES,
        ),
        "owners": (
            _f("email", "email", "the owner's e-mail address", writable=False),
            _f("firstname", "text", "first name", writable=False),
            _f("lastname", "text", "last name", writable=False),
            _f("user_id", "id", "the owner's user id in the CRM", writable=False),
        ),
    }
)
"""Canonical fields per canonical object type, in the order reports show them."""

OBJECT_TYPES: Final[tuple[str, ...]] = tuple(FIELDS)
"""The canonical object types; ``leads`` is for CRMs that keep leads apart from contacts."""


def field_names(object_type: str) -> tuple[str, ...]:
    """The canonical field names of ``object_type`` (empty for an unknown type)."""
    return tuple(spec.name for spec in FIELDS.get(object_type, ()))


_SPECS: Final[Mapping[tuple[str, str], FieldSpec]] = MappingProxyType(
    {(object_type, spec.name): spec for object_type, specs in FIELDS.items() for spec in specs}
)
"""Each canonical field by object type and name: looked up per record and field (survivorship
asks for every field of every merged record)."""


def field_spec(object_type: str, name: str) -> FieldSpec | None:
    """The canonical field ``name`` of ``object_type``; ``None`` when it is not canonical (a
    vendor's custom field passing through, or an unknown type)."""
    return _SPECS.get((object_type, name))


def is_writable(object_type: str, name: str) -> bool:
    """Whether a policy may write ``name``: read-only canonical fields may not; a field the
    table does not know (a custom field) is the CRM's to accept or refuse."""
    spec = field_spec(object_type, name)
    return spec is None or spec.writable


PERSON_ACCOUNT: Final = "person account"
"""The ``merge_scope`` of a contact that is also an account (a Salesforce Person Account): it
merges only with its like, never with an ordinary contact."""


def markdown_table() -> str:
    """The table as the README shows it (one row per object type and field)."""
    lines = [
        "| object type | field | kind | written by policies | meaning |",
        "|---|---|---|---|---|",
    ]
    for object_type, specs in FIELDS.items():
        for spec in specs:
            writable = "yes" if spec.writable else "no (read-only)"
            lines.append(
                f"| `{object_type}` | `{spec.name}` | {spec.kind} | {writable} | {spec.meaning} |"
            )
    return "\n".join(lines) + "\n"


#: What one record of each object type is called in sentences ("Fill in e-mail on contact ...").
RECORD_KINDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "contacts": "contact",
        "leads": "lead",
        "companies": "company",
        "deals": "deal",
        "tasks": "task",
        "owners": "owner",
    }
)
_PEOPLE: Final = frozenset({"contacts", "leads", "owners"})
#: The fields that name a record, tried in order, per object type that is not a person's.
_NAMED_BY: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {"companies": ("name", "domain"), "deals": ("dealname",), "tasks": ("subject",)}
)
_NAMED_BY_DEFAULT: Final = ("name", "dealname", "subject", "email")


def record_kind(object_type: str) -> str:
    """What one record of ``object_type`` is called (``contact``); the type itself if unknown."""
    return RECORD_KINDS.get(object_type, object_type)


def person_name(properties: Mapping[str, str | None]) -> str:
    """First and last name, whitespace collapsed; empty when neither is set."""
    return " ".join(
        f"{properties.get('firstname') or ''} {properties.get('lastname') or ''}".split()
    )


def record_label(object_type: str, properties: Mapping[str, str | None]) -> str:
    """The short name a person recognizes a record by, whitespace collapsed; empty when none.

    A person (contact, lead, owner): the name, else the e-mail address. A company: its name,
    else its domain. A deal: its name. A task: its subject. Another type: the first set of
    ``name``, ``dealname``, ``subject``, ``email``. Every report, review queue and task text
    names records this way; a caller that needs a name whatever happens adds its own fallback
    (``contact 123``).
    """
    if object_type in _PEOPLE:
        return person_name(properties) or " ".join((properties.get("email") or "").split())
    for name in _NAMED_BY.get(object_type, _NAMED_BY_DEFAULT):
        value = " ".join((properties.get(name) or "").split())
        if value:
            return value
    return ""
