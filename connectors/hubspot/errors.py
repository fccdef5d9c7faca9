"""HubSpot errors, classified in one place.

Every SDK sub-package (``hubspot.crm.contacts``, ``hubspot.crm.owners``...) has its own
``ApiException`` class with no common base but ``Exception``, so errors are recognised by shape
(``status``, ``headers``, ``body``), not by class. ``urllib3`` errors surface unwrapped (the SDK
only wraps SSL errors).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import urllib3.exceptions

from connectors.retry import ErrorAction, header, retry_after_seconds
from model.errors import RetriableError
from model.writes import WriteErrorKind

_TRANSIENT_STATUSES = frozenset({408, 423, 429})
#: 530: HubSpot's edge refusing a malformed token (``shared/notes/hubspot.md``): no retry
#: mends a token, so it is an authentication failure, not a 5xx to wait out.
_AUTH_STATUSES = frozenset({401, 403, 530})
LOCKED = 423
#: HubSpot asks for at least this long after a 423 Locked (``shared/notes/hubspot.md``).
LOCKED_WAIT_SECONDS = 2.0
#: After search's own 429 (no policy, no headers; the limit is per second).
SEARCH_LIMIT_WAIT_SECONDS = 1.0
CORRELATION_HEADER = "X-HubSpot-Correlation-Id"

_TRANSIENT_NETWORK: tuple[type[BaseException], ...] = (
    urllib3.exceptions.MaxRetryError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.TimeoutError,
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.IncompleteRead,
    ConnectionError,
    TimeoutError,
)


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of an SDK ``ApiException`` (any sub-package), else ``None``.

    The SDK uses status 0 for errors it raises itself (SSL failure, unparseable datetime).
    """
    status = getattr(exc, "status", None)
    if isinstance(status, int) and not isinstance(status, bool) and hasattr(exc, "body"):
        return status
    return None


def error_body(exc: BaseException) -> dict[str, Any]:
    """HubSpot's JSON error body (``{status, message, category, correlationId...}``) or ``{}``."""
    body = getattr(exc, "body", None)
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if not isinstance(body, str) or not body:
        return {}
    try:
        decoded = json.loads(body)
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def classify(exc: BaseException, *, single_record: bool = False) -> ErrorAction:
    """What to do about ``exc`` raised by an SDK call.

    429, 423 (a portal locked by heavy writes), 408, 5xx and dropped connections or timeouts:
    RETRY (but a 429 of the DAILY policy: PAUSE_SOURCE, since no retry within a run can outwait
    it: the service pauses the source until the portal's day turns). 401/403 (403
    ``MISSING_SCOPES`` included) and 530 (a malformed token, refused by
    HubSpot's edge): STOP_SOURCE. 404: SKIP_RECORD when the call addressed ``single_record``,
    else FAIL (a collection endpoint that is not there means a wrong base URL). Anything else,
    414 (too many merged identities) included: FAIL.
    """
    status = http_status(exc)
    if status is None:
        return ErrorAction.RETRY if isinstance(exc, _TRANSIENT_NETWORK) else ErrorAction.FAIL
    if is_daily_limit(exc):
        return ErrorAction.PAUSE_SOURCE
    if status in _AUTH_STATUSES:
        return ErrorAction.STOP_SOURCE
    if status in _TRANSIENT_STATUSES or 500 <= status <= 599:
        return ErrorAction.RETRY
    if status == 404:
        return ErrorAction.SKIP_RECORD if single_record else ErrorAction.FAIL
    return ErrorAction.FAIL


def is_daily_limit(exc: BaseException) -> bool:
    """A 429 of the ``DAILY`` policy: the portal's daily allowance is spent. It resets at
    midnight in the portal's time zone (developers.hubspot.com/apisbytier: "The daily limits
    reset at midnight based on the time zone setting of the HubSpot account")."""
    if http_status(exc) != 429:
        return False
    return str(error_body(exc).get("policyName", "")).upper() == "DAILY"


def missing_scopes(body: Mapping[str, Any]) -> tuple[str, ...]:
    """The scopes a 403 ``MISSING_SCOPES`` answer names (``errors[].context``'s
    ``requiredGranularScopes`` or ``requiredScopes``), in order, without repeats."""
    found: list[str] = []
    details = body.get("errors")
    for detail in details if isinstance(details, list) else []:
        context = detail.get("context") if isinstance(detail, Mapping) else None
        for key in ("requiredGranularScopes", "requiredScopes"):
            named = context.get(key) if isinstance(context, Mapping) else None
            if isinstance(named, list):
                found += [str(scope) for scope in named]
    return tuple(dict.fromkeys(found))


