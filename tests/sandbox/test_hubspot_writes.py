"""Writes: create, update, archive, batches (200/201/207/400/409), validation, associations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException
from hubspot.crm.objects import AssociationSpec, PublicAssociationsForObject, PublicObjectId
from hubspot.crm.objects import SimplePublicObjectInputForCreate as ObjectInput

from sandbox.hubspot import HubSpotSandbox, SandboxState
from tests.sandbox.support import NOW, Clock


@pytest.fixture
def client(state: SandboxState) -> Iterator[HubSpot]:
    with HubSpotSandbox(state) as sandbox:
        yield HubSpot(access_token="t", host=sandbox.base_url)


def test_create_normalizes_values_and_stamps_system_properties(client: HubSpot) -> None:
    deal = client.crm.deals.basic_api.create(
        SimplePublicObjectInputForCreate(
            properties={
                "dealname": "D",
                "closedate": "1714564800000",
                "amount": "12.5",
                "pipeline": "",
            }
        )
    )
    assert deal.properties["closedate"] == "2024-05-01T12:00:00.000Z"  # epoch ms in, ISO out
    assert deal.properties["hs_object_id"] == deal.id
    assert deal.properties["hs_lastmodifieddate"] == "2024-05-01T12:00:00.000Z"
    assert "pipeline" not in deal.properties  # empty means no value
    assert deal.created_at == NOW


def test_update_bumps_the_last_modified_time(
    clock: Clock, state: SandboxState, client: HubSpot
) -> None:
    contact = state.create("contacts", {"email": "a@example.com"})
    clock.now += timedelta(minutes=3)
    updated = client.crm.contacts.basic_api.update(
        contact, SimplePublicObjectInput(properties={"firstname": "Ann", "email": "A@example.com"})
    )
    assert updated.updated_at == clock.now
    assert updated.properties["lastmodifieddate"] == "2024-05-01T12:03:00.000Z"
    assert updated.created_at == NOW
    clock.now += timedelta(minutes=1)
    state.update("contacts", contact, {"firstname": None})
    record = state.get("contacts", contact)
    assert record is not None
    assert record.properties["firstname"] is None
    assert record.updated_at == clock.now


@pytest.mark.parametrize(
    ("properties", "code"),
    [
        ({"no_such": "x"}, "PROPERTY_DOESNT_EXIST"),
        ({"lifecyclestage": "Lead"}, "INVALID_OPTION"),
        ({"lastmodifieddate": "2024-01-01T00:00:00Z"}, "READ_ONLY_VALUE"),
        ({"hs_object_id": "5"}, "READ_ONLY_VALUE"),
        ({"email": "ada@example,com"}, "INVALID_EMAIL"),
    ],
)
def test_invalid_values_are_refused(client: HubSpot, properties: dict[str, str], code: str) -> None:
    with pytest.raises(ApiException) as refused:
        client.crm.contacts.basic_api.create(
            SimplePublicObjectInputForCreate(properties=properties)
        )
    assert refused.value.status == 400
    assert f'"code": "{code}"' in refused.value.body
    assert '"category": "VALIDATION_ERROR"' in refused.value.body


@pytest.mark.parametrize(("name", "value"), [("closedate", "yesterday"), ("amount", "lots")])
def test_badly_typed_values_are_refused(client: HubSpot, name: str, value: str) -> None:
    with pytest.raises(Exception, match=name) as refused:
        client.crm.deals.basic_api.create(
            SimplePublicObjectInputForCreate(properties={name: value})
        )
    assert getattr(refused.value, "status", None) == 400


def test_validation_can_be_turned_off(state: SandboxState, client: HubSpot) -> None:
    state.validate_writes = False
    created = client.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"lifecyclestage": "Lead"})
    )
    assert created.properties["lifecyclestage"] == "Lead"


def test_email_conflicts_answer_409(state: SandboxState, client: HubSpot) -> None:
    first = state.create("contacts", {"email": "a@example.com"})
    second = state.create("contacts", {"email": "b@example.com"})
    api = client.crm.contacts.basic_api
    with pytest.raises(ApiException) as conflict:
        api.update(second, SimplePublicObjectInput(properties={"email": "A@EXAMPLE.COM"}))
    assert conflict.value.status == 409
    assert f"Contact already exists. Existing ID: {first}" in conflict.value.body
    assert '"category": "CONFLICT"' in conflict.value.body
    batch = BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[
            SimplePublicObjectBatchInputForCreate(properties={"email": "new@example.com"}),
            SimplePublicObjectBatchInputForCreate(properties={"email": "b@example.com"}),
        ]
    )
    with pytest.raises(ApiException) as batch_conflict:
        client.crm.contacts.batch_api.create(batch)
    assert batch_conflict.value.status == 409
    assert state.contacts_with_email("new@example.com") == set()  # nothing of the batch written


def test_archive_is_idempotent(state: SandboxState, client: HubSpot) -> None:
    contact = state.create("contacts", {"email": "a@example.com"})
    api = client.crm.contacts.basic_api
    api.archive(contact)
    api.archive(contact)
    api.archive("123456789")
    assert state.count("contacts") == 0
    archived = state.get("contacts", contact, archived=True)
    assert archived is not None
    assert archived.archived_at == NOW
    assert state.contacts_with_email("a@example.com") == set()


def test_batches_report_partial_failure_as_207(state: SandboxState, client: HubSpot) -> None:
    ids = [state.create("contacts", {"email": f"c{i}@example.com"}) for i in range(2)]
    batch = client.crm.contacts.batch_api
    read = batch.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in [*ids, "77", "78"]],
            properties=["email"],
            properties_with_history=[],
        )
    )
    assert sorted(r.id for r in read.results) == ids
    assert read.num_errors == 1
    assert read.errors[0].category == "OBJECT_NOT_FOUND"
    assert read.errors[0].context == {"ids": ["77", "78"]}
    update = batch.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(id=ids[0], properties={"city": "Oslo"}),
                SimplePublicObjectBatchInput(id="79", properties={"city": "Oslo"}),
            ]
        )
    )
    assert [r.id for r in update.results] == [ids[0]]
    assert update.num_errors == 1
    record = state.get("contacts", ids[0])
    assert record is not None
    assert record.properties["city"] == "Oslo"
    by_email = batch.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id="C1@example.com")],
            id_property="email",
            properties=[],
            properties_with_history=[],
        )
    )
    assert [r.id for r in by_email.results] == [ids[1]]


def test_batch_limits_and_duplicates(state: SandboxState, client: HubSpot) -> None:
    contact = state.create("contacts", {"email": "a@example.com"})
    batch = client.crm.contacts.batch_api
    with pytest.raises(ApiException) as too_many:
        batch.archive(
            BatchInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=str(i)) for i in range(101)]
            )
        )
    assert too_many.value.status == 400
    with pytest.raises(ApiException) as duplicates:
        batch.update(
            BatchInputSimplePublicObjectBatchInput(
                inputs=[
                    SimplePublicObjectBatchInput(id=contact, properties={"city": c}) for c in "ab"
                ]
            )
        )
    assert duplicates.value.status == 400
    assert "Duplicate IDs" in duplicates.value.body


def test_batch_create_and_archive(state: SandboxState, client: HubSpot) -> None:
    batch = client.crm.contacts.batch_api
    created = batch.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                SimplePublicObjectBatchInputForCreate(properties={"email": f"n{i}@example.com"})
                for i in range(3)
            ]
        )
    )
    ids = [r.id for r in created.results]
    assert len(set(ids)) == 3
    assert created.status == "COMPLETE"
    batch.archive(
        BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=i) for i in ids[:2]])
    )
    assert state.count("contacts") == 1
    assert state.count("contacts", archived=True) == 2


def test_tasks_with_inline_associations(state: SandboxState, client: HubSpot) -> None:
    contact = state.create("contacts", {"email": "a@example.com"})
    deal = state.create("deals", {"dealname": "D"})
    spec = AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=204)
    task = client.crm.objects.tasks.basic_api.create(
        ObjectInput(
            properties={
                "hs_task_subject": "Follow up",
                "hs_task_status": "NOT_STARTED",
                "hs_timestamp": "2024-05-03T09:00:00Z",
            },
            associations=[PublicAssociationsForObject(to=PublicObjectId(id=contact), types=[spec])],
        )
    )
    assert state.associated("tasks", task.id, "contacts") == [contact]
    assert state.associated("contacts", contact, "tasks") == [task.id]
    v4 = client.crm.associations.v4
    v4.basic_api.create_default("tasks", task.id, "deals", deal)
    page = v4.batch_api.get_page(
        "contacts", "tasks", BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": contact}])
    )
    assert page.results[0].to[0].to_object_id == task.id
    assert page.results[0].to[0].association_types[0].type_id == 203
    back, status, _ = v4.batch_api.get_page_with_http_info(
        "tasks", "deals", BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": task.id}])
    )
    assert status == 200
    assert back.results[0].to[0].association_types[0].type_id == 216


def test_task_writes_are_checked(state: SandboxState, client: HubSpot) -> None:
    tasks = client.crm.objects.tasks.basic_api
    with pytest.raises(Exception, match="hs_timestamp") as missing_due:
        tasks.create(ObjectInput(properties={"hs_task_subject": "x"}))
    assert getattr(missing_due.value, "status", None) == 400
    wrong_type = AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=279)
    with pytest.raises(Exception, match="association type") as bad_association:
        tasks.create(
            ObjectInput(
                properties={"hs_task_subject": "x", "hs_timestamp": "1714564800000"},
                associations=[
                    PublicAssociationsForObject(to=PublicObjectId(id="1"), types=[wrong_type])
                ],
            )
        )
    assert getattr(bad_association.value, "status", None) == 400
    assert state.count("tasks") == 0


def test_python_api_ids_are_numeric_and_unique_across_types(state: SandboxState) -> None:
    ids = [state.create(t, {}) for t in ("contacts", "companies", "deals", "tasks")]
    assert len(set(ids)) == 4
    assert all(i.isdigit() for i in ids)
    earlier = NOW - timedelta(days=3)
    old = state.get("contacts", state.create("contacts", {}, created_at=earlier))
    assert old is not None
    assert (old.created_at, old.updated_at) == (earlier, earlier)
    with pytest.raises(KeyError):
        state.update("contacts", "999999", {"city": "x"})


def test_batch_create_is_all_or_nothing_without_trace_ids(
    state: SandboxState, client: HubSpot
) -> None:
    existing = state.create("contacts", {"email": "taken@example.com"})
    with pytest.raises(ApiException) as conflict:
        client.crm.contacts.batch_api.create(
            BatchInputSimplePublicObjectBatchInputForCreate(
                inputs=[
                    SimplePublicObjectBatchInputForCreate(properties={"email": e})
                    for e in ("new@example.com", "taken@example.com")
                ]
            )
        )
    assert conflict.value.status == 409
    assert f"Existing ID: {existing}" in conflict.value.body
    assert state.count("contacts") == 1  # nothing was created


def test_trace_ids_turn_batch_writes_into_multi_status(
    state: SandboxState, client: HubSpot
) -> None:
    existing = state.create("contacts", {"email": "taken@example.com"})
    batch = client.crm.contacts.batch_api
    created = batch.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                SimplePublicObjectBatchInputForCreate(
                    properties=properties, object_write_trace_id=trace
                )
                for trace, properties in (
                    ("t1", {"email": "new@example.com"}),
                    ("t2", {"email": "taken@example.com"}),
                    ("t3", {"lifecyclestage": "nonsense"}),
                    ("t4", {"email": "other@example.com"}),
                )
            ]
        )
    )
    assert created.num_errors == 2
    assert [(r.object_write_trace_id, r.properties["email"]) for r in created.results] == [
        ("t1", "new@example.com"),
        ("t4", "other@example.com"),
    ]
    errors = {e.context["objectWriteTraceId"][0]: e for e in created.errors}
    assert errors["t2"].category == "CONFLICT"
    assert f"Existing ID: {existing}" in errors["t2"].message
    assert errors["t3"].category == "VALIDATION_ERROR"
    assert errors["t3"].errors[0].code == "INVALID_OPTION"
    assert state.count("contacts") == 3

    new = created.results[0].id
    updated = batch.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(
                    id=new, properties={"city": "Oslo"}, object_write_trace_id="u1"
                ),
                SimplePublicObjectBatchInput(
                    id=existing,
                    properties={"lifecyclestage": "nonsense"},
                    object_write_trace_id="u2",
                ),
                SimplePublicObjectBatchInput(
                    id="404404", properties={"city": "Oslo"}, object_write_trace_id="u3"
                ),
            ]
        )
    )
    assert [(r.id, r.object_write_trace_id) for r in updated.results] == [(new, "u1")]
    assert sorted(e.category for e in updated.errors) == ["OBJECT_NOT_FOUND", "VALIDATION_ERROR"]
    invalid = next(e for e in updated.errors if e.category == "VALIDATION_ERROR")
    assert invalid.context == {"ids": [existing], "objectWriteTraceId": ["u2"]}
    record = state.get("contacts", new)
    assert record is not None
    assert record.properties["city"] == "Oslo"
    with pytest.raises(ApiException) as reused:
        batch.create(
            BatchInputSimplePublicObjectBatchInputForCreate(
                inputs=[
                    SimplePublicObjectBatchInputForCreate(properties={}, object_write_trace_id="x")
                    for _ in range(2)
                ]
            )
        )
    assert reused.value.status == 400


def test_association_batch_reads_take_a_thousand_ids_and_refuse_more(
    state: SandboxState, client: HubSpot
) -> None:
    """HubSpot's limit since 10 February 2025 (developer changelog, "Bug Fix: Batch Read Limit
    for HubSpot Associations API"): 1,000 ids per request body; more are refused."""
    company = state.create("companies", {"name": "Acme"})
    contacts = [state.create("contacts", {"firstname": f"C{i}"}) for i in range(1001)]
    for contact in contacts:
        state.associate("contacts", contact, "companies", company)
    batch = client.crm.associations.v4.batch_api

    page, status, _ = batch.get_page_with_http_info(
        "contacts",
        "companies",
        BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": c} for c in contacts[:1000]]),
    )
    assert status == 200
    assert len(page.results) == 1000

    with pytest.raises(Exception, match="1000") as refused:
        batch.get_page(
            "contacts",
            "companies",
            BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": c} for c in contacts]),
        )
    assert getattr(refused.value, "status", None) == 400
    body = json.loads(getattr(refused.value, "body", "{}"))
    assert body["status"] == "error"
    assert body["category"] == "VALIDATION_ERROR"
    assert body["correlationId"]
