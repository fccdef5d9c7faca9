"""Sending to the outside (alert channels, heartbeat): retried, redacted, never fatal.

A channel raises :class:`DeliveryError` with a message safe to log: an HTTP status or the name of
a connection error, never the URL (a Slack or heartbeat URL *is* the secret: urllib3 puts it in
its messages) and never a response body. :func:`deliver` retries what
:meth:`DeliveryError.retriable` says through the project's tenacity helper
(:mod:`connectors.retry`), honouring ``Retry-After``, and logs what finally fails.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Literal

import urllib3
from pydantic import SecretStr

from connectors.retry import ErrorAction, RetrySettings, retry_after_header, retrying
from syncd.logging import get_logger

log = get_logger(__name__)

DEFAULT_RETRY = RetrySettings(max_attempts=4, initial_wait=1.0, max_wait=30.0, jitter=0.5)


class DeliveryError(Exception):
    """Sending failed; the message names no secret. ``retriable``: worth another try."""

    def __init__(self, message: str, *, retriable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.retry_after = retry_after


def classify(exc: BaseException) -> ErrorAction:
    """``RETRY`` for a retriable :class:`DeliveryError`, ``FAIL`` for anything else."""
    if isinstance(exc, DeliveryError) and exc.retriable:
        return ErrorAction.RETRY
    return ErrorAction.FAIL


def _wait_hint(exc: BaseException) -> float | None:
    return exc.retry_after if isinstance(exc, DeliveryError) else None


def deliver(
    send: Callable[[], None],
    what: str,
    *,
    retry: RetrySettings = DEFAULT_RETRY,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """Call ``send`` with retries; None when it got through, else why not (already logged).

    Never raises for a failed delivery; a bug in ``send`` (not a :class:`DeliveryError`) is
    logged the same way, by its type only.
    """
    try:
        retrying(retry, classify=classify, retry_after=_wait_hint, sleep=sleep)(send)
    except DeliveryError as exc:
        log.error("delivery failed", to=what, reason=str(exc))
        return str(exc)
    except Exception as exc:
        reason = f"unexpected {type(exc).__name__}"
        log.error("delivery failed", to=what, reason=reason)
        return reason
    return None


Method = Literal["GET", "POST"]


class HttpSender:
    """Plain HTTP(S) requests for channels and the heartbeat, errors made safe to log.

    2xx is success. 408, 425, 429 and 5xx are retriable (429 with its ``Retry-After``); other
    statuses are not. Connection errors and timeouts are retriable.
    """

    def __init__(self, timeout_seconds: float = 10.0, pool: urllib3.PoolManager | None = None):
        self._pool = pool or urllib3.PoolManager(
            timeout=urllib3.Timeout(total=timeout_seconds), retries=False
        )

    def post_json(self, url: SecretStr, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.request("POST", url, body=body, content_type="application/json")

    def request(
        self,
        method: Method,
        url: SecretStr,
        *,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> None:
        headers = {"User-Agent": "syncd"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        try:
            response = self._pool.request(
                method, url.get_secret_value(), body=body, headers=headers, redirect=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise DeliveryError(_connection_problem(exc), retriable=True) from None
        status = response.status
        if 200 <= status < 300:
            return
        retriable = status in {408, 425, 429} or status >= 500
        hint = retry_after_header(response.headers) if status == 429 else None
        raise DeliveryError(f"HTTP {status}", retriable=retriable, retry_after=hint)


def _connection_problem(exc: urllib3.exceptions.HTTPError) -> str:
    """The kind of a connection error without its message (which holds the URL)."""
    reason = getattr(exc, "reason", None)  # MaxRetryError wraps the real one
    inner = reason if isinstance(reason, BaseException) else exc
    return f"connection failed ({type(inner).__name__})"
