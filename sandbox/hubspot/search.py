"""``POST /crm/v3/objects/{type}/search``: request parsing, filtering, sorting, paging.

HubSpot's rules: at most 5 filter groups, 6 filters per group, 18 filters in all (groups are
ORed, filters within a group ANDed; HubSpot's current search guide, see
``shared/notes/hubspot.md``; its 2024 changelog said 5/10/25, the stricter figures are the ones
a client must live with); one sort, with no documented order among records that tie on it;
``limit`` up to 200; ``after`` is a numeric offset and no page may reach past ``search_cap``
(10,000) results (HTTP 400) while ``total`` still counts every match. Date filter values are
epoch milliseconds (ISO-8601 is accepted too).
Search is eventually consistent: a record modified less than ``search_lag`` ago is not visible.
Archived and merged-away records are never found. A filter on a property the object type does not
have is refused (400): tasks have ``hs_createdate`` and no ``createdate`` (the notes); the
message is invented, HubSpot's wording is not documented.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.hubspot.model import QUERY_PROPERTIES, StoredObject, parse_instant
from sandbox.hubspot.store import SandboxState
from sandbox.hubspot.wire import invalid

MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
MAX_LIMIT = 200
DEFAULT_LIMIT = 10

_VALUE_OPERATORS = frozenset(
    {"EQ", "NEQ", "GT", "GTE", "LT", "LTE", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}
)
_LIST_OPERATORS = frozenset({"IN", "NOT_IN"})
_OPERATORS = _VALUE_OPERATORS | _LIST_OPERATORS | {"BETWEEN", "HAS_PROPERTY", "NOT_HAS_PROPERTY"}

Props = Mapping[str, str | None]
Predicate = Callable[[Props], bool]
Comparable = float | int | str


@dataclass(frozen=True, slots=True)
class Filter:
    property: str
    operator: str
    value: str | None = None
    values: tuple[str, ...] = ()
    high_value: str | None = None


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed search request. ``sort`` is (property, descending) or None (by id)."""

    groups: tuple[tuple[Filter, ...], ...]
    sort: tuple[str, bool] | None
    properties: tuple[str, ...] | None
    limit: int
    after: int
    query: str | None


@dataclass(frozen=True, slots=True)
class SearchPage:
    total: int
    results: list[StoredObject]
    next_after: int | None


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parse_filter(raw: object) -> Filter:
    if not isinstance(raw, dict) or not raw.get("propertyName") or not raw.get("operator"):
        raise invalid("Each filter needs a propertyName and an operator")
    operator = str(raw["operator"])
    if operator not in _OPERATORS:
        raise invalid(f"Unknown filter operator {operator!r}")
    values = raw.get("values") or ()
    if not isinstance(values, list | tuple):
        raise invalid("Filter values must be a list")
    parsed = Filter(
        property=str(raw["propertyName"]),
        operator=operator,
        value=_text(raw.get("value")),
        values=tuple(str(_text(v)) for v in values),
        high_value=_text(raw.get("highValue")),
    )
    if operator in _VALUE_OPERATORS and parsed.value is None:
        raise invalid(f"Operator {operator} needs a value (filter on {parsed.property})")
    if operator in _LIST_OPERATORS and not parsed.values:
        raise invalid(f"Operator {operator} needs values (filter on {parsed.property})")
    if operator == "BETWEEN" and (parsed.value is None or parsed.high_value is None):
        raise invalid(f"Operator BETWEEN needs value and highValue (filter on {parsed.property})")
    return parsed


def _parse_sort(raw: object) -> tuple[str, bool]:
    if isinstance(raw, str):
        return (raw[1:], True) if raw.startswith("-") else (raw, False)
    if isinstance(raw, dict) and raw.get("propertyName"):
        direction = str(raw.get("direction", "ASCENDING")).upper()
        if direction not in {"ASCENDING", "DESCENDING"}:
            raise invalid(f"Unknown sort direction {direction!r}")
        return str(raw["propertyName"]), direction == "DESCENDING"
    raise invalid("A sort is a property name or {propertyName, direction}")


