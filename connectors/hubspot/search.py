"""Reading a time range through HubSpot search despite its 10,000-result paging cap.

Pure logic over a ``fetch`` callable, so it is tested on its own against an in-memory search.
Search pages by a numeric ``after`` offset and refuses to go past ``cap`` results. Windows are
therefore chained by last-modified time and, within one millisecond, by id:

* a *range* window reads ``lo <= modified < hi`` (``lo < modified`` once a millisecond is done),
  sorted by last-modified ascending;
* when a range window hits the cap at last-modified ``L``, a *pinned* window reads every record
  with ``modified == L`` sorted by ``hs_object_id`` ascending (restarting at ``id > last id``
  if that too hits the cap), then the range resumes at ``L < modified < hi``.

So any number of changes comes through, even more than ``cap`` in a single millisecond. Records
may be read twice (the part of millisecond ``L`` the range window already read); the caller
de-duplicates by id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from model.errors import SyncdError


@dataclass(frozen=True, slots=True)
class Window:
    """One search query's filter and sort (times in epoch milliseconds).

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
    """One page of search results (raw objects) and the next offset, if any."""

    results: Sequence[Mapping[str, Any]]
    next_after: int | None


Key = Callable[[Mapping[str, Any]], tuple[int, int] | None]
"""(last-modified ms, numeric id) of a raw result, or ``None`` when it is unreadable."""


def next_window(window: Window, *, last_ms: int, last_id: int) -> Window:
    """The window that continues ``window`` after it hit the cap.

    ``last_ms``/``last_id`` are the sort key of the last readable result ``window`` returned.
    """
    if window.pinned_ms is not None:
        return Window(
            lo_ms=window.lo_ms,
            hi_ms=window.hi_ms,
            lo_exclusive=window.lo_exclusive,
            pinned_ms=window.pinned_ms,
            after_id=last_id,
        )
    return Window(lo_ms=last_ms, hi_ms=window.hi_ms, pinned_ms=last_ms)


def after_pinned(window: Window) -> Window:
    """The range window that follows a completed pinned window."""
    assert window.pinned_ms is not None
    return Window(lo_ms=window.pinned_ms, hi_ms=window.hi_ms, lo_exclusive=True)


def iter_search(
    fetch: Callable[[Window, int, int], SearchPage],
    *,
    start_ms: int,
    end_ms: int,
    key: Key,
    page_size: int,
    cap: int,
) -> Iterator[SearchPage]:
    """Every page needed to read ``start_ms <= modified < end_ms``, in last-modified order.

    ``fetch(window, after, limit)`` runs one search; it must return results sorted as the
    window says. No request pages past ``cap`` (``after + limit <= cap``); a window whose next
    offset reaches ``cap`` ends there and the next window starts after its last readable result.
    """
    if not 1 <= page_size <= cap:
        raise ValueError("page_size must be between 1 and cap")
    window: Window | None = Window(lo_ms=start_ms, hi_ms=end_ms)
    while window is not None:
        after = 0
        last: tuple[int, int] | None = None
        capped = False
        while True:
            page = fetch(window, after, min(page_size, cap - after))
            for raw in page.results:
                readable = key(raw)
                if readable is not None:
                    last = readable if last is None or not window.pinned else max(last, readable)
            yield page
            if page.next_after is None:
                break
            if page.next_after >= cap:
                capped = True
                break
            after = page.next_after
        if capped and last is not None:
            window = next_window(window, last_ms=last[0], last_id=last[1])
        elif capped:
            raise SyncdError("HubSpot search hit its cap without one readable result")
        elif window.pinned:
            window = after_pinned(window)
        else:
            window = None
