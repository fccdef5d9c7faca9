"""Value normalizers and geographic lookups, on real-world messy inputs."""

from __future__ import annotations

import unicodedata

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from policies.geo import country_code, state_code
from policies.normalizers import (
    PhoneReading,
    _north_american,
    _north_american_number,
    _reads_back,
    collapse_whitespace,
    compact,
    fold,
    normalize_domain,
    normalize_email,
    normalize_email_list,
    normalize_name_case,
    normalize_phone,
    phone_key,
    split_extension,
)

#: Every kind of number phonenumbers has examples of.
PHONE_TYPES = [getattr(PhoneNumberType, n) for n in dir(PhoneNumberType) if n.isupper()]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Jane  ", "Jane"),
        ("Acme\t\tCorp", "Acme Corp"),
        ("1 Main St.\n Suite 4", "1 Main St. Suite 4"),
        ("\u00a0Zoë\u2003Ng ", "Zoë Ng"),
        ("   ", ""),
        ("clean", "clean"),
    ],
)
def test_collapse_whitespace(raw: str, expected: str) -> None:
    assert collapse_whitespace(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("JANE", "Jane"),
        ("doe", "Doe"),
        ("JEAN-PIERRE", "Jean-Pierre"),
        ("o'brien", "O'Brien"),
        ("MCDONALD", "McDonald"),
        ("VAN DER BERG", "van der Berg"),
        ("de la cruz", "de la Cruz"),
        ("ÉLODIE", "Élodie"),
        ("J.", "J."),
        ("McDonald", "McDonald"),  # mixed case is deliberate: kept
        ("deBoer", "deBoer"),
        ("Ng", "Ng"),
        ("", ""),
    ],
)
def test_normalize_name_case(raw: str, expected: str) -> None:
    assert normalize_name_case(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("BOB+crm@x.io", "bob+crm@x.io"),
        ("already@fine.com", "already@fine.com"),
    ],
)
def test_normalize_email(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("A@b.com; ;a@B.com;c@d.com", "a@b.com;c@d.com"),
        (" x@y.com ;", "x@y.com"),
        (";;", ""),
    ],
)
def test_normalize_email_list(raw: str, expected: str) -> None:
    assert normalize_email_list(raw) == expected


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(415) 555-0132", "US", "+14155550132"),
        ("415.555.0132", "US", "+14155550132"),
        ("+1 (415) 555-0132", "DE", "+14155550132"),
        ("1-415-555-0132", "US", "+14155550132"),
        ("415-555-0132 x123", "US", "+14155550132;ext=123"),
        ("415 555 0132 ext. 9", "US", "+14155550132;ext=9"),
        ("+14155550132;ext=9", "US", "+14155550132;ext=9"),
        ("(415) 555-0132 #123", "US", "+14155550132;ext=123"),
        ("(415) 555-0132 Ext: 45", "US", "+14155550132;ext=45"),
        ("+49 (0)30 2345678", "US", "+49302345678"),
        ("030/2345678", "DE", "+49302345678"),
        ("01.47.12.34.56", "FR", "+33147123456"),
        ("+1 (123) 555-0132", "US", None),  # no such area code
        ("n/a", "US", None),
        ("030 1234567", "DE", "+49301234567"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("1-800-FLOWERS", "US", "+18003569377"),
        # Not valid, assigned numbers: left alone.
        ("(555) 123-4567", "US", None),
        ("555-1234", "US", None),
        ("12", "US", None),
        ("call me maybe", "US", None),
        ("", "US", None),
        ("030 1234567", "US", None),
    ],
)
def test_normalize_phone(raw: str, region: str, expected: str | None) -> None:
    assert normalize_phone(raw, region) == expected


