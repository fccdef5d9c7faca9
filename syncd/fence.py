"""What stops a run between two batches: the service stopping, or the run's lease lost.

A run checks in (:class:`Checkpoint`) before each batch it pulls and before each call its push
makes to the CRM (:class:`CheckedWriter`), never in the middle of one: the batch in flight
finishes, the next one does not start. A stop raises :class:`RunInterruptedError` (the run is
recorded as interrupted; the next run finishes its outbox), a lost lease
:class:`~model.errors.LeaseLostError`.

A lease with a time to live is renewed by a :class:`LeaseKeeper` thread while the run holds
it. The keeper never raises: it notes that the lease is lost (the store refused a renewal), or
that it lapsed on this clock (renewals kept failing, e.g. the database was unreachable), and
:meth:`LeaseKeeper.check` raises from then on. The store checks the epoch and the expiry again
in the transaction of every outbox claim and audit entry, so a writer that missed both still
records nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from connectors.base import ApiUsage, Writer
from model.errors import LeaseLostError, StateError, SyncdError
from model.records import Record
from model.writes import FieldChange, FieldWrite, TaskWrite, WriteResult
from state.base import SourceLease, StateStore
from syncd.logging import get_logger

log = get_logger(__name__)
Clock = Callable[[], datetime]

#: How many renewals fit in one time to live: a renewal that fails is tried again twice before
#: the lease lapses.
RENEWALS_PER_TTL = 3


class RunInterruptedError(SyncdError):
    """The service is stopping: the run stopped between two batches. Recorded as interrupted;
    the next run finishes what its outbox holds."""


class LeaseKeeper:
    """Renews ``lease`` every ``ttl_seconds / 3`` from a daemon thread until :meth:`stop`."""

    def __init__(
        self, store: StateStore, lease: SourceLease, ttl_seconds: float, clock: Clock
    ) -> None:
        self._store = store
        self._lease = lease
        self._ttl = ttl_seconds
        self._clock = clock
        self._expires_at = lease.expires_at
        self._lost: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._renew, name=f"syncd-lease-{lease.source}", daemon=True
        )

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def check(self) -> None:
        """Raise :class:`~model.errors.LeaseLostError` once the lease is lost or lapsed."""
        expires_at = self._expires_at
        if self._lost is None and expires_at is not None and self._clock() >= expires_at:
            self._lost = f"it expired at {expires_at:%H:%M:%S} UTC without renewal"
        if self._lost is not None:
            raise LeaseLostError(
                f"the lease on source {self._lease.source!r} at epoch {self._lease.epoch} was "
                f"lost ({self._lost}): stopping before the next batch"
            )

    def _renew(self) -> None:
        period = self._ttl / RENEWALS_PER_TTL
        while not self._done.wait(period):
            try:
                self._expires_at = self._store.renew_source(self._lease, self._clock(), self._ttl)
            except LeaseLostError as exc:
                self._lost = str(exc)
                log.error("lease lost", source=self._lease.source, detail=str(exc))
                return
            except StateError as exc:  # unreachable for now: the expiry decides
                log.warning(
                    "lease not renewed; trying again", source=self._lease.source, detail=str(exc)
                )


class Checkpoint:
    """Called between batches: raises when the run must stop (see the module docstring)."""

    def __init__(
        self, stop: threading.Event | None = None, keeper: LeaseKeeper | None = None
    ) -> None:
        self._stop = stop
        self._keeper = keeper

    def __call__(self) -> None:
        if self._stop is not None and self._stop.is_set():
            raise RunInterruptedError("interrupted: the service is stopping")
        if self._keeper is not None:
            self._keeper.check()


class CheckedWriter(Writer):
    """A :class:`~connectors.base.Writer` that checks in before each call to the CRM."""

    def __init__(self, writer: Writer, checkpoint: Callable[[], None]) -> None:
        self._writer = writer
        self._checkpoint = checkpoint
        self.max_merged_per_call = writer.max_merged_per_call

    @property
    def calls(self) -> object:
        """The wrapped writer's call counts, where it keeps them (push reports show them)."""
        return getattr(self._writer, "calls", None)

    def usage(self) -> ApiUsage:
        usage = getattr(self._writer, "usage", None)
        return usage() if callable(usage) else ApiUsage()

    def read(
        self,
        object_type: str,
        ids: Sequence[str],
        properties: Sequence[str],
        associations: Sequence[str] = (),
    ) -> dict[str, Record | None]:
        self._checkpoint()
        return self._writer.read(object_type, ids, properties, associations)

    def update(self, object_type: str, writes: Sequence[FieldWrite]) -> list[WriteResult]:
        self._checkpoint()
        return self._writer.update(object_type, writes)

    def create_tasks(self, writes: Sequence[TaskWrite]) -> list[WriteResult]:
        self._checkpoint()
        return self._writer.create_tasks(writes)

    def find_tasks(self, object_type: str, record_ids: Sequence[str]) -> dict[str, list[Record]]:
        self._checkpoint()
        return self._writer.find_tasks(object_type, record_ids)

    def is_task_of(self, task: Record, key: str) -> bool:
        return self._writer.is_task_of(task, key)

    def merge(self, object_type: str, primary_id: str, merged_id: str, key: str) -> WriteResult:
        self._checkpoint()
        return self._writer.merge(object_type, primary_id, merged_id, key)

    def merge_group(
        self, object_type: str, primary_id: str, merged_ids: Sequence[str], keys: Sequence[str]
    ) -> list[WriteResult]:
        self._checkpoint()
        return self._writer.merge_group(object_type, primary_id, merged_ids, keys)

    def archive(
        self, object_type: str, ids: Sequence[str], keys: Sequence[str]
    ) -> list[WriteResult]:
        self._checkpoint()
        return self._writer.archive(object_type, ids, keys)

    def field_changes(
        self, object_type: str, fields: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], FieldChange]:
        return self._writer.field_changes(object_type, fields)
