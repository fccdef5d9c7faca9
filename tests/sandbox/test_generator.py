"""The data generator's shape: API, determinism, counts, ids, timestamps, property schema."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.generator import Dataset, GeneratedObject, GroundTruth, generate
from sandbox.generator.schema import PROPERTIES

NOW = datetime(2025, 3, 14, 15, 9, 26, 535_897, tzinfo=UTC)
NOW_MS = NOW.replace(microsecond=535_000)
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TYPES = ("contacts", "companies", "deals", "tasks")
MODIFIED = {"contacts": "lastmodifieddate"}
VALUE_TYPES = {"string", "number", "date", "datetime", "enumeration"}
FIELD_TYPES = {
    "text", "textarea", "number", "date", "select", "checkbox", "radio", "booleancheckbox",
    "phonenumber",
}  # fmt: skip


@cache
def dataset(records: int = 3000, seed: int = 5) -> Dataset:
    return generate(records, seed, NOW)


def _all(ds: Dataset) -> list[tuple[str, GeneratedObject]]:
    return [(kind, o) for kind in TYPES for o in ds.objects[kind]]


def test_same_inputs_give_identical_output() -> None:
    a, b = generate(400, 9, NOW), generate(400, 9, NOW)
    assert a.objects == b.objects
    assert a.owners == b.owners
    assert a.truth.to_json() == b.truth.to_json()


def test_other_seed_or_size_gives_other_data() -> None:
    base = generate(400, 9, NOW)
    other = generate(400, 10, NOW)
    assert base.objects["contacts"] != other.objects["contacts"]
    assert base.truth.to_json() != other.truth.to_json()
    assert len(generate(401, 9, NOW).objects["contacts"]) == 401


def test_counts_follow_records() -> None:
    ds = dataset()
    assert len(ds.objects["contacts"]) == 3000
    assert len(ds.objects["companies"]) == 600
    assert len(ds.objects["deals"]) == 750
    assert 1350 <= len(ds.objects["tasks"]) <= 1800
    assert 8 <= len(ds.owners) <= 20


def test_ids_are_numeric_and_unique_across_types_and_owners() -> None:
    ds = dataset()
    ids = [o.id for _, o in _all(ds)] + [str(owner["id"]) for owner in ds.owners]
    assert all(i.isdigit() and not i.startswith("0") for i in ids)
    assert len(ids) == len(set(ids))
    for kind in TYPES:
        listed = [int(o.id) for o in ds.objects[kind]]
        assert listed == sorted(listed)


def test_every_object_carries_its_data_model_and_system_properties() -> None:
    ds = dataset()
    for kind, obj in _all(ds):
        names = [p["name"] for p in PROPERTIES[kind]]
        assert list(obj.properties) == names
        assert all(v is None or isinstance(v, str) for v in obj.properties.values())
        assert obj.properties["hs_object_id"] == obj.id
        created = "hs_createdate" if kind == "tasks" else "createdate"  # tasks: no createdate
        assert obj.properties[created] == _iso(obj.created_at)
        assert obj.properties[MODIFIED.get(kind, "hs_lastmodifieddate")] == _iso(obj.updated_at)


def test_timestamps_lie_in_the_two_years_before_now() -> None:
    ds = dataset()
    start = NOW_MS - timedelta(days=730)
    for kind, obj in _all(ds):
        assert obj.created_at.tzinfo is not None
        assert start <= obj.created_at <= obj.updated_at <= NOW_MS, (kind, obj.id)
        assert obj.created_at.microsecond % 1000 == 0
        for name in (
            "createdate",
            "hs_createdate",
            "lastmodifieddate",
            "hs_lastmodifieddate",
            "notes_last_updated",
        ):
            value = obj.properties.get(name)
            assert value is None or ISO_MS.match(value), (name, value)
        activity = obj.properties.get("notes_last_updated")
        if activity is not None:
            assert _iso(obj.created_at) <= activity <= _iso(obj.updated_at)
    for owner in ds.owners:
        assert ISO_MS.match(str(owner["createdAt"]))
        assert ISO_MS.match(str(owner["updatedAt"]))


def test_tasks_have_due_dates_and_start_after_what_they_are_about() -> None:
    ds = dataset()
    by_id = {o.id: o for _, o in _all(ds)}
    for task in ds.objects["tasks"]:
        assert ISO_MS.match(task.properties["hs_timestamp"] or "")
        parents = [
            by_id[i] for kind in ("contacts", "deals") for i in task.associations.get(kind, [])
        ]
        parents += [by_id[i] for i in task.associations.get("companies", [])]
        assert parents, task.id
        assert task.created_at >= min(p.created_at for p in parents)


def test_associations_are_symmetric_and_resolve() -> None:
    ds = dataset()
    by_id = {o.id: (kind, o) for kind, o in _all(ds)}
    for kind, obj in _all(ds):
        for other_kind, ids in obj.associations.items():
            assert other_kind in TYPES
            for other_id in ids:
                found_kind, other = by_id[other_id]
                assert found_kind == other_kind
                assert obj.id in other.associations[kind]
    for deal in ds.objects["deals"]:
        assert deal.associations.get("contacts")
    linked = sum(1 for c in ds.objects["contacts"] if c.associations.get("companies"))
    assert 0.6 < linked / len(ds.objects["contacts"]) < 0.95


def test_owners_are_hubspot_owner_json_and_own_most_records() -> None:
    ds = dataset()
    keys = {"id", "email", "firstName", "lastName", "userId", "archived", "createdAt", "updatedAt"}
    owner_ids = {str(o["id"]) for o in ds.owners}
    for owner in ds.owners:
        assert keys <= set(owner)
        assert owner["archived"] is False
        assert isinstance(owner["userId"], int)
        assert "@" in str(owner["email"])
    assert len({o["userId"] for o in ds.owners}) == len(ds.owners)
    for kind in TYPES:
        values = [o.properties["hubspot_owner_id"] for o in ds.objects[kind]]
        assert {v for v in values if v is not None} <= owner_ids
        missing = values.count(None) / len(values)
        assert (0.001 if kind == "tasks" else 0.01) < missing < 0.2, (kind, missing)


def test_properties_cover_the_data_model_with_hubspot_shapes() -> None:
    required = {"name", "label", "type", "fieldType", "groupName", "description", "options"}
    for kind, props in PROPERTIES.items():
        names = [p["name"] for p in props]
        assert len(names) == len(set(names))
        for prop in props:
            assert required <= set(prop)
            assert prop["type"] in VALUE_TYPES
            assert prop["fieldType"] in FIELD_TYPES
            options = prop["options"]
            assert isinstance(options, list)
            if prop["type"] == "enumeration" and prop["name"] != "hubspot_owner_id":
                assert options, (kind, prop["name"])
            for option in options:
                assert {"label", "value", "hidden", "displayOrder"} <= set(option)
    enums = {
        ("contacts", "lifecyclestage"), ("contacts", "hs_lead_status"), ("contacts", "tags"),
        ("companies", "industry"), ("deals", "dealstage"), ("deals", "pipeline"),
        ("tasks", "hs_task_status"), ("tasks", "hs_task_priority"), ("tasks", "hs_task_type"),
    }  # fmt: skip
    for kind, name in enums:
        (prop,) = [p for p in PROPERTIES[kind] if p["name"] == name]
        assert prop["type"] == "enumeration"
    tags = next(p for p in PROPERTIES["contacts"] if p["name"] == "tags")
    assert tags["fieldType"] == "checkbox"


def test_enumeration_values_are_options() -> None:
    ds = dataset()
    for kind in TYPES:
        for prop in PROPERTIES[kind]:
            if prop["type"] != "enumeration" or prop["name"] == "hubspot_owner_id":
                continue
            allowed = {o["value"] for o in prop["options"]}
            for obj in ds.objects[kind]:
                value = obj.properties[prop["name"]]
                if value is not None:
                    assert set(value.split(";")) <= allowed, (kind, prop["name"], value)


def test_truth_document_shape_and_round_trip(tmp_path: Path) -> None:
    truth = dataset().truth
    assert isinstance(truth, GroundTruth)
    doc = truth.to_json()
    assert doc["generator"] == "syncd-sandbox"
    assert doc["version"] == 1
    assert doc["seed"] == 5
    assert doc["records"] == 3000
    assert doc["now"] == "2025-03-14T15:09:26.535Z"
    assert set(doc["duplicate_clusters"]) == {"contacts", "companies"}
    assert "contacts" in doc["hard_negatives"]
    path = tmp_path / "truth.json"
    truth.write(path)
    assert json.loads(path.read_text("utf-8")) == doc
    assert json.loads(json.dumps(doc)) == doc


def test_clusters_and_pairs_are_sorted_ids_of_existing_records() -> None:
    ds = dataset()
    doc = ds.truth.to_json()
    ids = {kind: {o.id for o in ds.objects[kind]} for kind in TYPES}
    for group in ("duplicate_clusters", "hard_negatives"):
        for kind, clusters in doc[group].items():
            for cluster in clusters:
                assert len(cluster) >= 2
                assert set(cluster) <= ids[kind]
                assert cluster == sorted(cluster, key=int)
    seen: set[str] = set()
    for cluster in doc["duplicate_clusters"]["contacts"]:
        assert 2 <= len(cluster) <= 4
        assert seen.isdisjoint(cluster)
        seen.update(cluster)


def test_naive_now_is_read_as_utc() -> None:
    naive = generate(30, 1, NOW.replace(tzinfo=None))
    assert naive.objects == generate(30, 1, NOW).objects


@pytest.mark.parametrize("records", [0, 1, 2, 7])
def test_tiny_datasets(records: int) -> None:
    ds = generate(records, 3, NOW)
    assert len(ds.objects["contacts"]) == records
    assert ds.truth.to_json()["records"] == records


def test_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="records"):
        generate(-1, 0, NOW)


@settings(max_examples=20, deadline=None)
@given(records=st.integers(0, 150), seed=st.integers(0, 2**32))
def test_any_seed_gives_consistent_data(records: int, seed: int) -> None:
    ds = generate(records, seed, NOW)
    objs = _all(ds)
    ids = [o.id for _, o in objs]
    assert len(ids) == len(set(ids))
    assert len(ds.objects["contacts"]) == records
    start = NOW_MS - timedelta(days=730)
    assert all(start <= o.created_at <= o.updated_at <= NOW_MS for _, o in objs)
    members = [i for c in ds.truth.duplicate_clusters["contacts"] for i in c]
    assert len(members) == len(set(members))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_output_does_not_depend_on_string_hashing() -> None:
    script = (
        "import hashlib, json, sys\n"
        "from datetime import UTC, datetime\n"
        "from sandbox.generator import generate\n"
        "ds = generate(300, 42, datetime(2025, 1, 1, tzinfo=UTC))\n"
        "rows = [[o.id, o.properties, o.associations] for v in ds.objects.values() for o in v]\n"
        "blob = json.dumps([rows, ds.truth.to_json(), ds.owners], sort_keys=True)\n"
        "print(hashlib.sha256(blob.encode()).hexdigest())\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[2],
        ).stdout
        for hash_seed in ("1", "2")
    }
    assert len(digests) == 1
