"""The JSON form of changes (plan JSON, the store's payloads): a public contract."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given

from model.changes import (
    Archive,
    Change,
    CreateTask,
    Flag,
    Merge,
    Update,
    change_from_dict,
    change_to_dict,
)
from tests.model.strategies import changes


@given(changes)
def test_a_change_round_trips_through_json(change: Change) -> None:
    data = change_to_dict(change)
    assert change_from_dict(json.loads(json.dumps(data))) == change
    assert next(iter(data)) == "kind"


def test_the_json_form_of_each_kind() -> None:
    common = {"source": "hs", "object_type": "contacts", "policy": "p", "reason": "why"}
    merge = Merge("hs", "contacts", "p", "why", "1", ("2", "3"), 0.9, {"email": 1.0}, {"a": "x"})
    expected: list[tuple[Change, dict[str, object]]] = [
        (
            Update("hs", "contacts", "p", "why", "1", "email", None, "a@b.c"),
            {"record_id": "1", "field": "email", "old": None, "new": "a@b.c"},
        ),
        (
            merge,
            {
                "primary_id": "1",
                "merged_ids": ["2", "3"],
                "confidence": 0.9,
                "evidence": {"email": 1.0},
                "field_values": {"a": "x"},
                "field_baseline": {},
            },
        ),
        (
            CreateTask("hs", "contacts", "p", "why", "1", "Call", None, date(2025, 1, 2), "b"),
            {
                "record_id": "1",
                "subject": "Call",
                "owner_id": None,
                "due": "2025-01-02",
                "body": "b",
            },
        ),
        (
            Flag("hs", "contacts", "p", "why", "1", None, "x"),
            {"record_id": "1", "field": None, "value": "x"},
        ),
        (Archive("hs", "contacts", "p", "why", "1"), {"record_id": "1"}),
    ]
    for change, own in expected:
        assert list(change_to_dict(change).items()) == [
            ("kind", change.kind),
            *common.items(),
            *own.items(),
        ]


def test_older_payloads_without_newer_keys_still_load() -> None:
    payload = {
        "kind": "review",
        "source": "hs",
        "object_type": "contacts",
        "policy": "dedupe",
        "reason": "why",
        "primary_id": "1",
        "merged_ids": ["2"],
        "confidence": 1,
        "unknown": "ignored",
    }
    assert change_from_dict(payload) == Merge(
        "hs", "contacts", "dedupe", "why", "1", ("2",), 1.0, kind="review"
    )


def test_a_bad_kind_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="kind"):
        change_from_dict({"kind": "delete_everything", "source": "hs"})
