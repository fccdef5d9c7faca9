"""Retries at the I/O boundary: one tenacity helper whose settings are a small frozen value.

A connector supplies one ``classify(exc) -> ErrorAction`` function that says what the caller
should do about a vendor error; this module retries what it calls ``RETRY`` with exponential
backoff and jitter, honours a server's wait hint (``Retry-After``, or a vendor's own header through
``retry_after``), and turns what finally fails into the matching :mod:`model.errors` type with
the vendor's message. Nothing here knows a vendor; sleeping is injectable so tests never wait.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import structlog
import tenacity

from model.errors import (
    RecordSkippedError,
    RetriableError,
    SourceFatalError,
    SourcePausedError,
    SyncdError,
)

T = TypeVar("T")
log = structlog.get_logger(__name__)


class ErrorAction(enum.Enum):
    """What the caller should do about an error."""

    RETRY = "retry"
    """Transient (429, 5xx, timeout, dropped connection): try again after a wait."""
    SKIP_RECORD = "skip_record"
    """Only this record is affected (404 on a single record): report it and go on."""
    STOP_SOURCE = "stop_source"
    """This source cannot go on this run (401, 403): stop it and alert."""
    PAUSE_SOURCE = "pause_source"
    """The vendor's daily allowance is spent: stop the source until it has room again (the
    service pauses it and probes; :class:`~model.errors.SourcePausedError`)."""
    FAIL = "fail"
    """Anything else: a bug or a request the vendor refuses; fail loudly."""


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """How hard to retry: attempts in all (first try included) and the backoff in seconds.

    The n-th wait is ``min(max_wait, initial_wait * 2**(n-1)) + uniform(0, jitter)``, or the
    server's wait hint when that is longer.
    """

    max_attempts: int = 5
    initial_wait: float = 0.5
    max_wait: float = 30.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.initial_wait, self.max_wait, self.jitter) < 0:
            raise ValueError("waits must not be negative")


Classifier = Callable[[BaseException], ErrorAction]
WaitHint = Callable[[BaseException], float | None]


def header(headers: object, name: str) -> str | None:
    """Read one response header case-insensitively from whatever an SDK exposes.

    SDKs hand headers over as ``urllib3.HTTPHeaderDict``, plain dicts or ``None``.
    """
    if headers is None:
        return None
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    value = getter(name)
    if value is None and isinstance(headers, Mapping):
        lowered = name.lower()
        value = next((v for k, v in headers.items() if str(k).lower() == lowered), None)
    return None if value is None else str(value)


def retry_after_seconds(exc: BaseException) -> float | None:
    """The ``Retry-After`` of the error's response, in seconds (delta-seconds form only)."""
    return retry_after_header(getattr(exc, "headers", None))


def retry_after_header(headers: object) -> float | None:
    """``Retry-After`` in response headers, in seconds (delta-seconds form only)."""
    raw = header(headers, "Retry-After")
    if raw is None:
        return None
    try:
        seconds = float(raw.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


class _Wait:
    """tenacity wait strategy: exponential backoff plus jitter, at least the server's hint."""

    def __init__(self, settings: RetrySettings, hint: WaitHint) -> None:
        backoff = tenacity.wait_exponential(
            multiplier=settings.initial_wait, min=settings.initial_wait, max=settings.max_wait
        )
        self._base: tenacity.wait.wait_base = (
            backoff + tenacity.wait_random(0, settings.jitter) if settings.jitter > 0 else backoff
        )
        self._hint = hint

    def __call__(self, state: tenacity.RetryCallState) -> float:
        wait = float(self._base(state))
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        hinted = self._hint(exc) if exc is not None else None
        return max(wait, hinted) if hinted is not None else wait


def retrying(
    settings: RetrySettings,
    *,
    classify: Classifier,
    retry_after: WaitHint = retry_after_seconds,
    sleep: Callable[[float], None] = time.sleep,
    describe: Callable[[BaseException], str | None] | None = None,
) -> tenacity.Retrying:
    """A tenacity ``Retrying`` that retries only errors ``classify`` calls ``RETRY``.

    It re-raises the last error as is (``reraise=True``); :func:`call_with_retry` turns that into
    a :mod:`model.errors` type.
    a :mod:`syncd.errors` type. Each retry is logged (warning ``retrying``: attempt, wait and
    the reason, ``describe(exc)``: the vendor's one-line message with its correlation id; never
    ``str(exc)``, which may hold a response body).
    """

    def should_retry(exc: BaseException) -> bool:
        return classify(exc) is ErrorAction.RETRY

    def before_sleep(state: tenacity.RetryCallState) -> None:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        reason = (describe(exc) if describe and exc else None) or type(exc).__name__
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "retrying",
            attempt=state.attempt_number,
            max_attempts=settings.max_attempts,
            wait_seconds=round(wait, 3),
            reason=reason,
        )

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(should_retry),
        stop=tenacity.stop_after_attempt(settings.max_attempts),
        wait=_Wait(settings, retry_after),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )


def error_for(action: ErrorAction, message: str) -> SyncdError:
    """The :mod:`model.errors` exception that tells the caller to do ``action``."""
    kinds: dict[ErrorAction, type[SyncdError]] = {
        ErrorAction.RETRY: RetriableError,
        ErrorAction.SKIP_RECORD: RecordSkippedError,
        ErrorAction.STOP_SOURCE: SourceFatalError,
        ErrorAction.PAUSE_SOURCE: SourcePausedError,
        ErrorAction.FAIL: SyncdError,
    }
    return kinds[action](message)


def call_with_retry(
    fn: Callable[[], T],
    settings: RetrySettings,
    *,
    classify: Classifier,
    describe: Callable[[BaseException], str | None],
    retry_after: WaitHint = retry_after_seconds,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn`` under :func:`retrying`; translate what finally fails into a syncd error.

    ``describe(exc)`` gives the vendor's message for an error it knows (and ``None`` for an
    error that is not the vendor's, such as a bug in our own code, which propagates untouched).
    A vendor error that outlived its retries raises :class:`RetriableError`, an auth error
    :class:`SourceFatalError`, a spent daily allowance :class:`SourcePausedError`, a
    single-record error :class:`RecordSkippedError`, anything else
    the root :class:`SyncdError`; the original is chained as ``__cause__``.
    """
    try:
        retry = retrying(
            settings, classify=classify, retry_after=retry_after, sleep=sleep, describe=describe
        )
        result: T = retry(fn)
    except Exception as exc:
        message = describe(exc)
        if message is None:
            raise
        raise error_for(classify(exc), message) from exc
    return result
