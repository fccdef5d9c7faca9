"""The generator's ground truth is right: every due fix is checked with phonenumbers, pycountry
and email-validator, every value without a fix is already clean, and the follow-ups and tag
synonyms agree with the records."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from functools import cache

import phonenumbers
import pycountry
import pytest
from email_validator import EmailNotValidError, validate_email

from sandbox.generator import Dataset, GeneratedObject, generate
from sandbox.generator.geo import CITIES
from sandbox.generator.schema import DEAL_PIPELINES, PROPERTIES

#: Closed stages, by their pipeline's metadata (custom pipelines have numeric stage ids).
CLOSED = {
    s["id"] for p in DEAL_PIPELINES for s in p["stages"] if s["metadata"]["isClosed"] == "true"
}

NOW = datetime(2024, 11, 5, 8, 30, tzinfo=UTC)
PHONES = ("phone", "mobilephone")
TEXT = {"contacts": ("firstname", "lastname", "company", "city"), "companies": ("name", "city")}
OPEN_LEADS = {"NEW", "OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT"}
MEASURED = ("state", "country", "email", "phone")
REGIONS = {c.region for c in CITIES if c.region}


@cache
def dataset() -> Dataset:
    return generate(4000, 17, NOW)


@cache
def fixes() -> dict[tuple[str, str], dict[str, dict[str, str | None]]]:
    """(object type, id) -> field -> fix."""
    out: dict[tuple[str, str], dict[str, dict[str, str | None]]] = {}
    for fix in dataset().truth.due_fixes:
        if fix["policy"] != "follow_up":
            out.setdefault((str(fix["object_type"]), str(fix["record_id"])), {})[
                str(fix["field"])
            ] = fix
    return out


def _records(kind: str) -> list[GeneratedObject]:
    return dataset().objects[kind]


def _clean(kind: str, obj: GeneratedObject, name: str) -> str | None:
    """The value of a field once its due fix (if any) is applied."""
    fix = fixes().get((kind, obj.id), {}).get(name)
    return obj.properties[name] if fix is None else fix["new"]


def _e164(number: phonenumbers.PhoneNumber) -> str:
    text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return text + (f";ext={number.extension}" if number.extension else "")


def _region(kind: str, obj: GeneratedObject) -> str:
    return _clean(kind, obj, "country") or "US"


def test_fix_entries_are_well_formed() -> None:
    truth = dataset().truth
    policies = Counter(f["policy"] for f in truth.due_fixes)
    assert set(policies) == {"normalize", "tags", "follow_up"}
    for fix in truth.due_fixes:
        obj = _find(str(fix["object_type"]), str(fix["record_id"]))
        if fix["policy"] == "follow_up":
            assert set(fix) == {"policy", "object_type", "record_id", "issue"}
            continue
        assert obj.properties[str(fix["field"])] == fix["old"]
        assert fix["old"] != fix["new"]
        assert (fix.get("flag") == "invalid") == (fix["new"] is None)


@cache
def _index() -> dict[tuple[str, str], GeneratedObject]:
    return {(kind, o.id): o for kind, objs in dataset().objects.items() for o in objs}


def _find(kind: str, record_id: str) -> GeneratedObject:
    return _index()[(kind, record_id)]


@pytest.mark.parametrize("kind", ["contacts", "companies"])
def test_phone_fixes_parse_to_the_clean_e164(kind: str) -> None:
    checked = 0
    for obj in _records(kind):
        for name in PHONES:
            if name not in obj.properties or obj.properties[name] is None:
                continue
            raw = obj.properties[name]
            assert raw is not None
            fix = fixes().get((kind, obj.id), {}).get(name)
            if fix is None:  # already clean: E.164 (with ;ext=) and valid
                number = phonenumbers.parse(raw, None)
                assert phonenumbers.is_valid_number(number), raw
                assert _e164(number) == raw
            elif fix["new"] is None:  # invalid: no parser can make a valid number of it
                try:
                    bad = phonenumbers.parse(raw, _region(kind, obj))
                except phonenumbers.NumberParseException:
                    continue
                assert not phonenumbers.is_valid_number(bad), raw
            else:
                clean = phonenumbers.parse(str(fix["new"]), None)
                assert phonenumbers.is_valid_number(clean)
                assert _e164(clean) == fix["new"]
                assert _e164(phonenumbers.parse(raw, _region(kind, obj))) == fix["new"], raw
                checked += 1
    assert checked > 100


def test_email_fixes_trim_and_lower_case_valid_addresses() -> None:
    invalid = 0
    for obj in _records("contacts"):
        raw = obj.properties["email"]
        if raw is None:
            continue
        fix = fixes().get(("contacts", obj.id), {}).get("email")
        if fix is not None and fix["new"] is None:
            with pytest.raises(EmailNotValidError):
                validate_email(raw.strip(), check_deliverability=False)
            invalid += 1
            continue
        clean = raw if fix is None else str(fix["new"])
        assert clean == raw.strip().lower()
        assert validate_email(clean, check_deliverability=False).normalized == clean
        extra = obj.properties["hs_additional_emails"]
        if extra is not None:
            for email in str(_clean("contacts", obj, "hs_additional_emails")).split(";"):
                assert email == email.strip().lower()
                validate_email(email, check_deliverability=False)
    assert invalid > 10


@pytest.mark.parametrize("kind", ["contacts", "companies"])
def test_states_and_countries_become_iso_codes(kind: str) -> None:
    for obj in _records(kind):
        country = _clean(kind, obj, "country")
        if country is not None:
            assert pycountry.countries.get(alpha_2=country) is not None, country
        state = _clean(kind, obj, "state")
        has_fix = "state" in fixes().get((kind, obj.id), {})
        if state is None:
            continue
        home = ("US", "CA") if country is None else (country,)
        known = [c for c in home if pycountry.subdivisions.get(code=f"{c}-{state}") is not None]
        if has_fix or country in ("US", "CA"):
            assert known, (obj.id, obj.properties["state"], state, country)
        elif not known:  # a region name outside North America, left as written
            assert state in REGIONS, (obj.id, state)


@pytest.mark.parametrize("kind", ["contacts", "companies"])
def test_free_text_fixes_collapse_whitespace_and_caps(kind: str) -> None:
    for obj in _records(kind):
        for name in TEXT[kind]:
            raw = obj.properties[name]
            fix = fixes().get((kind, obj.id), {}).get(name)
            if raw is None:
                continue
            if fix is None:
                assert " ".join(raw.split()) == raw, (name, raw)
            elif fix["issue"] == "whitespace":
                assert fix["new"] == " ".join(raw.split())
            else:
                assert fix["issue"] == "case"
                assert name in ("firstname", "lastname")
                assert str(fix["new"]).lower() == raw.lower()
                assert raw in (raw.upper(), raw.lower())


def test_every_normalize_issue_is_one_of_the_documented_kinds() -> None:
    issues = Counter(
        (f["field"], f["issue"]) for f in dataset().truth.due_fixes if f["policy"] == "normalize"
    )
    assert {i for _, i in issues} <= {"whitespace", "case", "variant", "format", "invalid"}
    for field in ("phone", "email", "state", "country", "firstname", "city", "company"):
        assert any(f == field for f, _ in issues), field


def test_tags_fixes_map_synonyms_to_canonical_options() -> None:
    ds = dataset()
    synonyms = ds.truth.tag_synonyms["tags"]
    canonical = set(synonyms)
    synonym_of = {s: c for c, ss in synonyms.items() for s in ss}
    tags_prop = next(p for p in PROPERTIES["contacts"] if p["name"] == "tags")
    options = {o["value"] for o in tags_prop["options"]}
    assert canonical | set(synonym_of) == options
    assert "follow_up_needed" in canonical
    assert "vip" in canonical
    fixed = 0
    for obj in _records("contacts"):
        raw = obj.properties["tags"]
        fix = fixes().get(("contacts", obj.id), {}).get("tags")
        if raw is None:
            assert fix is None
            continue
        values = raw.split(";")
        if fix is None:
            assert set(values) <= canonical
            assert len(values) == len(set(values))
            continue
        fixed += 1
        assert fix["policy"] == "tags"
        new = str(fix["new"]).split(";")
        assert set(new) == {synonym_of.get(v, v) for v in values}
        assert len(new) == len(set(new))
    tagged = sum(1 for o in _records("contacts") if o.properties["tags"])
    assert 0.05 < fixed / tagged < 0.4


def test_follow_ups_are_exactly_open_leads_and_deals_without_open_tasks() -> None:
    ds = dataset()
    status = {t.id: t.properties["hs_task_status"] for t in ds.objects["tasks"]}
    expected: set[tuple[str, str]] = set()
    covered = 0
    for kind, is_open in (
        ("contacts", lambda o: o.properties["hs_lead_status"] in OPEN_LEADS),
        ("deals", lambda o: o.properties["dealstage"] not in CLOSED),
    ):
        for obj in ds.objects[kind]:
            if not is_open(obj):
                continue
            tasks = obj.associations.get("tasks", [])
            if any(status[t] != "COMPLETED" for t in tasks):
                covered += 1
            else:
                expected.add((kind, obj.id))
    found = {
        (str(f["object_type"]), str(f["record_id"]))
        for f in ds.truth.due_fixes
        if f["policy"] == "follow_up"
    }
    assert found == expected
    assert covered > 0.25 * (covered + len(expected))
    reasons = Counter(f["issue"] for f in ds.truth.due_fixes if f["policy"] == "follow_up")
    assert reasons["no_tasks"] > reasons["only_completed_tasks"] > 0


def test_messiness_rates_are_realistic() -> None:
    contacts = _records("contacts")
    n = len(contacts)
    per_field = Counter(
        (f["field"], f["issue"])
        for f in dataset().truth.due_fixes
        if f["object_type"] == "contacts" and f["policy"] == "normalize"
    )
    present = {name: sum(1 for c in contacts if c.properties[name]) for name in MEASURED}
    assert 0.1 < per_field["state", "variant"] / present["state"] < 0.3
    assert 0.1 < per_field["country", "variant"] / present["country"] < 0.3
    assert 0.005 < per_field["email", "invalid"] / present["email"] < 0.04
    assert 0.01 < per_field["phone", "invalid"] / present["phone"] < 0.05
    assert 0.03 < per_field["email", "case"] / present["email"] < 0.12
    assert 0.02 < per_field["firstname", "whitespace"] / n < 0.08
    assert 0.4 < per_field["phone", "format"] / present["phone"] < 0.85
