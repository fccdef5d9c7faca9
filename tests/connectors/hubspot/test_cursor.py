"""Cursor arithmetic: never backwards, never past the run start; exact epoch milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from connectors.hubspot.cursor import advance, from_epoch_ms, read_from, to_epoch_ms

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(current=st.none() | moments, seen=st.none() | moments, run_started_at=moments)
def test_advance_never_moves_backwards_nor_past_the_run_start(
    current: datetime | None, seen: datetime | None, run_started_at: datetime
) -> None:
    moved = advance(current, seen, run_started_at)
    if current is not None:
        assert moved is not None
        assert moved >= current
        if current <= run_started_at:
            assert moved <= run_started_at
    elif seen is not None:
        assert moved == min(seen, run_started_at)
    else:
        assert moved is None


@given(steps=st.lists(moments, min_size=1, max_size=20), run_started_at=moments)
def test_a_sequence_of_advances_is_monotonic(
    steps: list[datetime], run_started_at: datetime
) -> None:
    cursor: datetime | None = None
    history: list[datetime] = []
    for seen in steps:
        cursor = advance(cursor, seen, run_started_at)
        assert cursor is not None
        history.append(cursor)
    assert history == sorted(history)
    assert all(c <= run_started_at for c in history)


@given(moments)
def test_epoch_milliseconds_round_trip_at_millisecond_precision(moment: datetime) -> None:
    truncated = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    assert from_epoch_ms(to_epoch_ms(moment)) == truncated


def test_read_from_subtracts_the_lookback() -> None:
    cursor = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert read_from(cursor, timedelta(minutes=5)) == to_epoch_ms(cursor) - 300_000
    assert to_epoch_ms(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)) == 1000
