"""Search windows: every record in the time range comes through, without offsets, while the
records are being edited."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.hubspot.search import SearchPage, Window, iter_search
from model.errors import SyncdError


class FakeSearch:
    """In-memory search as HubSpot answers it: the window's filters, one sort (ties among equal
    last-modified values in an order the caller cannot rely on), the first ``limit`` results.

    ``records`` maps id -> last-modified ms and may change between requests: ``before(n)``
    runs before the ``n``-th request (0-based), as a person editing would.
    """

    def __init__(
        self, records: dict[int, int], before: Callable[[int], None] | None = None
    ) -> None:
        self.records = records
        self.before = before
        self.calls = 0

    def __call__(self, window: Window, limit: int) -> SearchPage:
        assert self.calls < 5_000, "search does not terminate"
        if self.before is not None:
            self.before(self.calls)
        self.calls += 1
        found = [(ms, i) for i, ms in self.records.items()]
        if window.pinned_ms is None:
            hits = [
                r
                for r in found
                if (r[0] > window.lo_ms if window.lo_exclusive else r[0] >= window.lo_ms)
                and r[0] < window.hi_ms
            ]
            hits.sort(key=lambda r: (r[0], (r[1] * 7919) % 1009))
        else:
            hits = [
                r
                for r in found
                if r[0] == window.pinned_ms and (window.after_id is None or r[1] > window.after_id)
            ]
            hits.sort(key=lambda r: r[1])
        return SearchPage(
            results=[{"lm": lm, "id": i} for lm, i in hits[:limit]], more=len(hits) > limit
        )


def key(raw: Mapping[str, Any]) -> tuple[int, int] | None:
    if raw.get("lm") is None:
        return None
    return int(raw["lm"]), int(raw["id"])


def read_all(search: FakeSearch, start: int, end: int, page_size: int) -> list[tuple[int, int]]:
    pages = iter_search(search, start_ms=start, end_ms=end, key=key, page_size=page_size)
    return [(int(raw["lm"]), int(raw["id"])) for page in pages for raw in page.results]


@settings(max_examples=150, deadline=None)
@given(
    timestamps=st.lists(st.integers(min_value=0, max_value=30), max_size=120),
    page_size=st.integers(min_value=1, max_value=25),
    bounds=st.tuples(st.integers(0, 30), st.integers(0, 31)),
)
def test_every_record_in_range_is_read_once_in_order(
    timestamps: list[int], page_size: int, bounds: tuple[int, int]
) -> None:
    start, end = min(bounds), max(bounds)
    records = {1000 + i: lm for i, lm in enumerate(timestamps)}
    read = read_all(FakeSearch(dict(records)), start, end, page_size)
    assert sorted(read) == sorted((lm, i) for i, lm in records.items() if start <= lm < end)
    modified = [lm for lm, _ in read]
    assert modified == sorted(modified), "pages come in last-modified order"


@settings(max_examples=300, deadline=None)
@given(
    timestamps=st.lists(st.integers(min_value=0, max_value=40), max_size=80),
    page_size=st.integers(min_value=1, max_value=12),
    edits=st.lists(st.lists(st.integers(min_value=0, max_value=79), max_size=4), max_size=40),
)
def test_edits_between_requests_lose_no_change_made_before_the_run(
    timestamps: list[int], page_size: int, edits: list[list[int]]
) -> None:
    """Whatever records a person edits between requests (read or not yet read), every record
    not edited during the run is read, none twice; an edited one moves past the run start
    (where the next run reads it)."""
    end = 41
    records = {1000 + i: lm for i, lm in enumerate(timestamps)}
    at_start = dict(records)
    edited: set[int] = set()

    def person_edits(request: int) -> None:
        for which in edits[request] if request < len(edits) else ():
            record_id = 1000 + which
            if record_id in records:
                records[record_id] = end + request  # modified now, after the run start
                edited.add(record_id)

    read = read_all(FakeSearch(records, person_edits), 0, end, page_size)
    read_ids = [i for _, i in read]
    assert len(read_ids) == len(set(read_ids)), "no record is read twice"
    assert set(at_start) - edited <= set(read_ids), "every unedited change is read"
    assert all(at_start[i] == lm for lm, i in read), "read as it was before the run"


def test_more_records_in_one_millisecond_than_a_page() -> None:
    records = {1000 + i: 5 for i in range(95)} | {1: 4, 2: 6, 3: 9}
    search = FakeSearch(dict(records))
    read = read_all(search, 0, 10, page_size=4)
    assert sorted(read) == sorted((lm, i) for i, lm in records.items())
    assert search.calls <= 2 + 95 // 4 + 3, "the crowded millisecond is read by id, 4 at a time"


def test_each_page_holds_back_its_last_millisecond_for_the_next_window() -> None:
    records = {1000 + i: i for i in range(10)}
    windows: list[Window] = []
    search = FakeSearch(dict(records))

    def fetch(window: Window, limit: int) -> SearchPage:
        windows.append(window)
        return search(window, limit)

    pages = list(iter_search(fetch, start_ms=0, end_ms=100, key=key, page_size=3))
    assert [[r["id"] for r in p.results] for p in pages] == [
        [1000, 1001],
        [1002, 1003],
        [1004, 1005],
        [1006, 1007],
        [1008, 1009],
    ]
    assert [w.lo_ms for w in windows] == [0, 2, 4, 6, 8]
    assert not any(w.pinned or w.lo_exclusive for w in windows)


def test_a_full_page_without_one_readable_result_stops_the_pull() -> None:
    def fetch(window: Window, limit: int) -> SearchPage:
        return SearchPage(results=[{"lm": None, "id": 1}] * limit, more=True)

    with pytest.raises(SyncdError):
        list(iter_search(fetch, start_ms=0, end_ms=10, key=key, page_size=2))