def test_a_form_known_to_read_back_does_so_in_every_region() -> None:
    """A phone is parsed once: its E.164 form is taken as canonical without parsing it where
    ``_reads_back`` says so, which must never be wrong. Every region's example number of every
    type, each with every digit put before it, read nationally and internationally."""
    told = checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in PHONE_TYPES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            national = phonenumbers.national_significant_number(example)
            for text in (
                *(f"0{d}{national}" for d in "0123456789"),
                *(f"+{example.country_code}{d}{national}" for d in "0123456789"),
                national,
            ):
                try:
                    number = phonenumbers.parse(text, region)
                except phonenumbers.NumberParseException:
                    continue
                form = phonenumbers.format_number(number, PhoneNumberFormat.E164)
                checked += 1
                if _reads_back(number):
                    told += 1
                    again = phonenumbers.parse(form, region)
                    assert phonenumbers.format_number(again, PhoneNumberFormat.E164) == form, text
    assert checked > 10_000
    assert told > checked * 0.8  # most forms need no second parse


def test_a_form_that_reads_back_as_another_number_is_no_canonical_form() -> None:
    # Australia's national prefix 0 after its country code: +610212345678 reads back as
    # +61212345678, another number; such a value has no canonical form
    number = phonenumbers.parse("00212345678", "AU")
    assert not _reads_back(number)
    assert normalize_phone("00212345678", "AU", require_valid=False) is None
    assert normalize_phone("+1 (415) 555-0132", "US") == "+14155550132"
    assert _reads_back(phonenumbers.parse("+1 (415) 555-0132", "US"))


def test_normalize_phone_possible_accepts_fictional_numbers() -> None:
    assert normalize_phone("(555) 123-4567", "US", require_valid=False) == "+15551234567"
    assert normalize_phone("12", "US", require_valid=False) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(555) 123-4567 x12", "+15551234567;ext=12"),
        ("555.123.4567", "+15551234567"),
        ("+49 30 1234567", "+49301234567"),
        ("12-34", None),
    ],
)
def test_phone_key_is_lenient(raw: str, expected: str | None) -> None:
    assert phone_key(raw, "US") == expected


def test_split_extension() -> None:
    assert split_extension("+14155550132;ext=12") == ("+14155550132", "12")
    assert split_extension("+14155550132") == ("+14155550132", "")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.Acme.com/about?x=1", "acme.com"),
        ("ACME.COM.", "acme.com"),
        ("www.acme.co.uk", "acme.co.uk"),
        ("http://shop.acme.com:8080", "shop.acme.com"),
        ("acme.com", "acme.com"),
        ("not a domain", None),
        ("localhost", None),
    ],
)
def test_normalize_domain(raw: str, expected: str | None) -> None:
    assert normalize_domain(raw) == expected


def test_fold_and_compact() -> None:
    assert fold("Zoë MÜLLER-Straße") == "zoe muller-strasse"
    assert compact("N.Y.") == "ny"
    assert compact("Québec ") == "quebec"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("USA", "US"),
        ("U.S.", "US"),
        ("u.s.a.", "US"),
        ("United States of America", "US"),
        ("united states", "US"),
        ("US", "US"),
        ("UK", "GB"),
        ("Great Britain", "GB"),
        ("England", "GB"),
        ("United Kingdom", "GB"),
        ("Deutschland", "DE"),
        ("Germany", "DE"),
        ("DEU", "DE"),
        ("Germnay", "DE"),
        ("Untied States", "US"),
        ("Canada", "CA"),
        ("México", "MX"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("South Korea", "KR"),
        ("Holland", "NL"),
        ("GER", "DE"),
        ("CAN", "CA"),
        ("Scotland", "GB"),
        ("Korea", None),  # ambiguous
        ("Atlantis", None),
        ("Frnace", None),  # too far from anything to guess safely
    ],
)
def test_country_code(raw: str, expected: str | None) -> None:
    assert country_code(raw) == expected


def test_country_fuzzy_can_be_turned_off() -> None:
    assert country_code("Germnay", 0) is None


