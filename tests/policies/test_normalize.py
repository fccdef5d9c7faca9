"""The normalize policy on records: what it changes, why, and that twice equals once."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from model.changes import Change, Flag, Snapshot, Update
from model.records import Record
from policies.normalize import NormalizePolicy, NormalizeSettings

NOW = datetime(2024, 5, 3, 15, 30, tzinfo=UTC)


def rec(object_type: str, record_id: str, **props: str | None) -> Record:
    return Record(object_type, record_id, props, NOW)


def snap(*records: Record) -> Snapshot:
    by_type: dict[str, list[Record]] = {}
    for r in records:
        by_type.setdefault(r.object_type, []).append(r)
    return Snapshot("test", NOW, by_type)


def run_all(*records: Record, **settings: object) -> list[Change]:
    changes = NormalizePolicy(NormalizeSettings.model_validate(settings))(snap(*records))
    assert all(isinstance(c, Update | Flag) for c in changes)
    return changes


def run(*records: Record, **settings: object) -> list[Update]:
    """The updates only (flags are checked with :func:`flagged`)."""
    return [c for c in run_all(*records, **settings) if isinstance(c, Update)]


def flagged(*records: Record, **settings: object) -> dict[tuple[str, str | None], str]:
    return {
        (c.record_id, c.field): c.reason
        for c in run_all(*records, **settings)
        if isinstance(c, Flag)
    }


def as_map(updates: list[Update]) -> dict[tuple[str, str], str | None]:
    return {(u.record_id, u.field): u.new for u in updates}


def test_contact_fields_are_normalized_with_readable_reasons() -> None:
    contact = rec(
        "contacts",
        "1",
        firstname="  Jane   ",
        email=" Jane@X.com ",
        additional_emails="A@b.com; ;a@B.com",
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
        ("1", "additional_emails"): "a@b.com",
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


def test_invalid_and_unparseable_phones_are_left_alone_and_flagged() -> None:
    record = rec("contacts", "1", phone="(555) 123-4567", mobilephone="call me", zip="n/a")
    assert run(record) == []
    assert flagged(record) == {
        ("1", "phone"): "phone '(555) 123-4567' is not a valid, assigned number",
        ("1", "mobilephone"): "mobilephone 'call me' cannot be read as a phone number",
    }
    short = rec("contacts", "2", phone="12")
    assert flagged(short, phone_validation="possible") == {
        ("2", "phone"): "phone '12' does not have a possible length for its region"
    }
    assert flagged(record, flag_invalid=False) == {}
    (flag,) = [c for c in run_all(short) if isinstance(c, Flag)]
    assert (flag.policy, flag.value, flag.object_type) == ("normalize", "12", "contacts")


def test_invalid_emails_are_flagged_after_trimming_and_fixable_ones_fixed() -> None:
    record = rec(
        "contacts",
        "1",
        email=" Amy Ellis@UnionPartners.com",
        additional_emails="ok@x.com;bad@@x.com; B@X.COM",
    )
    fixable = rec("contacts", "2", email=" Jo@Acme.COM ", additional_emails="A@b.com;a@B.com")
    assert as_map(run(record, fixable)) == {
        ("2", "email"): "jo@acme.com",
        ("2", "additional_emails"): "a@b.com",
    }
    flags = flagged(record, fixable)
    assert set(flags) == {("1", "email"), ("1", "additional_emails")}
    assert flags[("1", "email")].startswith(
        "email ' Amy Ellis@UnionPartners.com' is not a valid e-mail address: "
    )
    assert "'bad@@x.com'" in flags[("1", "additional_emails")]
    assert "ok@x.com" not in flags[("1", "additional_emails")].partition("holds")[2]
    for bad in ("a@b..com", "a.b.com", "x@gmail", "a@b,com"):
        assert ("3", "email") in flagged(rec("contacts", "3", email=bad)), bad


def test_websites_become_bare_domains() -> None:
    contact = rec("contacts", "1", website="https://www.Acme.com/about")
    company = rec("companies", "2", website=" WWW.Beta.io ", domain="beta.io")
    assert as_map(run(contact, company)) == {
        ("1", "website"): "acme.com",
        ("2", "website"): "beta.io",
    }
    assert run(rec("companies", "3", website="not a site")) == []


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
    "additional_emails": ["A@b.com; ;a@B.com", ";", "x@y.z;X@Y.Z "],
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
    flags = [c for c in first if isinstance(c, Flag)]
    assert len(updates) + len(flags) == len(first)
    fields = [u.field for u in updates] + [f.field for f in flags]
    assert len(set(fields)) == len(fields)  # at most one change or flag per field
    second = policy(snap(_apply(record, updates)))
    assert [c for c in second if isinstance(c, Update)] == []
    assert [c for c in second if isinstance(c, Flag)] == flags
