"""HubSpot's errors as the sandbox's handlers raise them; requests and responses are the shared
ones (:mod:`sandbox.http.wire`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.http.wire import BadRequestError, Request, Response


class ApiError(Exception):
    """A HubSpot error answer: status, ``category`` and ``message``, optional details.

    Rendered by :func:`error_body` as ``{status: "error", message, correlationId, category,
    errors?, context?, ...extra}``.
    """

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        context: Mapping[str, list[str]] | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.errors = errors
        self.context = dict(context) if context else None
        self.extra = dict(extra) if extra else {}
        self.headers = dict(headers) if headers else {}

    def body(self, correlation_id: str) -> dict[str, Any]:
        return error_body(
            correlation_id,
            self.category,
            self.message,
            errors=self.errors,
            context=self.context,
            **self.extra,
        )


def error_body(
    correlation_id: str,
    category: str,
    message: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    context: Mapping[str, list[str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """HubSpot's error body (schema ``Error`` plus the ``status: "error"`` HubSpot always sends)."""
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": correlation_id,
        "category": category,
    }
    if errors:
        body["errors"] = errors
    if context:
        body["context"] = dict(context)
    body.update(extra)
    return body


RATE_LIMIT_MESSAGES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "SECONDLY": "You have reached your secondly limit.",
    "DAILY": "You have reached your daily limit.",
}


def rate_limited(policy: str) -> ApiError:
    """HubSpot's 429: category ``RATE_LIMITS``, ``errorType`` and the ``policyName`` broken."""
    return ApiError(
        429,
        "RATE_LIMITS",
        RATE_LIMIT_MESSAGES[policy],
        extra={"errorType": "RATE_LIMIT", "policyName": policy},
    )


SEARCH_RATE_LIMITED: dict[str, Any] = {
    "status": "error",
    "message": RATE_LIMIT_MESSAGES["SECONDLY"],
    "category": "RATE_LIMITS",
}
"""The body of search's own 429: no ``policyName``, no ``errorType`` (``shared/notes/hubspot.md``;
the correlation id travels in the ``X-HubSpot-Correlation-Id`` header only)."""


def locked() -> ApiError:
    """HubSpot's 423 Locked for a portal under heavy writes: wait at least 2 s, then retry
    (``shared/notes/hubspot.md``). The message and category are invented (not documented)."""
    return ApiError(
        423,
        "LOCKED",
        "The portal is temporarily locked by a heavy load of writes; "
        "wait at least 2 seconds before you retry.",
    )


def not_found(message: str = "resource not found") -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", message)


def invalid(message: str, **kwargs: Any) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, **kwargs)


def from_bad_request(bad: BadRequestError) -> ApiError:
    """HubSpot's answer to a request the shared helpers refused (400 ``VALIDATION_ERROR``; 409
    ``CONFLICT`` for a control request at odds with the sandbox's state)."""
    category = "CONFLICT" if bad.status == 409 else "VALIDATION_ERROR"
    return ApiError(bad.status, category, bad.message)


__all__ = [
    "ApiError",
    "BadRequestError",
    "Request",
    "Response",
    "error_body",
    "from_bad_request",
    "invalid",
    "not_found",
    "rate_limited",
]
