"""The tenacity retry helper: what is retried, how long it waits, what finally comes out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.retry import (
    ErrorAction,
    RetrySettings,
    call_with_retry,
    header,
    retry_after_seconds,
    retrying,
)
from model.errors import RecordSkippedError, RetriableError, SourceFatalError, SyncdError


class FakeApiError(Exception):
    """Shaped like an SDK ApiException."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.headers = headers or {}
        self.body = '{"message": "boom"}'


def classify(exc: BaseException) -> ErrorAction:
    if isinstance(exc, FakeApiError):
        if exc.status in (429, 503):
            return ErrorAction.RETRY
        if exc.status == 401:
            return ErrorAction.STOP_SOURCE
        if exc.status == 404:
            return ErrorAction.SKIP_RECORD
    return ErrorAction.FAIL


def describe(exc: BaseException) -> str | None:
    return f"vendor said {exc.status}" if isinstance(exc, FakeApiError) else None


NO_JITTER = RetrySettings(max_attempts=4, initial_wait=1.0, max_wait=4.0, jitter=0.0)


class Flaky:
    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_retries_transient_errors_with_exponential_backoff() -> None:
    sleeps: list[float] = []
    fn = Flaky(FakeApiError(503), FakeApiError(503), FakeApiError(503))
    result = call_with_retry(
        fn, NO_JITTER, classify=classify, describe=describe, sleep=sleeps.append
    )
    assert result == "ok"
    assert fn.calls == 4
    assert sleeps == [1.0, 2.0, 4.0]


def test_waits_capped_at_max_wait() -> None:
    sleeps: list[float] = []
    settings = RetrySettings(max_attempts=6, initial_wait=1.0, max_wait=3.0, jitter=0.0)
    fn = Flaky(*[FakeApiError(503) for _ in range(5)])
    call_with_retry(fn, settings, classify=classify, describe=describe, sleep=sleeps.append)
    assert sleeps == [1.0, 2.0, 3.0, 3.0, 3.0]


def test_retry_after_header_wins_over_shorter_backoff() -> None:
    sleeps: list[float] = []
    fn = Flaky(FakeApiError(429, {"Retry-After": "7"}))
    call_with_retry(fn, NO_JITTER, classify=classify, describe=describe, sleep=sleeps.append)
    assert sleeps == [7.0]


@given(st.floats(min_value=0.0, max_value=2.0))
def test_jitter_stays_within_bounds(jitter: float) -> None:
    sleeps: list[float] = []
    settings = RetrySettings(max_attempts=3, initial_wait=0.5, max_wait=30, jitter=jitter)
    fn = Flaky(FakeApiError(503), FakeApiError(503))
    call_with_retry(fn, settings, classify=classify, describe=describe, sleep=sleeps.append)
    assert 0.5 <= sleeps[0] <= 0.5 + jitter
    assert 1.0 <= sleeps[1] <= 1.0 + jitter


def test_gives_up_after_max_attempts_with_retriable_error_and_vendor_message() -> None:
    sleeps: list[float] = []
    fn = Flaky(*[FakeApiError(503) for _ in range(10)])
    with pytest.raises(RetriableError, match="vendor said 503") as caught:
        call_with_retry(fn, NO_JITTER, classify=classify, describe=describe, sleep=sleeps.append)
    assert fn.calls == 4
    assert len(sleeps) == 3
    assert isinstance(caught.value.__cause__, FakeApiError)


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, SourceFatalError), (404, RecordSkippedError), (400, SyncdError)],
)
def test_non_retriable_errors_are_not_retried(status: int, error: type[SyncdError]) -> None:
    sleeps: list[float] = []
    fn = Flaky(FakeApiError(status))
    with pytest.raises(error) as caught:
        call_with_retry(fn, NO_JITTER, classify=classify, describe=describe, sleep=sleeps.append)
    assert fn.calls == 1
    assert sleeps == []
    assert type(caught.value) is error


def test_errors_that_are_not_the_vendors_propagate_untouched() -> None:
    fn = Flaky(KeyError("bug"))
    with pytest.raises(KeyError):
        call_with_retry(fn, NO_JITTER, classify=classify, describe=describe, sleep=lambda _: None)


def test_retrying_is_a_tenacity_object_usable_directly() -> None:
    sleeps: list[float] = []
    fn = Flaky(FakeApiError(503))
    assert retrying(NO_JITTER, classify=classify, sleep=sleeps.append)(fn) == "ok"
    assert sleeps == [1.0]


def test_headers_are_read_case_insensitively_and_retry_after_must_be_seconds() -> None:
    assert header({"retry-after": "3"}, "Retry-After") == "3"
    assert header(None, "Retry-After") is None
    assert retry_after_seconds(FakeApiError(429, {"Retry-After": "2.5"})) == 2.5
    assert retry_after_seconds(FakeApiError(429, {"Retry-After": "Wed, 21 Oct 2015"})) is None
    assert retry_after_seconds(FakeApiError(429)) is None


def test_settings_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetrySettings(max_attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetrySettings(jitter=-1)
