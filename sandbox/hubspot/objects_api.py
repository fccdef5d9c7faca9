"""``/crm/v3/objects/{type}``: list, read, create, update, archive, merge, search, batches.

Each handler takes the state (whose lock the caller holds), the request and the path
parameters, and returns a Response or raises ApiError.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sandbox.hubspot import render
from sandbox.hubspot.model import (
    API_WRITE,
    ASSOCIATION_PAIRS,
    MERGEABLE,
    SINGULAR,
    StoredObject,
    canonical_type,
)
from sandbox.hubspot.schema import WriteProblem
from sandbox.hubspot.search import check_properties, parse_search, run_search
from sandbox.hubspot.store import MergeLimitError, SandboxState
from sandbox.hubspot.wire import ApiError, Request, Response, invalid, not_found

LIST_MAX = 100
BATCH_MAX = 100
HISTORY_BATCH_MAX = 50

Params = Mapping[str, str]


def object_type_of(params: Params) -> str:
    """The canonical object type in the path; 400 as HubSpot answers for an unknown one."""
    raw = params["objectType"]
    found = canonical_type(raw)
    if found is None:
        raise invalid(f"Unable to infer object type from: {raw}")
    return found


def _association_types(request: Request) -> list[str]:
    wanted = request.values("associations") or []
    return [t for t in (canonical_type(name) for name in wanted) if t is not None]


def _associations(
    state: SandboxState, record: StoredObject, to_types: list[str]
) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for to_type in to_types:
        ids = [
            i
            for i in state.associated(record.object_type, record.id, to_type)
            if state.resolve(to_type, i)
        ]
        found[to_type] = ids
    return found


def _read_body(state: SandboxState, record: StoredObject, request: Request) -> dict[str, Any]:
    properties = render.select_properties(state, record, request.values("properties"))
    to_types = _association_types(request)
    associations = _associations(state, record, to_types) if to_types else None
    return render.render_object(record, properties, associations=associations)


def _find(
    state: SandboxState,
    object_type: str,
    key: str,
    id_property: str | None,
    *,
    archived: bool = False,
) -> StoredObject | None:
    if id_property in (None, "", "hs_object_id"):
        return state.get(object_type, key, archived=archived)
    if object_type == "contacts" and id_property == "email" and not archived:
        ids = sorted(state.contacts_with_email(key), key=int)
        return state.get(object_type, ids[0]) if ids else None
    wanted = key.lower()
    for record in state.live_records(object_type):
        value = record.properties.get(str(id_property))
        if value is not None and value.lower() == wanted:
            return record
    return None


def _validation_error(problems: list[WriteProblem]) -> ApiError:
    summary = [
        {"isValid": False, "message": p.message, "error": p.code, "name": p.name} for p in problems
    ]
    return invalid(
        f"Property values were not valid: {json.dumps(summary)}",
        errors=[
            {"message": p.message, "code": p.code, "context": {"propertyName": [p.name]}}
            for p in problems
        ],
    )


def _checked(
    state: SandboxState, object_type: str, raw: object, *, creating: bool
) -> dict[str, str | None]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise invalid("properties must be an object of property names to values")
    if not state.validate_writes:
        return {str(k): (None if v in (None, "") else str(v)) for k, v in raw.items()}
    stored, problems = state.catalog.check_write(object_type, raw)
    if creating and object_type == "tasks" and not stored.get("hs_timestamp"):
        problems.append(WriteProblem("hs_timestamp", "REQUIRED_FIELD", "hs_timestamp is required"))
    if problems:
        raise _validation_error(problems)
    return stored


def _email_conflict(state: SandboxState, email: str | None, own_id: str | None = None) -> None:
    if not email:
        return
    others = sorted((i for i in state.contacts_with_email(email) if i != own_id), key=int)
    if others:
        raise ApiError(409, "CONFLICT", f"Contact already exists. Existing ID: {others[0]}")


def _inline_associations(
    state: SandboxState, object_type: str, raw: object
) -> list[tuple[str, str]]:
    """Resolve ``associations`` of a create input to (to type, to id) pairs; 400 if invalid."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise invalid("associations must be a list")
    links: list[tuple[str, str]] = []
    for entry in raw:
        to = entry.get("to") if isinstance(entry, dict) else None
        to_id = str(to.get("id", "")) if isinstance(to, dict) else ""
        types = entry.get("types") if isinstance(entry, dict) else None
        if not to_id or not isinstance(types, list) or not types:
            raise invalid("Each association needs to.id and at least one type")
        for spec in types:
            type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
            pair = ASSOCIATION_PAIRS.get(type_id) if isinstance(type_id, int) else None
            if pair is None or pair[0] != object_type:
                raise invalid(f"{type_id} is not a valid association type id for {object_type}")
            resolved = state.resolve(pair[1], to_id)
            if resolved is None:
                raise invalid(f"Association target {SINGULAR[pair[1]]} {to_id} does not exist")
            links.append((pair[1], resolved))
    return links


