"""The sandbox's wire format, checked against HubSpot's published OpenAPI descriptions.

The real SDK drives every endpoint and every kind of answer (200, 201, 204, 207, 400, 401, 404,
409, 429) with request logging on; every recorded exchange must validate: requests leniently,
responses strictly. The validator itself is checked to catch what it is meant to catch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    PublicMergeInput,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.objects import (
    AssociationSpec,
    PublicAssociationsForObject,
    PublicObjectId,
)
from hubspot.crm.objects import (
    SimplePublicObjectInputForCreate as ObjectInputForCreate,
)

from sandbox.hubspot import ChangeSource, HubSpotSandbox, SandboxState
from sandbox.hubspot.spec import SpecValidator, SpecViolationError

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def validator() -> SpecValidator:
    return SpecValidator()


@pytest.fixture
def state() -> SandboxState:
    state = SandboxState(clock=lambda: NOW, rate_limit=None, search_rate_limit=None)
    state.rate_limiter.timer = lambda: 0.0  # a frozen window: rate limiting is deterministic
    state.record_exchanges = True
    ada = state.create("contacts", {"email": "ada@example.com", "firstname": "Ada"})
    state.create("contacts", {"email": "bob@example.com", "firstname": "Bob", "phone": "+1 555"})
    acme = state.create("companies", {"name": "Acme", "domain": "acme.test"}, {"contacts": [ada]})
    state.create(
        "deals", {"dealname": "Big", "amount": "100"}, {"contacts": [ada], "companies": [acme]}
    )
    state.create("deals", {"dealname": "Small", "amount": "5"})
    state.add_owner(
        {"id": "7", "email": "owner@example.com", "firstName": "O", "lastName": "W", "userId": 70}
    )
    return state


@pytest.fixture
def client(state: SandboxState) -> Iterator[HubSpot]:
    with HubSpotSandbox(state) as sandbox:
        yield HubSpot(access_token="token", host=sandbox.base_url)


def _status_of(call: Callable[[], Any]) -> int:
    """The HTTP status an SDK call ends with (each SDK sub-package has its own ApiException)."""
    try:
        call()
    except Exception as error:
        status = getattr(error, "status", None)
        if not isinstance(status, int):
            raise
        return status
    return 200


def _drive_every_endpoint(client: HubSpot, state: SandboxState) -> None:
    contacts = client.crm.contacts
    ada = state.contacts_with_email("ada@example.com").pop()
    bob = state.contacts_with_email("bob@example.com").pop()

    contacts.basic_api.get_page(limit=1, properties=["email", "phone"], associations=["companies"])
    contacts.basic_api.get_by_id(ada, properties=["email"], associations=["companies", "deals"])
    contacts.basic_api.get_by_id("ada@example.com", id_property="email")
    assert _status_of(lambda: contacts.basic_api.get_by_id("424242")) == 404
    created = contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "cy@example.com", "firstname": "Cy"})
    )
    assert (
        _status_of(
            lambda: contacts.basic_api.create(
                SimplePublicObjectInputForCreate(properties={"email": "ADA@example.com"})
            )
        )
        == 409
    )
    assert (
        _status_of(
            lambda: contacts.basic_api.create(
                SimplePublicObjectInputForCreate(properties={"no_such_property": "x"})
            )
        )
        == 400
    )
    contacts.basic_api.update(created.id, SimplePublicObjectInput(properties={"jobtitle": "CTO"}))
    contacts.basic_api.archive(created.id)
    contacts.basic_api.get_page(archived=True)

    batch = contacts.batch_api
    batch.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=ada)], properties=["email"], properties_with_history=[]
        )
    )
    batch.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=ada), SimplePublicObjectId(id="999999")],
            properties=["email"],
            properties_with_history=[],
        )
    )
    state.update("contacts", ada, {"phone": "+1 555 0100"}, source=ChangeSource.user(7))
    batch.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=ada)],
            properties=["email"],
            properties_with_history=["phone", "email"],
        )
    )
    made = batch.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                SimplePublicObjectBatchInputForCreate(properties={"email": f"n{i}@example.com"})
                for i in range(3)
            ]
        )
    )
    ids = [r.id for r in made.results]
    batch.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[SimplePublicObjectBatchInput(id=i, properties={"city": "Oslo"}) for i in ids]
        )
    )
    batch.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(id=ids[0], properties={"city": "Bergen"}),
                SimplePublicObjectBatchInput(id="888888", properties={"city": "Bergen"}),
            ]
        )
    )
    batch.archive(BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=ids[2])]))
    traced = batch.create(  # multi-status: one created, one conflict, 207
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                SimplePublicObjectBatchInputForCreate(
                    properties={"email": e}, object_write_trace_id=t
                )
                for t, e in (("t1", "traced@example.com"), ("t2", "ada@example.com"))
            ]
        )
    )
    assert traced.num_errors == 1

    contacts.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=[{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}],
            sorts=[{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
            properties=["email", "firstname"],
            limit=1,
            after="0",
        )
    )
    assert (
        _status_of(
            lambda: contacts.search_api.do_search(
                PublicObjectSearchRequest(limit=200, after="9900")
            )
        )
        == 400
    )
    contacts.basic_api.merge(PublicMergeInput(primary_object_id=ada, object_id_to_merge=bob))
    assert (
        _status_of(
            lambda: contacts.basic_api.merge(
                PublicMergeInput(primary_object_id=ada, object_id_to_merge=bob)
            )
        )
        == 400
    )

    deals = client.crm.deals
    deals.basic_api.get_page(properties=["dealname", "amount"], associations=["contacts"])
    deals.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=[
                {"filters": [{"propertyName": "amount", "operator": "GT", "value": "10"}]}
            ]
        )
    )
    deal_ids = [d.id for d in deals.basic_api.get_page().results]
    deals.basic_api.merge(
        PublicMergeInput(primary_object_id=deal_ids[0], object_id_to_merge=deal_ids[1])
    )
    client.crm.companies.basic_api.get_page(associations=["contacts"])
    client.crm.objects.basic_api.get_page("companies", limit=5)

    task = client.crm.objects.tasks.basic_api.create(
        ObjectInputForCreate(
            properties={"hs_task_subject": "Call Ada", "hs_timestamp": "2024-05-02T09:00:00Z"},
            associations=[
                PublicAssociationsForObject(
                    to=PublicObjectId(id=ada),
                    types=[
                        AssociationSpec(
                            association_category="HUBSPOT_DEFINED", association_type_id=204
                        )
                    ],
                )
            ],
        )
    )
    associations = client.crm.associations.v4
    associations.batch_api.get_page(
        "tasks", "contacts", BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": task.id}])
    )
    associations.batch_api.get_page(
        "contacts", "tasks", BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": "1"}])
    )
    acme = state.page("companies", None, 1)[0][0].id
    associations.basic_api.create_default("tasks", task.id, "companies", acme)

    owners = client.crm.owners.owners_api
    owners.get_page(limit=10)
    owners.get_by_id("7")
    assert _status_of(lambda: owners.get_by_id("8")) == 404
    properties = client.crm.properties.core_api
    properties.get_all("contacts")
    properties.get_by_name("deals", "dealstage")
    assert _status_of(lambda: properties.get_by_name("contacts", "no_such_property")) == 404

    pipelines = client.crm.pipelines.pipelines_api
    pipelines.get_all("deals")
    pipelines.get_by_id("deals", "default")
    assert _status_of(lambda: pipelines.get_by_id("deals", "424242")) == 404

    state.rate_limiter.search_per_second = 1  # frozen window: search's own 429, no policyName
    assert _status_of(lambda: contacts.search_api.do_search(PublicObjectSearchRequest())) == 429
    state.rate_limiter.search_per_second = None

    anonymous = HubSpot(host=client.crm.contacts.basic_api.api_client.configuration.host)
    assert _status_of(anonymous.crm.contacts.basic_api.get_page) == 401
    state.rate_limiter.per_interval = 1
    assert _status_of(contacts.basic_api.get_page) == 429


def test_every_exchange_matches_the_published_spec(
    client: HubSpot, state: SandboxState, validator: SpecValidator
) -> None:
    _drive_every_endpoint(client, state)

    problems = []
    for exchange in state.request_log:
        try:
            validator.validate_exchange(exchange)
        except SpecViolationError as violation:
            problems.extend(violation.problems)
    assert problems == []
    statuses = {exchange.status for exchange in state.request_log}
    assert statuses >= {200, 201, 204, 207, 400, 401, 404, 409, 429}
    paths = {exchange.path for exchange in state.request_log}
    assert "/crm/v3/owners/" in paths  # the SDK's trailing slash is served and validated


def test_every_response_carries_rate_limit_headers_but_search(
    client: HubSpot, state: SandboxState
) -> None:
    _drive_every_endpoint(client, state)
    for exchange in state.request_log:
        headers = exchange.response_headers
        assert headers["X-HubSpot-Correlation-Id"], exchange.path
        if exchange.path.endswith("/search"):  # search sends none (shared/notes/hubspot.md)
            assert not [h for h in headers if h.startswith("X-HubSpot-RateLimit")]
            continue
        assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        for name in ("Max", "Remaining", "Daily", "Daily-Remaining"):
            assert headers[f"X-HubSpot-RateLimit-{name}"].isdigit(), (exchange.path, name)


# ---------------------------------------------------------------- the validator's own checks

GOOD_OBJECT = {
    "id": "1",
    "properties": {"email": "a@b.c", "phone": None},
    "createdAt": "2024-05-01T12:00:00.000Z",
    "updatedAt": "2024-05-01T12:00:00.000Z",
    "archived": False,
}


def test_validator_accepts_a_good_response(validator: SpecValidator) -> None:
    body = {"results": [GOOD_OBJECT], "paging": {"next": {"after": "2"}}}
    assert validator.response_problems("GET", "/crm/v3/objects/contacts", 200, body) == []


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"results": [{**GOOD_OBJECT, "createAt": "x"}]}, "Additional properties"),
        (
            200,
            {"results": [{k: v for k, v in GOOD_OBJECT.items() if k != "id"}]},
            "'id' is a required",
        ),
        (200, {"results": [{**GOOD_OBJECT, "updatedAt": "yesterday"}]}, "date-time"),
        (200, {"results": [{**GOOD_OBJECT, "properties": {"n": 5}}]}, "is not of type"),
        (201, {"results": []}, "not declared"),
        (404, {"message": "x", "category": "OBJECT_NOT_FOUND"}, "correlationId"),
    ],
)
def test_validator_rejects_bad_responses(
    validator: SpecValidator, status: int, body: Any, expected: str
) -> None:
    problems = validator.response_problems("GET", "/crm/v3/objects/contacts", status, body)
    assert any(expected in p for p in problems), problems


def test_validator_checks_requests_leniently(validator: SpecValidator) -> None:
    path = "/crm/v3/objects/contacts/search"
    assert validator.request_problems("POST", path, {}, {"limit": 10}) == []
    assert (
        validator.request_problems(
            "POST", path, {}, {"sorts": [{"propertyName": "createdate", "direction": "ASCENDING"}]}
        )
        == []
    )
    assert validator.request_problems("POST", path, {}, {"limit": "ten"})
    assert validator.request_problems("POST", path, {}, {"filterGroup": []})
    get = "/crm/v3/objects/contacts"
    assert (
        validator.request_problems("GET", get, {"limit": ["5"], "archived": ["True"]}, None) == []
    )
    assert validator.request_problems("GET", get, {"limit": ["five"]}, None)
    assert validator.request_problems("GET", get, {"propertys": ["email"]}, None)


def test_validator_resolves_paths(validator: SpecValidator) -> None:
    search = validator.find_operation("POST", "/crm/v3/objects/contacts/search")
    assert search is not None
    assert (search.spec, search.template) == ("contacts", "/crm/v3/objects/contacts/search")
    generic = validator.find_operation("GET", "/crm/v3/objects/widgets/12")
    assert generic is not None
    assert generic.template == "/crm/v3/objects/{objectType}/{objectId}"
    assert dict(generic.path_params) == {"objectType": "widgets", "objectId": "12"}
    merge = validator.find_operation("POST", "/crm/v3/objects/deals/merge")
    assert merge is not None
    assert merge.spec == "deals"
    owners = validator.find_operation("GET", "/crm/v3/owners/")
    assert owners is not None
    assert owners.template == "/crm/v3/owners"
    assert validator.find_operation("GET", "/crm/v3/nowhere") is None


def test_validator_says_where_the_specs_are_missing(tmp_path: Any) -> None:
    with pytest.raises(FileNotFoundError, match="SYNCD_SPECS_DIR"):
        SpecValidator(tmp_path)
