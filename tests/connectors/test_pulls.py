"""interleave: several streams at once, each in order, failures after the others end, closing
stops them all."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from connectors.pulls import WaitMeter, interleave
from model.errors import SourcePausedError


def numbers(name: str, count: int, fail_at: int | None = None) -> Iterator[tuple[str, int]]:
    for i in range(count):
        if i == fail_at:
            raise ValueError(f"{name} broke at {i}")
        yield name, i


def test_every_item_of_every_stream_in_its_own_order() -> None:
    got = list(interleave([numbers("a", 50), numbers("b", 30), numbers("c", 0)], buffer=2))
    assert sorted(got) == sorted([*numbers("a", 50), *numbers("b", 30)])
    for name in ("a", "b"):
        assert [i for n, i in got if n == name] == sorted(i for n, i in got if n == name)


def test_a_failure_is_raised_once_the_other_streams_have_ended() -> None:
    got: list[tuple[str, int]] = []
    with pytest.raises(ValueError, match="a broke at 3"):
        got.extend(interleave([numbers("a", 10, fail_at=3), numbers("b", 40)], buffer=1))
    assert [i for n, i in got if n == "b"] == list(range(40))
    assert [i for n, i in got if n == "a"] == [0, 1, 2]


def test_a_source_fatal_failure_is_raised_at_once_and_stops_the_others() -> None:
    closed: list[str] = []

    def refused() -> Iterator[tuple[str, int]]:
        raise SourcePausedError("the daily allowance is spent")
        yield "a", 0  # a generator

    def endless() -> Iterator[tuple[str, int]]:
        try:
            i = 0
            while True:  # never ends: only stopping it ends the pull
                yield "b", i
                i += 1
        finally:
            closed.append("b")

    with pytest.raises(SourcePausedError, match="allowance"):
        for _ in interleave([refused(), endless()], buffer=1):
            pass
    assert closed == ["b"]
    assert not [t for t in threading.enumerate() if t.name.startswith("pull-")]


def test_closing_early_stops_and_closes_every_stream() -> None:
    closed: list[str] = []

    def endless(name: str) -> Iterator[str]:
        try:
            while True:
                yield name
        finally:
            closed.append(name)

    items = interleave([endless("a"), endless("b")], buffer=1)
    assert next(items) in {"a", "b"}
    items.close()  # type: ignore[attr-defined]  # a generator
    assert sorted(closed) == ["a", "b"]
    assert not [t for t in threading.enumerate() if t.name.startswith("pull-")]


def test_the_consumers_wait_is_metered_on_its_own_thread() -> None:
    ticks = iter(range(1000))
    meter = WaitMeter(clock=lambda: float(next(ticks)))
    assert list(interleave([numbers("a", 3)], meter=meter)) == list(numbers("a", 3))
    assert meter.seconds() == 4.0  # four waits (three items and the end), one tick each
    assert meter.seconds(thread=-1) == 0.0
