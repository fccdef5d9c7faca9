"""Salesforce's error answers as the sandbox's handlers raise them.

REST errors are a JSON list of ``{message, errorCode[, fields]}``; the HTTP status tells the SDK
which exception to raise (``../shared/notes/salesforce-sdk.md``, "Real error bodies").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sandbox.http.wire import Response

LIMIT_EXCEEDED = "TotalRequests Limit exceeded."
SESSION_INVALID = "Session expired or invalid"


class SalesforceError(Exception):
    """A REST error answer: status, ``errorCode``, ``message`` and the ``fields`` it names."""

    def __init__(
        self, status: int, code: str, message: str, fields: Sequence[str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = None if fields is None else list(fields)

    def body(self) -> list[dict[str, Any]]:
        error: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            error["fields"] = self.fields
        return [error]

    def response(self) -> Response:
        return Response(self.status, self.body())


def invalid_session() -> SalesforceError:
    return SalesforceError(401, "INVALID_SESSION_ID", SESSION_INVALID)


def limit_exceeded() -> SalesforceError:
    """The daily allowance is spent: 403 (not 429) ``REQUEST_LIMIT_EXCEEDED``."""
    return SalesforceError(403, "REQUEST_LIMIT_EXCEEDED", LIMIT_EXCEEDED)


def not_found(message: str = "The requested resource does not exist") -> SalesforceError:
    return SalesforceError(404, "NOT_FOUND", message)


def bad_request(code: str, message: str, fields: Sequence[str] | None = None) -> SalesforceError:
    return SalesforceError(400, code, message, fields)
