"""Survivorship: which record is primary, and which value of each field the merged record keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from model.changes import Merge, Snapshot
from model.records import Record
from policies.dedupe import DedupePolicy, DedupeSettings

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def person(record_id: str, *, age: float, modified: float, **props: str | None) -> Record:
    return Record(
        "contacts",
        record_id,
        props,
        NOW - timedelta(days=modified),
        created_at=NOW - timedelta(days=age),
    )


OLD = person(
    "1",
    age=300,
    modified=200,
    firstname="Jane",
    lastname="Doe",
    email="jane@acme.com",
    phone="+14155550100",
    jobtitle="VP",
    city="SF",
    address=None,
)
NEW = person(
    "2",
    age=10,
    modified=1,
    firstname="Jane",
    lastname="Doe",
    email="jane@acme.com",
    phone="+14155550199",
    jobtitle="Vice President of Sales",
    city="San Francisco",
    address="1 Market St",
    owner_id="77",
)


def merge(**settings: object) -> Merge:
    changes = DedupePolicy(DedupeSettings.model_validate(settings))(
        Snapshot("s", NOW, {"contacts": [OLD, NEW]})
    )
    [found] = [c for c in changes if isinstance(c, Merge)]
    return found


def test_default_keeps_the_primarys_values_and_fills_its_gaps() -> None:
    found = merge()
    assert found.primary_id == "1"  # oldest
    assert found.field_values == {"address": "1 Market St", "owner_id": "77"}


def test_fields_the_crm_or_connector_decides_are_never_carried() -> None:
    old = person("1", age=300, modified=200, firstname="Jane", lastname="Doe",
                 email="jane@acme.com", lead_open=None)  # fmt: skip
    new = person("2", age=10, modified=1, firstname="Jane", lastname="Doe",
                 email="jane@acme.com", lead_open="true", nps="9")  # fmt: skip
    changes = DedupePolicy(DedupeSettings(survivorship_exclude=()))(
        Snapshot("s", NOW, {"contacts": [old, new]})
    )
    [found] = [c for c in changes if isinstance(c, Merge)]
    assert found.field_values == {"nps": "9"}  # a custom field is the CRM's to accept


def test_most_recent_takes_the_freshest_value_of_every_field() -> None:
    found = merge(survivorship="most_recent")
    assert found.primary_id == "1"
    assert found.field_values["phone"] == "+14155550199"
    assert found.field_values["jobtitle"] == "Vice President of Sales"
    assert "email" not in found.field_values  # same value: nothing to write


def test_per_field_rules_override_the_default() -> None:
    found = merge(field_survivorship={"jobtitle": "most_complete", "city": "most_complete"})
    assert found.field_values["jobtitle"] == "Vice President of Sales"
    assert found.field_values["city"] == "San Francisco"
    assert "phone" not in found.field_values  # the primary's phone stays


def test_owned_primary_rule_prefers_the_record_with_an_owner() -> None:
    found = merge(primary_rule="owned")
    assert found.primary_id == "2"
    assert found.merged_ids == ("1",)


FATHER = person(
    "10",
    age=400,
    modified=30,
    firstname="William",
    lastname="Foster",
    email="william.foster@fosterlaw.com",
    phone="+14155550123",
    address="10 Main St",
    city="Springfield",
    company="Foster Law",
)
SON = person(
    "11",
    age=20,
    modified=2,
    firstname="William",
    lastname="Foster",
    email="will.foster@fosterlaw.com",
    phone="+14155550123",
    address="10 Main St",
    city="Springfield",
    company="Foster Law",
)


def test_two_mailboxes_at_one_domain_go_to_review_not_merge() -> None:
    changes = DedupePolicy(DedupeSettings())(Snapshot("s", NOW, {"contacts": [FATHER, SON]}))
    [pair] = [c for c in changes if isinstance(c, Merge)]
    assert pair.kind == "review"
    assert pair.confidence < DedupeSettings().merge_threshold
    scored = DedupePolicy(DedupeSettings(two_mailboxes="score"))(
        Snapshot("s", NOW, {"contacts": [FATHER, SON]})
    )
    assert [c.kind for c in scored if isinstance(c, Merge)] == ["merge"]
