"""Batch writes judged input by input: retry only what failed transiently, isolate refusals.

HubSpot's batch endpoints take 100 inputs and answer in one of three ways, and
:class:`BatchRunner` turns each into one :class:`~connectors.base.WriteResult` per input:

* **2xx** (200/201/204, or 207 multi-status): a ``judge`` function says, per input, whether it
  was applied. Inputs that failed transiently (a 207 error of category ``RATE_LIMITS``, or an
  answer that does not mention them) are sent again, alone, under the same retry budget;
  the others are settled.
* **A transient error of the whole call** (429, 5xx, timeout, dropped connection): the inputs
  still pending are sent again after a backoff that honours ``Retry-After``, under the budget.
  When the budget runs out they fail with ``retriable=True`` and HubSpot's message.
* **A refusal of the whole call** (400, 409... HubSpot validates the whole batch and writes
  nothing when one input is invalid): the pending inputs are split in halves and each half is
  sent on its own (with its own budget), down to the single input that is refused, which fails
  with HubSpot's message and ``retriable=False``.

401/403 raise :class:`~model.errors.SourceFatalError` (the daily quota its
:class:`~model.errors.SourcePausedError`).

A write whose attempt may have landed without an answer (timeout, dropped connection, 5xx, or
inputs a 2xx answer did not account for) can be ``recover``-ed before it is sent again: the
function looks up which pending inputs are already applied (for task creation: by marker), and
those are settled as applied instead of being written twice.

All retrying is tenacity's, through :func:`connectors.retry.retrying`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import structlog

from connectors.hubspot.client import Answer
from connectors.hubspot.errors import (
    audit_error,
    classify,
    describe,
    exception_error,
    http_status,
    may_have_landed,
    retry_after,
)
from connectors.retry import ErrorAction, RetrySettings, error_for, retrying
from model.errors import SourceFatalError, SyncdError
from model.writes import WriteErrorKind, WriteResult

T = TypeVar("T")
log = structlog.get_logger(__name__)

BATCH_MAX = 100

Send = Callable[[Sequence[T]], Answer]
"""One HTTP attempt for some inputs (at most :data:`BATCH_MAX`); raises the SDK's error."""
Judge = Callable[[Sequence[T], Answer], dict[str, WriteResult]]
"""The result of every input of a 2xx answer, by key."""
Recover = Callable[[Sequence[T]], dict[str, WriteResult]]
"""Results of the inputs found already applied (by key); may raise ``SyncdError``."""


class _PendingError(Exception):
    """Some inputs failed transiently inside a 2xx answer: retry them (not an HTTP error)."""

    def __init__(self, failures: dict[str, WriteResult]) -> None:
        super().__init__(f"{len(failures)} input(s) failed transiently")
        self.failures = failures


class _RecoveryFailedError(Exception):
    """The look-up that makes a resend safe failed: the inputs must not be sent blindly."""

    def __init__(self, cause: SyncdError) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _classify(exc: BaseException) -> ErrorAction:
    if isinstance(exc, _PendingError):
        return ErrorAction.RETRY
    if isinstance(exc, _RecoveryFailedError):
        return ErrorAction.FAIL
    return classify(exc)


def _retry_after(exc: BaseException) -> float | None:
    return None if isinstance(exc, _PendingError | _RecoveryFailedError) else retry_after(exc)


def _describe(exc: BaseException) -> str | None:
    return str(exc) if isinstance(exc, _PendingError) else describe(exc)


