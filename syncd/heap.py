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
  of its 8.8 CPU s in one (``python -m bench.incremental --records 100000``). A run that
  ``settles`` (``collector_paused(settle=True)``: the engine that remembers) ends, when it is
  the last holder, with a pass over the young generations only -- what the runs built while
  the collector was off, the cycles among it freed -- and freezes what survives
  (``gc.freeze``): later passes leave it alone. What is frozen is still freed by reference
  counting when dropped; only cycles that form among it later wait, for the full pass that
  a settling run makes (thawing everything first) once :data:`MAX_PAUSE_SECONDS` have passed
  since the last one.
- :func:`skip_collection_at_exit` spares a one-off command the collection the interpreter
  makes as it takes every module apart at exit (0.4 s after the imports alone, 1.8 s after a
  100,000-record plan), by freezing what is alive: the process ends, the OS takes the memory
  back. Standard streams are flushed and ``atexit`` handlers run as usual.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: How long overlapping runs may keep the collector off before one of them makes a full pass.
MAX_PAUSE_SECONDS = 600.0


class _Pause:
    """How many holders pause the collector, whether it was on before the first, and since
    when it has not collected (``time.monotonic``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders = 0
        self.was_enabled = False
        self.since = 0.0
        self.settle = False  # a holder of this pause keeps what it built (see the docstring)
        self.full_at: float | None = None  # when a settling run last made a full pass


_PAUSE = _Pause()


@contextmanager
def collector_paused(*, settle: bool = False) -> Iterator[None]:
    """The cyclic collector off for the block (reference counting frees as always); back on
    when the last block that holds it ends, if it was on before the first began.

    ``settle``: the holder keeps what it built for its next run (a service's engine); the last
    holder to end then collects the young generations and freezes what survives, or, when the
    last full pass is :data:`MAX_PAUSE_SECONDS` old, thaws everything and makes one."""
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
        collect: int | None = None  # the generation to collect, up to
        freeze = False
        with _PAUSE.lock:
            _PAUSE.holders -= 1
            now = time.monotonic()
            if _PAUSE.holders == 0 and _PAUSE.was_enabled:
                gc.enable()
                if _PAUSE.settle:
                    full_due = _PAUSE.full_at is None or now - _PAUSE.full_at > MAX_PAUSE_SECONDS
                    if full_due:
                        collect, _PAUSE.full_at = 2, now
                    else:
                        collect, freeze = 1, True
                _PAUSE.settle = False
            elif _PAUSE.was_enabled and now - _PAUSE.since > MAX_PAUSE_SECONDS:
                collect, _PAUSE.since = 2, now
        if collect == 2:
            gc.unfreeze()
            gc.collect()
        elif collect is not None:
            gc.collect(collect)
        if freeze:
            gc.freeze()


def skip_collection_at_exit() -> None:
    """Leave every object alive now to the end of the process, not to the collector: call it
    when a command is done and the process is about to exit."""
    gc.freeze()
