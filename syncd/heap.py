"""Python's cyclic garbage collector, kept out of the way of a run's bulk work.

CPython's collector makes a full pass over every live container each time their number has
grown by a quarter since the last one. A run builds millions of them (records, the policies'
per-record values, changes), so ``plan --csv`` of 100,000 contacts made 17 full passes over an
ever larger heap: 5.5 of its 52 CPU s, 6.7 with the young generations' passes. They free next
to nothing: what a run drops it drops by reference count (its peak RSS is the same with the
collector off, 1,144 against 1,127 MB). So:

- :func:`collector_paused` holds the collector off while a run pulls and plans; it runs again
  when the last run that holds it is done (runs of several sources overlap in the service).
  Where runs overlap without end (a daemon with many sources), a run that ends after the
  collector has been off for :data:`MAX_PAUSE_SECONDS` makes one full pass itself.
- A service's engine keeps what a run built (the last snapshot, the dedupe policy's memory,
  the last plan) for the next run: a million objects that are never garbage. Every full pass
  went over all of them again, so an incremental cycle that pulled a hundred records spent 1.2
  of its 8.8 CPU s in one, and 2.0 in all (``python -m bench.incremental --records 100000``).
  A run that ``settles`` (``collector_paused(settle=True)``: the engine that remembers) ends,
  when it is the last holder and before the collector is back on, with a pass over the young
  generations -- what the runs built since the last settling: their cycles freed, their tuples
  and dicts of plain values untracked -- and by freezing what survives (``gc.freeze``): the
  collector's passes leave it alone from then on. What is frozen is still freed by reference
  counting when dropped (the snapshot a cycle replaces, the plan before); only cycles that
  form among it later wait, for a full pass, everything thawed first, that a settling run
  makes the first time and whenever the frozen objects have grown by :data:`FROZEN_GROWTH`
  since the last: as often as Python would have made one.
- :func:`give_back_free_memory` hands what the C allocator holds free back to the OS between
  a run's stages. The dedupe policy's blocking and tabulation work in arrays of tens of MB,
  on worker threads whose malloc arenas keep what they freed; glibc returns little of it by
  itself, so a million-contact plan's resident memory stayed some 500 MB above what was
  live through the other policies, whose own allocations raised it to its peak.
- :func:`skip_collection_at_exit` spares a one-off command the collection the interpreter
  makes as it takes every module apart at exit (0.4 s after the imports alone, 1.8 s after a
  100,000-record plan), by freezing what is alive: the process ends, the OS takes the memory
  back. Standard streams are flushed and ``atexit`` handlers run as usual.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: How long overlapping runs may keep the collector off before one of them makes a full pass.
MAX_PAUSE_SECONDS = 600.0
#: How much the frozen objects may grow since the last full pass before a settling run makes
#: one (Python's own collector makes a full pass when its oldest generation grew by a quarter).
FROZEN_GROWTH = 0.25


class _Pause:
    """How many holders pause the collector, whether it was on before the first, and since
    when it has not collected (``time.monotonic``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders = 0
        self.was_enabled = False
        self.since = 0.0
        self.settle = False  # a holder of this pause keeps what it built (see the docstring)
        self.frozen: int | None = None  # the fewest objects frozen since the last full pass


_PAUSE = _Pause()


@contextmanager
def collector_paused(*, settle: bool = False) -> Iterator[None]:
    """The cyclic collector off for the block (reference counting frees as always); back on
    when the last block that holds it ends, if it was on before the first began.

    ``settle``: the holder keeps what it built for its next run (a service's engine); the last
    holder to end then, before the collector is back on, collects the young generations and
    freezes what is alive; the first time, and when the frozen objects grew by
    :data:`FROZEN_GROWTH` since the last full pass, it makes a full pass instead."""
    with _PAUSE.lock:
        if _PAUSE.holders == 0:
            _PAUSE.was_enabled = gc.isenabled()
            _PAUSE.since = time.monotonic()
            gc.disable()
        _PAUSE.holders += 1
        _PAUSE.settle |= settle
    try:
        yield
    finally:
        collect = False
        with _PAUSE.lock:
            _PAUSE.holders -= 1
            if _PAUSE.holders == 0 and _PAUSE.was_enabled:
                if _PAUSE.settle:  # the collector still off: no pass over what the runs built
                    _settle()
                _PAUSE.settle = False
                gc.enable()
            elif _PAUSE.was_enabled and time.monotonic() - _PAUSE.since > MAX_PAUSE_SECONDS:
                collect, _PAUSE.since = True, time.monotonic()
        if collect:
            gc.collect()


def _settle() -> None:
    """Freeze what is alive after a pass over the young generations (what the runs built since
    the last settling); the first time, or when the frozen objects have grown by
    :data:`FROZEN_GROWTH` over the fewest there were since the last full pass, thaw them all and
    make a full pass instead."""
    least = _PAUSE.frozen
    if least is not None:
        gc.collect(1)
    gc.freeze()
    frozen = gc.get_freeze_count()
    if least is None or frozen > least * (1 + FROZEN_GROWTH):
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        _PAUSE.frozen = gc.get_freeze_count()
    else:
        _PAUSE.frozen = min(least, frozen)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, from the symbols the process has loaded (no ``ldconfig`` run);
    None where the C library has none (musl, macOS)."""
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    return trim if callable(trim) else None


def give_back_free_memory() -> None:
    """Return the memory the C allocator holds free to the OS (glibc's ``malloc_trim``, which
    releases the free pages of every arena); nothing where the C library has none. A few
    milliseconds."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def skip_collection_at_exit() -> None:
    """Leave every object alive now to the end of the process, not to the collector: call it
    when a command is done and the process is about to exit."""
    gc.freeze()
