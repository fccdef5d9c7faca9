"""Seeding from a generated dataset, and the sandbox serving the data generator's output."""

from __future__ import annotations

import importlib
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hubspot import HubSpot

from sandbox.hubspot import HubSpotSandbox, SandboxState
from sandbox.hubspot.spec import SpecValidator

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@dataclass
class FakeObject:
    id: str
    properties: dict[str, str | None]
    created_at: datetime
    updated_at: datetime
    associations: dict[str, list[str]] = field(default_factory=dict)
    archived: bool = False


@dataclass
class FakeDataset:
    objects: dict[str, list[Any]]
    owners: list[dict[str, Any]]


def _fake_dataset() -> FakeDataset:
    day = timedelta(days=1)
    return FakeDataset(
        objects={
            "contacts": [
                FakeObject(
                    "501",
                    {"email": "a@example.com", "lastmodifieddate": "junk"},
                    NOW - 9 * day,
                    NOW - day,
                ),
                FakeObject(
                    "502", {"email": "a@example.com", "firstname": ""}, NOW - 8 * day, NOW - 2 * day
                ),
                FakeObject(
                    "503",
                    {"email": "gone@example.com"},
                    NOW - 7 * day,
                    NOW - 3 * day,
                    archived=True,
                ),
            ],
            "companies": [
                FakeObject(
                    "601",
                    {"name": "Acme", "hs_merged_object_ids": "590;591"},
                    NOW - 9 * day,
                    NOW - day,
                    {"contacts": ["501"]},
                ),
            ],
            "tasks": [
                FakeObject(
                    "701",
                    {"hs_task_subject": "Call", "hs_timestamp": "2024-05-02T00:00:00.000Z"},
                    NOW - day,
                    NOW - day,
                    {"contacts": ["502"], "companies": ["601"]},
                ),
            ],
        },
        owners=[
            {
                "id": 11,
                "email": "o@example.com",
                "firstName": "O",
                "lastName": "W",
                "userId": 110,
                "archived": False,
                "createdAt": NOW - 30 * day,
                "updatedAt": "2024-04-01T00:00:00.000Z",
                "unknownField": "dropped",
            }
        ],
    )


def test_from_dataset_keeps_ids_timestamps_and_associations() -> None:
    state = SandboxState.from_dataset(_fake_dataset(), clock=lambda: NOW)
    first = state.get("contacts", "501")
    assert first is not None
    assert first.updated_at == NOW - timedelta(days=1)
    assert first.properties["lastmodifieddate"] == "2024-04-30T12:00:00.000Z"  # from updated_at
    assert first.properties["hs_object_id"] == "501"
    duplicate = state.get("contacts", "502")
    assert duplicate is not None
    assert duplicate.properties["firstname"] is None
    assert state.contacts_with_email("A@example.com") == {"501", "502"}  # seeded duplicates kept
    assert state.count("contacts") == 2
    archived = state.get("contacts", "503", archived=True)
    assert archived is not None
    assert archived.archived_at == NOW - timedelta(days=3)
    assert state.associated("contacts", "501", "companies") == ["601"]
    absorbed = state.get("companies", "590")
    assert absorbed is not None
    assert absorbed.id == "601"
    assert state.associated("contacts", "502", "tasks") == ["701"]
    assert state.associated("companies", "601", "tasks") == ["701"]
    assert int(state.create("deals", {})) > 701
    assert state.owners == [
        {
            "id": "11",
            "email": "o@example.com",
            "firstName": "O",
            "lastName": "W",
            "userId": 110,
            "archived": False,
            "createdAt": "2024-04-01T12:00:00.000Z",
            "updatedAt": "2024-04-01T00:00:00.000Z",
            "type": "PERSON",
        }
    ]


def _generator() -> Any:
    module = importlib.import_module("sandbox.generator")
    if not hasattr(module, "generate"):
        pytest.skip("sandbox.generator.generate is not written yet")
    return module


def test_the_generated_dataset_is_served_as_hubspot_would() -> None:
    generator = _generator()
    dataset = generator.generate(records=300, seed=3, now=NOW)
    state = SandboxState.from_dataset(dataset, clock=lambda: NOW, rate_limit=None)
    state.record_exchanges = True
    expected = {t: len(objs) for t, objs in dataset.objects.items() if t in state.counts()}
    with HubSpotSandbox(state) as sandbox:
        client = HubSpot(access_token="t", host=sandbox.base_url)
        for object_type, count in expected.items():
            seen = 0
            after = None
            while True:
                page = client.crm.objects.basic_api.get_page(object_type, limit=100, after=after)
                seen += len(page.results)
                if page.paging is None:
                    break
                after = page.paging.next.after
            assert seen == count, object_type
        client.crm.owners.owners_api.get_page()
        for object_type in ("contacts", "companies", "deals", "tasks"):
            client.crm.properties.core_api.get_all(object_type)
    validator = SpecValidator()
    problems = [
        p
        for exchange in state.request_log
        for p in validator.response_problems(
            exchange.method, exchange.path, exchange.status, exchange.response_json
        )
    ]
    assert problems == []


def test_serve_forever_prints_its_url_and_serves() -> None:
    _generator()
    code = "from sandbox.hubspot import serve_forever; serve_forever(port=0, records=50, seed=1)"
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:"), (line, process.stderr and process.stderr.read())
        with urllib.request.urlopen(f"{url}/_sandbox/health", timeout=5) as response:
            assert response.status == 200
    finally:
        process.kill()
        process.wait(timeout=30)
