"""The peer bench reports a matcher whose process dies (out of memory at a million records)
instead of waiting for its answer forever, and goes on with the others."""

from __future__ import annotations

import os
import signal

import pytest

from bench import peer
from bench.peer import Failed, MatcherDiedError, measure


def _killed() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's out-of-memory killer does
    raise AssertionError("unreachable")


def test_a_killed_matcher_is_reported_not_awaited() -> None:
    with pytest.raises(MatcherDiedError, match="exit code -9"):
        measure(_killed)


def test_a_matcher_that_answers_is_measured() -> None:
    got = measure(lambda: ({("1", "2")}, {("1", "2"), ("2", "3")}))
    assert got.merged == {("1", "2")}
    assert got.proposed == {("1", "2"), ("2", "3")}
    assert got.seconds >= 0


def test_the_others_still_run_and_the_table_says_which_died(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        peer,
        "MATCHERS",
        {"first": lambda records: _killed(), "second": lambda records: ({("a", "b")}, set())},
    )
    outcomes = peer.compare([], {("a", "b")})
    assert isinstance(outcomes[0], Failed)
    assert outcomes[0].matcher == "first"
    assert not isinstance(outcomes[1], Failed)
    assert outcomes[1].merges.recall == 1.0
    table = peer.render("t", outcomes)
    assert "first    no figures: its process ended with exit code -9" in table
