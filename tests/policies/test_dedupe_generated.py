"""Dedupe against the sandbox generator's ground truth (a quick check; bench/ has the real one)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import combinations

import pytest

from bench.dataset import canonical_records
from model.changes import Merge, Snapshot
from policies.dedupe import DedupePolicy, DedupeSettings

generator = pytest.importorskip("sandbox.generator")
if not hasattr(generator, "generate"):  # pragma: no cover - only while the generator is missing
    pytest.skip("sandbox.generator.generate is not there yet", allow_module_level=True)

NOW = datetime(2024, 5, 3, 12, tzinfo=UTC)


def _pairs(clusters: Iterable[Iterable[str]]) -> set[tuple[str, str]]:
    return {
        (a, b) if a < b else (b, a)
        for cluster in clusters
        for a, b in combinations(sorted(cluster), 2)
    }


@pytest.fixture(scope="module")
def generated() -> tuple[Snapshot, dict[str, list[list[str]]]]:
    dataset = generator.generate(2000, seed=11, now=NOW)
    records = canonical_records(dataset)
    truth = dataset.truth.to_json()["duplicate_clusters"]
    return Snapshot("generated", NOW, records), truth


@pytest.mark.parametrize("object_type", ["contacts", "companies"])
def test_merge_precision_and_recall(
    generated: tuple[Snapshot, dict[str, list[list[str]]]], object_type: str
) -> None:
    snapshot, truth = generated
    policy = DedupePolicy(DedupeSettings(object_types=(object_type,)))
    merges = [c for c in policy(snapshot) if isinstance(c, Merge) and c.kind == "merge"]
    found = _pairs((m.primary_id, *m.merged_ids) for m in merges)
    expected = _pairs(truth.get(object_type, []))
    assert expected, "the generator made no duplicates to find"
    hits = len(found & expected)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(expected)
    print(f"{object_type}: precision {precision:.3f} recall {recall:.3f} "
          f"({len(found)} merged pairs, {len(expected)} true)")  # fmt: skip
    assert precision >= 0.95
    assert recall >= 0.8
