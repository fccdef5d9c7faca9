"""Merge semantics: the primary survives, merged ids resolve to it, the absorbed record vanishes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    BatchReadInputSimplePublicObjectId,
    PublicMergeInput,
    PublicObjectSearchRequest,
    SimplePublicObjectId,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException, NotFoundException

from sandbox.hubspot import HubSpotSandbox, SandboxState
from tests.sandbox.support import Clock


@pytest.fixture
def client(state: SandboxState) -> Iterator[HubSpot]:
    with HubSpotSandbox(state) as sandbox:
        yield HubSpot(access_token="t", host=sandbox.base_url)


def test_merge_through_the_sdk(clock: Clock, state: SandboxState, client: HubSpot) -> None:
    primary = state.create("contacts", {"email": "ada@example.com", "firstname": "Ada"})
    merged = state.create(
        "contacts", {"email": "ada.l@example.com", "firstname": "Augusta", "phone": "+44 1"}
    )
    company = state.create("companies", {"name": "Engines"}, {"contacts": [merged]})
    clock.now += timedelta(hours=1)
    api = client.crm.contacts

    result = api.basic_api.merge(
        PublicMergeInput(primary_object_id=primary, object_id_to_merge=merged)
    )

    assert result.id == primary
    assert result.properties["hs_merged_object_ids"] == merged
    assert result.properties["firstname"] == "Ada"  # the primary's values win
    assert result.properties["phone"] == "+44 1"  # values it lacked come from the merged record
    assert result.properties["hs_additional_emails"] == "ada.l@example.com"
    assert result.updated_at == clock.now
    via_old_id = api.basic_api.get_by_id(merged, properties=["email"], associations=["companies"])
    assert via_old_id.id == primary
    assert [a.id for a in via_old_id.associations["companies"].results] == [company]
    batch = api.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=merged)], properties=[], properties_with_history=[]
        )
    )
    assert [r.id for r in batch.results] == [primary]
    assert [r.id for r in api.basic_api.get_page().results] == [primary]
    assert api.basic_api.get_page(archived=True).results == []
    assert [r.id for r in api.search_api.do_search(PublicObjectSearchRequest()).results] == [
        primary
    ]
    with pytest.raises(ApiException) as conflict:
        api.basic_api.create(
            SimplePublicObjectInputForCreate(properties={"email": "ADA.L@example.com"})
        )
    assert conflict.value.status == 409
    assert f"Existing ID: {primary}" in conflict.value.body


def test_chained_merges_resolve_to_the_last_survivor(state: SandboxState) -> None:
    a, b, c = (state.create("companies", {"name": n}) for n in "abc")
    assert state.merge("companies", a, b) == a
    assert state.merge("companies", c, b) == c  # b stands for a now
    survivor = state.get("companies", b)
    assert survivor is not None
    assert survivor.id == c
    assert survivor.properties["hs_merged_object_ids"] == f"{b};{a}"
    assert state.count("companies") == 1
    assert state.count("companies", archived=True) == 0


def test_merge_errors(state: SandboxState, client: HubSpot) -> None:
    one = state.create("contacts", {"email": "one@example.com"})
    two = state.create("contacts", {"email": "two@example.com"})
    state.merge("contacts", one, two)
    api = client.crm.contacts.basic_api
    with pytest.raises(ApiException) as itself:
        api.merge(PublicMergeInput(primary_object_id=one, object_id_to_merge=two))
    assert itself.value.status == 400
    with pytest.raises(NotFoundException):
        api.merge(PublicMergeInput(primary_object_id=one, object_id_to_merge="404404"))
    with pytest.raises(KeyError):
        state.merge("contacts", one, "404404")
    with pytest.raises(ValueError, match="itself"):
        state.merge("contacts", two, one)


def test_tasks_cannot_be_merged(state: SandboxState, client: HubSpot) -> None:
    first = state.create("tasks", {"hs_task_subject": "a"})
    second = state.create("tasks", {"hs_task_subject": "b"})
    status, body = 0, ""
    try:
        client.crm.objects.basic_api.api_client.call_api(
            "/crm/v3/objects/tasks/merge",
            "POST",
            body={"primaryObjectId": first, "objectIdToMerge": second},
            header_params={"Content-Type": "application/json"},
            auth_settings=["oauth2"],
            response_types_map={},
        )
    except Exception as error:  # the objects package's own ApiException
        status, body = getattr(error, "status", 0), getattr(error, "body", "")
    assert status == 400
    assert "not supported" in body


def test_merging_an_id_already_merged_into_the_primary_is_refused_unchanged(
    clock: Clock, state: SandboxState, client: HubSpot
) -> None:
    primary = state.create("contacts", {"email": "p@example.com"})
    merged = state.create("contacts", {"email": "m@example.com"})
    api = client.crm.contacts.basic_api
    first = api.merge(PublicMergeInput(primary_object_id=primary, object_id_to_merge=merged))
    clock.now += timedelta(minutes=5)
    version = state.version
    for primary_id, other_id in ((primary, merged), (merged, primary)):
        with pytest.raises(ApiException) as again:  # a retry whose first answer was lost
            api.merge(PublicMergeInput(primary_object_id=primary_id, object_id_to_merge=other_id))
        assert again.value.status == 400
        body = json.loads(again.value.body)
        assert body["category"] == "VALIDATION_ERROR"
        assert body["context"]["mergedInto"] == [primary]
        assert "already merged" in body["message"]
    assert state.version == version  # nothing changed
    survivor = api.get_by_id(merged, properties=["hs_merged_object_ids"])
    assert (survivor.id, survivor.updated_at) == (primary, first.updated_at)
    assert survivor.properties["hs_merged_object_ids"] == merged
    with pytest.raises(ApiException) as itself:
        api.merge(PublicMergeInput(primary_object_id=primary, object_id_to_merge=primary))
    assert "itself" in itself.value.body
