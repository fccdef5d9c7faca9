"""Ours and Splink side by side on the same records: time, memory, precision, recall.

    python -m bench.peer [--records 10000,100000] [--seed 7]

Splink (``pip install -e '.[bench]'``; DuckDB backend, unsupervised: u from random sampling,
the prior from deterministic rules, m by expectation maximisation in two sessions blocked on
names and on place) gets the same fields as our dedupe policy, lower-cased and trimmed, and its
pairwise predictions are clustered at 0.9 (merges) and 0.75 (merges plus review), our
``merge_threshold`` and ``review_threshold``. Each matcher runs in a forked child; memory is the
child's peak resident set minus its resident set at the start (what the matcher added). The
generated contacts (``bench.quality``) and FEBRL (``bench.febrl``) are scored pairwise on
contacts. Nothing is tuned to a data set.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from bench.febrl import Outcome
from bench.quality import Pair, groups_of, pairs_of, score, snapshot_of
from model.changes import Snapshot
from model.records import Record
from policies.dedupe import DedupePolicy, DedupeSettings
from policies.dedupe.features import read_day
from syncd.heap import collector_paused

MERGE_AT, REVIEW_AT = 0.9, 0.75
#: The contact fields both matchers see.
FIELDS = (
    "firstname", "lastname", "email", "phone", "company", "address", "city", "zip", "state",
    "birthdate",
)  # fmt: skip


def _rss_kb(key: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


@dataclass(frozen=True, slots=True)
class Measured:
    """A matcher's predicted pairs (merges, merges plus review) and its cost."""

    merged: set[Pair]
    proposed: set[Pair]
    seconds: float
    peak_mb: float


def _child(fn: Callable[[], tuple[set[Pair], set[Pair]]], pipe: Connection) -> None:
    start = _rss_kb("VmRSS:")
    began = time.perf_counter()
    merged, proposed = fn()
    seconds = time.perf_counter() - began
    pipe.send((merged, proposed, seconds, (_rss_kb("VmHWM:") - start) / 1024))
    pipe.close()


class MatcherDiedError(RuntimeError):
    """A matcher's process ended without its answer: killed (the kernel kills a process that
    runs the machine out of memory with signal 9) or crashed."""


