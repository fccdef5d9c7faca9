"""Value normalizers: pure functions from one field value to its canonical form.

Each function takes a string and returns the canonical string, or ``None`` when it cannot
normalize the value (it is then left alone by the caller). Every function is idempotent on its
own output: ``f(f(x)) == f(x)``. The normalize policy applies them to records; dedupe reuses them
to compare values.

Canonical forms:

- whitespace: leading/trailing whitespace removed, inner runs collapsed to one space.
- e-mail: trimmed and lower-cased (no other rewriting: ``j.doe+x@gmail.com`` stays as is).
- e-mail list (``additional_emails``): each ``;``-separated item as an e-mail, empty items
  and repeats dropped, joined with ``;``.
- phone: E.164 (``+14155550132``); an extension follows in RFC 3966 syntax,
  ``+14155550132;ext=123`` (phonenumbers reads that form back as the same number and
  extension, so it is stable; it is also the form the sandbox generator's ground truth uses).
- domain: lower-case host name without scheme, ``www.``, port, path or trailing dot.

Validity checks (:func:`email_problem`, :func:`phone_problem`) say why a value cannot be
normalized; the normalize policy flags such a value instead of rewriting it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from sys import intern

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat

EXTENSION_SEPARATOR = ";ext="
"""How an extension follows the E.164 number in the canonical phone form."""

#: How many phone readings (and e-mail verdicts) the per-process caches keep: enough for every
#: phone of a million-record snapshot to be parsed once across all policies of a run (about
#: 250 bytes an entry). A phone takes two entries when it is not written in its canonical form
#: and the form must be read back to be known as one (a few per cent: see
#: :func:`normalize_phone`). A bounded LRU: a larger snapshot costs
#: parses again, never memory. Past the bound, every policy that reads the phones after
#: another parses all of them again (LRU over a cycle longer than itself): at 1<<20, a million
#: generated contacts hold 1.1 million readings (717k phones, 694k distinct).
CACHE_SIZE = 1 << 21

# phonenumbers compiles its metadata's patterns through ``re``, whose own cache (512 patterns)
# the patterns of a few dozen regions overflow, so a run of many regions' numbers compiles them
# again and again: keeping them all (a bounded set: the metadata's) makes parsing and
# validating about a tenth cheaper (``phonenumbers.enable_pattern_cache``, since 9.0.43).
phonenumbers.enable_pattern_cache()

_DOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")


def collapse_whitespace(value: str) -> str:
    """``value`` stripped, with every inner run of whitespace replaced by one space."""
    return " ".join(value.split())


def normalize_email(value: str) -> str:
    """An e-mail address trimmed and lower-cased."""
    return value.strip().lower()


def normalize_email_list(value: str) -> str:
    """A ``;``-joined list of e-mails, each normalized; empty items and repeats dropped."""
    seen: dict[str, None] = {}
    for item in value.split(";"):
        email = normalize_email(item)
        if email:
            seen.setdefault(email, None)
    return ";".join(seen)


def email_problem(value: str) -> str | None:
    """Why ``value`` is not a syntactically valid e-mail address, or ``None`` if it is one.

    ``email-validator``'s syntax and domain-name checks, no DNS look-up
    (``check_deliverability=False``). Check the normalized (trimmed, lower-case) form.

    Most of the validator's time goes to the domain, which a few thousand addresses share: an
    address whose part before the ``@`` is plain (letters, digits, ``._+-``: a dot-atom the
    validator always accepts) and that is well under the length limit is valid exactly when
    its domain is, and the domain's verdict is cached. Any other address, and any address
    whose domain fails, gets the validator's full check (and its exact message).
    """
    plain = _PLAIN_ADDRESS.match(value) if len(value) <= _PLAIN_MAX else None
    if plain is not None and _email_problem(f"a@{plain.group(1)}") is None:
        return None
    return _email_problem(value)


#: An address the validator accepts exactly when it accepts its domain: a dot-atom of plain
#: characters before the one ``@``, a lower-case ASCII host after it, 200 characters at most
#: (the limit is 254).
_PLAIN_MAX = 200
_PLAIN_ADDRESS = re.compile(r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@([a-z0-9.-]+)\Z")


@lru_cache(maxsize=CACHE_SIZE)
def _email_problem(value: str) -> str | None:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def email_list_problems(value: str) -> list[tuple[str, str]]:
    """(item, why) for each item of a ``;``-joined e-mail list that is not a valid address."""
    found: list[tuple[str, str]] = []
    for item in normalize_email_list(value).split(";"):
        problem = email_problem(item) if item else None
        if problem is not None:
            found.append((item, problem))
    return found


class PhoneReading:
    """What one ``phonenumbers.parse`` of a value tells: its E.164 form (with ``;ext=N``),
    whether it is a valid, assigned number and whether its length is possible.

    Each check runs when first asked, and once: a canonical form read back to see that it is
    a fixed point is asked for nothing but its form (the validity check costs about what the
    parse does). The parsed number is let go once both are known, or once the reading is
    known to be :meth:`same_as` another's. A North American reading keeps no number at all:
    it is built from its form when validity is asked (190 bytes a phone held from dedupe's
    features to the normalize policy's checks, 110 MB at a million contacts).
    """

    __slots__ = ("_from_form", "_number", "_possible", "_same", "_valid", "fixed", "form")

    def __init__(
        self,
        number: phonenumbers.PhoneNumber,
        *,
        form: str | None = None,
        possible: bool | None = None,
        from_form: bool = False,
    ) -> None:
        if form is None:
            e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
            form = f"{e164}{EXTENSION_SEPARATOR}{number.extension}" if number.extension else e164
        self.form = form
        #: Whether ``form`` is known to read back as this very number without parsing it
        #: (:func:`_reads_back`); when not, :func:`normalize_phone` parses it to see
        self.fixed = _reads_back(number)
        # with ``from_form`` the number is not kept: it is built from ``form`` when asked
        self._number: phonenumbers.PhoneNumber | None = None if from_form else number
        self._valid: bool | None = None
        self._possible: bool | None = possible
        self._same: PhoneReading | None = None
        self._from_form = from_form

    @classmethod
    def north_american(cls, national: str) -> PhoneReading:
        """The reading of ``+1`` and ``national`` (ten digits, the first 2-9), as parsing gives
        it, its form told without asking phonenumbers (``+1`` and the digits), and that ten
        digits are a possible length for every region of country code 1. Whether it is valid
        is asked when asked."""
        number = _north_american_number(national)
        return cls(number, form=f"+1{national}", possible=True, from_form=True)

    def same_as(self, other: PhoneReading) -> None:
        """This reading is of the number ``other`` read (its canonical form read back as
        itself: the same country code and national number): its checks are ``other``'s,
        asked once for both."""
        assert other.form == self.form
        if other is not self:
            # readings are shared by the runs of several sources on their threads: ``_same``
            # is set before the number is let go, and :meth:`_answer` reads them the other way
            self._same = other
            self._number = None

    @property
    def valid(self) -> bool:
        """Whether it is a valid, assigned number (``is_valid_number``)."""
        if self._valid is None:
            self._valid = self._answer("valid", phonenumbers.is_valid_number)
            self._let_go()
        return self._valid

    @property
    def possible(self) -> bool:
        """Whether its length is possible for its region (``is_possible_number``)."""
        if self._possible is None:
            self._possible = self._answer("possible", phonenumbers.is_possible_number)
            self._let_go()
        return self._possible

    def _answer(self, name: str, check: Callable[[phonenumbers.PhoneNumber], bool]) -> bool:
        """The check ``name`` (``valid``, ``possible``): the same reading's answer, or the
        parsed number's."""
        number, same = self._number, self._same  # in this order: see same_as
        if same is not None:
            return bool(getattr(same, name))
        if self._from_form and getattr(self, f"_{name}") is None:
            number = _north_american_number(self.form[2:])
        if number is not None:
            return bool(check(number))
        # another thread let the number go: only once both answers were kept (_let_go)
        known = getattr(self, f"_{name}")
        assert known is not None
        return bool(known)

    def _let_go(self) -> None:
        if self._valid is not None and self._possible is not None:
            self._number = None


def _north_american_number(national: str) -> phonenumbers.PhoneNumber:
    """The number ``phonenumbers.parse`` reads from a plainly written North American phone
    whose ten national digits are ``national``."""
    return phonenumbers.PhoneNumber(country_code=1, national_number=int(national))


def _reads_back(number: phonenumbers.PhoneNumber) -> bool:
    """Whether the E.164 form of ``number`` parses as ``number`` again, told without parsing it.

    ``phonenumbers.parse`` of ``+<country code><national significant number>`` takes the
    country code (country codes are prefix-free: the same one), then strips a national prefix
    from the rest only where the metadata's ``national_prefix_for_parsing`` pattern of the
    code's main region matches at its start; the leading zeros it keeps are the number's own.
    Where the pattern does not match (a US number's area code never starts with the prefix
    ``1``), nothing is stripped and the number read is this one. Where it does (about 3 % of
    the numbers of every region's examples and their variants), the form is parsed to see:
    some read back as another number (national zeros after some country codes). Checked
    against parsing over every region's example numbers (tests/policies).
    """
    code = number.country_code
    if code is None:
        return False
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(
        code, phonenumbers.region_code_for_country_code(code)
    )
    if metadata is None:
        return False
    prefix = metadata.national_prefix_for_parsing
    if not prefix:
        return True
    return re.match(prefix, phonenumbers.national_significant_number(number)) is None


def _region(region: str) -> str:
    """``region`` upper-cased, as one string per region: the readings' cache keys hold it."""
    return intern(region.upper())


#: Canonical forms known to read back as a number already read (:func:`normalize_phone`), by
#: ``(form, region)``: the number's reading, so that asking about the form parses nothing.
#: Bounded like the readings: emptied when it reaches :data:`CACHE_SIZE` entries.
_FORMS: dict[tuple[str, str], PhoneReading] = {}


def read_phone(value: str, region: str) -> PhoneReading | None:
    """``value`` read as a phone number of ``region`` (upper-case alpha-2), ``None`` when
    phonenumbers cannot read it. The one place that parses a phone: every policy's checks and
    forms of the same ``(value, region)`` come from one parse per run, and a canonical form
    :func:`normalize_phone` wrote from a value is read as that value was."""
    return _FORMS.get((value, region)) or _parse_phone(value, region)


def forget_phones() -> None:
    """Empty the readings (tests count parses from nothing)."""
    _parse_phone.cache_clear()
    _FORMS.clear()


@lru_cache(maxsize=CACHE_SIZE)
def _parse_phone(value: str, region: str) -> PhoneReading | None:
    if not value.strip():
        return None
    national = _north_american(value, region)
    if national is not None:
        return PhoneReading.north_american(national)
    try:
        number = phonenumbers.parse(value, region)
    except NumberParseException:
        return None
    return PhoneReading(number)


_NANP_REGIONS = frozenset(("US", "CA"))
_PLAINLY_WRITTEN = re.compile(r"\+?[0-9 ().\-]+")
_NOT_DIGITS = re.compile(r"[^0-9]")


def _north_american(value: str, region: str) -> str | None:
    """The national number (ten digits) ``phonenumbers.parse(value, region)`` finds in a North
    American number written plainly, worked out without parsing; ``None`` for any other value
    (parse it).

    Plainly: digits and the separators ``( ) . -`` and spaces only, a ``+`` first if any; ten
    digits read in the US or Canada, or eleven starting with the country code 1 (with a ``+``
    or without); the area code starting with 2-9 (as every assigned one does: the national
    prefix ``1`` is then never stripped, and the general pattern matches). That is three in
    four phones of a North American CRM (of generated contacts: 53,697 of 71,714), and
    reading phones was about 40 % of the time dedupe spends reading records. Checked against
    ``parse`` over such values and their near misses (tests/policies/test_normalizers.py).
    """
    if region not in _NANP_REGIONS:
        return None
    text = value.strip()
    if not _PLAINLY_WRITTEN.fullmatch(text):
        return None
    digits = _NOT_DIGITS.sub("", text)
    if len(digits) == 11 and digits[0] == "1":
        national = digits[1:]
    elif len(digits) == 10 and text[0] != "+":
        national = digits
    else:
        return None
    if national[0] in "01":
        return None
    return national


def phone_problem(value: str, region: str, *, require_valid: bool = True) -> str | None:
    """Why ``value`` is not a phone number :func:`normalize_phone` accepts, or ``None``."""
    if not value.strip():
        return None
    reading = read_phone(value, _region(region))
    if reading is None:
        return "cannot be read as a phone number"
    if normalize_phone(value, region, require_valid=require_valid) is not None:
        return None
    if require_valid and reading.possible:
        return "is not a valid, assigned number"
    return "does not have a possible length for its region"


def normalize_phone(value: str, region: str, *, require_valid: bool = True) -> str | None:
    """The E.164 form of a phone number (plus ``';ext=N'``), or ``None`` if it is not one.

    ``region`` (ISO 3166-1 alpha-2) is how a number without ``+`` country code is read. With
    ``require_valid`` the number must be a valid, assigned number for its region (phonenumbers'
    ``is_valid_number``); without it, a number of plausible length is enough
    (``is_possible_number``: ``(555) 123-4567`` passes).
    """
    region = _region(region)
    canonical = _phone_form(value, region, require_valid)
    if canonical is None or canonical == value:
        return canonical
    reading = read_phone(value, region)
    assert reading is not None  # it gave ``canonical``
    if reading.fixed:  # the form reads back as this number: each phone is parsed once
        if len(_FORMS) >= CACHE_SIZE:
            _FORMS.clear()
        _FORMS[(canonical, region)] = reading  # asked about later, it is this reading
        return canonical
    # phonenumbers does not read every E.164 form it writes back as the same number (national
    # zeros after some country codes): a form that is not a fixed point is no canonical form.
    # A form read back as itself is the same number (country code and national number), so it
    # is valid (possible) exactly when the value is: its form is all that is asked of it.
    again = read_phone(canonical, region)
    if again is None or again.form != canonical:
        return None
    again.same_as(reading)  # the form's checks, asked of it later, are the value's
    return canonical


def _phone_form(value: str, region: str, require_valid: bool) -> str | None:
    reading = read_phone(value, region)
    if reading is None or not (reading.valid if require_valid else reading.possible):
        return None
    return reading.form


def check_region(value: str) -> str:
    """``value`` as an upper-case phone region phonenumbers knows; ``ValueError`` otherwise."""
    region = value.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {value!r} (use an ISO 3166-1 alpha-2 code)")
    return region


def phone_key(value: str, region: str) -> str | None:
    """A comparison key for a phone: its canonical form, leniently parsed.

    Like :func:`normalize_phone` (extension included) but accepts any *possible* number, so
    test numbers like 555-0100 still compare, and a form that does not read back as itself
    (national zeros after some country codes) still keys its number; falls back to the bare
    digits when phonenumbers cannot read it but it has at least 7 digits.
    :func:`split_extension` separates the parts.
    """
    reading = read_phone(value, _region(region))
    if reading is not None and reading.possible:
        # the form itself, not checked to read back as itself as a canonical form must be
        # (normalize_phone): a key need only be the same for the same number, and one parse
        # gives it (the check parsed most phones twice)
        return reading.form
    digits = "".join(ch for ch in value if ch.isdigit())
    return digits if len(digits) >= 7 else None


def split_extension(phone: str) -> tuple[str, str]:
    """``'+14155550132;ext=12'`` → ``('+14155550132', '12')``; no extension → ``''``."""
    number, _, extension = phone.partition(EXTENSION_SEPARATOR)
    return number, extension


_PARTICLES = frozenset(
    ("de", "del", "della", "la", "van", "von", "der", "den", "du", "da", "dos", "das", "ten", "ter")
)
_WORD_PARTS = re.compile(r"([-'’])")


def normalize_name_case(value: str) -> str:
    """A person's name typed in all capitals or all lower case, in name case.

    ``'JEAN-PIERRE'`` → ``'Jean-Pierre'``, ``"o'brien"`` → ``"O'Brien"``, ``'MCDONALD'`` →
    ``'McDonald'``, ``'VAN DER BERG'`` → ``'van der Berg'`` (particles stay lower case before a
    surname). A value with mixed case is someone's deliberate spelling and comes back as is.
    """
    once = _name_case_once(value)
    # letters whose upper case is two letters (ß → SS) would flip on a second pass: leave them
    return once if _name_case_once(once) == once else value


def _name_case_once(value: str) -> str:
    letters = [ch for ch in value if ch.isalpha()]
    if not letters or not (value == value.upper() or value == value.lower()):
        return value
    words = value.lower().split(" ")
    out: list[str] = []
    for n, word in enumerate(words):
        if word in _PARTICLES and n < len(words) - 1:
            out.append(word)
            continue
        cased = "".join(p[:1].upper() + p[1:] for p in _WORD_PARTS.split(word))
        if len(cased) > 2 and cased.startswith("Mc"):
            cased = "Mc" + cased[2].upper() + cased[3:]
        out.append(cased)
    return " ".join(out)


def normalize_domain(value: str) -> str | None:
    """A bare lower-case domain (``https://www.Acme.com/about`` → ``acme.com``), or ``None``."""
    text = value.strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = re.split(r"[/?#]", text, maxsplit=1)[0]
    text = text.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    if text.startswith("www."):
        text = text[4:]
    return text if _DOMAIN_RE.match(text) else None


_SPECIAL_FOLDS = str.maketrans(
    {"ß": "ss", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "æ": "ae", "Æ": "AE", "đ": "d", "ı": "i"}
)


def fold(value: str) -> str:
    """Accents stripped and case folded, for comparisons (``'Zoë Øst'`` → ``'zoe ost'``)."""
    if value.isascii():  # nothing to decompose, strip or fold beyond the case
        return value.lower()
    decomposed = unicodedata.normalize("NFKD", value.translate(_SPECIAL_FOLDS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def compact(value: str) -> str:
    """Only the letters and digits of :func:`fold` (``'N.Y.'`` → ``'ny'``)."""
    return "".join(ch for ch in fold(value) if ch.isalnum())
