"""HubSpot connector settings: validated at once, secrets kept out of reprs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from connectors.hubspot import HubSpotSettings
from connectors.hubspot.mapping import field_map
from model.errors import ConfigError


def settings(**values: object) -> HubSpotSettings:
    return HubSpotSettings.model_validate({"token": "${HUBSPOT_TOKEN}", **values})


def test_defaults_follow_hubspots_limits() -> None:
    defaults = settings()
    assert defaults.base_url == "https://api.hubapi.com"
    assert defaults.page_size_list == 100
    assert defaults.page_size_search == 200
    assert defaults.lookback == timedelta(minutes=5)
    assert defaults.object_types == ("contacts", "companies", "deals", "tasks", "owners")
    assert defaults.pulled_types() == defaults.object_types


def test_the_token_is_a_reference_and_the_resolved_one_stays_out_of_repr() -> None:
    with pytest.raises(ValidationError, match="secrets are refused"):
        settings(token="pat-secret")
    resolved = settings().with_token("pat-secret")
    assert resolved.access_token() == "pat-secret"
    assert "pat-secret" not in repr(resolved)
    assert resolved.model_copy(update={"page_size_list": 5}).access_token() == "pat-secret"
    with pytest.raises(ConfigError, match="not resolved"):
        settings().access_token()


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ValidationError) as caught:
        HubSpotSettings.model_validate(
            {
                "object_types": ["contacts", "tickets"],
                "page_size_list": 101,
                "page_size_search": 0,
                "lookback_seconds": -1,
                "fields": {"contacts": {"a": "x", "b": "x"}, "deals": {"won__c": "is_won"}},
            }
        )
    locations = {str(e["loc"][0]) for e in caught.value.errors()}
    assert {"object_types", "page_size_list", "page_size_search", "lookback_seconds"} <= locations
    assert "fields" in locations
    with pytest.raises(ValidationError, match="a token is required"):
        HubSpotSettings.model_validate({})
    with pytest.raises(ValidationError, match="decided by the connector"):
        settings(fields={"deals": {"won__c": "is_won"}})


def test_requested_properties_always_include_what_the_connector_needs() -> None:
    chosen = settings(properties={"contacts": ("email",), "deals": ("amount",)})
    assert field_map("contacts", chosen).vendor_names == (
        "email",
        "lastmodifieddate",
        "hs_merged_object_ids",
        "hs_object_id",
    )
    assert field_map("deals", chosen).vendor_names == (
        "amount",
        "hs_lastmodifieddate",
        "hs_merged_object_ids",
        "hs_object_id",
    )
    assert "hs_merged_object_ids" not in field_map("tasks", chosen).vendor_names
    assert field_map("owners", chosen).vendor_names == (
        "email",
        "firstName",
        "lastName",
        "userId",
    )
