"""Who set a field's current value: Salesforce's field history read as :class:`FieldChange`.

An org keeps the history of the fields an admin tracks (at most 20 per object) in one history
object per object: ``LeadHistory`` (``LeadId``), ``ContactHistory`` (``ContactId``),
``AccountHistory`` (``AccountId``), ``OpportunityFieldHistory`` (``OpportunityId``), each row
with ``Field``, ``OldValue``, ``NewValue`` (``anyType``: sortable, never filterable),
``DataType``, ``CreatedById`` (the user who saved) and ``CreatedDate`` (Object Reference,
"StandardObjectNameHistory"). It is queried ``WHERE {Parent}Id IN (...) AND Field IN (...)
ORDER BY CreatedDate DESC`` through ``queryAll`` (rows 18 to 24 months old are only there),
ids in chunks that keep the URL-encoded SOQL under :data:`QUERY_MAX_CHARS`.

The change that set a field's current value is the newest row of that field, when its new
value is the current one (a lookup's change has two rows at one time, names and ids: the one
holding the current value counts). Anything else says nothing and the pair is absent: a field
nobody tracks has no rows, history starts when tracking does and ages out after 24 months, a
long text area's or multi-select picklist's values are not recorded, and a current value set
while the field was not tracked leaves an older row that does not hold it. Absent is "unknown",
never "nobody changed it".

``CreatedById`` is a user: :attr:`FieldChange.user_id`. Salesforce does not say through what
(the app, the API, a flow running as that user), so ``via`` is ``None``, except for syncd's own
user (the session's, from ``userinfo``): :data:`OWN_USER`. How a row names a field: its API
name, or for a standard lookup its relationship name (``OwnerId`` → ``Owner``, as the History
related list shows it; ?: not confirmed against a real org).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote_plus

from connectors.salesforce.ids import full_id, soql_ids
from connectors.salesforce.mapping import FieldMap, parse_datetime
from model.records import Record
from model.writes import FieldChange

#: Canonical object type → (its history object, the field naming the record).
HISTORY_OBJECTS: Final[Mapping[str, tuple[str, str]]] = {
    "leads": ("LeadHistory", "LeadId"),
    "contacts": ("ContactHistory", "ContactId"),
    "companies": ("AccountHistory", "AccountId"),
    "deals": ("OpportunityFieldHistory", "OpportunityId"),
}
QUERY_MAX_CHARS: Final = 8_000
"""The URL-encoded SOQL of one history query, at most: far under SOQL's 100,000 characters and a
GET URL's 16 KB."""
OWN_USER: Final = "the API, as syncd's own user"
"""``via`` of a change syncd's own user made."""


def history_name(fields: FieldMap, vendor: str) -> str:
    """How a history row's ``Field`` names the Salesforce field ``vendor``."""
    described = fields.described.get(vendor)
    standard_lookup = (
        described is not None
        and described.type == "reference"
        and not vendor.endswith("__c")
        and vendor.endswith("Id")
    )
    return vendor[:-2] if standard_lookup else vendor


def history_queries(
    history: str, parent_field: str, ids: Sequence[str], names: Sequence[str]
) -> Iterator[str]:
    """The SOQL reading the history of fields ``names`` of records ``ids``: as few queries as
    fit :data:`QUERY_MAX_CHARS` each."""
    head = f"SELECT {parent_field}, Field, DataType, NewValue, CreatedById, CreatedDate FROM "
    field_list = ", ".join(f"'{n}'" for n in names)

    def soql(chunk: list[str]) -> str:
        return (
            f"{head}{history} WHERE {parent_field} IN {soql_ids(chunk)} AND Field IN "
            f"({field_list}) ORDER BY CreatedDate DESC, Id DESC"
        )

    chunk: list[str] = []
    for record_id in ids:
        if chunk and len(quote_plus(soql([*chunk, record_id]))) > QUERY_MAX_CHARS:
            yield soql(chunk)
            chunk = []
        chunk.append(record_id)
    if chunk:
        yield soql(chunk)


def field_changes(
    object_type: str,
    fields: FieldMap,
    pairs: Sequence[tuple[str, str]],
    current: Mapping[str, Record | None],
    *,
    query: Callable[[str], Iterator[list[Any]]],
    own_user: Callable[[], str],
) -> dict[tuple[str, str], FieldChange]:
    """Who set each ``(record id, canonical field)`` of ``pairs`` to its value in ``current``
    (the records as read now, by the ids asked), from the history rows ``query`` pages through
    (see the module docstring)."""
    if object_type not in HISTORY_OBJECTS:
        return {}
    history, parent_field = HISTORY_OBJECTS[object_type]
    wanted: dict[str, dict[str, str]] = {}  # full id → history name → canonical field
    asked: dict[str, str] = {}  # full id → the id as asked
    for record_id, name in pairs:
        full = full_id(record_id)
        record = current.get(record_id)
        vendor = fields.vendor_name(name)
        if (
            full is None
            or record is None
            or full_id(record.id) != full
            or vendor not in fields.described
        ):
            continue  # not an id, gone, merged into another, or no such field for syncd's user
        wanted.setdefault(full, {})[history_name(fields, vendor)] = name
        asked[full] = record_id
    if not wanted:
        return {}
    names = sorted({n for by_name in wanted.values() for n in by_name})
    newest: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for soql in history_queries(history, parent_field, sorted(wanted), names):
        for page in query(soql):
            for row in page:
                key = (full_id(str(row.get(parent_field) or "")) or "", str(row.get("Field") or ""))
                rows = newest.setdefault(key, [])
                if not rows or rows[0].get("CreatedDate") == row.get("CreatedDate"):
                    rows.append(row)  # newest first: only the newest moment's rows count
    maps = {name: fields.subset([name]) for by_name in wanted.values() for name in by_name.values()}
    own: list[str | None] = []
    found: dict[tuple[str, str], FieldChange] = {}
    for (parent, field_name), rows in newest.items():
        canonical = wanted.get(parent, {}).get(field_name)
        asked_id = asked.get(parent)
        record = current.get(asked_id) if asked_id is not None else None
        if canonical is None or asked_id is None or record is None:
            continue
        value = record.properties.get(canonical)
        vendor = fields.vendor_name(canonical)
        for row in rows:
            new = maps[canonical].to_canonical({vendor: row.get("NewValue")}).get(canonical)
            if (new or "") != (value or ""):
                continue
            try:
                at = parse_datetime(row.get("CreatedDate"))
            except ValueError:
                continue
            user = full_id(str(row.get("CreatedById") or ""))
            if not own:
                own.append(full_id(own_user()))
            via = OWN_USER if user is not None and user == own[0] else None
            found[(asked_id, canonical)] = FieldChange(value=value, at=at, user_id=user, via=via)
            break
    return found
