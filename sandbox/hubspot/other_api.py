"""Owners, property definitions, pipelines, associations v4, the account's details, and the
``/_sandbox/health`` endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.hubspot import render
from sandbox.hubspot.model import ASSOCIATION_TYPE_IDS, SINGULAR, canonical_type
from sandbox.hubspot.objects_api import object_type_of
from sandbox.hubspot.store import SandboxState
from sandbox.hubspot.wire import Request, Response, invalid, not_found

OWNERS_MAX = 500
ASSOCIATIONS_BATCH_MAX = 1000
"""Ids per associations batch read (v3 and v4): "may not exceed 1000 IDs per request body";
"larger requests ... will be rejected with an error response" (HubSpot developer changelog, "Bug
Fix: Batch Read Limit for HubSpot Associations API", effective 10 February 2025)."""

Params = Mapping[str, str]


def list_owners(state: SandboxState, request: Request, params: Params) -> Response:
    limit = min(request.integer("limit", 100), OWNERS_MAX)
    if limit < 1:
        raise invalid("limit must be a positive integer")
    after_text = request.text("after") or "0"
    if not after_text.isdigit():
        raise invalid(f"Invalid paging cursor after={after_text!r}")
    start = int(after_text)
    archived = request.flag("archived")
    email = (request.text("email") or "").lower()
    owners = [
        o
        for o in state.owners
        if bool(o.get("archived")) == archived
        and (not email or str(o.get("email", "")).lower() == email)
    ]
    body: dict[str, Any] = {"results": owners[start : start + limit]}
    if start + limit < len(owners):
        body["paging"] = {"next": {"after": str(start + limit), "link": f"?after={start + limit}"}}
    return Response(200, body)


def get_owner(state: SandboxState, request: Request, params: Params) -> Response:
    key = "userId" if request.text("idProperty") == "userId" else "id"
    archived = request.flag("archived")
    for owner in state.owners:
        if str(owner.get(key)) == params["ownerId"] and bool(owner.get("archived")) == archived:
            return Response(200, owner)
    raise not_found(f"Owner {params['ownerId']} not found")


def list_properties(state: SandboxState, request: Request, params: Params) -> Response:
    object_type = object_type_of(params)
    if request.flag("archived"):
        return Response(200, {"results": []})
    return Response(200, {"results": state.catalog.definitions(object_type)})


def get_property(state: SandboxState, request: Request, params: Params) -> Response:
    object_type = object_type_of(params)
    definition = state.catalog.get(object_type, params["propertyName"])
    if definition is None:
        raise not_found(f"Property {params['propertyName']} does not exist")
    return Response(200, definition)


def list_pipelines(state: SandboxState, request: Request, params: Params) -> Response:
    """``GET /crm/v3/pipelines/{objectType}``: every pipeline with its stages, no paging
    (``CollectionResponsePipelineNoPaging``); ``archived=true`` lists the archived ones."""
    object_type = object_type_of(params)
    archived = request.flag("archived")
    found = [p for p in state.pipelines.get(object_type, []) if bool(p.get("archived")) == archived]
    return Response(200, {"results": found})


def get_pipeline(state: SandboxState, request: Request, params: Params) -> Response:
    object_type = object_type_of(params)
    for found in state.pipelines.get(object_type, []):
        if str(found["id"]) == params["pipelineId"]:
            return Response(200, found)
    raise not_found(f"Unable to find pipeline {params['pipelineId']} for {object_type}")


def account_details(state: SandboxState, request: Request, params: Params) -> Response:
    """``GET /account-info/v3/details``: the account (portal) id and settings, as HubSpot's
    account information API answers them (the settings besides the id are fixed)."""
    return Response(
        200,
        {
            "portalId": state.portal_id,
            "accountType": "STANDARD",
            "timeZone": "US/Eastern",
            "companyCurrency": "USD",
            "additionalCurrencies": [],
            "utcOffset": "-05:00",
            "utcOffsetMilliseconds": -18000000,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1",
        },
    )


def _pair(params: Params, from_key: str, to_key: str) -> tuple[str, str]:
    from_type, to_type = canonical_type(params[from_key]), canonical_type(params[to_key])
    if from_type is None or to_type is None:
        raise invalid(f"Unable to infer object type from: {params[from_key]}, {params[to_key]}")
    return from_type, to_type


def batch_read_associations(state: SandboxState, request: Request, params: Params) -> Response:
    """v4 batch read: each input id's associated ids; an id with none is a 207 error."""
    from_type, to_type = _pair(params, "fromObjectType", "toObjectType")
    started = state.clock()
    inputs = request.json_object().get("inputs")
    if not isinstance(inputs, list):
        raise invalid("inputs must be a list")
    if len(inputs) > ASSOCIATIONS_BATCH_MAX:
        # HubSpot's 400 VALIDATION_ERROR body; invented: the message text (HubSpot publishes
        # only that the request is "rejected with an error response").
        raise invalid(
            f"Batch read of associations accepts at most {ASSOCIATIONS_BATCH_MAX} inputs; "
            f"got {len(inputs)}"
        )
    type_id = ASSOCIATION_TYPE_IDS.get((from_type, to_type))
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for entry in inputs:
        key = str(entry.get("id", "")) if isinstance(entry, dict) else ""
        resolved = state.resolve(from_type, key)
        ids = (
            [i for i in state.associated(from_type, resolved, to_type) if state.resolve(to_type, i)]
            if resolved is not None and type_id is not None
            else []
        )
        if not ids:
            errors.append(
                render.batch_error(
                    "OBJECT_NOT_FOUND",
                    f"No {SINGULAR[to_type]} is associated with {SINGULAR[from_type]} {key}.",
                    {"fromObjectId": [key]},
                )
            )
            continue
        results.append(
            {
                "from": {"id": key},
                "to": [
                    {
                        "toObjectId": to_id,
                        "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": type_id}],
                    }
                    for to_id in ids
                ],
            }
        )
    body = render.batch_body(results, errors, started, state.clock())
    return Response(207 if errors else 200, body)


def associate_default(state: SandboxState, request: Request, params: Params) -> Response:
    """v4 ``PUT .../associations/default/{to}/{toId}``: HubSpot's default association, 200."""
    from_type, to_type = _pair(params, "fromObjectType", "toObjectType")
    started = state.clock()
    type_id = ASSOCIATION_TYPE_IDS.get((from_type, to_type))
    if type_id is None:
        raise invalid(f"No default association between {from_type} and {to_type}")
    from_id = state.resolve(from_type, params["fromObjectId"])
    to_id = state.resolve(to_type, params["toObjectId"])
    if from_id is None or to_id is None:
        missing = params["fromObjectId"] if from_id is None else params["toObjectId"]
        raise not_found(f"Object not found. objectId are usually numeric: {missing}")
    state.associate(from_type, from_id, to_type, to_id)
    result = {
        "from": {"id": from_id},
        "to": {"id": to_id},
        "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
    }
    return Response(200, render.batch_body([result], [], started, state.clock()))


def health(state: SandboxState, request: Request, params: Params) -> Response:
    """``GET /_sandbox/health``: liveness and record counts (no authentication)."""
    return Response(200, {"status": "ok", "objects": state.counts(), "owners": len(state.owners)})
