"""Field definitions through ``crm.properties.core_api``: options, hidden options, multi-select."""

from __future__ import annotations

import pytest

from connectors.hubspot.mapping import FieldMap
from connectors.hubspot.properties import property_defs
from model.errors import ConfigError
from model.records import PropertyDef
from sandbox.generator.schema import LEAD_STATUSES
from sandbox.generator.tags import CANONICAL_TAGS, TAG_SYNONYMS
from tests.connectors.hubspot.world import World


def test_contacts_definitions_carry_options_hidden_ones_and_multi(wire_checked: World) -> None:
    connector = wire_checked.connector()
    defs = {p.name: p for p in connector.properties("contacts")}

    derived = {d.name for d in connector.field_map("contacts").derived}
    assert set(defs) == set(connector.field_map("contacts").canonical_names) - derived
    status = defs["lead_status"]
    assert status.type == "enumeration"
    assert not status.multi
    assert status.options == tuple(LEAD_STATUSES.items())
    assert status.hidden_options == frozenset()

    tags = defs["tags"]
    assert tags.multi
    assert tags.label == "Tags"
    values = [value for value, _ in tags.options]
    assert values[: len(CANONICAL_TAGS)] == list(CANONICAL_TAGS)  # display order
    assert dict(tags.options)["follow_up_needed"] == "Follow-up needed"
    legacy = {value: hidden for syns in TAG_SYNONYMS.values() for value, _, hidden in syns}
    assert set(values) == set(CANONICAL_TAGS) | set(legacy)
    assert tags.hidden_options == {value for value, hidden in legacy.items() if hidden}
    assert dict(tags.options)["Partner"] == "Partner (legacy)"

    email = defs["email"]
    assert (email.type, email.options, email.multi) == ("string", (), False)
    assert defs["owner_id"].options == ()  # external options (owner ids)
    assert connector.calls["properties"] == 1
    assert [x.path for x in wire_checked.state.request_log] == ["/crm/v3/properties/contacts"]


def test_every_crm_type_has_definitions_and_owners_none(wire_checked: World) -> None:
    connector = wire_checked.connector()
    assert connector.properties("owners") == []
    deals = {p.name: p for p in connector.properties("deals")}
    assert [v for v, _ in deals["stage"].options][-2:] == ["closedwon", "closedlost"]
    tasks = {p.name: p for p in connector.properties("tasks")}
    assert tasks["status"].options == (("open", "Not Started"), ("completed", "Completed"))
    assert dict(tasks["priority"].options) == {
        "LOW": "Low",
        "MEDIUM": "Medium",
        "HIGH": "High",
    }
    companies = {p.name: p for p in connector.properties("companies")}
    assert "industry" in companies
    assert companies["industry"].type == "enumeration"
    with pytest.raises(ConfigError):
        connector.properties("tickets")


def test_definitions_are_ordered_canonical_and_tolerate_malformed_ones() -> None:
    fields = FieldMap((("hs_tags", "tags"), ("Stage__c", "stage"), ("bad", "bad"), ("x", "x")))
    body = {
        "results": [
            {
                "name": "hs_tags",
                "label": "Tags",
                "type": "enumeration",
                "fieldType": "checkbox",
                "options": [
                    {"value": "b", "label": "B", "displayOrder": 2, "hidden": True},
                    {"value": "a", "label": "A", "displayOrder": 1},
                    {"value": "c", "displayOrder": -1},
                ],
            },
            {"name": "Stage__c", "type": "enumeration", "fieldType": "radio", "options": []},
            {"name": "bad", "type": "enumeration", "options": [{"label": "no value"}]},
            {"name": "unmapped", "type": "string"},
            "junk",
        ]
    }
    assert property_defs(body, fields) == [
        PropertyDef(
            name="tags",
            label="Tags",
            type="enumeration",
            options=(("a", "A"), ("b", "B"), ("c", "c")),
            multi=True,
            hidden_options=frozenset({"b"}),
        ),
        PropertyDef(name="stage", label="stage", type="enumeration"),
    ]
    assert property_defs({"results": "nope"}, fields) == []
