"""Salesforce errors, classified in one place.

simple-salesforce raises by HTTP status (``SalesforceMalformedRequest`` 400,
``SalesforceExpiredSession`` 401, ``SalesforceRefusedRequest`` 403,
``SalesforceResourceNotFound`` 404, ``SalesforceGeneralError`` for the rest), each with the
decoded error list in ``.content``: ``[{message, errorCode[, fields]}]``. A login raises
``SalesforceAuthenticationFailed`` (``.code``: the fault's exception code, an OAuth ``error``, or
the HTTP status when the answer was no SOAP fault at all). ``requests`` raises its own errors for
dropped connections and timeouts. Per-record results of sObject Collections and merges carry
``statusCode`` instead of ``errorCode`` (:func:`record_error`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import requests
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
)

from connectors.retry import ErrorAction
from model.errors import SourcePausedError
from model.writes import WriteErrorKind

LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
LOCKED = "UNABLE_TO_LOCK_ROW"
SESSION_INVALID = "INVALID_SESSION_ID"

_RETRY_CODES = frozenset({LOCKED, "SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION"})
_STOP_CODES = frozenset(
    {"API_DISABLED_FOR_ORG", "API_CURRENTLY_DISABLED", "INSUFFICIENT_ACCESS", "INVALID_LOGIN"}
)
_TRANSIENT_NETWORK: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    ConnectionError,
    TimeoutError,
)


class AllowanceSpentError(SourcePausedError):
    """The org's daily API allowance is spent (``REQUEST_LIMIT_EXCEEDED``), or what is left of it
    is the reserve kept for people and other tools. The allowance is a rolling 24 hours: the
    source must pause, and resumes when a probe of ``limits/`` shows room above the reserve."""


def errors_of(exc: BaseException) -> list[Mapping[str, Any]]:
    """The error list of an SDK error (``.content``), or ``[]``."""
    content = getattr(exc, "content", None)
    if isinstance(content, bytes | str):
        try:
            content = json.loads(content)
        except ValueError:
            return []
    if isinstance(content, list):
        return [e for e in content if isinstance(e, Mapping)]
    if isinstance(content, Mapping):
        return [content]
    return []


def error_code(exc: BaseException) -> str | None:
    """The first ``errorCode`` of an SDK error (the login fault's code for a login)."""
    if isinstance(exc, SalesforceAuthenticationFailed):
        return None if exc.code is None else str(exc.code)
    for error in errors_of(exc):
        code = error.get("errorCode") or error.get("statusCode")
        if code:
            return str(code)
    return None


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an SDK error; a login that met no SOAP or OAuth answer (a gateway page)
    has its status as the code."""
    if isinstance(exc, SalesforceAuthenticationFailed):
        return exc.code if isinstance(exc.code, int) else None
    status = getattr(exc, "status", None) if isinstance(exc, SalesforceError) else None
    return status if isinstance(status, int) else None


def is_expired_session(exc: BaseException) -> bool:
    """A 401 ``INVALID_SESSION_ID``: logging in again may fix it (once)."""
    return isinstance(exc, SalesforceExpiredSession) and error_code(exc) in (SESSION_INVALID, None)


def classify(exc: BaseException, *, single_record: bool = False) -> ErrorAction:
    """What to do about ``exc`` raised by a Salesforce call.

    Dropped connections, timeouts, 5xx, ``UNABLE_TO_LOCK_ROW``: RETRY. ``REQUEST_LIMIT_EXCEEDED``
    (403): PAUSE_SOURCE (no retry within a run outwaits a daily allowance; the caller raises
    :class:`AllowanceSpentError`). A login refused, 401, other 403s: STOP_SOURCE. 404:
    SKIP_RECORD when the call addressed ``single_record``, else FAIL. Anything else
    (``MALFORMED_QUERY``, ``INVALID_FIELD``: a bug or a schema the connector did not expect):
    FAIL.
    """
    if isinstance(exc, _TRANSIENT_NETWORK):
        return ErrorAction.RETRY
    if isinstance(exc, AllowanceSpentError):
        return ErrorAction.PAUSE_SOURCE
    if isinstance(exc, SalesforceAuthenticationFailed):
        status = status_of(exc)
        transient = status is not None and (status >= 500 or status == 408)
        return ErrorAction.RETRY if transient else ErrorAction.STOP_SOURCE
    if not isinstance(exc, SalesforceError):
        return ErrorAction.FAIL
    status, code = status_of(exc), error_code(exc)
    if code == LIMIT_EXCEEDED:
        return ErrorAction.PAUSE_SOURCE
    if code in _RETRY_CODES or (status is not None and (status >= 500 or status == 408)):
        return ErrorAction.RETRY
    if status in (401, 403) or code in _STOP_CODES:
        return ErrorAction.STOP_SOURCE
    if status == 404:
        return ErrorAction.SKIP_RECORD if single_record else ErrorAction.FAIL
    return ErrorAction.FAIL


def describe(exc: BaseException) -> str | None:
    """A one-line message for a Salesforce or network error (never a whole body: records hold
    personal data), or ``None`` for an exception that is neither."""
    if isinstance(exc, AllowanceSpentError):
        return str(exc)
    if isinstance(exc, SalesforceAuthenticationFailed):
        return f"Salesforce refused the login: {exc.code}: {exc.auth_message[:200]}"
    if isinstance(exc, SalesforceError):
        parts = [f"Salesforce answered {exc.status}"]
        for error in errors_of(exc)[:1]:
            code, message = error.get("errorCode"), str(error.get("message") or "")
            if code:
                parts.append(f"errorCode={code}")
            if message:
                first = message.strip().splitlines()[-1] if "\n" in message else message
                parts.append(f"message={first[:200]}")
        return "; ".join(parts)
    if isinstance(exc, (*_TRANSIENT_NETWORK, requests.RequestException)):
        return f"Salesforce unreachable: {type(exc).__name__}: {exc}"
    return None


_KIND_BY_CODE: Mapping[str, WriteErrorKind] = {
    "DUPLICATES_DETECTED": WriteErrorKind.DUPLICATE_VALUE,
    "DUPLICATE_VALUE": WriteErrorKind.DUPLICATE_VALUE,
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": WriteErrorKind.INVALID_VALUE,
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": WriteErrorKind.INVALID_VALUE,
    "INVALID_EMAIL_ADDRESS": WriteErrorKind.INVALID_VALUE,
    "STRING_TOO_LONG": WriteErrorKind.INVALID_VALUE,
    "REQUIRED_FIELD_MISSING": WriteErrorKind.INVALID_VALUE,
    "INVALID_TYPE_ON_FIELD_IN_RECORD": WriteErrorKind.INVALID_VALUE,
    "NUMBER_OUTSIDE_VALID_RANGE": WriteErrorKind.INVALID_VALUE,
    "FIELD_INTEGRITY_EXCEPTION": WriteErrorKind.INVALID_VALUE,
    "INVALID_FIELD": WriteErrorKind.INVALID_VALUE,
    "CANNOT_UPDATE_CONVERTED_LEAD": WriteErrorKind.INVALID_VALUE,
    "INVALID_CROSS_REFERENCE_KEY": WriteErrorKind.INVALID_VALUE,
    "INVALID_FIELD_FOR_INSERT_UPDATE": WriteErrorKind.PERMISSION,
    "INSUFFICIENT_ACCESS_OR_READONLY": WriteErrorKind.PERMISSION,
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": WriteErrorKind.PERMISSION,
    "ENTITY_IS_DELETED": WriteErrorKind.NOT_FOUND,
    "MALFORMED_ID": WriteErrorKind.NOT_FOUND,
    "NOT_FOUND": WriteErrorKind.NOT_FOUND,
    LOCKED: WriteErrorKind.UNAVAILABLE,
    LIMIT_EXCEEDED: WriteErrorKind.RATE_LIMITED,
    SESSION_INVALID: WriteErrorKind.AUTH,
}
_RETRIABLE_KINDS = frozenset({WriteErrorKind.UNAVAILABLE})


def record_error(
    errors: Sequence[Mapping[str, Any]], *, record_missing: bool = False
) -> tuple[WriteErrorKind, tuple[str, ...], str, bool]:
    """What a refused record means: (kind, the Salesforce fields it names, a one-line message,
    retriable). ``errors`` is a save result's or merge result's ``errors`` (``statusCode``) or a
    REST error list (``errorCode``). ``INVALID_CROSS_REFERENCE_KEY`` that names no field is about
    the record itself (``record_missing``: an id that never existed): not found."""
    first = errors[0] if errors else {}
    code = str(first.get("statusCode") or first.get("errorCode") or "")
    fields = tuple(str(f) for f in first.get("fields") or ())
    kind = _KIND_BY_CODE.get(code, WriteErrorKind.OTHER)
    if code == "INVALID_CROSS_REFERENCE_KEY" and not fields:
        kind = WriteErrorKind.NOT_FOUND
    if record_missing and kind is WriteErrorKind.OTHER:
        kind = WriteErrorKind.NOT_FOUND
    message = str(first.get("message") or "").strip().splitlines()
    text = f"Salesforce refused this record: {code}" + (f": {message[-1][:200]}" if message else "")
    return kind, fields, text, kind in _RETRIABLE_KINDS


def audit(
    status: int | None, code: str | None = None, extra: Mapping[str, object] | None = None
) -> dict[str, object]:
    """What the audit log keeps of an answer: status and error code (never values)."""
    found: dict[str, object] = {"status": status, "errorCode": code}
    if extra:
        found.update(extra)
    return found


def may_have_landed(exc: BaseException) -> bool:
    """Whether a failed write may have been applied anyway: no answer (timeout, dropped
    connection) or a 5xx. A 4xx is a refusal: nothing was written."""
    if isinstance(exc, _TRANSIENT_NETWORK):
        return True
    status = status_of(exc)
    return status is None or status >= 500
