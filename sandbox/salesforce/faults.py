"""Injected failures as Salesforce (or the load balancer before it) answers them.

The machinery is every emulator's (:mod:`sandbox.http.faults`); what an injected status looks
like here is Salesforce's (:func:`injected_error`). Salesforce has no short rate-limit window
answered with 429: its throttles are the daily allowance (403 ``REQUEST_LIMIT_EXCEEDED``) and
sessions that end (401 ``INVALID_SESSION_ID``), so those are what a random fault can be, with
5xx and gateway pages.
"""

from __future__ import annotations

from collections.abc import Mapping

from sandbox.http.faults import Fault, FaultPolicy, RandomFaults, ScriptedFaults
from sandbox.http.wire import Response
from sandbox.salesforce.soap import fault
from sandbox.salesforce.wire import SalesforceError, invalid_session, limit_exceeded

INJECTABLE_STATUSES: tuple[int, ...] = (401, 403, 500, 502, 503, 504)
DEFAULT_STATUS_MIX: Mapping[int, float] = {401: 1.0, 500: 1.0, 502: 1.0, 503: 2.0, 504: 1.0}

_GATEWAY_TITLES = {502: "502 Bad Gateway", 504: "504 Gateway Time-out"}


class SalesforceFaults(RandomFaults):
    """:class:`RandomFaults` with Salesforce's statuses (see the module docstring)."""

    injectable = INJECTABLE_STATUSES
    default_mix = DEFAULT_STATUS_MIX


def injected_error(status: int, limit_header: Mapping[str, str], *, soap: bool) -> Response:
    """The answer Salesforce gives with ``status`` instead of serving a request.

    - 401: ``INVALID_SESSION_ID`` (the session ended; a client built from credentials logs in
      again); a SOAP request gets the ``sf:INVALID_SESSION_ID`` fault (HTTP 500);
    - 403: ``REQUEST_LIMIT_EXCEEDED`` (the daily allowance);
    - 500: ``UNKNOWN_EXCEPTION`` with an error id, as Salesforce's "unexpected error" reads;
    - 503: ``SERVER_UNAVAILABLE`` (?: the body of a 503 during maintenance is not documented);
    - 502, 504: a load balancer's HTML page, no JSON.
    """
    if status in _GATEWAY_TITLES:
        title = _GATEWAY_TITLES[status]
        page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
        return Response(status, None, {"Content-Type": "text/html"}, raw=page.encode())
    error: SalesforceError
    if status == 401:
        if soap:  # a SOAP client gets a SOAP fault
            return fault("sf:INVALID_SESSION_ID", "Invalid Session ID found in SessionHeader")
        error = invalid_session()
    elif status == 403:
        error = limit_exceeded()
    elif status == 500:
        error = SalesforceError(
            500,
            "UNKNOWN_EXCEPTION",
            "An unexpected error occurred. Please include this ErrorId if you contact support: "
            "1955836537-51331 (-1126812351)",
        )
    elif status == 503:
        error = SalesforceError(503, "SERVER_UNAVAILABLE", "Server is unavailable")
    else:
        raise ValueError(f"cannot inject status {status}; choose one of {INJECTABLE_STATUSES}")
    response = error.response()
    response.headers.update(limit_header)
    return response


__all__ = [
    "DEFAULT_STATUS_MIX",
    "INJECTABLE_STATUSES",
    "Fault",
    "FaultPolicy",
    "SalesforceFaults",
    "ScriptedFaults",
    "injected_error",
]
