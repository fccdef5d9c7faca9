"""Each phone parsed once per run, e-mail domains validated once: across every policy."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given
from hypothesis import strategies as st

from bench.dataset import canonical_records
from model.changes import Snapshot, Update
from policies import normalizers
from policies.normalizers import email_problem, forget_phones, normalize_phone, read_phone
from policies.registry import PoliciesSettings, build_policies

generator = pytest.importorskip("sandbox.generator")

NOW = datetime(2024, 5, 3, 12, tzinfo=UTC)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[tuple[str, str]]]:
    """Every reading of a phone, counted by (value, region): a ``phonenumbers.parse`` call, or
    a plainly written North American number read without one (``_north_american``); caches
    start empty."""
    calls: Counter[tuple[str, str]] = Counter()
    real = phonenumbers.parse
    plain = normalizers._north_american

    def counting(value: str, region: str | None = None, *args: object) -> object:
        calls[(value, str(region))] += 1
        return real(value, region, *args)  # type: ignore[arg-type]

    def counting_plain(value: str, region: str) -> str | None:
        national = plain(value, region)
        if national is not None:
            calls[(value, region)] += 1
        return national

    monkeypatch.setattr(phonenumbers, "parse", counting)
    monkeypatch.setattr(normalizers, "_north_american", counting_plain)
    forget_phones()
    yield calls
    forget_phones()


def test_every_policy_together_parses_each_phone_once(parses: Counter[tuple[str, str]]) -> None:
    dataset = generator.generate(600, seed=5, now=NOW)
    snapshot = Snapshot("generated", NOW, canonical_records(dataset))
    policies = build_policies(PoliciesSettings())
    assert {"normalize", "dedupe"} <= {p.name for p in policies}
    for policy in policies:
        policy(snapshot)
    phones = {
        value
        for records in snapshot.records.values()
        for r in records
        for name, value in r.properties.items()
        if "phone" in name and value and value.strip()
    }
    assert len(phones) > 300
    assert parses, "no phone was parsed"
    assert max(parses.values()) == 1, parses.most_common(3)
    # every phone is read as written, and its canonical form is known to read back as the same
    # number without a parse (US numbers: their area codes never start with the prefix 1)
    assert {value for value, _ in parses} <= phones


def test_normalize_after_dedupe_parses_no_phone_again(parses: Counter[tuple[str, str]]) -> None:
    # the engine runs dedupe (learning, then matching) before normalize: dedupe's feature
    # extraction reads every phone once; normalize's forms, validity checks and flags reuse
    # those readings, and it reads back only the canonical forms it writes that are not known
    # to read as themselves (normalizers._reads_back: a check dedupe's keys do not need)
    dataset = generator.generate(600, seed=5, now=NOW)
    snapshot = Snapshot("generated", NOW, canonical_records(dataset))
    policies = {p.name: p for p in build_policies(PoliciesSettings())}
    policies["dedupe"](snapshot)
    read_by_dedupe = Counter(parses)
    assert sum(read_by_dedupe.values()) > 300
    changes = policies["normalize"](snapshot)
    written = {c.new for c in changes if isinstance(c, Update) and c.field == "phone"}
    assert written
    assert max(parses.values()) == 1, "normalize parsed phones dedupe had read"
    read_by_normalize = {value for value, _ in set(parses) - set(read_by_dedupe)}
    keys = {
        normalizers.phone_key(value, region) for value, region in read_by_dedupe
    }  # the readings dedupe made, no parse: all cached
    assert read_by_normalize <= keys
    assert written <= keys


def test_a_checked_phone_is_normalized_and_keyed_without_another_parse(
    parses: Counter[tuple[str, str]],
) -> None:
    raw = "(555) 123-4567 x12"
    assert normalizers.phone_problem(raw, "US", require_valid=False) is None
    assert normalize_phone(raw, "us", require_valid=False) == "+15551234567;ext=12"
    assert normalizers.phone_key(raw, "US") == "+15551234567;ext=12"
    assert normalizers.phone_problem(raw, "US") == "is not a valid, assigned number"
    assert parses == Counter({(raw, "US"): 1})  # its form is known to read back as itself


def test_a_form_not_known_to_read_back_is_parsed_to_see(
    parses: Counter[tuple[str, str]],
) -> None:
    # after Australia's country code a 0 is a national prefix: the form of 00212345678 is
    # +610212345678, which reads back as +61212345678, another number
    assert normalize_phone("00212345678", "AU", require_valid=False) is None
    assert parses == Counter({("00212345678", "AU"): 1, ("+610212345678", "AU"): 1})


_LOCAL = st.text(alphabet="abz09._+-!#'\"@ é", min_size=0, max_size=12)
_DOMAIN = st.text(alphabet="abcxyz019.-_[]@ ", min_size=0, max_size=14)
_TLD = st.sampled_from(["", ".com", ".co.uk", ".test", ".localhost", ".c0m", ".x", "."])


@given(local=_LOCAL, domain=_DOMAIN, tld=_TLD)
def test_email_problem_says_what_the_validator_says(local: str, domain: str, tld: str) -> None:
    address = f"{local}@{domain}{tld}"
    try:
        validate_email(address, check_deliverability=False)
        expected = None
    except EmailNotValidError as exc:
        expected = str(exc)
    assert email_problem(address) == expected


def test_a_long_plain_address_gets_the_full_check() -> None:
    address = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".com"  # over 254 characters
    assert email_problem(address) is not None
    assert email_problem("jane.doe+crm@example.co.uk") is None


def _two_full_readings(value: str, region: str, require_valid: bool) -> str | None:
    """What normalize_phone gave when it checked the canonical form as it checks a value: the
    form, kept if reading it again gives a valid (possible) number of the same form."""

    def form(text: str) -> str | None:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return None
        ok = phonenumbers.is_valid_number if require_valid else phonenumbers.is_possible_number
        if not ok(number):
            return None
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return f"{e164};ext={number.extension}" if number.extension else e164

    canonical = form(value)
    if canonical is None or canonical == value:
        return canonical
    return canonical if form(canonical) == canonical else None


@given(
    prefix=st.sampled_from(["", "0", "00", "+", "+1 ", "(0)"]),
    digits=st.text(alphabet="0123456789", min_size=5, max_size=13),
    extension=st.sampled_from(["", " x12", " ext. 7"]),
    region=st.sampled_from(["US", "GB", "DE", "IT", "BR", "AR", "MX", "TZ", "LT", "TW", "IN"]),
    require_valid=st.booleans(),
)
def test_the_form_read_back_is_asked_only_its_form(
    prefix: str, digits: str, extension: str, region: str, require_valid: bool
) -> None:
    # a form read back as itself is the same number: it is valid exactly when the value is
    value = prefix + digits + extension
    expected = _two_full_readings(value, region, require_valid)
    assert normalize_phone(value, region, require_valid=require_valid) == expected
    if expected is not None and expected != value:
        # the form's reading answers with the value's checks: what a reading of its own says
        number = phonenumbers.parse(expected, region)
        reading = read_phone(expected, region)
        assert reading is not None
        assert reading.valid == phonenumbers.is_valid_number(number)
        assert reading.possible == phonenumbers.is_possible_number(number)


def test_the_checks_of_a_form_read_back_are_asked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: Counter[str] = Counter()
    real = phonenumbers.is_valid_number

    def counting(number: phonenumbers.PhoneNumber) -> bool:
        asked[phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)] += 1
        return bool(real(number))

    monkeypatch.setattr(phonenumbers, "is_valid_number", counting)
    forget_phones()
    raw = "(646) 407-6920"
    assert normalize_phone(raw, "US") == "+16464076920"
    # normalize's idempotence check and its flag ask the form what they asked the value
    assert normalize_phone("+16464076920", "US") == "+16464076920"
    assert normalizers.phone_problem("+16464076920", "US") is None
    assert asked == Counter({"+16464076920": 1})
    forget_phones()


def test_a_form_that_does_not_read_back_is_no_canonical_form() -> None:
    # Tanzania: 0080964217400 is written +255080964217400, which reads as +25580964217400
    assert read_phone("0080964217400", "TZ") is not None
    assert normalize_phone("0080964217400", "TZ", require_valid=False) is None
    reading = read_phone("+255080964217400", "TZ")
    assert reading is not None
    assert reading.form == "+25580964217400"


def test_readings_shared_by_threads_answer_as_one_thread_does() -> None:
    # the service runs several sources' cycles on threads of their own, and they share the
    # readings: a form tied to its value's reading, or a number let go, by one thread while
    # another asks must not change an answer nor fail
    values = [f"({n % 900 + 100:03d}) {n % 800 + 200:03d}-{n:04d}" for n in range(0, 4000, 7)]
    values += [f"+4930{n:07d}" for n in range(0, 4000, 11)]

    def answers() -> list[tuple[object, ...]]:
        out: list[tuple[object, ...]] = []
        for value in values:
            form = normalize_phone(value, "US", require_valid=False)
            reading = read_phone(form or value, "US")
            out.append(
                (
                    form,
                    normalize_phone(value, "US"),
                    normalizers.phone_key(value, "US"),
                    normalizers.phone_problem(value, "US"),
                    None if reading is None else (reading.valid, reading.possible),
                )
            )
        return out

    forget_phones()
    expected = answers()
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads change hands between almost any two steps
    try:
        for _ in range(3):
            forget_phones()
            with ThreadPoolExecutor(max_workers=6) as pool:
                found = list(pool.map(lambda _: answers(), range(6)))
            assert all(f == expected for f in found)
    finally:
        sys.setswitchinterval(switch)
        forget_phones()


def test_a_phone_key_takes_one_parse(parses: Counter[tuple[str, str]]) -> None:
    # a comparison key is the form of the one parse: not read back as a canonical form is
    assert normalizers.phone_key("(415) 555-0132", "US") == "+14155550132"
    assert parses == Counter({("(415) 555-0132", "US"): 1})
    # a form that does not read back as itself still keys its number, not the raw digits
    assert normalize_phone("0012345678", "AU", require_valid=False) is None
    assert normalizers.phone_key("0012345678", "AU") == "+61012345678"
