"""Requests, responses and errors as the sandbox's handlers see them (no sockets here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request: ``query`` maps each key to all its values, ``body`` is parsed JSON."""

    method: str
    path: str
    query: Mapping[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    malformed: bool = False

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    def values(self, name: str) -> list[str] | None:
        """A list parameter, repeated (``a=1&a=2``) or comma-joined (``a=1,2``); None if absent."""
        if name not in self.query:
            return None
        return [part.strip() for raw in self.query[name] for part in raw.split(",") if part.strip()]

    def text(self, name: str) -> str | None:
        found = self.query.get(name)
        return found[0] if found else None

    def flag(self, name: str) -> bool:
        """A boolean parameter; the SDK sends ``True``/``False``, curl users ``true``."""
        raw = self.text(name)
        if raw is None or raw.lower() == "false":
            return False
        if raw.lower() == "true":
            return True
        raise invalid(f"{name} must be true or false; got {raw!r}")

    def integer(self, name: str, default: int) -> int:
        raw = self.text(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise invalid(f"{name} must be an integer; got {raw!r}") from None

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; 400 when it is not one."""
        if not isinstance(self.body, dict):
            raise invalid("Invalid input JSON: expected an object")
        return self.body


@dataclass(slots=True)
class Response:
    """One HTTP response; ``body`` None means no body (204).

    ``raw``, when set, is sent as the body instead of ``body`` as JSON, with the Content-Type
    given in ``headers`` (how a gateway's HTML error page is sent).
    """

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


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
