"""HubSpot connector settings: validated at once, secrets kept out of reprs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.hubspot import HubSpotSettings
from connectors.hubspot.mapping import field_map
from model.errors import ConfigError


def test_defaults_follow_hubspots_limits() -> None:
    settings = HubSpotSettings(token="pat-secret")
    assert settings.base_url == "https://api.hubapi.com"
    assert settings.page_size_list == 100
    assert settings.page_size_search == 200
    assert settings.search_window_cap == 10_000
    assert settings.lookback == timedelta(minutes=5)
    assert settings.object_types == ("contacts", "companies", "deals", "tasks", "owners")


def test_the_token_stays_out_of_repr() -> None:
    assert "pat-secret" not in repr(HubSpotSettings(token="pat-secret"))


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        HubSpotSettings(
            token="",
            object_types=("contacts", "leads"),
            page_size_list=101,
            page_size_search=0,
            lookback=timedelta(seconds=-1),
        )
    message = str(caught.value)
    for key in ("token", "object_types", "page_size_list", "page_size_search", "lookback"):
        assert key in message


def test_requested_properties_always_include_what_the_connector_needs() -> None:
    settings = HubSpotSettings(token="t", properties={"contacts": ("email",), "deals": ("amount",)})
    assert field_map("contacts", settings).vendor_names == (
        "email",
        "lastmodifieddate",
        "hs_merged_object_ids",
        "hs_object_id",
    )
    assert field_map("deals", settings).vendor_names == (
        "amount",
        "hs_lastmodifieddate",
        "hs_merged_object_ids",
        "hs_object_id",
    )
    assert "hs_merged_object_ids" not in field_map("tasks", settings).vendor_names
    assert field_map("owners", settings).vendor_names == (
        "email",
        "firstName",
        "lastName",
        "userId",
    )
