"""What every connector's pull does the same way, whatever its vendor.

:func:`finish` gives a pull's last batch the cursor that is safe to commit once the whole pull
is stored; :class:`Seen` drops the records a pull already gave (windows that overlap, a
lookback re-read) unless they changed. :func:`interleave` runs several pulls at once, each in
its own thread, and hands their batches to the one thread that stores them; :class:`WaitMeter`
says how long a thread waited on the vendor's API.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Generic, TypeVar, cast

from model.errors import SourceFatalError
from model.records import Cursor, PullBatch, Record

T = TypeVar("T")


def finish(batches: Iterable[PullBatch], object_type: str, final: Cursor) -> Iterator[PullBatch]:
    """Pass ``batches`` through, giving the last one (or an empty one) the ``final`` cursor."""
    held: PullBatch | None = None
    for batch in batches:
        if held is not None:
            yield held
        held = batch
    yield PullBatch(object_type, (), final) if held is None else replace(held, cursor=final)


class Seen:
    """De-duplication within one pull: an id passes again only with a newer ``updated_at``, or
    with the same one but another fate (archived or merged meanwhile)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[datetime, bool, str | None]] = {}

    def fresh(self, records: Iterable[Record]) -> tuple[Record, ...]:
        kept: list[Record] = []
        for record in records:
            mark = (record.updated_at, record.archived, record.merged_into)
            previous = self._last.get(record.id)
            if (
                previous is None
                or mark[0] > previous[0]
                or (mark[0] == previous[0] and mark[1:] != previous[1:])
            ):
                self._last[record.id] = mark
                kept.append(record)
        return tuple(kept)


class WaitMeter:
    """Seconds each thread spent waiting on a vendor's API: inside HTTP calls, pacing and retry
    waits, and (the thread that stores a pull's batches) waiting for the threads that make
    those calls. Thread-safe; read by thread (:meth:`seconds`)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._seconds: defaultdict[int, float] = defaultdict(float)

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    def add(self, seconds: float) -> None:
        """Count ``seconds`` of waiting for the calling thread."""
        with self._lock:
            self._seconds[threading.get_ident()] += seconds

    def seconds(self, thread: int | None = None) -> float:
        """The waiting counted for ``thread`` (default: the calling thread)."""
        with self._lock:
            return self._seconds.get(threading.get_ident() if thread is None else thread, 0.0)

    def sleep(self, sleep: Callable[[float], None]) -> Callable[[float], None]:
        """``sleep`` counting what it sleeps as waiting (for retry backoff and the like)."""

        def metered(seconds: float) -> None:
            started = self._clock()
            try:
                sleep(seconds)
            finally:
                self.add(self._clock() - started)

        return metered


@dataclass(frozen=True, slots=True)
class _Item(Generic[T]):
    value: T | None = None
    error: BaseException | None = None
    done: bool = False


def interleave(
    streams: Sequence[Iterator[T]], *, buffer: int = 4, meter: WaitMeter | None = None
) -> Iterator[T]:
    """The items of every stream, each stream read to its end in its own thread, in the order
    they arrive: one stream's items keep their order, streams interleave.

    At most ``buffer`` items wait to be taken (a stream that runs ahead blocks). When a stream
    fails the others still run to their end, then the first failure is raised: what they gave
    is as good as if they had run alone. A failure that ends the source for now
    (:class:`~model.errors.SourceFatalError`: credentials refused, the allowance spent) is
    raised at once instead and stops the others, whose calls would be refused too. Closing the
    iterator early (the consumer stopped or failed) stops every stream before its next item and
    waits for the threads to end; a stream is closed in its own thread, which runs in a copy of
    the caller's context variables (the fields bound for log lines). ``meter`` counts the
    consumer's waits for items.
    """
    if not streams:
        return
    items: queue.Queue[_Item[T]] = queue.Queue(maxsize=max(1, buffer))
    stop = threading.Event()

    def put(item: _Item[T]) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run(stream: Iterator[T]) -> None:
        try:
            for value in stream:
                if not put(_Item(value=value)):
                    return
            put(_Item(done=True))
        except BaseException as error:  # handed to the consumer, raised there
            put(_Item(error=error, done=True))
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    threads = [  # each in a copy of the caller's context: log lines keep the run's fields
        threading.Thread(
            target=contextvars.copy_context().run,
            args=(run, stream),
            name=f"pull-{index}",
            daemon=True,
        )
        for index, stream in enumerate(streams)
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    failure: BaseException | None = None
    try:
        while running:
            started = time.perf_counter() if meter is None else meter.clock()
            item = items.get()
            if meter is not None:
                meter.add(meter.clock() - started)
            if item.done:
                running -= 1
                if isinstance(item.error, SourceFatalError):
                    raise item.error  # the finally below stops the other streams
                failure = failure or item.error
                continue
            yield cast(T, item.value)  # not done: a value
        if failure is not None:
            raise failure
    finally:
        stop.set()
        for thread in threads:
            while thread.is_alive():
                try:  # unblock a stream waiting for room
                    items.get_nowait()
                except queue.Empty:
                    thread.join(0.05)
