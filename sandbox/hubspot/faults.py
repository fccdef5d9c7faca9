"""Injected failures as HubSpot (or the gateway before it) answers them.

The fault machinery is shared by every emulator (:mod:`sandbox.http.faults`: one decision per
request, made before dispatch; scripted or seeded and random); what an injected status looks
like here is HubSpot's: :func:`injected_error`.
"""

from __future__ import annotations

from collections.abc import Mapping

from sandbox.http.faults import (
    DEFAULT_STATUS_MIX,
    Fault,
    FaultPolicy,
    ScriptedFaults,
)
from sandbox.http.faults import RandomFaults as _SharedRandomFaults
from sandbox.hubspot.access import edge_refusal
from sandbox.hubspot.wire import ApiError, Response, locked, rate_limited

#: Statuses :class:`RandomFaults` can inject (423 and 530 only when a mix names them; the
#: default weights are the shared core's ``DEFAULT_STATUS_MIX``).
INJECTABLE_STATUSES: tuple[int, ...] = (423, 429, 500, 502, 503, 504, 530)


class RandomFaults(_SharedRandomFaults):
    """The shared :class:`~sandbox.http.faults.RandomFaults` with HubSpot's statuses (423
    Locked and the edge's 530 besides 429 and 5xx)."""

    injectable = INJECTABLE_STATUSES


_GATEWAY_TITLES = {502: "502 Bad Gateway", 504: "504 Gateway Time-out"}
_SERVER_MESSAGES = {
    500: "internal error",
    503: "Service Unavailable: HubSpot is temporarily unavailable. Please retry shortly.",
}


def injected_error(
    status: int,
    correlation_id: str,
    rate_headers: Mapping[str, str],
    retry_after_s: int | None = None,
) -> Response:
    """The answer HubSpot (or the gateway before it) gives with ``status``.

    - 429: HubSpot's ten-secondly rate-limit error (category ``RATE_LIMITS``, ``policyName``
      ``TEN_SECONDLY_ROLLING``), the ``X-HubSpot-RateLimit-*`` headers with ``Remaining`` 0,
      and ``Retry-After`` when ``retry_after_s`` is given;
    - 500, 503: HubSpot's JSON error body (category ``INTERNAL_ERROR``) with the rate-limit
      headers as they stand;
    - 502, 504: what a gateway answers: a small HTML page, no HubSpot headers, no JSON;
    - 423: HubSpot's Locked answer to heavy writes (:func:`~sandbox.hubspot.wire.locked`);
    - 530: what HubSpot's edge answers for a malformed token (an HTML page).
    """
    if status == 423:
        return Response(423, locked().body(correlation_id), dict(rate_headers))
    if status == 530:
        return edge_refusal()
    if status == 429:
        error = rate_limited("TEN_SECONDLY_ROLLING")
        headers = {**rate_headers, "X-HubSpot-RateLimit-Remaining": "0"}
        if retry_after_s is not None:
            headers["Retry-After"] = str(retry_after_s)
        return Response(429, error.body(correlation_id), headers)
    if status in _SERVER_MESSAGES:
        error = ApiError(status, "INTERNAL_ERROR", _SERVER_MESSAGES[status])
        return Response(status, error.body(correlation_id), dict(rate_headers))
    if status in _GATEWAY_TITLES:
        title = _GATEWAY_TITLES[status]
        page = (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
        )
        return Response(
            status, None, {"Content-Type": "text/html; charset=utf-8"}, raw=page.encode()
        )
    raise ValueError(f"cannot inject status {status}; choose one of {list(INJECTABLE_STATUSES)}")


__all__ = [
    "DEFAULT_STATUS_MIX",
    "INJECTABLE_STATUSES",
    "Fault",
    "FaultPolicy",
    "RandomFaults",
    "ScriptedFaults",
    "injected_error",
]