def measure(fn: Callable[[], tuple[set[Pair], set[Pair]]]) -> Measured:
    """Run ``fn`` in a forked child and measure it. :class:`MatcherDiedError` when the child ends
    without answering."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(fn, send))
    began = time.perf_counter()
    child.start()
    send.close()  # the child's end is now the only one: its death ends the pipe
    try:
        merged, proposed, seconds, peak = receive.recv()
    except EOFError:
        child.join()
        raise MatcherDiedError(
            f"its process ended with exit code {child.exitcode} after "
            f"{time.perf_counter() - began:.0f} s, without an answer (-9: killed, as the kernel "
            "kills a process that runs the machine out of memory)"
        ) from None
    child.join()
    return Measured(merged, proposed, seconds, peak)


def ours(records: Sequence[Record]) -> tuple[set[Pair], set[Pair]]:
    """Our dedupe policy, default settings, contacts only; with the cyclic garbage collector
    paused, as the engine runs every policy (:func:`syncd.heap.collector_paused`), the pairs
    taken before it runs again: a pass over the heap that re-enabling it may start is none of
    the matcher's cost (the engine's command ends without one:
    :func:`syncd.heap.skip_collection_at_exit`)."""
    policy = DedupePolicy(DedupeSettings(object_types=("contacts",)))
    with collector_paused():
        changes = policy(Snapshot("bench", _now(), {"contacts": records}))
        return pairs_of(groups_of(changes, ("merge",))), pairs_of(
            groups_of(changes, ("merge", "review"))
        )


def _now() -> Any:
    from bench.quality import NOW  # noqa: PLC0415

    return NOW


def _frame(records: Sequence[Record]) -> Any:
    import pandas as pd  # noqa: PLC0415  (optional: the bench extra)

    rows = []
    for r in records:
        row: dict[str, object] = {"unique_id": r.id}
        for field in FIELDS:
            value = (r.properties.get(field) or "").strip().lower()
            if field == "birthdate" and value:  # Splink reads ISO days; ours reads the rest
                day = read_day(value)
                value = day.isoformat() if day else value
            row[field] = value or None
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.dropna(axis=1, how="all")


#: Splink's blocking rules (columns equal), those whose columns the records have.
BLOCKING: tuple[tuple[str, ...], ...] = (
    ("firstname", "lastname"),
    ("lastname", "zip"),
    ("email",),
    ("phone",),
    ("zip", "firstname"),
    ("address",),
    ("lastname", "city"),
    ("firstname", "city"),
    ("firstname", "birthdate"),
    ("lastname", "birthdate"),
)


def splink(records: Sequence[Record]) -> tuple[set[Pair], set[Pair]]:
    """Splink 4/5 with DuckDB, unsupervised, on the fields the records have."""
    import splink.comparison_library as cl  # noqa: PLC0415
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on  # noqa: PLC0415

    frame = _frame(records)
    have = set(frame.columns)
    comparisons: list[Any] = []
    if {"firstname", "lastname"} <= have:
        comparisons.append(cl.ForenameSurnameComparison("firstname", "lastname"))
    if "email" in have:
        comparisons.append(cl.EmailComparison("email"))
    if "phone" in have:
        comparisons.append(cl.ExactMatch("phone"))
    if "company" in have:
        comparisons.append(cl.JaroWinklerAtThresholds("company", [0.9, 0.8]))
    if "address" in have:
        comparisons.append(cl.JaroWinklerAtThresholds("address", [0.95, 0.88, 0.7]))
    if "city" in have:
        comparisons.append(cl.JaroWinklerAtThresholds("city", [0.9]))
    if "zip" in have:
        comparisons.append(cl.LevenshteinAtThresholds("zip", [1]))
    if "state" in have:
        comparisons.append(cl.ExactMatch("state"))
    if "birthdate" in have:
        comparisons.append(cl.DateOfBirthComparison("birthdate", input_is_string=True))
    rules: list[Any] = [block_on(*columns) for columns in BLOCKING if set(columns) <= have]
    place = "city" if "city" in have else "zip"
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
    )
    db = DuckDBAPI()
    linker = Linker(db.register(frame), settings, log_level=40)
    sure = ("firstname", "lastname", place) if place in have else ("firstname", "lastname")
    linker.training.estimate_probability_two_random_records_match([block_on(*sure)], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1_000_000, seed=0)
    # the names are learned from pairs sharing a place or a date of birth, the rest from pairs
    # sharing the names
    training = [
        ("firstname", "lastname"),
        ("zip",) if "zip" in have else (place,),
        ("birthdate",),
    ]
    for columns in training:
        if set(columns) <= have:
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(*columns))
    predictions = linker.inference.predict(threshold_match_probability=REVIEW_AT)
    out = []
    for at in (MERGE_AT, REVIEW_AT):
        found: Any = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=at
        )
        clusters = found.as_pandas_dataframe()
        groups: dict[object, list[str]] = {}
        for row in clusters.itertuples():
            groups.setdefault(row.cluster_id, []).append(str(row.unique_id))
        out.append(pairs_of(groups.values()))
    return out[0], out[1]


MATCHERS: Mapping[str, Callable[[Sequence[Record]], tuple[set[Pair], set[Pair]]]] = {
    "syncd": ours,
    "splink": splink,
}


@dataclass(frozen=True, slots=True)
class Failed:
    """A matcher that gave no answer, and why."""

    matcher: str
    why: str


def compare(records: Sequence[Record], true: set[Pair]) -> list[Outcome | Failed]:
    """Every matcher on ``records``, scored against ``true``; a matcher whose process died
    is told as such and the others still run."""
    out: list[Outcome | Failed] = []
    for matcher, fn in MATCHERS.items():
        try:
            got = measure(lambda fn=fn: fn(records))  # type: ignore[misc]
        except MatcherDiedError as died:
            out.append(Failed(matcher, str(died)))
            continue
        out.append(
            Outcome(
                matcher,
                score(got.merged, true),
                score(got.proposed, true),
                got.seconds,
                got.peak_mb,
            )
        )
    return out


def render(title: str, outcomes: Sequence[Outcome | Failed]) -> str:
    """One table: matcher, precision and recall (merges, plus review), seconds, memory."""
    lines = [
        title,
        f"  {'matcher':<8} {'merge P':>8} {'merge R':>8} {'+review P':>10} {'+review R':>10} "
        f"{'seconds':>8} {'+MB':>7}",
    ]
    for o in outcomes:
        if isinstance(o, Failed):
            lines.append(f"  {o.matcher:<8} no figures: {o.why}")
            continue
        lines.append(
            f"  {o.matcher:<8} {o.merges.precision:>8.4f} {o.merges.recall:>8.4f} "
            f"{o.with_review.precision:>10.4f} {o.with_review.recall:>10.4f} {o.seconds:>8.1f} "
            f"{o.peak_mb or 0:>7.0f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run both matchers per size and print the tables."""
    parser = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__)
    parser.add_argument("--records", default="10000,100000")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    for size in (int(s) for s in args.records.split(",")):
        snapshot, truth = snapshot_of(size, args.seed)
        clusters = truth["duplicate_clusters"]
        assert isinstance(clusters, dict)
        true = pairs_of(clusters.get("contacts", []))
        records = list(snapshot.of("contacts"))
        title = (
            f"generated contacts: {len(records)} records, seed {args.seed}, {len(true)} true pairs"
        )
        print(render(title, compare(records, true)), flush=True)


if __name__ == "__main__":
    main()
