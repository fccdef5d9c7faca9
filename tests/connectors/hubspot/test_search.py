"""Search windows: every record in the time range comes through despite the paging cap."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.hubspot.search import SearchPage, Window, iter_search


class FakeSearch:
    """In-memory search with HubSpot's rules: filters, one sort, offsets, a hard cap."""

    def __init__(self, records: list[tuple[int, int]], cap: int) -> None:
        self.records = records
        self.cap = cap
        self.calls = 0

    def __call__(self, window: Window, after: int, limit: int) -> SearchPage:
        self.calls += 1
        assert self.calls < 5_000, "search does not terminate"
        assert after + limit <= self.cap, "paged past the cap (HubSpot answers 400)"
        if window.pinned_ms is None:
            hits = [
                r
                for r in self.records
                if (r[0] > window.lo_ms if window.lo_exclusive else r[0] >= window.lo_ms)
                and r[0] < window.hi_ms
            ]
            # ties in last-modified come back in an order the caller cannot rely on
            hits.sort(key=lambda r: (r[0], (r[1] * 7919) % 1009))
        else:
            hits = [
                r
                for r in self.records
                if r[0] == window.pinned_ms and (window.after_id is None or r[1] > window.after_id)
            ]
            hits.sort(key=lambda r: r[1])
        end = after + limit
        return SearchPage(
            results=[{"lm": lm, "id": i} for lm, i in hits[after:end]],
            next_after=end if end < len(hits) else None,
        )


def key(raw: Mapping[str, Any]) -> tuple[int, int]:
    return int(raw["lm"]), int(raw["id"])


def read_all(search: FakeSearch, start: int, end: int, page_size: int) -> list[tuple[int, int]]:
    pages = iter_search(
        search, start_ms=start, end_ms=end, key=key, page_size=page_size, cap=search.cap
    )
    return [key(raw) for page in pages for raw in page.results]


@settings(max_examples=150, deadline=None)
@given(
    timestamps=st.lists(st.integers(min_value=0, max_value=30), max_size=120),
    cap=st.integers(min_value=1, max_value=25),
    page_size=st.integers(min_value=1, max_value=25),
    bounds=st.tuples(st.integers(0, 30), st.integers(0, 31)),
)
def test_every_record_in_range_is_read_whatever_the_cap(
    timestamps: list[int], cap: int, page_size: int, bounds: tuple[int, int]
) -> None:
    page_size = min(page_size, cap)
    start, end = min(bounds), max(bounds)
    records = [(lm, 1000 + i) for i, lm in enumerate(timestamps)]
    read = read_all(FakeSearch(records, cap), start, end, page_size)
    assert set(read) == {r for r in records if start <= r[0] < end}
    modified = [lm for lm, _ in read]
    assert modified == sorted(modified), "pages come in last-modified order"


def test_more_records_in_one_millisecond_than_the_cap() -> None:
    records = [(5, 1000 + i) for i in range(95)] + [(4, 1), (6, 2), (9, 3)]
    search = FakeSearch(records, cap=10)
    read = read_all(search, 0, 10, page_size=4)
    assert set(read) == set(records)
    # re-reading is bounded: at most one capped window's worth of duplicates per cap hit
    assert len(read) < 2 * len(records)


def test_no_cap_hit_means_one_window() -> None:
    records = [(i, 1000 + i) for i in range(10)]
    search = FakeSearch(records, cap=100)
    assert read_all(search, 0, 100, page_size=3) == records
    assert search.calls == 4
