"""The client-side pacing seam: reading HubSpot's rate-limit headers and sleeping when low."""

from __future__ import annotations

import pytest

from connectors.hubspot.pacer import Pacer, RateLimit, read_rate_limit


def limits(remaining: int, maximum: int = 100, interval_ms: int = 10_000) -> dict[str, str]:
    return {
        "X-HubSpot-RateLimit-Max": str(maximum),
        "X-HubSpot-RateLimit-Remaining": str(remaining),
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(interval_ms),
    }


def test_reads_the_headers_case_insensitively() -> None:
    headers = {k.lower(): v for k, v in limits(42).items()}
    assert read_rate_limit(headers) == RateLimit(maximum=100, remaining=42, interval_seconds=10.0)
    assert read_rate_limit({}) is None
    assert read_rate_limit({**limits(1), "X-HubSpot-RateLimit-Max": "lots"}) is None


def test_does_not_sleep_while_plenty_remains() -> None:
    sleeps: list[float] = []
    pacer = Pacer(reserve=0.1, sleep=sleeps.append)
    pacer.observe(limits(50))
    pacer.before_call()
    assert sleeps == []


@pytest.mark.parametrize("remaining", [10, 5, 0])
def test_sleeps_when_the_window_is_nearly_spent(remaining: int) -> None:
    sleeps: list[float] = []
    pacer = Pacer(reserve=0.1, sleep=sleeps.append)
    pacer.observe(limits(remaining))
    pacer.before_call()
    assert len(sleeps) == 1
    assert 0 < sleeps[0] <= 10.0
    pacer.before_call()  # the reading was used up: no second sleep without a new response
    assert len(sleeps) == 1


def test_waits_longer_the_less_remains() -> None:
    pacer = Pacer(reserve=0.1, sleep=lambda _: None)
    waits = []
    for remaining in (10, 5, 0):
        pacer.observe(limits(remaining))
        waits.append(pacer.wait_seconds())
    assert waits[0] < waits[1] < waits[2] == 10.0


def test_responses_without_headers_keep_the_last_reading() -> None:
    pacer = Pacer(sleep=lambda _: None)
    pacer.observe(limits(3))
    pacer.observe({})
    assert pacer.last is not None
    assert pacer.last.remaining == 3
