"""Bulk API 2.0 query jobs (``/services/data/v{version}/jobs/query``), as simple-salesforce's
``bulk2`` drives them: create, poll until ``JobComplete``, read the CSV results page by page
with ``Sforce-Locator`` and ``Sforce-NumberOfRecords`` (which the SDK requires).

The result set is taken when the job is created; ``SalesforceState.bulk_polls`` makes a job
answer ``InProgress`` that many times first. CSV: comma-separated, LF line endings, every value
quoted, the header repeated on every page, null as an empty value, datetimes as
``2024-01-01T00:00:00.000Z``.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Mapping
from typing import Any

from sandbox.http.wire import Request, Response
from sandbox.salesforce.ids import PREFIXES, make_id
from sandbox.salesforce.records import csv_value, sf_datetime
from sandbox.salesforce.rest import parse_soql, select, selected_value
from sandbox.salesforce.schema import API_VERSION
from sandbox.salesforce.store import SalesforceState
from sandbox.salesforce.wire import SalesforceError, bad_request, not_found

Params = Mapping[str, str]
DEFAULT_PAGE = 50_000


def _job_body(job: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if not k.startswith("_")}


def create(state: SalesforceState, request: Request, params: Params) -> Response:
    """``POST jobs/query``: ``{operation: query|queryAll, query, columnDelimiter, lineEnding}``."""
    body = request.body
    if request.malformed or not isinstance(body, dict):
        raise bad_request("API_ERROR", "Unable to parse the request body as JSON")
    operation = body.get("operation")
    if operation not in ("query", "queryAll"):
        raise bad_request("API_ERROR", f"Invalid operation: {operation!r}")
    if body.get("columnDelimiter", "COMMA") != "COMMA" or body.get("lineEnding", "LF") != "LF":
        raise bad_request("API_ERROR", "the sandbox writes COMMA-delimited, LF-ended CSV only")
    text = body.get("query")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("API_ERROR", "query is required")
    query = parse_soql(state, text)
    if query.count:
        # (?) Bulk API 2.0 refuses aggregate queries; its exact wording is not documented here
        raise bad_request("API_ERROR", "Aggregate queries are not supported by Bulk API 2.0")
    records = select(state, query, include_deleted=operation == "queryAll")
    rows = [
        [csv_value(selected_value(state, record, ref)) for ref in query.fields]
        for record in records
    ]
    number = len(state.bulk_jobs) + 1
    job_id = make_id(PREFIXES["BulkJob"], number)
    now = sf_datetime(state.clock())
    job: dict[str, Any] = {
        "id": job_id,
        "operation": operation,
        "object": query.sobject.name,
        "createdById": state.api_user_id,
        "createdDate": now,
        "systemModstamp": now,
        "state": "UploadComplete",
        "concurrencyMode": "Parallel",
        "contentType": "CSV",
        "apiVersion": float(API_VERSION),
        "lineEnding": "LF",
        "columnDelimiter": "COMMA",
        "_header": [ref.path for ref in query.fields],  # Account.Name for a parent's field
        "_rows": rows,
        "_polls": state.bulk_polls,
    }
    state.bulk_jobs[job_id] = job
    return Response(200, _job_body(job))


def _job(state: SalesforceState, job_id: str) -> dict[str, Any]:
    job = state.bulk_jobs.get(job_id)
    if job is None:
        raise not_found("The requested resource does not exist")
    return job


def status(state: SalesforceState, request: Request, params: Params) -> Response:
    """``GET jobs/query/{id}``: ``InProgress`` for ``bulk_polls`` polls, then ``JobComplete``."""
    job = _job(state, params["job"])
    if job["state"] == "UploadComplete":
        if job["_polls"] > 0:
            job["_polls"] -= 1
            job["state"] = "InProgress"
        else:
            job["state"] = "JobComplete"
    elif job["state"] == "InProgress":
        job["_polls"] -= 1
        if job["_polls"] <= 0:
            job["state"] = "JobComplete"
    body = _job_body(job)
    if job["state"] == "JobComplete":
        body.update(numberRecordsProcessed=len(job["_rows"]), retries=0, totalProcessingTime=42)
    return Response(200, body)


def results(state: SalesforceState, request: Request, params: Params) -> Response:
    """``GET jobs/query/{id}/results?maxRecords=&locator=``: one CSV page."""
    job = _job(state, params["job"])
    if job["state"] != "JobComplete":
        raise SalesforceError(
            412,
            "JOB_NOT_COMPLETE",
            "can only download query results of successfully completed bulk job with status: "
            f"JOB_COMPLETE. Current status: {str(job['state']).upper()}",
        )
    page_size = request.integer("maxRecords", DEFAULT_PAGE)
    if page_size <= 0:
        raise bad_request("API_ERROR", "maxRecords must be positive")
    locator = request.text("locator")
    offset = 0
    if locator:
        try:
            offset = int(base64.b64decode(locator.encode()).decode())
        except ValueError:
            raise bad_request("INVALIDLOCATOR", f"Invalid locator: {locator}") from None
    rows = job["_rows"][offset : offset + page_size]
    more = offset + page_size < len(job["_rows"])
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(job["_header"])
    writer.writerows(rows)
    next_locator = base64.b64encode(str(offset + page_size).encode()).decode() if more else "null"
    headers = {
        "Content-Type": "text/csv",
        "Sforce-Locator": next_locator,
        "Sforce-NumberOfRecords": str(len(rows)),
    }
    return Response(200, None, headers, raw=out.getvalue().encode())


def abort(state: SalesforceState, request: Request, params: Params) -> Response:
    """``PATCH jobs/query/{id}`` with ``{"state": "Aborted"}``."""
    job = _job(state, params["job"])
    body = request.body
    if not isinstance(body, dict) or body.get("state") != "Aborted":
        raise bad_request("API_ERROR", "Only state Aborted can be set on a query job")
    if job["state"] != "JobComplete":
        job["state"] = "Aborted"
    return Response(200, _job_body(job))


def delete(state: SalesforceState, request: Request, params: Params) -> Response:
    _job(state, params["job"])
    del state.bulk_jobs[params["job"]]
    return Response(204)
