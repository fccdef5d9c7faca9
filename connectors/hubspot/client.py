"""The ``hubspot-api-client`` calls the connector makes: built once, retried, paced, decoded.

The SDK client and its sub-APIs are built once per connector (every attribute access on the
SDK's discovery objects builds a new API client and connection pool). Calls ask the SDK for the
raw response (``_preload_content=False``): the SDK still builds and sends the request and raises
its ``ApiException`` on an error status, while the connector decodes the JSON itself, reads the
rate-limit headers of every response, and can skip one malformed object instead of failing the
page, or judge a batch answer input by input.

Every HTTP attempt goes through :meth:`HubSpotClient.attempt`: paced, counted in
:attr:`HubSpotClient.calls` under its operation name, and when it fails logged with HubSpot's
correlation id (support asks for it). Search is paced by its own per-second limit
(:class:`~connectors.hubspot.pacer.SearchPacer`), every other call by the 10-second window.
Reads are retried as a whole (:func:`connectors.retry.call_with_retry`); batch writes are sent
one attempt at a time (``send_*``) because the writer retries only the inputs that failed.

**Threads.** A pull keeps a few requests in flight (``requests_in_flight``, a semaphore around
each attempt) from several threads through this one client. The SDK objects are shared, not
built per thread: a generated ``ApiClient`` call builds its headers, query and body in locals,
reads its ``Configuration`` (not changed after it is built) and sends through urllib3's
``PoolManager``, which is thread-safe (up to ``connection_pool_maxsize`` connections per host,
``cpu_count() * 5`` in SDK 12); the one attribute a call writes, ``ApiClient.last_response``,
is never read here (read of ``hubspot/crm/*/api_client.py`` and ``rest.py``, 12.0.0). The
counters and the pacers take a lock; :attr:`HubSpotClient.waits` measures, per thread, the
seconds spent in calls, pacing and retry waits.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

import hubspot.crm.associations.v4.models as association_models
import hubspot.crm.companies.models as company_models
import hubspot.crm.contacts.models as contact_models
import hubspot.crm.deals.models as deal_models
import hubspot.crm.objects.tasks.models as task_models
import structlog
from hubspot import HubSpot
from urllib3.util.retry import Retry

from connectors.hubspot.errors import (
    CORRELATION_HEADER,
    classify,
    correlation_id,
    describe,
    error_body,
    http_status,
    retry_after,
)
from connectors.hubspot.pacer import Pacer, SearchPacer
from connectors.hubspot.settings import CRM_OBJECT_TYPES, HubSpotSettings
from connectors.pulls import WaitMeter
from connectors.retry import call_with_retry, header
from model.errors import SyncdError

Json = dict[str, Any]
log = structlog.get_logger(__name__)

_RECONNECT = Retry(total=2, redirect=0, status=0, respect_retry_after_header=False)
"""urllib3's own retries: reconnect at once after a dropped connection, never retry a status
(urllib3 would otherwise sleep out a ``Retry-After`` itself, uninjectably, and turn the last 429
into a ``MaxRetryError`` without HubSpot's answer). Backoff and status retries are tenacity's."""

_MODELS: Mapping[str, ModuleType] = {
    "contacts": contact_models,
    "companies": company_models,
    "deals": deal_models,
    "tasks": task_models,
}


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """One search filter (values are strings: epoch milliseconds for dates)."""

    property_name: str
    operator: str
    value: str


@dataclass(frozen=True, slots=True)
class _ObjectApis:
    basic: Any
    search: Any
    batch: Any
    models: ModuleType


@dataclass(frozen=True, slots=True)
class Answer:
    """One successful HTTP answer: status, decoded JSON object (``None`` for an empty body such
    as a 204's) and headers."""

    status: int
    body: Json | None
    headers: object


@dataclass(frozen=True, slots=True)
class BatchUpdateInput:
    """One input of a batch update (vendor property names; ``None`` clears a value)."""

    record_id: str
    properties: Mapping[str, str | None]
    trace_id: str


@dataclass(frozen=True, slots=True)
class TaskInput:
    """One input of a batch create of tasks: vendor properties and ``(to id, association type
    id)`` pairs."""

    properties: Mapping[str, str]
    associations: tuple[tuple[str, int], ...]
    trace_id: str


def _wire_properties(values: Mapping[str, str | None]) -> dict[str, str]:
    """HubSpot clears a property written as the empty string (null is not a string)."""
    return {name: "" if value is None else value for name, value in values.items()}


class HubSpotClient:
    """Typed access to the few HubSpot endpoints the connector needs.

    Read methods (and :meth:`merge`) are retried and return the decoded JSON object of one
    response; their errors come out as :mod:`model.errors` types (see
    :func:`connectors.retry.call_with_retry`). ``send_*`` methods make one attempt and raise the
    SDK's (or urllib3's) error as is. ``calls`` counts HTTP attempts per operation.
    """

    def __init__(
        self,
        settings: HubSpotSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        pacer: Pacer | None = None,
    ) -> None:
        self._settings = settings
        #: Seconds each thread waited on HubSpot (calls, pacing, retry waits).
        self.waits = WaitMeter()
        self._sleep = self.waits.sleep(sleep)
        self._pacer = pacer if pacer is not None else Pacer(sleep=sleep)
        self._search_pacer = SearchPacer(
            per_second=settings.search_requests_per_second,
            sleep=self._pacer.sleep,
            clock=self._pacer.clock,
        )
        self.calls: Counter[str] = Counter()
        #: Attempts HubSpot answered 429 (rate limited).
        self.rate_limited = 0
        self._count_lock = threading.Lock()
        self._in_flight = threading.BoundedSemaphore(settings.requests_in_flight)
        crm = HubSpot(
            access_token=settings.access_token(), host=settings.base_url, retry=_RECONNECT
        ).crm
        self._objects: dict[str, _ObjectApis] = {}
        for object_type in CRM_OBJECT_TYPES:  # all of them: writes may touch unpulled types
            discovery = (
                getattr(crm.objects, object_type)
                if object_type == "tasks"
                else getattr(crm, object_type)
            )
            self._objects[object_type] = _ObjectApis(
                discovery.basic_api,
                discovery.search_api,
                discovery.batch_api,
                _MODELS[object_type],
            )
        self._owners = crm.owners.owners_api if "owners" in settings.object_types else None
        self._associations = crm.associations.v4.batch_api
        self._properties = crm.properties.core_api
        self._pipelines = crm.pipelines.pipelines_api

    @property
    def pacer(self) -> Pacer:
        return self._pacer

    @property
    def search_pacer(self) -> SearchPacer:
        return self._search_pacer

    def _all_apis(self) -> list[Any]:
        apis: list[Any] = [self._associations, self._properties, self._pipelines]
        if self._owners is not None:
            apis.append(self._owners)
        for object_apis in self._objects.values():
            apis.extend((object_apis.basic, object_apis.search, object_apis.batch))
        return apis

    def close(self) -> None:
        """Close every connection pool the SDK opened."""
        for api in self._all_apis():
            api.api_client.close()
            api.api_client.rest_client.pool_manager.clear()

    def attempt(self, operation: str, request: Callable[..., Any]) -> Answer:
        """One paced HTTP attempt of ``request`` (an SDK method taking ``_preload_content`` and
        ``_request_timeout``), counted under ``operation`` (``search`` on the search pacer).
        A failure is logged (warning ``request failed``) with its status and correlation id.
        Raises what the SDK raises, and ``SyncdError`` for a body that is neither empty nor a
        JSON object."""
        waited = self.waits.clock()
        try:
            with self._in_flight:
                return self._attempt(operation, request)
        finally:
            self.waits.add(self.waits.clock() - waited)

    def _attempt(self, operation: str, request: Callable[..., Any]) -> Answer:
        pacer: Pacer | SearchPacer = self._search_pacer if operation == "search" else self._pacer
        pacer.before_call()
        with self._count_lock:
            self.calls[operation] += 1
        started = time.monotonic()
        try:
            response = request(
                _preload_content=False, _request_timeout=self._settings.request_timeout
            )
        except Exception as exc:
            headers = getattr(exc, "headers", None)
            pacer.observe(headers, http_status(exc))
            if http_status(exc) == 429:
                with self._count_lock:
                    self.rate_limited += 1
            log.warning(
                "request failed",
                operation=operation,
                status=http_status(exc),
                seconds=round(time.monotonic() - started, 3),
                correlation_id=correlation_id(error_body(exc), headers),
                error=describe(exc) or type(exc).__name__,
            )
            raise
        try:
            data = response.data
            status = int(response.status)
            headers = response.headers
            pacer.observe(headers, status)
        finally:
            response.release_conn()
        log.debug(
            "request",
            operation=operation,
            status=status,
            seconds=round(time.monotonic() - started, 3),
            correlation_id=header(headers, CORRELATION_HEADER),
        )
        if not data or not data.strip():
            return Answer(status, None, headers)
        try:
            decoded = json.loads(data)
        except ValueError:
            decoded = None
        if not isinstance(decoded, dict):
            raise SyncdError(f"HubSpot answered {status} without a JSON object")
        return Answer(status, decoded, headers)

    def _call(self, operation: str, request: Callable[..., Any]) -> Json:
        body = self._answer(operation, request).body
        assert body is not None
        return body

    def _answer(self, operation: str, request: Callable[..., Any]) -> Answer:
        """:meth:`attempt` retried as a whole; the answer must have a JSON body."""

        def once() -> Answer:
            answer = self.attempt(operation, request)
            if answer.body is None:
                raise SyncdError(f"HubSpot answered {answer.status} without a body")
            return answer

        return call_with_retry(
            once,
            self._settings.retry.settings(),
            classify=classify,
            describe=describe,
            retry_after=retry_after,
            sleep=self._sleep,
        )

    def _apis(self, object_type: str) -> _ObjectApis:
        try:
            return self._objects[object_type]
        except KeyError:
            raise SyncdError(f"object type {object_type!r} is not configured") from None

    def check(self) -> Json:
        """``GET /crm/v3/objects/contacts?limit=1``: the cheapest read that needs the token.
        Two attempts at most: a check should answer quickly."""
        basic = self._apis("contacts").basic

        def once() -> Json:
            answer = self.attempt(
                "check", lambda **call: basic.get_page(limit=1, archived=False, **call)
            )
            return answer.body or {}

        return call_with_retry(
            once,
            replace(
                self._settings.retry.settings(),
                max_attempts=min(2, self._settings.retry.max_attempts),
            ),
            classify=classify,
            describe=describe,
            retry_after=retry_after,
            sleep=self._sleep,
        )

    def list_page(
        self,
        object_type: str,
        *,
        after: str | None,
        archived: bool,
        properties: Sequence[str],
        associations: Sequence[str],
    ) -> Json:
        """``GET /crm/v3/objects/{type}``: one page of live (or only archived) objects."""
        basic = self._apis(object_type).basic
        kwargs: dict[str, Any] = {
            "limit": self._settings.page_size_list,
            "properties": list(properties),
            "archived": archived,
        }
        if after is not None:
            kwargs["after"] = after
        if associations:
            kwargs["associations"] = list(associations)
        return self._call("list", lambda **call: basic.get_page(**kwargs, **call))

    def search_page(
        self,
        object_type: str,
        *,
        filters: Sequence[SearchFilter],
        sort: str,
        properties: Sequence[str],
        limit: int,
    ) -> Json:
        """``POST /crm/v3/objects/{type}/search``: the first ``limit`` matches, ``sort``
        ascending. No ``after`` offset: callers page by narrowing the filters instead
        (:mod:`connectors.hubspot.search`)."""
        apis = self._apis(object_type)
        models = apis.models
        body = models.PublicObjectSearchRequest(
            filter_groups=[
                models.FilterGroup(
                    filters=[
                        models.Filter(
                            property_name=f.property_name, operator=f.operator, value=f.value
                        )
                        for f in filters
                    ]
                )
            ],
            # The documented form (HubSpot's search guide); the SDK types sorts as strings.
            sorts=[{"propertyName": sort, "direction": "ASCENDING"}],
            properties=list(properties),
            limit=limit,
        )
        return self._call(
            "search",
            lambda **call: apis.search.do_search(public_object_search_request=body, **call),
        )

    def owners_page(self, *, after: str | None, archived: bool) -> Json:
        """``GET /crm/v3/owners/``: one page of owners (active, or only archived)."""
        if self._owners is None:
            raise SyncdError("object type 'owners' is not configured")
        owners = self._owners
        kwargs: dict[str, Any] = {"limit": self._settings.page_size_list, "archived": archived}
        if after is not None:
            kwargs["after"] = after
        return self._call("owners", lambda **call: owners.get_page(**kwargs, **call))

    def associations_page(
        self, from_type: str, to_type: str, inputs: Sequence[tuple[str, str | None]]
    ) -> Json:
        """``POST /crm/v4/associations/{from}/{to}/batch/read`` for (id, after) inputs."""
        body = association_models.BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[
                association_models.PublicFetchAssociationsBatchRequest(id=object_id, after=after)
                for object_id, after in inputs
            ]
        )
        api = self._associations
        return self._call(
            "associations_read",
            lambda **call: api.get_page(
                from_type,
                to_type,
                batch_input_public_fetch_associations_batch_request=body,
                **call,
            ),
        )

    def pipelines(self, object_type: str) -> Json:
        """``GET /crm/v3/pipelines/{type}``: every pipeline of the type with its stages."""
        api = self._pipelines
        return self._call("pipelines", lambda **call: api.get_all(object_type, **call))

    def account_details(self) -> Json:
        """``GET /account-info/v3/details``: the account (portal) id and settings. The SDK has
        no API for it; the call goes through an SDK ``api_client`` (its auth and host)."""
        client = self._properties.api_client
        return self._call(
            "account",
            lambda **call: client.call_api(
                "/account-info/v3/details",
                "GET",
                header_params={"Accept": "application/json"},
                auth_settings=["oauth2"],
                response_types_map={},
                **call,
            ),
        )

    def properties(self, object_type: str) -> Json:
        """``GET /crm/v3/properties/{type}``: the live property definitions of one type."""
        self._apis(object_type)  # refuse a type the connector does not know
        api = self._properties
        return self._call(
            "properties",
            lambda **call: api.get_all(object_type, archived=False, **call),
        )

    # ------------------------------------------------------------------ writes

    def batch_read(
        self,
        object_type: str,
        ids: Sequence[str],
        properties: Sequence[str],
        with_history: Sequence[str] = (),
    ) -> Json:
        """``POST /crm/v3/objects/{type}/batch/read`` (at most 100 ids, 50 with history; 200
        or 207); ``with_history`` names properties to answer with their history."""
        apis = self._apis(object_type)
        models = apis.models
        body = models.BatchReadInputSimplePublicObjectId(
            inputs=[models.SimplePublicObjectId(id=object_id) for object_id in ids],
            properties=list(properties),
            properties_with_history=list(with_history),
        )
        return self._call(
            "batch_read",
            lambda **call: apis.batch.read(batch_read_input_simple_public_object_id=body, **call),
        )

    def merge(self, object_type: str, primary_id: str, merged_id: str) -> Answer:
        """``POST /crm/v3/objects/{type}/merge``: the survivor (contacts, companies, deals),
        with the answer's status and headers (the audit keeps its correlation id)."""
        apis = self._apis(object_type)
        body = apis.models.PublicMergeInput(
            primary_object_id=primary_id, object_id_to_merge=merged_id
        )
        return self._answer(
            "merge", lambda **call: apis.basic.merge(public_merge_input=body, **call)
        )

    def send_batch_update(self, object_type: str, inputs: Sequence[BatchUpdateInput]) -> Answer:
        """One attempt of ``POST /crm/v3/objects/{type}/batch/update`` (at most 100 inputs)."""
        apis = self._apis(object_type)
        models = apis.models
        body = models.BatchInputSimplePublicObjectBatchInput(
            inputs=[
                models.SimplePublicObjectBatchInput(
                    id=item.record_id,
                    properties=_wire_properties(item.properties),
                    object_write_trace_id=item.trace_id,
                )
                for item in inputs
            ]
        )
        return self.attempt(
            "batch_update",
            lambda **call: apis.batch.update(
                batch_input_simple_public_object_batch_input=body, **call
            ),
        )

    def send_batch_create_tasks(self, inputs: Sequence[TaskInput]) -> Answer:
        """One attempt of ``POST /crm/v3/objects/tasks/batch/create`` with inline associations."""
        apis = self._apis("tasks")
        models = apis.models
        body = models.BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                models.SimplePublicObjectBatchInputForCreate(
                    properties=dict(item.properties),
                    associations=[
                        models.PublicAssociationsForObject(
                            to=models.PublicObjectId(id=to_id),
                            types=[
                                models.AssociationSpec(
                                    association_category="HUBSPOT_DEFINED",
                                    association_type_id=type_id,
                                )
                            ],
                        )
                        for to_id, type_id in item.associations
                    ],
                    object_write_trace_id=item.trace_id,
                )
                for item in inputs
            ]
        )
        return self.attempt(
            "batch_create",
            lambda **call: apis.batch.create(
                batch_input_simple_public_object_batch_input_for_create=body, **call
            ),
        )

    def send_batch_archive(self, object_type: str, ids: Sequence[str]) -> Answer:
        """One attempt of ``POST /crm/v3/objects/{type}/batch/archive`` (204, no body)."""
        apis = self._apis(object_type)
        models = apis.models
        body = models.BatchInputSimplePublicObjectId(
            inputs=[models.SimplePublicObjectId(id=object_id) for object_id in ids]
        )
        return self.attempt(
            "batch_archive",
            lambda **call: apis.batch.archive(batch_input_simple_public_object_id=body, **call),
        )
