"""Per-record values kept between a service's cycles (syncd.memo), and the figures made with
them: the same as without, only changed records worked out again."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from model.changes import Flag, Merge, Snapshot
from model.fields import record_label
from model.records import Record
from syncd.engine import labels_for
from syncd.memo import PerRecord
from syncd.quality import health, key_fields_filled

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def contact(record_id: str, **props: str | None) -> Record:
    return Record("contacts", record_id, dict(props), NOW)


def test_only_records_not_seen_as_these_objects_are_worked_out() -> None:
    asked: list[str] = []

    def name(record: Record) -> str:
        asked.append(record.id)
        return str(record.properties.get("firstname"))

    memo = PerRecord(name)
    a, b, c = contact("1", firstname="Ada"), contact("2", firstname="Alan"), contact("3")
    assert memo.values("contacts", [a, b, c]) == ["Ada", "Alan", "None"]
    assert asked == ["1", "2", "3"]
    b2 = replace(b, properties={"firstname": "Alan M."})  # read again: a new object
    a2 = replace(a)  # equal, but another object: worked out again, never trusted blind
    assert memo.values("contacts", [a2, b2]) == ["Ada", "Alan M."]
    assert asked[3:] == ["1", "2"]
    assert memo.values("contacts", [a2, b2, c]) == ["Ada", "Alan M.", "None"]
    assert asked[5:] == ["3"], "a record left out is forgotten"
    assert memo.values("companies", [a2]) == ["Ada"], "kept per object type"


def test_labels_and_health_with_kept_values_are_those_without() -> None:
    records = [
        contact("1", firstname="Ada", lastname="Lovelace", email="ada@x.org"),
        contact("2", firstname="Alan", phone="+12064135285"),
        contact("3", email="bad@"),
    ]
    changes = [
        Merge("hs", "contacts", "dedupe", "dup", "1", ("2",), 0.97),
        Flag("hs", "contacts", "required", "why", "3", "lastname", None),
        Flag("hs", "contacts", "required", "why", "3", "email", None),  # a key field too
        Flag("hs", "contacts", "required", "why", "3", "vat_id", None),  # not a key field
    ]
    labels = PerRecord(lambda r: record_label(r.object_type, r.properties))
    filled = PerRecord(key_fields_filled)
    for edit in (None, {"firstname": "Ada", "lastname": "Byron", "email": "", "city": "London"}):
        if edit is not None:  # one record changed since: read again
            records[0] = replace(records[0], properties=edit)
        snapshot = Snapshot("hs", NOW, {"contacts": list(records)})
        assert labels_for(snapshot, labels) == labels_for(snapshot)
        assert health(snapshot, changes, filled) == health(snapshot, changes)
    assert health(snapshot, changes).scores["contacts"]["3"] < 100
