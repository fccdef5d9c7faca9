"""Normalizing incrementally: a record whose properties are unchanged keeps its changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bench.dataset import canonical_records
from model.changes import Snapshot
from policies.normalize import NormalizePolicy, NormalizeSettings
from sandbox.generator import generate

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_incremental_normalizing_equals_a_full_one() -> None:
    snapshot = Snapshot("generated", NOW, canonical_records(generate(400, seed=2, now=NOW)))
    memory: dict[str, Any] = {}
    policy = NormalizePolicy(NormalizeSettings())
    policy.incremental(memory)
    assert policy(snapshot) == NormalizePolicy(NormalizeSettings())(snapshot)
    contacts = list(snapshot.of("contacts"))
    for n in range(0, 40, 4):  # phones and e-mails made messy, or tidied
        props = dict(contacts[n].properties)
        props["phone"] = "  (415) 555-01" + f"{n:02d}  "
        props["email"] = None if n % 8 else "Someone@Example.COM "
        contacts[n] = replace(contacts[n], properties=props)
    del contacts[50]
    later = replace(snapshot, records={**snapshot.records, "contacts": tuple(contacts)})
    policy = NormalizePolicy(NormalizeSettings())
    policy.incremental(memory)
    changes = policy(later)
    assert changes == NormalizePolicy(NormalizeSettings())(later)
    total = sum(len(later.of(t)) for t in NormalizeSettings().fields)
    assert policy.notes == {"records": f"10 of {total} normalized again"}
    assert any(c.record_id == contacts[0].id and c.field == "phone" for c in changes)  # type: ignore[union-attr]

    other = NormalizeSettings(default_region="GB")  # other settings: every record again
    policy = NormalizePolicy(other)
    policy.incremental(memory)
    assert policy(later) == NormalizePolicy(other)(later)
    assert policy.notes == {"records": f"{total} of {total} normalized again"}