@pytest.mark.parametrize(
    ("raw", "countries", "expected"),
    [
        ("Calif.", ("US",), "CA"),
        ("N.Y.", ("US",), "NY"),
        ("new york", ("US",), "NY"),
        ("ny", ("US",), "NY"),
        ("W. Va.", ("US",), "WV"),
        ("Washington D.C.", ("US",), "DC"),
        ("Mass", ("US",), "MA"),
        ("Massachusets", ("US",), "MA"),
        ("WA State", ("US",), "WA"),
        ("New York State", ("US",), "NY"),
        ("N. Carolina", ("US",), "NC"),
        ("P.Q.", ("CA",), "QC"),
        ("Penna.", ("US",), "PA"),
        ("tx", ("US",), "TX"),
        ("Québec", ("CA",), "QC"),
        ("Ont.", ("CA",), "ON"),
        ("British Columbia", ("US", "CA"), "BC"),
        ("Ontario", ("US",), None),  # not a US state
        ("Bavaria", ("US", "CA"), None),
        ("", ("US", "CA"), None),
    ],
)
def test_state_code(raw: str, countries: tuple[str, ...], expected: str | None) -> None:
    assert state_code(raw, countries) == expected


@given(st.text(max_size=40))
def test_text_normalizers_are_idempotent(value: str) -> None:
    for func in (collapse_whitespace, normalize_email, normalize_email_list, normalize_name_case):
        once = func(value)
        assert func(once) == once


@given(
    st.one_of(
        st.from_regex(r"\+?1? ?\(?[2-9]\d{2}\)?[ .-]?\d{3}[ .-]?\d{4}( ?(x|ext\.?) ?\d{1,4})?"),
        st.text(alphabet="0123456789 +-().xext", max_size=25),
    )
)
def test_phone_normalizer_is_idempotent(value: str) -> None:
    once = normalize_phone(value, "US", require_valid=False)
    if once is not None:
        assert normalize_phone(once, "US", require_valid=False) == once
        assert normalize_phone(once, "FR", require_valid=False) == once


@settings(max_examples=2000)
@given(
    st.one_of(
        # plainly written North American numbers, and their near misses: other lengths, a
        # country code or area code starting with 0 or 1, a + before ten digits, letters, an
        # extension
        st.from_regex(r"\A *\+?1?[ -]?\(?[0-9]{3}\)?[ .-]?[0-9]{3}[ .-]?[0-9]{4} *\Z"),
        st.from_regex(r"\A\+?[0-9 ().-]{7,16}\Z"),
        st.text(alphabet="0123456789 +-().xext#/", min_size=1, max_size=20),
    ),
    st.sampled_from(["US", "CA", "GB", "DE"]),
)
def test_a_plainly_written_north_american_number_is_what_parse_gives(
    value: str, region: str
) -> None:
    national = _north_american(value, region)
    if national is None:
        return  # parsed as usual
    assert region in ("US", "CA")
    parsed = phonenumbers.parse(value, region)
    fast = PhoneReading.north_american(national)
    assert fast._number is None  # no number held: it is built from the form when asked
    assert _north_american_number(fast.form[2:]) == parsed  # every field, no extension
    slow = PhoneReading(parsed)
    assert (fast.form, fast.fixed, fast.possible, fast.valid) == (
        slow.form,
        slow.fixed,
        slow.possible,
        slow.valid,
    )


def test_north_american_numbers_skip_the_parse_and_others_do_not() -> None:
    assert _north_american("(212) 555-1234", "US") == "2125551234"
    assert _north_american("+1 416.555.0199", "CA") is not None
    assert _north_american("1-212-555-1234", "US") is not None
    for value, region in [
        ("(212) 555-1234", "GB"),  # read in another region: parsed
        ("+2125551234", "US"),  # a + before ten digits: another country code
        ("(112) 555-1234", "US"),  # no area code starts with 1: parsed
        ("212-555-1234 x12", "US"),  # an extension
        ("1-800-FLOWERS", "US"),  # letters
        ("555-1234", "US"),  # seven digits
    ]:
        assert _north_american(value, region) is None, value
    # the reading is the parse's: its form, validity and possibility
    assert normalize_phone("(212) 555-1234", "US") == "+12125551234"
    assert phone_key("212.555.1234", "US") == "+12125551234"


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=30))
def test_fold_of_ascii_is_the_full_folds(value: str) -> None:
    decomposed = unicodedata.normalize("NFKD", value)
    full = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    assert fold(value) == full
