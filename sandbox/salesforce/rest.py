"""REST API handlers (base ``/services/data/v{version}/``): query and queryAll with
``nextRecordsUrl`` paging, describe, sObject rows, ``updated``/``deleted``, limits, and sObject
Collections (``composite/sobjects``).

Each handler takes ``(state, request, params)`` and answers a :class:`Response` or raises
:class:`~sandbox.salesforce.wire.SalesforceError`. Shapes follow Salesforce's documentation and
``../shared/notes/salesforce.md``; where they are not documented the code says so with (?).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.http.wire import Request, Response
from sandbox.salesforce import soql
from sandbox.salesforce.ids import PREFIXES, normalize
from sandbox.salesforce.records import attributes, json_value, render, sf_datetime
from sandbox.salesforce.schema import API_VERSION, OBJECTS, SObjectType, sobject
from sandbox.salesforce.store import DELETED_LOG_DAYS, ORG_ID, RecordError, SalesforceState
from sandbox.salesforce.wire import SalesforceError, bad_request, not_found

Params = Mapping[str, str]
COLLECTION_MAX = 200
_BATCH_SIZE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


def _object(name: str) -> SObjectType:
    found = sobject(name)
    if found is None:
        raise not_found(f"The requested resource does not exist (sObject type '{name}')")
    return found


def parse_soql(state: SalesforceState, text: str) -> soql.Query:
    try:
        return soql.parse(text, hidden=state.is_hidden, now=state.clock)
    except soql.SoqlError as error:
        raise bad_request(error.code, error.message) from None


def select(state: SalesforceState, query: soql.Query, *, include_deleted: bool) -> list[Any]:
    """The stored records ``query`` selects, in its order."""
    schema = query.sobject
    rows = []
    for record in state.records(schema.name, include_deleted=include_deleted):
        row = record.row(schema)
        row["__record__"] = record
        rows.append(row)
    return [row["__record__"] for row in soql.run(query, rows)]


def parent_of(state: SalesforceState, record: Any, ref: soql.FieldRef) -> Any:
    """The live record the lookup of ``ref`` (a relationship path) points at, or None."""
    assert ref.via is not None
    assert ref.target is not None
    pointed = record.values.get(ref.via)
    return state.live(ref.target, str(pointed)) if pointed else None


def selected_value(state: SalesforceState, record: Any, ref: soql.FieldRef) -> Any:
    """The typed value of one selected field of ``record`` (a parent's field for a path)."""
    if ref.relationship is None:
        return record.row(OBJECTS[record.sobject]).get(ref.name.lower())
    parent = parent_of(state, record, ref)
    return None if parent is None else parent.row(OBJECTS[parent.sobject]).get(ref.name.lower())


def render_selected(state: SalesforceState, record: Any, query: soql.Query) -> dict[str, Any]:
    """A record as a query answers it: ``attributes``, then the fields selected, in order; a
    parent relationship's fields nest in an object of its own with its ``attributes``
    (``"Account": {"attributes": {...}, "Name": "..."}``), ``null`` when the lookup is empty."""
    row = record.row(query.sobject)
    out: dict[str, Any] = {"attributes": attributes(record.sobject, record.id)}
    for ref in query.fields:
        if ref.relationship is None:
            out[ref.name] = json_value(row.get(ref.name.lower()))
            continue
        if ref.relationship not in out:
            parent = parent_of(state, record, ref)
            out[ref.relationship] = (
                None if parent is None else {"attributes": attributes(parent.sobject, parent.id)}
            )
        nested = out[ref.relationship]
        if nested is not None:
            nested[ref.name] = json_value(selected_value(state, record, ref))
    return out


# -- query ----------------------------------------------------------------------------------------


def _batch_size(state: SalesforceState, request: Request) -> int:
    """Rows per page: ``Sforce-Query-Options: batchSize=N`` (200..2000; Salesforce treats it as
    a hint and so does the sandbox), else the state's."""
    raw = request.header("Sforce-Query-Options") or ""
    match = _BATCH_SIZE.search(raw)
    if match:
        return max(200, min(2000, int(match.group(1))))
    return state.query_batch_size


def _page(
    state: SalesforceState,
    *,
    version: str,
    endpoint: str,
    rows: list[dict[str, Any]],
    total: int,
    batch: int,
    locator: str | None,
    offset: int,
) -> dict[str, Any]:
    page = rows[offset : offset + batch]
    done = offset + batch >= len(rows)
    body: dict[str, Any] = {"totalSize": total, "done": done}
    if not done:
        if locator is None:
            locator = "01g" + secrets.token_hex(6).upper()[:12] + "AAA"
            state.locators[locator] = rows
        body["nextRecordsUrl"] = f"/services/data/v{version}/{endpoint}/{locator}-{offset + batch}"
    elif locator is not None:
        state.locators.pop(locator, None)
    body["records"] = page
    return body


def _run_query(
    state: SalesforceState, request: Request, params: Params, *, include_deleted: bool
) -> Response:
    text = request.text("q")
    if text is None or not text.strip():
        raise bad_request("MALFORMED_QUERY", "A query string has to be specified")
    query = parse_soql(state, text)
    records = select(state, query, include_deleted=include_deleted)
    if query.count:
        return Response(200, {"totalSize": len(records), "done": True, "records": []})
    rows = [render_selected(state, record, query) for record in records]
    endpoint = "queryAll" if include_deleted else "query"
    batch = _batch_size(state, request)
    body = _page(
        state,
        version=params["version"],
        endpoint=endpoint,
        rows=rows,
        total=len(rows),
        batch=batch,
        locator=None,
        offset=0,
    )
    return Response(200, body)


def query(state: SalesforceState, request: Request, params: Params) -> Response:
    return _run_query(state, request, params, include_deleted=False)


def query_all(state: SalesforceState, request: Request, params: Params) -> Response:
    return _run_query(state, request, params, include_deleted=True)


def query_more(state: SalesforceState, request: Request, params: Params) -> Response:
    """``GET query/{locator}-{offset}``: the next page of a query's result set (a snapshot
    taken when the query ran, as Salesforce's query cursors are)."""
    locator, _, offset = params["locator"].rpartition("-")
    rows = state.locators.get(locator)
    if rows is None or not offset.isdigit():
        raise bad_request("INVALID_QUERY_LOCATOR", "invalid query locator")
    endpoint = "queryAll" if request.path.rstrip("/").split("/")[-2] == "queryAll" else "query"
    batch = _batch_size(state, request)
    body = _page(
        state,
        version=params["version"],
        endpoint=endpoint,
        rows=rows,
        total=len(rows),
        batch=batch,
        locator=locator,
        offset=int(offset),
    )
    return Response(200, body)


# -- describe and rows ----------------------------------------------------------------------------


def describe_global(state: SalesforceState, request: Request, params: Params) -> Response:
    return Response(
        200,
        {
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": [_basic(state, t) for t in OBJECTS.values()],
        },
    )


def _basic(state: SalesforceState, schema: SObjectType) -> dict[str, Any]:
    base = f"/services/data/v{API_VERSION}/sobjects/{schema.name}"
    return {
        "name": schema.name,
        "label": schema.label,
        "labelPlural": schema.plural,
        "keyPrefix": schema.key_prefix,
        "custom": False,
        "createable": schema.name not in ("User", "Group") and not schema.history_of,
        "updateable": schema.name != "Group" and not schema.history_of,
        "deletable": schema.name not in ("User", "Group") and not schema.history_of,
        "mergeable": schema.mergeable,
        "queryable": True,
        "replicateable": schema.replicateable,
        "retrieveable": True,
        "searchable": True,
        "urls": {
            "sobject": base,
            "describe": f"{base}/describe",
            "rowTemplate": f"{base}/{{ID}}",
        },
    }


def describe(state: SalesforceState, request: Request, params: Params) -> Response:
    schema = _object(params["sobject"])
    body = _basic(state, schema)
    body["fields"] = [f.describe() for f in state.visible_fields(schema.name)]
    body["recordTypeInfos"] = [
        {
            "active": True,
            "available": True,
            "defaultRecordTypeMapping": True,
            "developerName": "Master",
            "master": True,
            "name": "Master",
            "recordTypeId": "012000000000000AAA",
        }
    ]
    return Response(200, body)


def sobject_info(state: SalesforceState, request: Request, params: Params) -> Response:
    schema = _object(params["sobject"])
    return Response(200, {"objectDescribe": _basic(state, schema), "recentItems": []})


def get_row(state: SalesforceState, request: Request, params: Params) -> Response:
    schema = _object(params["sobject"])
    record = state.find(schema.name, params["id"])
    if record is None:
        raise not_found()
    if record.deleted:
        raise SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted")
    wanted = request.values("fields")
    fields = state.visible_fields(schema.name)
    if wanted is not None:
        chosen = []
        for name in wanted:
            spec = schema.field(name)
            if spec is None or state.is_hidden(schema.name, spec.name):
                raise bad_request(
                    "INVALID_FIELD", f"No such column '{name}' on sobject of type {schema.name}"
                )
            chosen.append(spec)
        fields = chosen
    return Response(200, render(record, schema, fields))


def _fields_of(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("attributes", "Id", "id")}


def _refused(errors: list[RecordError]) -> SalesforceError:
    first = errors[0]
    return SalesforceError(400, first.code, first.message, list(first.fields))


def create_row(state: SalesforceState, request: Request, params: Params) -> Response:
    schema = _object(params["sobject"])
    if request.malformed or not isinstance(request.body, dict):
        raise bad_request("JSON_PARSER_ERROR", "The request body is not a JSON object")
    record_id, errors = state.save(schema.name, None, _fields_of(request.body))
    if errors:
        raise _refused(errors)
    return Response(201, {"id": record_id, "success": True, "errors": []})


def update_row(state: SalesforceState, request: Request, params: Params) -> Response:
    schema = _object(params["sobject"])
    if request.malformed or not isinstance(request.body, dict):
        raise bad_request("JSON_PARSER_ERROR", "The request body is not a JSON object")
    if state.find(schema.name, params["id"]) is None:
        raise not_found()
    _, errors = state.save(schema.name, params["id"], _fields_of(request.body))
    if errors:
        if errors[0].code == "ENTITY_IS_DELETED":
            raise SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted")
        raise _refused(errors)
    return Response(204)


def delete_row(state: SalesforceState, request: Request, params: Params) -> Response:
    schema = _object(params["sobject"])
    record = state.find(schema.name, params["id"])
    if record is None:
        raise not_found()
    if record.deleted:
        raise SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted")
    state.remove(record.id)
    return Response(204)


# -- replication ----------------------------------------------------------------------------------


def _instant(request: Request, name: str) -> datetime:
    raw = request.text(name)
    try:
        moment = datetime.fromisoformat((raw or "").replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        # (?) the errorCode Salesforce gives a malformed start/end is not documented
        raise bad_request(
            "INVALID_REPLICATION_DATE", f"{name} must be a dateTime with a time zone: {raw!r}"
        )
    return moment.astimezone(UTC).replace(second=0, microsecond=0)  # seconds are ignored


def _window(state: SalesforceState, request: Request, days: int) -> tuple[datetime, datetime]:
    start, end = _instant(request, "start"), _instant(request, "end")
    if start >= end:
        raise bad_request(
            "INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate"
        )
    earliest = (
        (state.clock() - timedelta(days=days)).astimezone(UTC).replace(second=0, microsecond=0)
    )
    if start < earliest:
        # (?) Salesforce's message here is not documented; the code is
        raise bad_request(
            "INVALID_REPLICATION_DATE",
            f"startDate cannot be more than {days} days ago (earliest: {sf_datetime(earliest)})",
        )
    return start, min(end, state.clock().astimezone(UTC).replace(second=0, microsecond=0))


def deleted(state: SalesforceState, request: Request, params: Params) -> Response:
    """``sobjects/{Type}/deleted/?start=&end=``: records deleted in the window, 15 days back."""
    schema = _object(params["sobject"])
    start, end = _window(state, request, DELETED_LOG_DAYS)
    earliest = state.clock() - timedelta(days=DELETED_LOG_DAYS)
    purged = state.purged_until(schema.name)
    if purged is not None and purged > earliest:  # the recycle bin was emptied early
        earliest = purged
    if purged is not None and start < purged:
        # (?) the message is not documented; the code is (GetDeletedResult: "the call fails,
        # and you must resync your data")
        raise bad_request(
            "INVALID_REPLICATION_DATE",
            f"startDate is before the earliest date available {sf_datetime(purged)}",
        )
    found = state.deleted_log(schema.name, start, end)
    return Response(
        200,
        {
            "deletedRecords": [{"id": i, "deletedDate": sf_datetime(w)} for i, w in found],
            "earliestDateAvailable": sf_datetime(earliest.replace(second=0, microsecond=0)),
            "latestDateCovered": sf_datetime(end),
        },
    )


def updated(state: SalesforceState, request: Request, params: Params) -> Response:
    """``sobjects/{Type}/updated/?start=&end=``: ids modified in the window, 30 days back."""
    schema = _object(params["sobject"])
    start, end = _window(state, request, 30)
    ids = [r.id for r in state.records(schema.name) if start <= r.modstamp < end]
    return Response(200, {"ids": ids, "latestDateCovered": sf_datetime(end)})


def limits(state: SalesforceState, request: Request, params: Params) -> Response:
    used, limit = state.api_usage()
    return Response(
        200,
        {
            "DailyApiRequests": {"Max": limit, "Remaining": max(limit - used, 0)},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000 - len(state.bulk_jobs)},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
        },
    )


# -- sObject Collections -------------------------------------------------------------------------


def _collection(request: Request) -> tuple[bool, list[Any]]:
    if request.malformed or not isinstance(request.body, dict):
        raise bad_request("JSON_PARSER_ERROR", "The request body is not a JSON object")
    records = request.body.get("records")
    if not isinstance(records, list):
        raise bad_request("INVALID_FIELD", "records: expected a list of records")
    if len(records) > COLLECTION_MAX:
        # (?) the code of this refusal is not documented
        raise bad_request("EXCEEDED_ID_LIMIT", f"Cannot have more than {COLLECTION_MAX} records")
    return bool(request.body.get("allOrNone", False)), records


def _failure(*errors: RecordError) -> dict[str, Any]:
    return {"success": False, "errors": [e.as_error() for e in errors]}


def _rolled_back(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    message = (
        "Record rolled back because not all records were valid and the request was using "
        "AllOrNone header"
    )
    return [
        r
        if not r["success"]
        else _failure(RecordError("ALL_OR_NONE_OPERATION_ROLLED_BACK", message))
        for r in results
    ]


def _type_of(item: Mapping[str, Any]) -> str | None:
    attrs = item.get("attributes")
    name = attrs.get("type") if isinstance(attrs, Mapping) else None
    found = sobject(str(name)) if name else None
    return found.name if found is not None else None


def _save_all(state: SalesforceState, request: Request, *, update: bool) -> Response:
    all_or_none, records = _collection(request)
    before = state.snapshot() if all_or_none else None
    results: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in records:
        if not isinstance(item, Mapping):
            results.append(_failure(RecordError("INVALID_FIELD", "not a record")))
            continue
        sobject_name = _type_of(item)
        if sobject_name is None:
            results.append(
                _failure(RecordError("INVALID_TYPE", "Must send a concrete entity type."))
            )
            continue
        values = _fields_of(item)
        record_id: str | None = None
        if update:
            raw_id = item.get("id") or item.get("Id")
            record_id = normalize(str(raw_id)) if raw_id else None
            if record_id is None:
                results.append(_failure(RecordError("MALFORMED_ID", f"malformed id {raw_id}")))
                continue
            if record_id in seen:
                # (?) Salesforce refuses a collection naming one id twice; the wording is Apex's
                results.append(_failure(RecordError("INVALID_ID_FIELD", "Duplicate id in list")))
                continue
            seen.add(record_id)
            if not record_id.startswith(PREFIXES[sobject_name]):
                results.append(_failure(RecordError("MALFORMED_ID", f"malformed id {raw_id}")))
                continue
        saved, errors = state.save(sobject_name, record_id, values)
        if errors:
            results.append(_failure(*errors))
        else:
            results.append({"id": saved, "success": True, "errors": []})
    if all_or_none and any(not r["success"] for r in results):
        assert before is not None
        state.restore(before)
        results = _rolled_back(results)
    return Response(200, results)


def collection_create(state: SalesforceState, request: Request, params: Params) -> Response:
    return _save_all(state, request, update=False)


def collection_update(state: SalesforceState, request: Request, params: Params) -> Response:
    return _save_all(state, request, update=True)


def collection_delete(state: SalesforceState, request: Request, params: Params) -> Response:
    ids = request.values("ids") or []
    if len(ids) > COLLECTION_MAX:
        raise bad_request("EXCEEDED_ID_LIMIT", f"Cannot have more than {COLLECTION_MAX} ids")
    results: list[dict[str, Any]] = []
    for raw in ids:
        if normalize(raw) is None:
            results.append(_failure(RecordError("MALFORMED_ID", f"malformed id {raw}")))
            continue
        refused = state.remove(raw)
        if refused is None:
            results.append({"id": normalize(raw), "success": True, "errors": []})
        else:
            results.append({"id": normalize(raw), **_failure(refused)})
    return Response(200, results)


def collection_retrieve(state: SalesforceState, request: Request, params: Params) -> Response:
    schema = _object(params["sobject"])
    ids = request.values("ids") or []
    names = request.values("fields") or ["Id"]
    fields = []
    for name in names:
        spec = schema.field(name)
        if spec is None or state.is_hidden(schema.name, spec.name):
            raise bad_request(
                "INVALID_FIELD", f"No such column '{name}' on sobject of type {schema.name}"
            )
        fields.append(spec)
    answers: list[Any] = []
    for raw in ids:
        record = state.live(schema.name, raw)
        answers.append(None if record is None else render(record, schema, fields))
    return Response(200, answers)


def userinfo(state: SalesforceState, request: Request, params: Params, base: str) -> Response:
    """``/services/oauth2/userinfo``: who the session is (the API user)."""
    user = state.live("User", state.api_user_id)
    assert user is not None
    values = user.values
    return Response(
        200,
        {
            "sub": f"{base}/id/{ORG_ID}/{user.id}",
            "user_id": user.id,
            "organization_id": ORG_ID,
            "preferred_username": values.get("Username"),
            "email": values.get("Email"),
            "name": f"{values.get('FirstName')} {values.get('LastName')}",
        },
    )


__all__ = ["attributes"]
