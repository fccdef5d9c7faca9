"""Reading a time range through HubSpot search while people edit it: keyset windows, no offsets.

Pure logic over a ``fetch`` callable, so it is tested on its own against an in-memory search.
HubSpot pages search by a numeric ``after`` offset into a result set that moves: a record edited
while a pull pages leaves a last-modified window and every later result shifts up by one, so
one is never returned (and, once older than the lookback, no later run reads it either). It
also refuses to page past 10,000 results. So no request here uses an offset: each one is a new
window that starts after the last ``(modified, id)`` read, from the first result.

* a *range* window reads ``lo <= modified < hi`` (``lo < modified`` once millisecond ``lo`` is
  done), sorted by last-modified ascending. When more results exist than the page holds, the
  last millisecond ``L`` on the page may hold unread records, and HubSpot honours one sort only,
  with no documented order among ties: the page gives the records before ``L`` (complete, as
  they sort first) and holds back those at ``L``; the next range window starts at ``lo = L``;
* when a whole page is one millisecond ``L`` (an import, a bulk edit), a *pinned* window reads
  ``modified == L`` sorted by ``hs_object_id`` ascending, the next one from ``id > last id``,
  then the range resumes at ``L < modified < hi``.

One request per step of the form ``modified > t OR (modified == t AND id > last id)`` sorted
by last-modified would need ties ordered by id, which HubSpot does not promise; holding back the
last millisecond and pinning a crowded one needs no tie order at all, and one filter group.

A record edited during the pull moves past ``hi`` (the run start): if it was read, nothing
shifts; if not, the next run reads its new version. The windows do not overlap (the records at
``L`` a range page held back are read once, by the next window), so a record comes twice only
if it was edited in between; the caller de-duplicates by id. Any number of records in one
millisecond comes through, and no request asks for more than the first ``page_size`` results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from model.errors import SyncdError


@dataclass(frozen=True, slots=True)
class Window:
    """One search request's filter and sort (times in epoch milliseconds), read from its first
    result.

    A range window (``pinned_ms is None``): ``lo_ms <= modified`` (``<`` when ``lo_exclusive``)
    and ``modified < hi_ms``, sorted by last-modified. A pinned window: ``modified ==
    pinned_ms`` and ``id > after_id`` (when set), sorted by id; ``hi_ms`` is where the range
    resumes afterwards.
    """

    lo_ms: int
    hi_ms: int
    lo_exclusive: bool = False
    pinned_ms: int | None = None
    after_id: int | None = None

    @property
    def pinned(self) -> bool:
        return self.pinned_ms is not None


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of search results (raw objects), and whether the window holds more."""

    results: Sequence[Mapping[str, Any]]
    more: bool


Key = Callable[[Mapping[str, Any]], tuple[int, int] | None]
"""(last-modified ms, numeric id) of a raw result, or ``None`` when it is unreadable."""


def after_range_page(window: Window, last_ms: int, *, progressed: bool) -> Window:
    """The window after a full page of a range window whose last millisecond was ``last_ms``:
    the range again from ``last_ms`` (inclusive) if the page read something before it,
    otherwise ``last_ms`` pinned and read by id."""
    if progressed:
        return Window(lo_ms=last_ms, hi_ms=window.hi_ms)
    return Window(lo_ms=last_ms, hi_ms=window.hi_ms, pinned_ms=last_ms)


def after_pinned_page(window: Window, last_id: int) -> Window:
    """The pinned window that continues ``window`` after a full page ending at ``last_id``."""
    return Window(
        lo_ms=window.lo_ms, hi_ms=window.hi_ms, pinned_ms=window.pinned_ms, after_id=last_id
    )


def after_pinned(window: Window) -> Window:
    """The range window that follows a completed pinned window."""
    assert window.pinned_ms is not None
    return Window(lo_ms=window.pinned_ms, hi_ms=window.hi_ms, lo_exclusive=True)


def iter_search(
    fetch: Callable[[Window, int], SearchPage],
    *,
    start_ms: int,
    end_ms: int,
    key: Key,
    page_size: int,
) -> Iterator[SearchPage]:
    """Every page needed to read ``start_ms <= modified < end_ms``, in last-modified order.

    ``fetch(window, limit)`` runs one search from the window's first result; it must sort as
    the window says (ties among equal last-modified values in any order). Unreadable results
    (``key`` is ``None``) are passed through with the page they came in.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    window: Window | None = Window(lo_ms=start_ms, hi_ms=end_ms)
    while window is not None:
        page = fetch(window, page_size)
        keys = [key(raw) for raw in page.results]
        readable = [k for k in keys if k is not None]
        if not page.more:
            yield page
            window = after_pinned(window) if window.pinned else None
        elif not readable:
            raise SyncdError("HubSpot search returned a full page without one readable result")
        elif window.pinned:
            yield page
            window = after_pinned_page(window, max(object_id for _, object_id in readable))
        else:
            last_ms = max(modified for modified, _ in readable)
            kept = [
                raw
                for raw, k in zip(page.results, keys, strict=True)
                if k is None or k[0] < last_ms
            ]
            if kept:
                yield SearchPage(results=kept, more=True)
            progressed = any(modified < last_ms for modified, _ in readable)
            window = after_range_page(window, last_ms, progressed=progressed)
