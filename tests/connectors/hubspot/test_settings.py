"""HubSpot connector settings: validated at once, secrets kept out of reprs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.hubspot import HubSpotSettings
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
    assert settings.properties_for("contacts") == (
        "email",
        "hs_object_id",
        "lastmodifieddate",
        "hs_merged_object_ids",
    )
    assert settings.properties_for("deals") == (
        "amount",
        "hs_object_id",
        "hs_lastmodifieddate",
        "hs_merged_object_ids",
    )
    assert "hs_merged_object_ids" not in settings.properties_for("tasks")
    assert settings.properties_for("owners") == ("email", "firstName", "lastName", "userId")
