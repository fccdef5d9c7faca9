"""Normalize against the sandbox generator's ground truth: invalid values flagged, not fixed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bench.dataset import canonical_records
from model.changes import Flag, Snapshot, Update
from policies.normalize import NormalizePolicy, NormalizeSettings

generator = pytest.importorskip("sandbox.generator")

NOW = datetime(2024, 5, 3, 12, tzinfo=UTC)


def test_invalid_emails_and_phones_are_exactly_the_flagged_ones() -> None:
    dataset = generator.generate(2000, seed=11, now=NOW)
    records = canonical_records(dataset)
    changes = NormalizePolicy(NormalizeSettings())(Snapshot("generated", NOW, records))
    due = [f for f in dataset.truth.to_json()["due_fixes"] if f["policy"] == "normalize"]
    invalid = {(f["record_id"], f["field"]) for f in due if f.get("flag") == "invalid"}
    flagged = {(c.record_id, c.field) for c in changes if isinstance(c, Flag)}
    updated = {(c.record_id, c.field) for c in changes if isinstance(c, Update)}
    assert len(invalid) > 20
    hits = len(flagged & invalid)
    print(f"normalize flags vs truth: {len(flagged)} flags, {len(invalid)} invalid, {hits} hit")
    assert hits / len(flagged) >= 0.95
    assert hits / len(invalid) >= 0.95
    assert not updated & invalid  # an invalid value is never rewritten