def parse_search(body: object, *, cap: int) -> SearchQuery:
    """Validate a search request body as HubSpot does; raise ApiError 400 when it would."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise invalid("Invalid input JSON: the search request must be an object")
    raw_groups = body.get("filterGroups") or []
    if not isinstance(raw_groups, list) or len(raw_groups) > MAX_GROUPS:
        raise invalid(f"Too many filter groups: at most {MAX_GROUPS} are allowed")
    groups: list[tuple[Filter, ...]] = []
    for raw_group in raw_groups:
        filters = raw_group.get("filters") if isinstance(raw_group, dict) else None
        if not isinstance(filters, list) or len(filters) > MAX_FILTERS_PER_GROUP:
            raise invalid(
                f"Each filter group holds a list of at most {MAX_FILTERS_PER_GROUP} filters"
            )
        groups.append(tuple(_parse_filter(f) for f in filters))
    if sum(len(g) for g in groups) > MAX_FILTERS:
        raise invalid(f"Too many filters: at most {MAX_FILTERS} are allowed in all groups")
    sorts = body.get("sorts") or []
    if not isinstance(sorts, list) or len(sorts) > 1:
        raise invalid("Only one sort is supported")
    properties = body.get("properties")
    if properties is not None and not isinstance(properties, list):
        raise invalid("properties must be a list of property names")
    limit = _int_field(body, "limit", DEFAULT_LIMIT)
    after = _int_field(body, "after", 0)
    if limit < 0 or limit > MAX_LIMIT:
        raise invalid(f"limit must be between 0 and {MAX_LIMIT}; got {limit}")
    if after < 0:
        raise invalid(f"after must not be negative; got {after}")
    if after + limit > cap:
        raise invalid(
            f"The search endpoints are limited to {cap} total results for any given query: "
            f"after={after} with limit={limit} pages past that. Narrow the query (for example "
            "with a GT filter on the sort property) and start again from after=0.",
        )
    query = body.get("query")
    return SearchQuery(
        groups=tuple(g for g in groups if g),
        sort=_parse_sort(sorts[0]) if sorts else None,
        properties=tuple(str(p) for p in properties) if properties is not None else None,
        limit=limit,
        after=after,
        query=str(query) if query else None,
    )


def check_properties(query: SearchQuery, known: Callable[[str], bool], object_type: str) -> None:
    """Refuse (400) a filter on a property ``object_type`` does not have (``known`` says)."""
    for group in query.groups:
        for flt in group:
            if not known(flt.property):
                raise invalid(
                    f"Property {flt.property!r} does not exist on {object_type}; "
                    "a filter must name one of its properties"
                )


def _int_field(body: Mapping[str, Any], name: str, default: int) -> int:
    raw = body.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise invalid(f"{name} must be an integer; got {raw!r}") from None


def _converter(kind: str) -> Callable[[str], Comparable | None]:
    if kind in {"datetime", "date"}:
        return parse_instant
    if kind == "number":
        return _number
    return str.lower


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _compile(flt: Filter, kind: str, multi: bool) -> Predicate:
    name = flt.property
    if flt.operator == "HAS_PROPERTY":
        return lambda props: props.get(name) not in (None, "")
    if flt.operator == "NOT_HAS_PROPERTY":
        return lambda props: props.get(name) in (None, "")
    if flt.operator in {"CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}:
        pattern = (flt.value or "").lower()
        negate = flt.operator == "NOT_CONTAINS_TOKEN"
        return lambda props: _has_token(props.get(name), pattern) != negate
    convert = _converter(kind)

    def target(text: str) -> Comparable:
        value = convert(text)
        if value is None:
            raise invalid(f"{text!r} is not a valid {kind} value for {name}")
        return value

    def values_of(props: Props) -> list[Comparable]:
        raw = props.get(name)
        if raw in (None, ""):
            return []
        parts = raw.split(";") if multi and raw is not None else [raw]
        return [v for v in (convert(p) for p in parts if p) if v is not None]

    if flt.operator in {"EQ", "NEQ", "IN", "NOT_IN"}:
        wanted = {target(v) for v in ((flt.value,) if flt.value is not None else flt.values)}
        negate = flt.operator in {"NEQ", "NOT_IN"}
        return lambda props: any(v in wanted for v in values_of(props)) != negate
    low = target(flt.value or "")
    if flt.operator == "BETWEEN":
        high = target(flt.high_value or "")
        return lambda props: any(_between(v, low, high) for v in values_of(props))
    compare = _COMPARISONS[flt.operator]
    return lambda props: any(compare(v, low) for v in values_of(props))


def _between(value: Comparable, low: Comparable, high: Comparable) -> bool:
    return bool(low <= value <= high)  # type: ignore[operator]


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "GT": lambda a, b: bool(a > b),
    "GTE": lambda a, b: bool(a >= b),
    "LT": lambda a, b: bool(a < b),
    "LTE": lambda a, b: bool(a <= b),
}

_TOKEN_SPLIT = re.compile(r"[\s,;]+")


def _has_token(raw: str | None, pattern: str) -> bool:
    if not raw:
        return False
    text = raw.lower()
    if fnmatch.fnmatchcase(text, pattern):
        return True
    return any(fnmatch.fnmatchcase(token, pattern) for token in _TOKEN_SPLIT.split(text))


def run_search(state: SandboxState, object_type: str, query: SearchQuery) -> SearchPage:
    """Evaluate ``query`` over the live, search-visible records of ``object_type``.

    Order: by the sort property (missing values last), ties in a fixed order that is not the
    id's (:func:`_tie_order`); without a sort, by ascending id.
    Successive pages of one query reuse the sorted matches while the state is unchanged and no
    record is hidden by ``search_lag`` (then every horizon sees the same records).
    """
    with state.lock:
        horizon = state.clock() - state.search_lag
        latest = state.max_updated.get(object_type)

        def settled(moment: datetime) -> bool:
            return latest is None or moment >= latest

        key = ("search", object_type, query.groups, query.sort, query.query)
        cached = state.derived_cache.get(key)
        if (
            cached is not None
            and cached[0] == state.version
            and (cached[1] == horizon or (settled(cached[1]) and settled(horizon)))
        ):
            matches: list[StoredObject] = cached[2]
        else:
            matches = _sorted_matches(state, object_type, query, horizon)
            if len(state.derived_cache) >= _CACHE_SIZE:
                state.derived_cache.pop(next(iter(state.derived_cache)))
            state.derived_cache[key] = (state.version, horizon, matches)
    end = query.after + query.limit
    return SearchPage(
        total=len(matches),
        results=matches[query.after : end],
        next_after=end if end < len(matches) else None,
    )


_CACHE_SIZE = 16


def _sorted_matches(
    state: SandboxState, object_type: str, query: SearchQuery, horizon: datetime
) -> list[StoredObject]:
    catalog = state.catalog

    def is_multi(name: str) -> bool:
        definition = catalog.get(object_type, name)
        return bool(definition and definition["fieldType"] == "checkbox")

    groups = [
        [_compile(f, catalog.kind(object_type, f.property), is_multi(f.property)) for f in group]
        for group in query.groups
    ]
    text = query.query.lower() if query.query else None
    text_props = QUERY_PROPERTIES.get(object_type, ())
    matches = [
        record
        for record in state.live_records(object_type)
        if record.updated_at <= horizon
        and (not groups or any(all(p(record.properties) for p in g) for g in groups))
        and (text is None or _text_match(record.properties, text_props, text))
    ]
    matches.sort(key=lambda r: int(r.id))
    if query.sort is None:
        return matches
    name, descending = query.sort
    convert = _converter(catalog.kind(object_type, name))
    keyed: list[tuple[Comparable, StoredObject]] = []
    missing: list[StoredObject] = []
    for record in matches:
        raw = record.properties.get(name)
        value = convert(raw) if raw else None
        if value is None:
            missing.append(record)
        else:
            keyed.append((value, record))
    keyed.sort(key=lambda pair: _tie_order(pair[1]))
    keyed.sort(key=lambda pair: pair[0], reverse=descending)
    return [record for _, record in keyed] + missing


def _tie_order(record: StoredObject) -> int:
    """Where a record goes among those with the same sort value.

    HubSpot honours one sort and documents no tie-breaker (its search guide;
    ``shared/notes/hubspot.md``). Ordering ties by id here would be kinder than HubSpot promises
    to be: a client relying on it (paging a last-modified sort from ``(modified, id)``) would
    pass against the sandbox and lose records at HubSpot. So ties come in a fixed scramble of
    the id (the scramble is invented; only "no promised order" is HubSpot's).
    """
    return (int(record.id) * 7919) % 1009


def _text_match(props: Props, names: tuple[str, ...], text: str) -> bool:
    return any(text in (props.get(name) or "").lower() for name in names)
