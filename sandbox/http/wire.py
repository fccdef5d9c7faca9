"""Requests and responses as an emulator's handlers see them (no sockets here).

The helpers that read a request raise :class:`BadRequestError`; each vendor's app turns it into its
vendor's error answer (HubSpot's ``VALIDATION_ERROR``, Salesforce's ``[{errorCode, message}]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class BadRequestError(Exception):
    """A request an emulator cannot serve as sent; ``status`` 400 unless said (409 for a
    control request that conflicts with the sandbox's state)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request: ``query`` maps each key to all its values; ``body`` is the parsed JSON
    (None when there is none, or when the body is not JSON: ``malformed`` then says whether it
    was meant to be); ``raw`` the bytes as received (a SOAP envelope, a CSV upload, a form)."""

    method: str
    path: str
    query: Mapping[str, list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    malformed: bool = False
    raw: bytes = b""

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
        """A boolean parameter; SDKs send ``True``/``False``, curl users ``true``."""
        raw = self.text(name)
        if raw is None or raw.lower() == "false":
            return False
        if raw.lower() == "true":
            return True
        raise BadRequestError(f"{name} must be true or false; got {raw!r}")

    def integer(self, name: str, default: int) -> int:
        raw = self.text(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise BadRequestError(f"{name} must be an integer; got {raw!r}") from None

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; :class:`BadRequestError` when it is not one."""
        if not isinstance(self.body, dict):
            raise BadRequestError("Invalid input JSON: expected an object")
        return self.body


@dataclass(slots=True)
class Response:
    """One HTTP response; ``body`` None means no body (204).

    ``raw``, when set, is sent as the body instead of ``body`` as JSON, with the Content-Type
    given in ``headers`` (a gateway's HTML error page, a SOAP envelope, a CSV page).
    """

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