def _create_one(state: SandboxState, object_type: str, raw: object) -> StoredObject:
    if not isinstance(raw, dict):
        raise invalid("Each input must be an object")
    properties = _checked(state, object_type, raw.get("properties"), creating=True)
    links = _inline_associations(state, object_type, raw.get("associations"))
    if object_type == "contacts":
        _email_conflict(state, properties.get("email"))
    record_id = state.create(object_type, properties)
    for to_type, to_id in links:
        state.associate(object_type, record_id, to_type, to_id)
    created = state.get(object_type, record_id)
    assert created is not None
    return created


def _inputs(body: Mapping[str, Any], limit: int = BATCH_MAX) -> list[Any]:
    inputs = body.get("inputs")
    if not isinstance(inputs, list):
        raise invalid("inputs must be a list")
    if len(inputs) > limit:
        raise invalid(f"Too many inputs: {len(inputs)}; a batch takes at most {limit}")
    if not all(isinstance(entry, dict) for entry in inputs):
        raise invalid("Each input must be an object")
    return inputs


# ---------------------------------------------------------------------------- handlers


def list_objects(state: SandboxState, request: Request, params: Params) -> Response:
    object_type = object_type_of(params)
    limit = min(request.integer("limit", 10), LIST_MAX)
    if limit < 1:
        raise invalid("limit must be a positive integer")
    after_text = request.text("after")
    try:
        after = int(after_text) if after_text else None
    except ValueError:
        raise invalid(f"Invalid paging cursor after={after_text!r}") from None
    records, next_start = state.page(object_type, after, limit, archived=request.flag("archived"))
    body: dict[str, Any] = {"results": [_read_body(state, r, request) for r in records]}
    if next_start is not None:
        body["paging"] = {"next": {"after": str(next_start), "link": f"?after={next_start}"}}
    return Response(200, body)


def get_object(state: SandboxState, request: Request, params: Params) -> Response:
    object_type = object_type_of(params)
    record = _find(
        state,
        object_type,
        params["objectId"],
        request.text("idProperty"),
        archived=request.flag("archived"),
    )
    if record is None:
        raise not_found(f"Object not found. objectId are usually numeric: {params['objectId']}")
    return Response(200, _read_body(state, record, request))


def create_object(state: SandboxState, request: Request, params: Params) -> Response:
    object_type = object_type_of(params)
    record = _create_one(state, object_type, request.json_object())
    return Response(201, render.render_object(record, render.all_properties(record)))


def update_object(state: SandboxState, request: Request, params: Params) -> Response:
    object_type = object_type_of(params)
    record = _find(state, object_type, params["objectId"], request.text("idProperty"))
    if record is None:
        raise not_found(f"Object not found. objectId are usually numeric: {params['objectId']}")
    properties = _checked(
        state, object_type, request.json_object().get("properties"), creating=False
    )
    if object_type == "contacts" and "email" in properties:
        _email_conflict(state, properties["email"], own_id=record.id)
    state.update(object_type, record.id, properties, source=API_WRITE)
    return Response(200, render.render_object(record, render.all_properties(record)))


def archive_object(state: SandboxState, request: Request, params: Params) -> Response:
    object_type = object_type_of(params)
    if state.resolve(object_type, params["objectId"]) is not None:
        state.archive(object_type, params["objectId"])
    return Response(204)