def correlation_id(body: Mapping[str, Any], headers: object) -> str | None:
    """HubSpot's correlation id of an answer: the body's ``correlationId``, else the
    ``X-HubSpot-Correlation-Id`` header every answer carries (support asks for it)."""
    found = body.get("correlationId") or header(headers, CORRELATION_HEADER)
    return None if found is None else str(found)


def describe(exc: BaseException) -> str | None:
    """A one-line message for a HubSpot or network error (never the whole body: it holds
    personal data), or ``None`` for an exception that is neither. It names the scopes a 403
    ``MISSING_SCOPES`` lacks, says what a 530 means, and ends with the correlation id."""
    status = http_status(exc)
    if status is None:
        if isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError):
            return f"HubSpot unreachable: {type(exc).__name__}: {exc}"
        return None
    body = error_body(exc)
    parts = [f"HubSpot answered {status}" if status else "HubSpot SDK error"]
    if status == 530:
        parts.append("the token is malformed (HubSpot's edge refused it): check the token")
    if is_daily_limit(exc):
        parts.append(
            "the portal's daily API allowance is spent; it resets at midnight in the portal's "
            "time zone, and the source pauses until then"
        )
    scopes = missing_scopes(body)
    if scopes:
        parts.append(
            f"the token lacks the scope(s) {', '.join(scopes)}: grant them to the private app"
        )
    for key in ("category", "policyName", "message"):
        if body.get(key):
            parts.append(f"{key}={body[key]}")
    if len(parts) == 1 and getattr(exc, "reason", None):
        parts.append(f"reason={exc.reason}")  # type: ignore[attr-defined]
    found = correlation_id(body, getattr(exc, "headers", None))
    if found:
        parts.append(f"correlationId={found}")
    return "; ".join(parts)


def retry_after(exc: BaseException) -> float | None:
    """How long HubSpot asks to wait, in seconds: ``Retry-After``; on a 423 Locked at least 2 s;
    on a 429 the rate-limit window (``X-HubSpot-RateLimit-Interval-Milliseconds``), or a
    second for search's own 429, which names no policy and sends no rate-limit headers."""
    seconds = retry_after_seconds(exc)
    status = http_status(exc)
    if status == LOCKED:
        return max(seconds or 0.0, LOCKED_WAIT_SECONDS)
    if seconds is not None or status != 429:
        return seconds
    raw = header(getattr(exc, "headers", None), "X-HubSpot-RateLimit-Interval-Milliseconds")
    if raw is None:
        return None if error_body(exc).get("policyName") else SEARCH_LIMIT_WAIT_SECONDS
    try:
        return float(raw) / 1000
    except ValueError:
        return None


_RETRIABLE_CATEGORIES = frozenset({"RATE_LIMITS"})


def batch_error_retriable(error: Mapping[str, Any]) -> bool:
    """Whether one error of a 207 answer is transient: its ``status`` (HubSpot puts the HTTP
    status there, as a string) is 408, 423, 429 or 5xx, or its category is ``RATE_LIMITS``."""
    status = str(error.get("status", "")).strip()
    if status.isdigit():
        code = int(status)
        if code in _TRANSIENT_STATUSES or 500 <= code <= 599:
            return True
    return str(error.get("category", "")).upper() in _RETRIABLE_CATEGORIES


def describe_batch_error(error: Mapping[str, Any]) -> str:
    """A one-line message for one error of a 207 answer (category and HubSpot's message)."""
    parts = ["HubSpot refused this input"]
    for key in ("category", "message"):
        if error.get(key):
            parts.append(f"{key}={error[key]}")
    return "; ".join(parts)


_KIND_BY_CATEGORY: Mapping[str, WriteErrorKind] = {
    "CONFLICT": WriteErrorKind.DUPLICATE_VALUE,
    "VALIDATION_ERROR": WriteErrorKind.INVALID_VALUE,
    "OBJECT_NOT_FOUND": WriteErrorKind.NOT_FOUND,
    "RATE_LIMITS": WriteErrorKind.RATE_LIMITED,
    "INVALID_AUTHENTICATION": WriteErrorKind.AUTH,
    "MISSING_SCOPES": WriteErrorKind.PERMISSION,
}
_KIND_BY_STATUS: Mapping[int, WriteErrorKind] = {
    409: WriteErrorKind.DUPLICATE_VALUE,
    400: WriteErrorKind.INVALID_VALUE,
    404: WriteErrorKind.NOT_FOUND,
    429: WriteErrorKind.RATE_LIMITED,
    401: WriteErrorKind.AUTH,
    403: WriteErrorKind.PERMISSION,
    408: WriteErrorKind.UNAVAILABLE,
    423: WriteErrorKind.UNAVAILABLE,
    530: WriteErrorKind.AUTH,
}
_NAMED_PROPERTY = re.compile(r'"name":\s*"([^"]+)"')


