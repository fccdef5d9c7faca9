"""The normalize policy on records: what it changes, why, and that twice equals once."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from connectors.base import Record
from policies.base import Snapshot, Update
from policies.normalize import NormalizePolicy, NormalizeSettings

NOW = datetime(2024, 5, 3, 15, 30, tzinfo=UTC)


def rec(object_type: str, record_id: str, **props: str | None) -> Record:
    return Record(object_type, record_id, props, NOW)


def snap(*records: Record) -> Snapshot:
    by_type: dict[str, list[Record]] = {}
    for r in records:
        by_type.setdefault(r.object_type, []).append(r)
    return Snapshot("test", NOW, by_type)


def run(*records: Record, **settings: object) -> list[Update]:
    changes = NormalizePolicy(NormalizeSettings.model_validate(settings))(snap(*records))
    assert all(isinstance(c, Update) for c in changes)
    return [c for c in changes if isinstance(c, Update)]


def as_map(updates: list[Update]) -> dict[tuple[str, str], str | None]:
    return {(u.record_id, u.field): u.new for u in updates}


def test_contact_fields_are_normalized_with_readable_reasons() -> None:
    contact = rec(
        "contacts",
        "1",
        firstname="  Jane   ",
        email=" Jane@X.com ",
        hs_additional_emails="A@b.com; ;a@B.com",
        phone="(415) 555-0132 x12",
        state="Calif.",
        country=" u.s.a. ",
        city="   ",
        lastname="Doe",
    )
    updates = run(contact)
    assert as_map(updates) == {
        ("1", "firstname"): "Jane",
        ("1", "email"): "jane@x.com",
        ("1", "hs_additional_emails"): "a@b.com",
        ("1", "phone"): "+14155550132;ext=12",
        ("1", "state"): "CA",
        ("1", "country"): "US",
        ("1", "city"): None,
    }
    by_field = {u.field: u for u in updates}
    assert by_field["phone"].reason == (
        "phone '(415) 555-0132 x12' is not in E.164 format (→ '+14155550132;ext=12')"
    )
    assert by_field["city"].reason == "city '   ' is blank (→ empty)"
    assert "ISO 3166-1 alpha-2" in by_field["country"].reason
    for u in updates:
        assert u.policy == "normalize"
        assert u.source == "test"
        assert u.object_type == "contacts"
        assert u.old == contact.properties[u.field]


def test_names_in_capitals_get_name_case() -> None:
    updates = run(rec("contacts", "1", firstname="JEAN-PIERRE", lastname=" o'brien "))
    assert as_map(updates) == {("1", "firstname"): "Jean-Pierre", ("1", "lastname"): "O'Brien"}
    by_field = {u.field: u for u in updates}
    assert by_field["lastname"].reason == (
        'lastname " o\'brien " has stray whitespace and is typed in all capitals or all lower '
        'case (→ "O\'Brien")'
    )


def test_clean_record_gives_no_change() -> None:
    clean = rec(
        "contacts",
        "1",
        firstname="Jane",
        email="jane@x.com",
        phone="+14155550132",
        state="CA",
        country="US",
    )
    assert run(clean) == []


def test_invalid_and_unparseable_phones_are_left_alone() -> None:
    updates = run(rec("contacts", "1", phone="(555) 123-4567", mobilephone="call me"))
    assert updates == []


def test_possible_phone_validation_accepts_fictional_numbers() -> None:
    updates = run(rec("contacts", "1", phone="(555) 123-4567"), phone_validation="possible")
    assert as_map(updates) == {("1", "phone"): "+15551234567"}


def test_phone_read_in_record_country_else_default_region() -> None:
    german = rec("contacts", "1", phone="030 1234567", country="Deutschland")
    british = rec("contacts", "2", phone="020 7946 0958")
    assert as_map(run(german, british, default_region="GB")) == {
        ("1", "phone"): "+49301234567",
        ("1", "country"): "DE",
        ("2", "phone"): "+442079460958",
    }
    assert as_map(run(german, phone_region_from_country=False)) == {("1", "country"): "DE"}


@pytest.mark.parametrize(
    ("country", "state", "expected"),
    [
        ("US", "new york", "NY"),
        (None, "N.Y.", "NY"),
        ("", "Ontario", "ON"),
        ("Canada", "Québec", "QC"),
        ("USA", "Ontario", "Ontario"),  # not a US state: left as it is
        ("Germany", "Calif.", "Calif."),  # country not US/CA
        ("Narnia", "ny", "ny"),  # unknown country: not assumed to be US
        ("US", " texas ", "TX"),
    ],
)
def test_state_only_for_us_canada_or_no_country(
    country: str | None, state: str, expected: str
) -> None:
    updates = run(rec("contacts", "1", state=state, country=country))
    assert as_map(updates).get(("1", "state"), state) == expected


def test_companies_get_domain_and_address_normalization() -> None:
    company = rec(
        "companies", "9", name=" Acme  Inc ", domain="https://www.Acme.com/", country="UK"
    )
    assert as_map(run(company)) == {
        ("9", "name"): "Acme Inc",
        ("9", "domain"): "acme.com",
        ("9", "country"): "GB",
    }


def test_field_mapping_is_configurable() -> None:
    contact = rec("contacts", "1", firstname=" Jane ", jobtitle=" CEO ", email="A@B.COM")
    updates = run(contact, fields={"contacts": {"jobtitle": ["whitespace"]}})
    assert as_map(updates) == {("1", "jobtitle"): "CEO"}


def test_changes_are_ordered_by_type_then_numeric_id() -> None:
    records = [rec("contacts", str(i), firstname=f" n{i} ") for i in (10, 9, 100, 1)]
    records.append(rec("companies", "2", name=" co "))
    order = [(u.object_type, u.record_id) for u in run(*records)]
    assert order == [
        ("contacts", "1"),
        ("contacts", "9"),
        ("contacts", "10"),
        ("contacts", "100"),
        ("companies", "2"),
    ]
    shuffled = records[:]
    random.Random(4).shuffle(shuffled)
    assert run(*shuffled) == run(*records)


def test_settings_reject_unknown_keys_and_regions() -> None:
    with pytest.raises(ValidationError):
        NormalizeSettings.model_validate({"colour": "blue"})
    with pytest.raises(ValidationError):
        NormalizeSettings(default_region="XX")
    with pytest.raises(ValidationError):
        NormalizeSettings.model_validate({"fields": {"contacts": {"email": ["shout"]}}})
    assert NormalizeSettings(default_region="gb").default_region == "GB"


# --- normalize(normalize(x)) == normalize(x) -------------------------------------------------

MESSY = {
    "firstname": ["  Jane ", "Zoë\u00a0\u00a0Ng", "BOB", "", "jean-pierre", "ΣΊΣΥΦΟΣ"],
    "lastname": ["MCDONALD", "van der berg", "O'BRIEN", "  smith  "],
    "email": [" Jane@X.com", "bob@@x", "A@B.C ", "   "],
    "hs_additional_emails": ["A@b.com; ;a@B.com", ";", "x@y.z;X@Y.Z "],
    "phone": ["(415) 555-0132", "415.555.0132 x 7", "+44 20 7946 0958", "(555) 123-4567", "n/a"],
    "mobilephone": ["030 1234567", "1-800-FLOWERS", "+1 212 555 0100 ext. 12", "12"],
    "state": ["Calif.", "N.Y.", "new york", "Québec", "Ontario", "Bavaria", " tx "],
    "country": [
        "USA", "U.S.", " united  states ", "UK", "Deutschland", "Canada", "Germnay", "Narnia", "",
    ],
    "city": ["  San   Francisco ", "NYC", "\t"],
    "zip": [" 94105 ", "SW1A 1AA"],
}  # fmt: skip


def _value(field: str) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.sampled_from(MESSY[field]), st.text(max_size=20))


records_strategy = st.fixed_dictionaries({f: _value(f) for f in MESSY})


def _apply(record: Record, updates: list[Update]) -> Record:
    props: dict[str, str | None] = dict(record.properties)
    for u in updates:
        assert u.record_id == record.id
        assert u.old == record.properties[u.field]
        props[u.field] = u.new
    return Record(record.object_type, record.id, props, record.updated_at)


@settings(max_examples=300, deadline=None)
@given(
    records_strategy, st.sampled_from(["US", "GB", "DE"]), st.sampled_from(["valid", "possible"])
)
def test_normalizing_twice_equals_once(
    props: Mapping[str, str | None], region: str, validation: str
) -> None:
    policy = NormalizePolicy(
        NormalizeSettings.model_validate({"default_region": region, "phone_validation": validation})
    )
    record = Record("contacts", "1", dict(props), NOW)
    first = policy(snap(record))
    updates = [c for c in first if isinstance(c, Update)]
    assert len(updates) == len(first)
    assert len({u.field for u in updates}) == len(updates)  # at most one change per field
    assert policy(snap(_apply(record, updates))) == []