def merge_objects(state: SandboxState, request: Request, params: Params) -> Response:
    """``POST .../merge``: 200 with the survivor, as :meth:`SandboxState.merge` does it.

    Errors: 400 for a type HubSpot cannot merge, missing ids, or two ids that stand for the
    same live record: the same id twice, or an id that was already merged into the primary
    (or into a record the primary was merged into). HubSpot documents no answer for the
    latter; the sandbox answers 400 ``VALIDATION_ERROR`` with ``context.mergedInto`` naming the
    survivor, so a retried merge whose first answer was lost is recognisable. 404 when either
    id is unknown (or archived). 414 when the survivor would hold more than 250 merged
    identities (HubSpot's status, ``shared/notes/hubspot.md``; its body is not documented, the
    category and message here are invented).
    """
    object_type = object_type_of(params)
    if object_type not in MERGEABLE:
        raise invalid(f"Merging {object_type} is not supported")
    body = request.json_object()
    primary, other = body.get("primaryObjectId"), body.get("objectIdToMerge")
    if not primary or not other:
        raise invalid("primaryObjectId and objectIdToMerge are required")
    primary, other = str(primary), str(other)
    resolved = []
    for record_id in (primary, other):
        live_id = state.resolve(object_type, record_id)
        if live_id is None:
            raise not_found(f"Object not found. objectId are usually numeric: {record_id}")
        resolved.append(live_id)
    if primary == other:
        raise invalid("Cannot merge an object with itself")
    if resolved[0] == resolved[1]:
        raise invalid(
            f"Cannot merge {SINGULAR[object_type]} {other} into {primary}: "
            f"it was already merged into {resolved[0]}",
            context={"mergedInto": [resolved[0]], "objectIdToMerge": [other]},
        )
    try:
        survivor = state.merge(object_type, primary, other)
    except MergeLimitError as error:
        raise ApiError(414, "VALIDATION_ERROR", f"Cannot merge: {error}") from None
    record = state.get(object_type, survivor)
    assert record is not None
    return Response(200, render.render_object(record, render.all_properties(record)))


def search_objects(state: SandboxState, request: Request, params: Params) -> Response:
    object_type = object_type_of(params)
    query = parse_search(request.body, cap=state.search_cap)
    check_properties(
        query, lambda name: state.catalog.get(object_type, name) is not None, object_type
    )
    page = run_search(state, object_type, query)
    results = [
        render.render_object(r, render.select_properties(state, r, query.properties))
        for r in page.results
    ]
    body: dict[str, Any] = {"total": page.total, "results": results}
    if page.next_after is not None:
        body["paging"] = {"next": {"after": str(page.next_after)}}
    return Response(200, body)


def batch_read(state: SandboxState, request: Request, params: Params) -> Response:
    """200 with the records found, 207 naming the ids not found.

    ``propertiesWithHistory`` adds each named property's values, newest first, with who set
    them (:meth:`StoredObject.history_of`); with it a call takes at most 50 inputs
    (HISTORY_BATCH_MAX, as the batch read with history allows; notes/hubspot.md).
    """
    object_type = object_type_of(params)
    started = state.clock()
    body = request.json_object()
    archived = request.flag("archived")
    requested = body.get("properties")
    with_history = [str(name) for name in body.get("propertiesWithHistory") or ()]
    id_property = body.get("idProperty")
    results: list[dict[str, Any]] = []
    missing: list[str] = []
    seen: set[str] = set()
    inputs = _inputs(body)
    if with_history and len(inputs) > HISTORY_BATCH_MAX:
        raise invalid(
            f"Batch read with propertiesWithHistory accepts at most {HISTORY_BATCH_MAX} inputs"
        )
    for entry in inputs:
        key = str(entry.get("id", ""))
        record = _find(state, object_type, key, id_property, archived=archived)
        if record is None:
            missing.append(key)
        elif record.id not in seen:
            seen.add(record.id)
            properties = render.select_properties(state, record, requested)
            history = {name: record.history_of(name) for name in with_history} or None
            results.append(render.render_object(record, properties, history=history))
    errors = []
    if missing:
        kind = SINGULAR[object_type].upper()
        errors.append(
            render.batch_error(
                "OBJECT_NOT_FOUND",
                f"Could not get some {kind} objects, they may be deleted or not exist. "
                "Check that ids are valid.",
                {"ids": missing},
            )
        )
    return Response(
        207 if errors else 200, render.batch_body(results, errors, started, state.clock())
    )


def _trace_ids(inputs: list[Any]) -> list[str] | None:
    """Every input's ``objectWriteTraceId`` when each has one (multi-status mode), else None.

    HubSpot answers batch writes all-or-nothing unless each input carries a unique
    ``objectWriteTraceId``; then each input succeeds or fails on its own (207 when any fail).
    """
    traces = [raw.get("objectWriteTraceId") for raw in inputs]
    if not traces or not all(isinstance(t, str) and t for t in traces):
        return None
    if len(set(traces)) != len(traces):
        raise invalid("objectWriteTraceId values must be unique within a batch")
    return [str(t) for t in traces]


def _input_error(error: ApiError, trace: str, **context: list[str]) -> dict[str, Any]:
    """One input's failure in a multi-status answer, tied to it by its trace id."""
    return render.batch_error(
        error.category,
        error.message,
        {**(error.context or {}), **context, "objectWriteTraceId": [trace]},
        details=error.errors,
    )


