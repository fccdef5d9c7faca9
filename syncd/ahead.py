"""Policies' per-record work done ahead, in a forked process, while the merging policies run.

The dedupe policy's learning and clustering keep one core busy for most of a plan, and the
other core idles. The normalize policy's changes to a record depend on that record alone, and
most records are the same before the merges and after them (survivors change, absorbed records
go): so a child process, forked once the snapshot is read and the policies built, works them
out on the records as pulled while the parent learns and merges, and the call after the merges
works out again only the records the merges changed (:class:`policies.base.Ahead`).

Forked, so that the child reads the snapshot the parent holds, neither copied nor pickled
(copy-on-write; the collector is off during a run, so the child touches only what it reads),
and only from a process running no other thread: one could hold a lock the child would then
wait for forever (a service's scheduler, its HTTP server, a sandbox in a test). There, where
``fork`` is missing (Windows), for snapshots under :data:`MIN_RECORDS` records (the fork would
cost more than it saves) or over :data:`MAX_RECORDS` (the child's memory beside the process's)
and without a merging policy to overlap with, the policies run as
before. A child that fails or dies is said in the log and its policies work in the parent, as
if there had been none: the plan is the same either way.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from model.changes import Snapshot
from policies.base import Ahead, AheadWork, Policy
from syncd.logging import get_logger

log = get_logger(__name__)

#: The fewest records a snapshot holds for work to be done ahead: below, normalizing them all
#: takes less than a second (about 60 µs a record) and the fork and the hand-over are a
#: good part of it.
MIN_RECORDS = 20_000
#: The most: the child's copy of the pages it reads and the work it sends back grow with the
#: snapshot (320 MB beside the process at 100,000 contacts), and at a million the process alone
#: is near the 4 GB such a plan may take; above this, normalize runs in the process as before.
MAX_RECORDS = 400_000


class Worker:
    """The child process working ahead for ``policies`` (see the module docstring)."""

    def __init__(self, process: BaseProcess, conn: Connection, policies: Sequence[Policy]):
        self.process, self.conn, self.policies = process, conn, policies

    def hand_over(self, snapshot: Snapshot) -> None:
        """Wait for the child's work and give each policy its part (:meth:`Ahead.use`, with
        ``snapshot``: the one the child worked on). Nothing when it failed: said in the log."""
        started = time.monotonic()
        try:
            status, got, peak = self.conn.recv()
        except (EOFError, OSError) as exc:  # it died (killed, out of memory) before it said
            status, got, peak = "died", f"{type(exc).__name__} {exc}".strip(), 0.0
        finally:
            self.close()
        if status != "done" or not isinstance(got, dict):
            log.warning("work ahead failed: the policies do it now", error=str(got))
            return
        for policy in self.policies:
            if isinstance(policy, Ahead) and policy.name in got:
                policy.use(snapshot, got[policy.name])
        log.info(
            "worked ahead",
            policies=sorted(got),
            worker_peak_mb=round(peak, 1),
            hand_over_seconds=round(time.monotonic() - started, 3),  # waited, read, taken
        )

    def close(self) -> None:
        """Let the child go (ended, or stopped: a plan that failed before the hand-over)."""
        self.conn.close()
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        self.process.close()


def _work(
    policies: Sequence[Policy], snapshot: Snapshot, conn: Connection, parents: Connection
) -> None:
    """The child: each policy's work on ``snapshot``, sent with the child's peak memory. A
    Ctrl-C is the parent's to handle (it lets the child go); a parent killed outright leaves
    the child to finish and find no one to send to."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parents.close()  # the parent's end, forked too: the pipe breaks when the parent is gone
    try:
        work: dict[str, AheadWork] = {}
        for policy in policies:
            assert isinstance(policy, Ahead)
            work[policy.name] = policy.ahead(snapshot)
        reply: tuple[str, object, float] = ("done", work, _peak_mb())
    except Exception as exc:
        reply = ("failed", f"{type(exc).__name__}: {exc}", _peak_mb())
    try:
        conn.send(reply)
    except OSError:  # the parent is gone
        pass
    finally:
        conn.close()


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def working_ahead(policies: Sequence[Policy], snapshot: Snapshot) -> Iterator[Worker | None]:
    """A child working ahead for the policies of ``policies`` that can (:class:`Ahead`, not
    merging) on ``snapshot``, or None where none should (see the module docstring); the child
    is let go when the block ends."""
    ahead = [p for p in policies if isinstance(p, Ahead) and not p.decides_merges]
    records = sum(len(r) for r in snapshot.records.values())
    if (
        not ahead
        or not any(p.decides_merges for p in policies)
        or not MIN_RECORDS <= records <= MAX_RECORDS
        or "fork" not in multiprocessing.get_all_start_methods()
        or threading.active_count() > 1
    ):
        yield None
        return
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe(duplex=False)
    process = context.Process(target=_work, args=(ahead, snapshot, theirs, ours), daemon=True)
    try:
        process.start()
    except OSError as exc:  # no process to be had (a limit on processes, on memory)
        log.warning("could not work ahead: the policies do it now", error=str(exc))
        ours.close()
        theirs.close()
        yield None
        return
    theirs.close()  # the child's end: ours sees EOF if the child dies without a word
    log.debug(
        "working ahead", policies=[p.name for p in ahead], pid=process.pid, parent=os.getpid()
    )
    worker = Worker(process, ours, ahead)
    try:
        yield worker
    finally:
        if not ours.closed:
            worker.close()
