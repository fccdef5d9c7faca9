"""The dedupe policy alone on generated records: time, CPU time, peak memory, candidate pairs.

    python -m bench.dedupe [--records 10000,100000] [--seed 7] [--profile FILE]

Per size, the generated snapshot (:func:`bench.quality.snapshot_of`) is built first; then a
forked child runs :class:`~policies.dedupe.DedupePolicy` with its default settings on it, one
object type after another (what ``policy(snapshot)`` does), and reports its wall time, its CPU
time (``resource.getrusage``: less noisy than wall time on a shared machine), the memory it
added (peak resident set minus the resident set at the start, like :mod:`bench.peer`), and per
object type the candidate pairs, the blocks split, the merges and the reviews, the pairs scored
in full (``scored``: those whose bound reached the review threshold) and the pairs the
column-wise tables left to a one-by-one Python comparison (``one-by-1``). ``--profile``
writes a cProfile of the child's run to ``FILE`` (per size: ``FILE.<records>``).
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import resource
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

from bench.peer import _rss_kb
from bench.quality import snapshot_of
from model.changes import Snapshot
from policies.dedupe import DedupePolicy, DedupeSettings
from syncd.heap import collector_paused


@dataclass(frozen=True, slots=True)
class Run:
    """One object type's figures."""

    object_type: str
    records: int
    candidates: int
    split: int
    merges: int
    reviews: int
    scored: int
    compared: int


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child(snapshot: Snapshot, profile: str | None, pipe: Connection) -> None:
    policy = DedupePolicy(DedupeSettings())
    start_kb = _rss_kb("VmRSS:")
    began, cpu = time.perf_counter(), _cpu()
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    with collector_paused():  # as the engine runs every policy
        runs = []
        for object_type in policy.settings.object_types:
            found = policy.analyse(snapshot, object_type)
            runs.append(
                Run(
                    object_type,
                    len(snapshot.of(object_type)),
                    found.candidates.count,
                    found.candidates.split,
                    sum(1 for m in found.merges if m.kind == "merge"),
                    sum(1 for m in found.merges if m.kind == "review"),
                    found.scored,
                    found.compared,
                )
            )
        if policy.settings.leads_against_contacts:
            policy.leads_duplicating_contacts(snapshot)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile or "")
    seconds, cpu = time.perf_counter() - began, _cpu() - cpu
    pipe.send((runs, seconds, cpu, (_rss_kb("VmHWM:") - start_kb) / 1024))
    pipe.close()


def measure(
    snapshot: Snapshot, profile: str | None = None
) -> tuple[list[Run], float, float, float]:
    """Run the policy on ``snapshot`` in a forked child: its runs, seconds, CPU seconds, +MB."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(snapshot, profile, send))
    child.start()
    got: tuple[list[Run], float, float, float] = receive.recv()
    child.join()
    return got


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, measure each size and print one table."""
    parser = argparse.ArgumentParser(prog="python -m bench.dedupe", description=__doc__)
    parser.add_argument("--records", default="10000,100000")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", default=None, help="write a cProfile per size here")
    args = parser.parse_args(argv)
    print(
        f"{'records':>8} {'type':<10} {'count':>8} {'candidates':>11} {'split':>6} "
        f"{'merges':>7} {'reviews':>7} {'scored':>8} {'one-by-1':>8} {'seconds':>8} "
        f"{'CPU s':>7} {'+MB':>7}",
        flush=True,
    )
    for size in (int(s) for s in args.records.split(",")):
        snapshot, _ = snapshot_of(size, args.seed)
        profile = f"{args.profile}.{size}" if args.profile else None
        runs, seconds, cpu, peak = measure(snapshot, profile)
        for n, r in enumerate(runs):
            tail = f" {seconds:>8.1f} {cpu:>7.1f} {peak:>7.0f}" if n == 0 else ""
            print(
                f"{size:>8} {r.object_type:<10} {r.records:>8} {r.candidates:>11} "
                f"{r.split:>6} {r.merges:>7} {r.reviews:>7} {r.scored:>8} {r.compared:>8}{tail}",
                flush=True,
            )


if __name__ == "__main__":
    main()
