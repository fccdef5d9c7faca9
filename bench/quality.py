"""Duplicate-detection quality against the sandbox generator's ground truth.

    python -m bench.quality --records 10000 [--seed 7] [--seeds 1,2,3,4,5]

Generates a dataset, builds a :class:`~policies.base.Snapshot` straight from it (no HTTP, no
store), runs :class:`~policies.dedupe.DedupePolicy` with its default settings and scores it
pairwise: every pair of records inside one planned change counts as a predicted pair, every pair
inside one true cluster as a true pair. For contacts and companies it prints the precision and
recall of the planned merges (kind ``merge``) and of merges plus review changes, how many of the
generator's hard-negative pairs were wrongly merged (or sent to review), and the policy's
runtime. Targets: merge precision >= 0.99 with recall >= 0.90; recall >= 0.97 with review.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations

from bench.dataset import canonical_records
from model.changes import Merge, Snapshot
from policies.dedupe import DedupePolicy, DedupeSettings
from sandbox.generator import generate

NOW = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)
OBJECT_TYPES = ("contacts", "companies")

Pair = tuple[str, str]


def pairs_of(groups: Iterable[Iterable[str]]) -> set[Pair]:
    """Every unordered pair of ids inside each group, as ``(smaller, larger)`` strings."""
    return {
        (a, b) if a < b else (b, a)
        for group in groups
        for a, b in combinations(sorted(set(group)), 2)
    }


@dataclass(frozen=True, slots=True)
class Score:
    """Pairwise figures of one set of predicted pairs against the true pairs."""

    predicted: int
    true: int
    hits: int

    @property
    def precision(self) -> float:
        """Share of predicted pairs that are true (1.0 when nothing was predicted)."""
        return self.hits / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        """Share of true pairs that were predicted (1.0 when there is nothing to find)."""
        return self.hits / self.true if self.true else 1.0


def score(predicted: set[Pair], true: set[Pair]) -> Score:
    """Pairwise precision/recall counts of ``predicted`` against ``true``."""
    return Score(len(predicted), len(true), len(predicted & true))


def groups_of(changes: Iterable[object], kinds: Sequence[str]) -> list[tuple[str, ...]]:
    """The id groups of the merge changes whose kind is in ``kinds``.

    A review merges the primaries of clusters already merged by ``merge`` changes, so pairs are
    taken over the union of both (a review of A and C, where B is merged into A, pairs B and C).
    """
    merges = [c for c in changes if isinstance(c, Merge) and c.kind in kinds]
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for m in merges:
        for other in m.merged_ids:
            parent[find(other)] = find(m.primary_id)
    out: dict[str, list[str]] = {}
    for x in list(parent):
        out.setdefault(find(x), []).append(x)
    return [tuple(g) for g in out.values() if len(g) > 1]


def snapshot_of(records: int, seed: int) -> tuple[Snapshot, Mapping[str, object]]:
    """A snapshot of a generated dataset and its ground truth (``truth.to_json()``)."""
    dataset = generate(records, seed=seed, now=NOW)
    return Snapshot("generated", NOW, canonical_records(dataset)), dataset.truth.to_json()


@dataclass(frozen=True, slots=True)
class Result:
    """The figures of one object type."""

    object_type: str
    merges: Score
    with_review: Score
    hard_negatives: int
    hard_negatives_merged: int
    hard_negatives_reviewed: int
    seconds: float


def evaluate(
    snapshot: Snapshot, truth: Mapping[str, object], settings: DedupeSettings | None = None
) -> list[Result]:
    """Run the dedupe policy per object type and score it against ``truth``."""
    results = []
    clusters = truth["duplicate_clusters"]
    negatives = truth["hard_negatives"]
    assert isinstance(clusters, dict)
    assert isinstance(negatives, dict)
    for object_type in OBJECT_TYPES:
        base = settings or DedupeSettings()
        policy = DedupePolicy(base.model_copy(update={"object_types": (object_type,)}))
        started = time.perf_counter()
        changes = policy(snapshot)
        seconds = time.perf_counter() - started
        true = pairs_of(clusters.get(object_type, []))
        merged = pairs_of(groups_of(changes, ("merge",)))
        proposed = pairs_of(groups_of(changes, ("merge", "review")))
        hard = pairs_of(negatives.get(object_type, []))
        results.append(
            Result(
                object_type=object_type,
                merges=score(merged, true),
                with_review=score(proposed, true),
                hard_negatives=len(hard),
                hard_negatives_merged=len(hard & merged),
                hard_negatives_reviewed=len(hard & (proposed - merged)),
                seconds=seconds,
            )
        )
    return results


def render(records: int, seed: int, results: Sequence[Result]) -> str:
    """The figures as a small fixed-width table."""
    lines = [
        f"dedupe quality: {records} contacts generated, seed {seed}",
        f"{'type':<10} {'merge P':>8} {'merge R':>8} {'+review P':>10} {'+review R':>10} "
        f"{'true pairs':>10} {'hard neg merged':>16} {'hard neg review':>16} {'seconds':>8}",
    ]
    for r in results:
        lines.append(
            f"{r.object_type:<10} {r.merges.precision:>8.4f} {r.merges.recall:>8.4f} "
            f"{r.with_review.precision:>10.4f} {r.with_review.recall:>10.4f} "
            f"{r.merges.true:>10} {f'{r.hard_negatives_merged}/{r.hard_negatives}':>16} "
            f"{f'{r.hard_negatives_reviewed}/{r.hard_negatives}':>16} {r.seconds:>8.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, evaluate each seed and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--seeds", default=None, help="comma-separated seeds to run instead of --seed"
    )
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [args.seed]
    for seed in seeds:
        snapshot, truth = snapshot_of(args.records, seed)
        print(render(args.records, seed, evaluate(snapshot, truth)), flush=True)


if __name__ == "__main__":
    main()