def _named_properties(error: Mapping[str, Any]) -> tuple[str, ...]:
    """The properties a validation error names: each detail's ``context.propertyName``, else
    the ``"name"`` entries of the JSON list HubSpot embeds in its message."""
    names: list[str] = []
    details = error.get("errors")
    for detail in details if isinstance(details, list) else []:
        context = detail.get("context") if isinstance(detail, Mapping) else None
        found = context.get("propertyName") if isinstance(context, Mapping) else None
        if isinstance(found, list):
            names += [str(n) for n in found]
        elif isinstance(found, str):
            names.append(found)
    if not names:
        names = _NAMED_PROPERTY.findall(str(error.get("message") or ""))
    return tuple(dict.fromkeys(names))


def write_error(
    status: int | None, error: Mapping[str, Any]
) -> tuple[WriteErrorKind, tuple[str, ...]]:
    """What a refused write means, and the HubSpot properties it names (HubSpot's names).

    By ``category`` first: ``CONFLICT`` a duplicate value, ``VALIDATION_ERROR`` an invalid
    value (the record was merged when ``context.mergedInto`` says so), ``OBJECT_NOT_FOUND``,
    ``RATE_LIMITS``, ``INVALID_AUTHENTICATION``, ``MISSING_SCOPES``; else by HTTP status (409,
    400, 404, 429, 401, 403; 408, 423, 5xx or no answer at all: unavailable; 530: auth); else
    other. ``error`` is HubSpot's error body, or one error of a 207 answer (whose ``status`` is
    not HTTP's).
    """
    context = error.get("context")
    if isinstance(context, Mapping) and context.get("mergedInto"):
        return WriteErrorKind.MERGED, ()
    kind = _KIND_BY_CATEGORY.get(str(error.get("category") or "").upper())
    if status in (LOCKED, 530):  # their categories are not documented: the status decides
        kind = _KIND_BY_STATUS[status]
    if kind is None and status is not None and status != 207:
        kind = _KIND_BY_STATUS.get(status)
        if kind is None and (status == 0 or status >= 500):
            kind = WriteErrorKind.UNAVAILABLE
    if kind is None:
        return WriteErrorKind.OTHER, ()
    named = _named_properties(error) if kind is WriteErrorKind.INVALID_VALUE else ()
    return kind, named


def exception_error(exc: BaseException) -> tuple[WriteErrorKind, tuple[str, ...]]:
    """:func:`write_error` of a failed call: the SDK error it is or was caused by; a network
    failure or an exhausted retry without one is unavailable."""
    cause: BaseException | None = exc
    while cause is not None and http_status(cause) is None:
        cause = cause.__cause__
    if cause is not None:
        return write_error(http_status(cause), error_body(cause))
    if isinstance(exc, (*_TRANSIENT_NETWORK, RetriableError)):
        return WriteErrorKind.UNAVAILABLE, ()
    return WriteErrorKind.OTHER, ()


def may_have_landed(exc: BaseException) -> bool:
    """Whether a failed write may have been applied anyway: no answer at all (timeout, dropped
    connection) or a 5xx. A 4xx, 423 and 429 included, is a refusal: nothing was written; so is
    the edge's 530 (the request never reached HubSpot)."""
    status = http_status(exc)
    return status is None or status == 0 or (status >= 500 and status != 530)


def audit_response(
    status: int | None, body: Mapping[str, Any] | None = None, headers: object = None
) -> dict[str, object]:
    """What the audit log keeps of an answer: status, category, correlation id (never values,
    which hold personal data). The correlation id comes from the body, else the
    ``X-HubSpot-Correlation-Id`` header."""
    body = body or {}
    return {
        "status": status,
        "category": body.get("category"),
        "correlationId": correlation_id(body, headers),
    }


def audit_error(exc: BaseException) -> dict[str, object]:
    """:func:`audit_response` of a failed call (the SDK error or whatever it caused)."""
    cause: BaseException | None = exc
    while cause is not None and http_status(cause) is None:
        cause = cause.__cause__
    if cause is None:
        return audit_response(None)
    return audit_response(http_status(cause), error_body(cause), getattr(cause, "headers", None))
