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
    ReadOnlyFieldError,
    crm_record,
    field_map,
    field_maps,
    merged_away,
    owner_record,
    split_ids,
)
from connectors.hubspot.pipelines import StageBook
from connectors.hubspot.settings import OBJECT_TYPES, HubSpotSettings
from model.fields import FIELDS, TASK_COMPLETED, TASK_OPEN, field_names

SETTINGS = HubSpotSettings(token="${HUBSPOT_TOKEN}")
MAPS = field_maps(SETTINGS)

values = st.none() | st.text(alphabet="abc;@. 1", max_size=8)
#: canonical values of the fields whose values the connector decides
DECIDED = {"status": st.sampled_from([TASK_OPEN, TASK_COMPLETED])}


def canonical_values() -> st.SearchStrategy[tuple[str, dict[str, str | None]]]:
    return st.sampled_from(OBJECT_TYPES).flatmap(
        lambda t: st.tuples(
            st.just(t),
            st.dictionaries(st.sampled_from(MAPS[t].writable_names), values, max_size=8).flatmap(
                lambda d: st.fixed_dictionaries(
                    {k: (DECIDED[k] if k in DECIDED and v else st.just(v)) for k, v in d.items()}
                )
            ),
        )
    )


@given(canonical_values())
def test_field_maps_round_trip(case: tuple[str, dict[str, str | None]]) -> None:
    object_type, canonical = case
    fields = MAPS[object_type]
    vendor = fields.to_vendor(canonical)
    back = fields.to_canonical(vendor)
    assert {k: back[k] for k in canonical} == canonical
    derived = {d.name for d in fields.derived}
    assert all(back[k] is None for k in set(back) - set(canonical) - derived)
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


def test_every_canonical_name_is_in_the_published_table() -> None:
    for object_type, fields in MAPS.items():
        assert set(fields.canonical_names) <= set(field_names(object_type)), object_type
        assert not set(fields.vendor_names) & {"hs_object_id"} - set(fields.internal)
    assert set(MAPS) <= set(FIELDS)


def test_hubspot_names_are_renamed_and_plain_names_kept() -> None:
    contacts, deals, tasks = MAPS["contacts"], MAPS["deals"], MAPS["tasks"]
    assert contacts.canonical_name("hubspot_owner_id") == "owner_id"
    assert contacts.canonical_name("hs_lead_status") == "lead_status"
    assert contacts.canonical_name("lifecyclestage") == "lifecycle_stage"
    assert contacts.canonical_name("hs_additional_emails") == "additional_emails"
    assert contacts.canonical_name("notes_last_updated") == "last_activity_at"
    assert contacts.canonical_name("lastmodifieddate") == "updated_at"
    assert contacts.canonical_name("firstname") == "firstname"
    assert deals.vendor_name("stage") == "dealstage"
    assert deals.vendor_name("updated_at") == "hs_lastmodifieddate"
    assert tasks.vendor_name("due") == "hs_timestamp"
    assert MAPS["owners"].canonical_name("firstName") == "firstname"
    assert "hs_object_id" in contacts.vendor_names  # requested for the connector itself...
    assert "hs_object_id" not in contacts.canonical_names  # ...never exposed


def test_unknown_fields_do_not_cross_the_boundary() -> None:
    fields = FieldMap.identity(["email"])
    assert fields.to_canonical({"email": "a@b.c", "hs_internal": "x"}) == {"email": "a@b.c"}


def test_writes_are_mapped_back_and_decided_fields_refused() -> None:
    contacts, tasks = MAPS["contacts"], MAPS["tasks"]
    assert contacts.to_vendor({"owner_id": "7", "lead_status": "NEW", "email": "a@b.c"}) == {
        "hubspot_owner_id": "7",
        "hs_lead_status": "NEW",
        "email": "a@b.c",
    }
    assert contacts.to_vendor({"my_custom_score": "3"}) == {"my_custom_score": "3"}
    with pytest.raises(ReadOnlyFieldError, match="lead_open"):
        contacts.to_vendor({"lead_open": "true"})
    with pytest.raises(KeyError, match="hs_lead_status"):
        contacts.to_vendor({"hs_lead_status": "NEW"})  # a HubSpot name is not canonical
    assert tasks.to_vendor({"status": TASK_OPEN}) == {"hs_task_status": "NOT_STARTED"}
    assert tasks.to_vendor({"status": TASK_COMPLETED}) == {"hs_task_status": "COMPLETED"}


@pytest.mark.parametrize(
    ("hubspot", "canonical"),
    [
        ("COMPLETED", TASK_COMPLETED),
        ("NOT_STARTED", TASK_OPEN),
        ("IN_PROGRESS", TASK_OPEN),
        ("WAITING", TASK_OPEN),
        ("DEFERRED", TASK_OPEN),
        (None, None),
    ],
)
def test_the_connector_decides_whether_a_task_is_open(
    hubspot: str | None, canonical: str | None
) -> None:
    assert MAPS["tasks"].to_canonical({"hs_task_status": hubspot})["status"] == canonical


