"""The pacer: reading HubSpot's rate-limit headers, bursting, spreading, never overrunning."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.hubspot.pacer import Pacer, RateLimit, read_rate_limit
from sandbox.hubspot.ratelimit import RateLimiter
from tests.connectors.hubspot.world import FakeTime


def limits(remaining: int, maximum: int = 100, interval_ms: int = 10_000) -> dict[str, str]:
    return {
        "X-HubSpot-RateLimit-Max": str(maximum),
        "X-HubSpot-RateLimit-Remaining": str(remaining),
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(interval_ms),
    }


def paced(time: FakeTime, **options: float) -> Pacer:
    return Pacer(sleep=time.sleep, clock=time.monotonic, **options)


def calls(pacer: Pacer, time: FakeTime, count: int, maximum: int = 100) -> None:
    """``count`` calls by this client alone, each answered 10 ms later with the true count."""
    for _ in range(count):
        pacer.before_call()
        time.now += 0.01
        in_window = len([t for t in pacer._own if t > time.now - 10]) + 1
        pacer.observe(limits(maximum - in_window, maximum))


def test_reads_the_headers_case_insensitively() -> None:
    headers = {k.lower(): v for k, v in limits(42).items()}
    assert read_rate_limit(headers) == RateLimit(maximum=100, remaining=42, interval_seconds=10.0)
    assert read_rate_limit({}) is None
    assert read_rate_limit({**limits(1), "X-HubSpot-RateLimit-Max": "lots"}) is None


def test_no_wait_before_any_reading() -> None:
    time = FakeTime()
    pacer = paced(time)
    pacer.before_call()
    assert time.sleeps == []
    assert pacer.budget() is None


def test_a_burst_goes_at_once_until_half_the_budget_is_used() -> None:
    time = FakeTime()
    pacer = paced(time, reserve=0.1, spread_below=0.5)
    calls(pacer, time, 45)  # budget 90: the 45th call finds 44 in the window
    assert time.sleeps == []
    assert pacer.budget() == 90
    assert pacer.wait_seconds() == pytest.approx(10 / 90)


def test_past_half_the_budget_calls_are_spread_at_the_sustainable_rate() -> None:
    time = FakeTime()
    pacer = paced(time)
    calls(pacer, time, 60)
    assert len(time.sleeps) == 60 - 45  # the 46th call finds 45 (half of 90) in the window
    assert all(s == pytest.approx(10 / 90) for s in time.sleeps)


def test_a_full_budget_waits_for_the_oldest_call_to_leave_the_window() -> None:
    time = FakeTime()
    pacer = paced(time, spread_below=1.0)  # no spreading: burst to the budget, then stop
    start = time.now
    calls(pacer, time, 90)
    assert time.sleeps == []
    assert pacer.wait_seconds() == pytest.approx(start + 0.01 + 10 - time.now)


def test_other_clients_of_the_token_shrink_the_budget() -> None:
    time = FakeTime()
    pacer = paced(time)
    pacer.before_call()
    time.now += 0.01
    pacer.observe(limits(remaining=40))  # 60 used, one of them ours
    assert pacer.budget() == 100 - 10 - 59
    time.now += 10
    assert pacer.budget() == 90, "a reading older than the window says nothing about others"


def test_retry_after_is_waited_out_and_its_counts_are_not_read() -> None:
    time = FakeTime()
    pacer = paced(time)
    pacer.observe({**limits(0), "Retry-After": "3"})
    assert pacer.wait_seconds() == pytest.approx(3.0)
    assert pacer.last is None
    time.now += 3
    assert pacer.wait_seconds() == 0


def test_responses_without_headers_keep_the_last_reading_but_count_as_calls() -> None:
    time = FakeTime()
    pacer = paced(time)
    pacer.observe(limits(3))
    pacer.observe({})
    assert pacer.last is not None
    assert pacer.last.remaining == 3
    assert len(pacer._own) == 2


@pytest.mark.parametrize(("reserve", "spread"), [(-0.1, 0.5), (1.0, 0.5), (0.1, 1.5)])
def test_refuses_impossible_settings(reserve: float, spread: float) -> None:
    with pytest.raises(ValueError, match="must be in"):
        Pacer(reserve=reserve, spread_below=spread)


@settings(max_examples=40, deadline=None)
@given(
    maximum=st.integers(min_value=2, max_value=250),
    latency=st.floats(min_value=0.0, max_value=0.5),
    count=st.integers(min_value=1, max_value=400),
)
def test_one_client_never_overruns_hubspots_window(
    maximum: int, latency: float, count: int
) -> None:
    """Against the sandbox's rolling-window limiter (on the same fake time): no 429, ever, and
    no slower than the budget's sustainable rate allows (plus one window and the latency)."""
    time = FakeTime()
    limiter = RateLimiter(
        per_interval=maximum, search_per_second=None, daily=None, timer=time.monotonic
    )
    pacer = paced(time)
    start = time.now
    for _ in range(count):
        pacer.before_call()
        time.now += latency / 2  # on the way to HubSpot
        verdict = limiter.check(search=False, today=date(2024, 5, 1))
        assert verdict.policy is None, f"429 after {len(time.sleeps)} waits"
        time.now += latency / 2
        pacer.observe(verdict.headers)
    budget = pacer.budget()
    assert budget is not None
    assert time.now - start <= 10 * (count / budget + 1) + count * latency + 1e-6
