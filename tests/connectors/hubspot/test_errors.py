"""Classifying HubSpot SDK and network errors into what the caller should do."""

from __future__ import annotations

import json
from typing import Any

import hubspot.crm.associations.v4.exceptions as v4_exceptions
import hubspot.crm.contacts.exceptions as contact_exceptions
import hubspot.crm.owners.exceptions as owner_exceptions
import pytest
import urllib3.exceptions

from connectors.hubspot.errors import (
    classify,
    describe,
    exception_error,
    retry_after,
    write_error,
)
from connectors.retry import ErrorAction
from model.errors import RetriableError
from model.writes import WriteErrorKind


def api_error(
    status: int,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    module: Any = contact_exceptions,
) -> Exception:
    """An ApiException of one SDK sub-package, as the SDK raises it (``body`` is text)."""
    kinds = {401: "UnauthorizedException", 403: "ForbiddenException", 404: "NotFoundException"}
    name = kinds.get(status, "ServiceException" if status >= 500 else "ApiException")
    exc = getattr(module, name)(status=status, reason="reason")
    exc.body = json.dumps(body) if body is not None else None
    exc.headers = headers
    assert isinstance(exc, Exception)
    return exc


@pytest.mark.parametrize("module", [contact_exceptions, owner_exceptions, v4_exceptions])
@pytest.mark.parametrize(
    ("status", "action"),
    [
        (429, ErrorAction.RETRY),
        (500, ErrorAction.RETRY),
        (502, ErrorAction.RETRY),
        (503, ErrorAction.RETRY),
        (423, ErrorAction.RETRY),  # a portal locked by heavy writes
        (401, ErrorAction.STOP_SOURCE),
        (403, ErrorAction.STOP_SOURCE),
        (530, ErrorAction.STOP_SOURCE),  # a malformed token, refused at HubSpot's edge
        (414, ErrorAction.FAIL),  # more than 250 merged identities
        (400, ErrorAction.FAIL),
        (409, ErrorAction.FAIL),
        (404, ErrorAction.FAIL),
    ],
)
def test_every_sdk_subpackage_is_classified_by_status(
    module: Any, status: int, action: ErrorAction
) -> None:
    assert classify(api_error(status, module=module)) is action


def test_404_on_a_single_record_skips_it() -> None:
    assert classify(api_error(404), single_record=True) is ErrorAction.SKIP_RECORD


def test_daily_quota_pauses_the_source_instead_of_retrying() -> None:
    daily = api_error(429, {"status": "error", "policyName": "DAILY", "category": "RATE_LIMITS"})
    rolling = api_error(429, {"policyName": "TEN_SECONDLY_ROLLING"})
    assert classify(daily) is ErrorAction.PAUSE_SOURCE
    assert classify(rolling) is ErrorAction.RETRY


@pytest.mark.parametrize(
    "exc",
    [
        urllib3.exceptions.MaxRetryError(None, "/crm", reason=None),  # type: ignore[arg-type]
        urllib3.exceptions.ProtocolError("Connection aborted."),
        urllib3.exceptions.ReadTimeoutError(None, "/crm", "read timed out"),  # type: ignore[arg-type]
        ConnectionResetError(),
    ],
)
def test_network_errors_are_retried(exc: Exception) -> None:
    assert classify(exc) is ErrorAction.RETRY
    assert describe(exc) is not None


def test_sdk_internal_errors_and_bugs_fail() -> None:
    assert classify(contact_exceptions.ApiException(status=0, reason="SSL")) is ErrorAction.FAIL
    assert classify(ValueError("bug")) is ErrorAction.FAIL
    assert describe(ValueError("bug")) is None


def test_describe_names_status_category_and_message_but_not_the_whole_body() -> None:
    exc = api_error(
        409,
        {
            "status": "error",
            "message": "Contact already exists. Existing ID: 551",
            "category": "CONFLICT",
            "correlationId": "abc",
            "context": {"secret": ["jane@example.com"]},
        },
    )
    text = describe(exc)
    assert text is not None
    assert "409" in text
    assert "CONFLICT" in text
    assert "Existing ID: 551" in text
    assert "jane@example.com" not in text


def test_retry_after_prefers_the_header_then_the_rate_limit_window_on_429() -> None:
    assert retry_after(api_error(429, headers={"Retry-After": "3"})) == 3.0
    window = {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}
    assert retry_after(api_error(429, headers=window)) == 10.0
    assert retry_after(api_error(503, headers=window)) is None
    ten_secondly = {"category": "RATE_LIMITS", "policyName": "TEN_SECONDLY_ROLLING"}
    assert retry_after(api_error(429, ten_secondly)) is None