def chunks(items: Sequence[T], size: int = BATCH_MAX) -> list[list[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class BatchRunner(Generic[T]):
    """Runs one kind of batch write for a sequence of inputs (see the module docstring).

    ``key`` names an input (the outbox idempotency key); keys must be unique within a run.
    """

    def __init__(
        self,
        *,
        key: Callable[[T], str],
        send: Send[T],
        judge: Judge[T],
        recover: Recover[T] | None = None,
        retry: RetrySettings,
        sleep: Callable[[float], None] = time.sleep,
        name: str = "batch",
    ) -> None:
        self._name = name
        self._key = key
        self._send = send
        self._judge = judge
        self._recover = recover
        self._retry = retry
        self._sleep = sleep

    def run(self, groups: Sequence[Sequence[T]]) -> dict[str, WriteResult]:
        """Send each group (at most :data:`BATCH_MAX` inputs) as one batch; every input's
        result by key."""
        results: dict[str, WriteResult] = {}
        for group in groups:
            if group:
                self._group(list(group), results)
                settled = [results.get(self._key(item)) for item in group]
                applied = sum(1 for r in settled if r is not None and r.ok)
                log.info(
                    "push batch",
                    operation=self._name,
                    inputs=len(group),
                    applied=applied,
                    failed=len(group) - applied,
                )
        return results

    def _fail(
        self,
        items: Sequence[T],
        results: dict[str, WriteResult],
        error: str,
        *,
        retriable: bool,
        response: dict[str, object],
        kind: tuple[WriteErrorKind, tuple[str, ...]] = (WriteErrorKind.OTHER, ()),
    ) -> None:
        for item in items:
            key = self._key(item)
            results[key] = WriteResult(
                key,
                ok=False,
                error=error,
                retriable=retriable,
                response=response,
                error_kind=kind[0],
                fields=kind[1],
            )

    def _group(self, group: list[T], results: dict[str, WriteResult]) -> None:
        pending = group
        unsure = False  # the previous attempt may have landed without telling us

        def attempt() -> None:
            nonlocal pending, unsure
            if unsure and self._recover is not None:
                try:
                    found = self._recover(pending)
                except SourceFatalError:
                    raise
                except SyncdError as exc:
                    raise _RecoveryFailedError(exc) from exc
                results.update(found)
                pending = [item for item in pending if self._key(item) not in found]
                if not pending:
                    return
            try:
                answer = self._send(pending)
            except Exception as exc:
                unsure = may_have_landed(exc)
                raise
            judged = self._judge(pending, answer)
            failures = {}
            for item in pending:
                key = self._key(item)
                result = judged[key]
                if result.ok or not result.retriable:
                    results[key] = result
                else:
                    failures[key] = result
            pending = [item for item in pending if self._key(item) in failures]
            # an input a 2xx answer left unsettled may still have been applied
            unsure = bool(failures)
            if failures:
                raise _PendingError(failures)

        try:
            retrying(
                self._retry,
                classify=_classify,
                retry_after=_retry_after,
                sleep=self._sleep,
                describe=_describe,
            )(attempt)
        except _PendingError as partial:
            results.update(partial.failures)
        except _RecoveryFailedError as failed:
            self._fail(
                pending,
                results,
                f"could not check whether the write already landed: {failed.cause}",
                retriable=True,
                response=audit_error(failed.cause),
                kind=(WriteErrorKind.UNAVAILABLE, ()),
            )
        except SyncdError as exc:  # an answer we could not read: do not guess, do not resend
            if isinstance(exc, SourceFatalError):
                raise
            self._fail(pending, results, str(exc), retriable=False, response={})
        except Exception as exc:
            self._settle_error(exc, pending, results)

    def _settle_error(
        self, exc: Exception, pending: list[T], results: dict[str, WriteResult]
    ) -> None:
        message = describe(exc)
        if message is None:
            raise exc  # not HubSpot's error nor the network's: a bug, fail loudly
        action = classify(exc)
        if action in (ErrorAction.STOP_SOURCE, ErrorAction.PAUSE_SOURCE):
            raise error_for(action, message) from exc
        if action is ErrorAction.RETRY:
            self._fail(
                pending,
                results,
                message,
                retriable=True,
                response=audit_error(exc),
                kind=exception_error(exc),
            )
            return
        status = http_status(exc)
        if status is not None and 400 <= status < 500 and len(pending) > 1:
            half = len(pending) // 2
            self._group(pending[:half], results)
            self._group(pending[half:], results)
            return
        self._fail(
            pending,
            results,
            message,
            retriable=False,
            response=audit_error(exc),
            kind=exception_error(exc),
        )
