"""HubSpot wire objects to canonical records; the field maps round-trip."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.hubspot.mapping import (
    FieldMap,
    MalformedObjectError,
    crm_record,
    merged_away,
    owner_record,
    split_ids,
)
from connectors.hubspot.settings import OBJECT_TYPES, HubSpotSettings

SETTINGS = HubSpotSettings(token="t")
MAPS = {t: FieldMap.identity(SETTINGS.properties_for(t)) for t in OBJECT_TYPES}

values = st.none() | st.text(alphabet="abc;@. 1", max_size=8)


def canonical_values() -> st.SearchStrategy[tuple[str, dict[str, str | None]]]:
    return st.sampled_from(OBJECT_TYPES).flatmap(
        lambda t: st.tuples(
            st.just(t),
            st.dictionaries(st.sampled_from(MAPS[t].canonical_names), values, max_size=8),
        )
    )


@given(canonical_values())
def test_field_maps_round_trip(case: tuple[str, dict[str, str | None]]) -> None:
    object_type, canonical = case
    fields = MAPS[object_type]
    vendor = fields.to_vendor(canonical)
    back = fields.to_canonical(vendor)
    assert {k: back[k] for k in canonical} == canonical
    assert all(back[k] is None for k in set(back) - set(canonical))
    assert fields.to_vendor({k: v for k, v in back.items() if k in canonical}) == vendor


@given(st.lists(st.tuples(st.text(min_size=1), st.text(min_size=1)), unique_by=lambda p: p[0]))
def test_any_one_to_one_map_round_trips(pairs: list[tuple[str, str]]) -> None:
    if len({c for _, c in pairs}) != len(pairs):
        with pytest.raises(ValueError, match="one-to-one"):
            FieldMap(tuple(pairs))
        return
    fields = FieldMap(tuple(pairs))
    vendor = {v: f"value of {v}" for v, _ in pairs}
    assert fields.to_vendor(fields.to_canonical(vendor)) == vendor


def test_unknown_fields_do_not_cross_the_boundary() -> None:
    fields = FieldMap.identity(["email"])
    assert fields.to_canonical({"email": "a@b.c", "hs_internal": "x"}) == {"email": "a@b.c"}
    with pytest.raises(KeyError, match="firstname"):
        fields.to_vendor({"firstname": "Ann"})


def contact(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": "101",
        "properties": {
            "email": "ann@example.com",
            "firstname": "",
            "hs_object_id": "101",
            "lastmodifieddate": "2024-05-01T10:00:00.000Z",
            "hs_merged_object_ids": "55;101; 77",
            "not_requested": "x",
        },
        "createdAt": "2024-01-01T09:00:00.000Z",
        "updatedAt": "2024-05-01T10:00:00.000Z",
        "archived": False,
        "associations": {
            "companies": {
                "results": [
                    {"id": "7", "type": "contact_to_company"},
                    {"id": "7", "type": "contact_to_company_unlabeled"},
                    {"id": "8", "type": "contact_to_company"},
                ]
            }
        },
    }
    raw.update(overrides)
    return raw


def test_a_contact_becomes_a_canonical_record() -> None:
    record = crm_record("contacts", contact(), MAPS["contacts"], ("companies",))
    assert record.id == "101"
    assert record.updated_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert record.created_at == datetime(2024, 1, 1, 9, tzinfo=UTC)
    assert record.properties["email"] == "ann@example.com"
    assert record.properties["firstname"] is None  # empty string is None
    assert record.properties["phone"] is None  # requested but missing is None
    assert "not_requested" not in record.properties
    assert record.associations == {"companies": ("7", "8")}
    assert record.merged_ids == ("55", "77")
    absorbed = merged_away(record)
    assert [(r.id, r.merged_into, r.object_type) for r in absorbed] == [
        ("55", "101", "contacts"),
        ("77", "101", "contacts"),
    ]


def test_expected_association_types_are_present_even_when_none_are_listed() -> None:
    raw = contact(associations=None)
    record = crm_record("tasks", raw, MAPS["tasks"], ("contacts", "companies", "deals"))
    assert record.associations == {"contacts": (), "companies": (), "deals": ()}


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"id": None}, "missing id"),
        ({"id": ""}, "missing id"),
        ({"updatedAt": "yesterday"}, "unparseable updatedAt"),
        ({"updatedAt": None}, "unparseable updatedAt"),
        ({"properties": None}, "missing properties"),
    ],
)
def test_malformed_objects_are_refused_with_a_reason(
    overrides: dict[str, Any], reason: str
) -> None:
    with pytest.raises(MalformedObjectError, match=reason):
        crm_record("contacts", contact(**overrides), MAPS["contacts"], ())


def test_an_owner_becomes_a_record_with_string_properties() -> None:
    raw = {
        "id": "9",
        "email": "o@example.com",
        "firstName": "Olga",
        "lastName": "Oh",
        "userId": 1234,
        "teams": [{"id": "1"}],
        "archived": False,
        "createdAt": "2024-01-01T00:00:00Z",
        "updatedAt": "2024-01-02T00:00:00+01:00",
    }
    record = owner_record(raw, MAPS["owners"])
    assert record.object_type == "owners"
    assert record.properties == {
        "email": "o@example.com",
        "firstName": "Olga",
        "lastName": "Oh",
        "userId": "1234",
    }
    assert record.updated_at == datetime(2024, 1, 1, 23, tzinfo=UTC)


def test_split_ids() -> None:
    assert split_ids(None) == ()
    assert split_ids("1;2;;2; 3 ") == ("1", "2", "3")