def _traced(body: dict[str, Any], trace: str | None) -> dict[str, Any]:
    if trace is not None:
        body["objectWriteTraceId"] = trace
    return body


def batch_create(state: SandboxState, request: Request, params: Params) -> Response:
    """201 with every record created, or (all-or-nothing) the first input's error.

    In multi-status mode (:func:`_trace_ids`) each input is created or fails on its own: 201
    when all are created, else 207 with an error per failed input (``context`` carries its
    ``objectWriteTraceId``); results echo their input's trace id.
    """
    object_type = object_type_of(params)
    started = state.clock()
    inputs = _inputs(request.json_object())
    traces = _trace_ids(inputs)
    if traces is not None:
        results, errors = [], []
        for raw, trace in zip(inputs, traces, strict=True):
            try:
                record = _create_one(state, object_type, raw)
            except ApiError as error:
                errors.append(_input_error(error, trace))
                continue
            results.append(
                _traced(render.render_object(record, render.all_properties(record)), trace)
            )
        body = render.batch_body(results, errors, started, state.clock())
        return Response(207 if errors else 201, body)
    for raw in inputs:  # validate the whole batch before writing any of it
        properties = _checked(state, object_type, raw.get("properties"), creating=True)
        _inline_associations(state, object_type, raw.get("associations"))
        if object_type == "contacts":
            _email_conflict(state, properties.get("email"))
    emails = [str((i.get("properties") or {}).get("email", "")).lower() for i in inputs]
    duplicates = {e for e in emails if e and emails.count(e) > 1}
    if object_type == "contacts" and duplicates:
        raise invalid(f"Duplicate emails found in batch input: {sorted(duplicates)}")
    created = [_create_one(state, object_type, raw) for raw in inputs]
    results = [render.render_object(r, render.all_properties(r)) for r in created]
    return Response(201, render.batch_body(results, [], started, state.clock()))


def batch_update(state: SandboxState, request: Request, params: Params) -> Response:
    """200 with every record updated; 207 when some ids are unknown (the rest are updated).

    An invalid value or an e-mail conflict fails the whole batch before anything is written,
    unless in multi-status mode (:func:`_trace_ids`), where that input alone fails (207).
    Duplicate ids always fail the whole batch (400). An input naming an id merged away into
    another record is left out: not written, and in neither ``results`` nor ``errors`` (seen
    at HubSpot, ``shared/notes/hubspot.md``; with ``legacy_merge`` it writes the survivor).
    """
    object_type = object_type_of(params)
    started = state.clock()
    inputs = _inputs(request.json_object())
    keys = [str(i.get("id", "")) for i in inputs]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise invalid(f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique")
    found = _trace_ids(inputs)
    traces: list[str | None] = list(found) if found is not None else [None] * len(inputs)
    planned: list[tuple[StoredObject, dict[str, str | None], str | None]] = []
    missing: list[str] = []
    errors: list[dict[str, Any]] = []
    for raw, key, trace in zip(inputs, keys, traces, strict=True):
        if (
            not state.legacy_merge
            and raw.get("idProperty") in (None, "", "hs_object_id")
            and state.absorbed(object_type, key)
        ):
            continue  # answered with silence, written nowhere
        try:
            record = _find(state, object_type, key, raw.get("idProperty"))
            properties = _checked(state, object_type, raw.get("properties"), creating=False)
            if record is not None and object_type == "contacts" and "email" in properties:
                _email_conflict(state, properties["email"], own_id=record.id)
        except ApiError as error:
            if trace is None:
                raise
            errors.append(_input_error(error, trace, ids=[key]))
            continue
        if record is None:
            missing.append(key)
            continue
        planned.append((record, properties, trace))
    results = []
    for record, properties, trace in planned:
        state.update(object_type, record.id, properties, source=API_WRITE)
        results.append(_traced(render.render_object(record, render.all_properties(record)), trace))
    if missing:
        errors.append(
            render.batch_error(
                "OBJECT_NOT_FOUND",
                f"Could not update some {SINGULAR[object_type].upper()} objects, they may be "
                "deleted or not exist. Check that ids are valid.",
                {"ids": missing},
            )
        )
    return Response(
        207 if errors else 200, render.batch_body(results, errors, started, state.clock())
    )


def batch_archive(state: SandboxState, request: Request, params: Params) -> Response:
    object_type = object_type_of(params)
    for raw in _inputs(request.json_object()):
        key = str(raw.get("id", ""))
        if state.resolve(object_type, key) is not None:
            state.archive(object_type, key)
    return Response(204)