def _stage(stage_id: str, label: str, order: int, closed: bool, p: float) -> dict[str, Any]:
    meta = {"isClosed": "true" if closed else "false", "probability": str(p)}
    return {"id": stage_id, "label": label, "displayOrder": order, "metadata": meta}


#: HubSpot's pipelines answer: the default pipeline, and a custom one whose stage ids are
#: numbers and whose won stage is named neither closedwon nor "Closed Won".
PIPELINES = {
    "results": [
        {
            "id": "default",
            "label": "Sales Pipeline",
            "stages": [
                _stage("contractsent", "Contract Sent", 4, False, 0.9),
                _stage("closedwon", "Closed Won", 5, True, 1.0),
                _stage("closedlost", "Closed Lost", 6, True, 0.0),
            ],
        },
        {
            "id": "75100001",
            "label": "Renewals",
            "stages": [
                _stage("75100013", "Negotiation", 2, False, 0.8),
                _stage("75100014", "Renewed", 3, True, 1.0),
                _stage("75100015", "Churned", 4, True, 0.0),
            ],
        },
    ]
}
DEALS = field_map("deals", SETTINGS, StageBook.of(PIPELINES))


@pytest.mark.parametrize(
    ("pipeline", "stage", "label", "order", "closed", "won"),
    [
        ("default", "closedwon", "Closed Won", "5", "true", "true"),
        ("default", "closedlost", "Closed Lost", "6", "true", "false"),
        ("default", "contractsent", "Contract Sent", "4", "false", "false"),
        ("75100001", "75100014", "Renewed", "3", "true", "true"),
        ("75100001", "75100015", "Churned", "4", "true", "false"),
        ("75100001", "75100013", "Negotiation", "2", "false", "false"),
        (None, "75100014", "Renewed", "3", "true", "true"),  # a stage id is the portal's own
        ("default", None, None, None, "false", "false"),  # no stage: not closed
        ("default", "99999", None, None, None, None),  # unknown: nothing is decided
    ],
)
def test_what_a_deal_s_stage_means_comes_from_its_pipeline(
    pipeline: str | None,
    stage: str | None,
    label: str | None,
    order: str | None,
    closed: str | None,
    won: str | None,
) -> None:
    deal = DEALS.to_canonical({"dealstage": stage, "pipeline": pipeline})
    assert (deal["stage"], deal["pipeline"]) == (stage, pipeline)
    assert (deal["stage_label"], deal["stage_order"], deal["is_closed"], deal["is_won"]) == (
        label,
        order,
        closed,
        won,
    )


def test_without_the_pipelines_no_stage_means_anything() -> None:
    deal = MAPS["deals"].to_canonical({"dealstage": "closedwon", "pipeline": "default"})
    assert (deal["stage_label"], deal["is_closed"], deal["is_won"]) == (None, None, None)


def test_open_lead_statuses_are_the_sources() -> None:
    default = MAPS["contacts"].to_canonical({"hs_lead_status": "ATTEMPTED_TO_CONTACT"})
    assert default["lead_open"] == "true"
    assert MAPS["contacts"].to_canonical({"hs_lead_status": "CONNECTED"})["lead_open"] == "false"
    assert MAPS["contacts"].to_canonical({})["lead_open"] == "false"
    mine = field_map("contacts", HubSpotSettings(token="${T}", open_lead_statuses=("connected",)))
    assert mine.to_canonical({"hs_lead_status": "CONNECTED"})["lead_open"] == "true"
    assert mine.to_canonical({"hs_lead_status": "NEW"})["lead_open"] == "false"


def test_custom_properties_pass_through_or_get_a_canonical_name() -> None:
    settings = HubSpotSettings(
        token="${T}",
        properties={"contacts": ("email", "hs_buying_role")},
        fields={"contacts": {"nps_score__c": "nps", "my_owner": "owner_id"}},
    )
    fields = field_map("contacts", settings)
    assert ("hs_buying_role", "hs_buying_role") in fields.pairs  # unmapped: its HubSpot name
    assert ("nps_score__c", "nps") in fields.pairs
    assert fields.vendor_name("owner_id") == "my_owner"
    assert "hubspot_owner_id" not in fields.vendor_names
    assert {"nps_score__c", "my_owner", "lastmodifieddate", "hs_object_id"} <= set(
        fields.vendor_names
    )


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
    assert record.properties["updated_at"] == "2024-05-01T10:00:00.000Z"
    assert record.properties["lead_open"] == "false"
    assert "not_requested" not in record.properties
    assert not {"hs_object_id", "lastmodifieddate", "hs_merged_object_ids"} & set(record.properties)
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
        "firstname": "Olga",
        "lastname": "Oh",
        "user_id": "1234",
    }
    assert record.updated_at == datetime(2024, 1, 1, 23, tzinfo=UTC)


def test_split_ids() -> None:
    assert split_ids(None) == ()
    assert split_ids("1;2;;2; 3 ") == ("1", "2", "3")