def test_search_s_own_429_waits_a_second_and_423_at_least_two() -> None:
    # search's 429: no policyName, no rate-limit headers (shared/notes/hubspot.md)
    secondly = {
        "status": "error",
        "message": "You have reached your secondly limit.",
        "category": "RATE_LIMITS",
    }
    assert retry_after(api_error(429, secondly)) == 1.0
    assert retry_after(api_error(423, {"category": "LOCKED"})) == 2.0
    assert retry_after(api_error(423, headers={"Retry-After": "5"})) == 5.0
    assert retry_after(api_error(423, headers={"Retry-After": "1"})) == 2.0


def test_missing_scopes_and_the_correlation_id_are_named() -> None:
    exc = api_error(
        403,
        {
            "status": "error",
            "message": "This app hasn't been granted all required scopes to make this call.",
            "errors": [
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": ["crm.objects.deals.read"]},
                }
            ],
            "category": "MISSING_SCOPES",
        },
        headers={"X-HubSpot-Correlation-Id": "c-403"},
    )
    text = describe(exc)
    assert text is not None
    assert "crm.objects.deals.read" in text
    assert "correlationId=c-403" in text  # from the header when the body has none
    edge = describe(api_error(530))
    assert edge is not None
    assert "malformed" in edge


VALIDATION = {
    "category": "VALIDATION_ERROR",
    "message": 'Property values were not valid: [{"isValid":false,"name":"lifecyclestage"}]',
}


@pytest.mark.parametrize(
    ("status", "body", "kind", "named"),
    [
        (409, {"category": "CONFLICT", "message": "Contact already exists. Existing ID: 5"},
         WriteErrorKind.DUPLICATE_VALUE, ()),
        (400, {**VALIDATION, "errors": [{"context": {"propertyName": ["hs_lead_status"]}}]},
         WriteErrorKind.INVALID_VALUE, ("hs_lead_status",)),
        (400, VALIDATION, WriteErrorKind.INVALID_VALUE, ("lifecyclestage",)),
        (207, VALIDATION, WriteErrorKind.INVALID_VALUE, ("lifecyclestage",)),
        (400, {"category": "VALIDATION_ERROR", "context": {"mergedInto": ["7"]}},
         WriteErrorKind.MERGED, ()),
        (404, {"category": "OBJECT_NOT_FOUND"}, WriteErrorKind.NOT_FOUND, ()),
        (207, {"status": "error", "category": "OBJECT_NOT_FOUND"}, WriteErrorKind.NOT_FOUND, ()),
        (429, {"category": "RATE_LIMITS"}, WriteErrorKind.RATE_LIMITED, ()),
        (429, {}, WriteErrorKind.RATE_LIMITED, ()),
        (401, {"category": "INVALID_AUTHENTICATION"}, WriteErrorKind.AUTH, ()),
        (403, {"category": "MISSING_SCOPES"}, WriteErrorKind.PERMISSION, ()),
        (502, {}, WriteErrorKind.UNAVAILABLE, ()),
        (423, {"category": "LOCKED"}, WriteErrorKind.UNAVAILABLE, ()),
        (530, {}, WriteErrorKind.AUTH, ()),
        (207, {"status": "error"}, WriteErrorKind.OTHER, ()),
    ],
)  # fmt: skip
def test_a_refused_write_is_classified_with_the_properties_it_names(
    status: int, body: dict[str, Any], kind: WriteErrorKind, named: tuple[str, ...]
) -> None:
    assert write_error(status, body) == (kind, named)


def test_an_exception_is_classified_by_the_sdk_error_behind_it() -> None:
    wrapped = RetriableError("gave up")
    wrapped.__cause__ = api_error(409, {"category": "CONFLICT"})
    assert exception_error(wrapped) == (WriteErrorKind.DUPLICATE_VALUE, ())
    assert exception_error(RetriableError("429s outlived the retries")) == (
        WriteErrorKind.UNAVAILABLE,
        (),
    )
    assert exception_error(urllib3.exceptions.ProtocolError("reset")) == (
        WriteErrorKind.UNAVAILABLE,
        (),
    )
    assert exception_error(ValueError("bug")) == (WriteErrorKind.OTHER, ())
