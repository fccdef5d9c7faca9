"""The ``hubspot-api-client`` calls the connector makes: built once, retried, paced, decoded.

The SDK client and its sub-APIs are built once per connector (every attribute access on the
SDK's discovery objects builds a new API client and connection pool). Calls ask the SDK for the
raw response (``_preload_content=False``): the SDK still builds and sends the request and raises
its ``ApiException`` on an error status, while the connector decodes the JSON itself, reads the
rate-limit headers of successful responses, and can skip one malformed object instead of
failing the page.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import hubspot.crm.associations.v4.models as association_models
import hubspot.crm.companies.models as company_models
import hubspot.crm.contacts.models as contact_models
import hubspot.crm.deals.models as deal_models
import hubspot.crm.objects.tasks.models as task_models
from hubspot import HubSpot
from urllib3.util.retry import Retry

from connectors.hubspot.errors import classify, describe, retry_after
from connectors.hubspot.pacer import Pacer
from connectors.hubspot.settings import HubSpotSettings
from connectors.retry import call_with_retry
from syncd.errors import SyncdError

Json = dict[str, Any]

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
    models: ModuleType


class HubSpotClient:
    """Typed, retried access to the few HubSpot endpoints a pull needs.

    Each method returns the decoded JSON object of one response. Errors come out as
    :mod:`syncd.errors` types (see :func:`connectors.retry.call_with_retry`).
    """

    def __init__(
        self,
        settings: HubSpotSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        pacer: Pacer | None = None,
    ) -> None:
        self._settings = settings
        self._sleep = sleep
        self._pacer = pacer if pacer is not None else Pacer(sleep=sleep)
        crm = HubSpot(access_token=settings.token, host=settings.base_url, retry=_RECONNECT).crm
        self._objects: dict[str, _ObjectApis] = {}
        for object_type in settings.object_types:
            if object_type == "owners":
                continue
            discovery = (
                getattr(crm.objects, object_type)
                if object_type == "tasks"
                else getattr(crm, object_type)
            )
            self._objects[object_type] = _ObjectApis(
                discovery.basic_api, discovery.search_api, _MODELS[object_type]
            )
        self._owners = crm.owners.owners_api if "owners" in settings.object_types else None
        self._associations = crm.associations.v4.batch_api

    @property
    def pacer(self) -> Pacer:
        return self._pacer

    def _all_apis(self) -> list[Any]:
        apis: list[Any] = [self._associations]
        if self._owners is not None:
            apis.append(self._owners)
        for object_apis in self._objects.values():
            apis.extend((object_apis.basic, object_apis.search))
        return apis

    def close(self) -> None:
        """Close every connection pool the SDK opened."""
        for api in self._all_apis():
            api.api_client.close()
            api.api_client.rest_client.pool_manager.clear()

    def _call(self, request: Callable[..., Any]) -> Json:
        def once() -> Json:
            self._pacer.before_call()
            response = request(
                _preload_content=False, _request_timeout=self._settings.request_timeout
            )
            try:
                data = response.data
                self._pacer.observe(response.headers)
            finally:
                response.release_conn()
            try:
                decoded = json.loads(data)
            except ValueError:
                decoded = None
            if not isinstance(decoded, dict):
                raise SyncdError(f"HubSpot answered {response.status} without a JSON object")
            return decoded

        return call_with_retry(
            once,
            self._settings.retry,
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
        return self._call(lambda **call: basic.get_page(**kwargs, **call))

    def search_page(
        self,
        object_type: str,
        *,
        filters: Sequence[SearchFilter],
        sort: str,
        properties: Sequence[str],
        after: int,
        limit: int,
    ) -> Json:
        """``POST /crm/v3/objects/{type}/search``: one page of matches, ``sort`` ascending."""
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
            sorts=[sort],
            properties=list(properties),
            limit=limit,
            after=str(after),
        )
        return self._call(
            lambda **call: apis.search.do_search(public_object_search_request=body, **call)
        )

    def owners_page(self, *, after: str | None, archived: bool) -> Json:
        """``GET /crm/v3/owners/``: one page of owners (active, or only archived)."""
        if self._owners is None:
            raise SyncdError("object type 'owners' is not configured")
        owners = self._owners
        kwargs: dict[str, Any] = {"limit": self._settings.page_size_list, "archived": archived}
        if after is not None:
            kwargs["after"] = after
        return self._call(lambda **call: owners.get_page(**kwargs, **call))

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
            lambda **call: api.get_page(
                from_type,
                to_type,
                batch_input_public_fetch_associations_batch_request=body,
                **call,
            )
        )
