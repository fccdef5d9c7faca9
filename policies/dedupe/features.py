"""What dedupe compares: each record's fields normalized once, into plain comparable values.

Values go through the normalize module's functions first (e-mail, phone, domain, country), then
are folded (accents stripped, case folded) and, for names and organisations, reduced to letters
so that punctuation and honorifics do not count as differences.
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache

import jellyfish
import phonenumbers

from model.records import Record
from policies.dedupe.nicknames import nicknames
from policies.geo import STATE_COUNTRIES, country_code, state_code
from policies.normalizers import (
    collapse_whitespace,
    fold,
    normalize_domain,
    normalize_email,
    normalize_email_list,
    phone_key,
)

_WORD = re.compile(r"[^\W\d_]+|\d+")
#: Honorifics, titles and suffixes: no part of whom a name names. Titles that are also names
#: (Earl, Duke, Prince, King, Major, Bishop) are kept.
_NAME_NOISE = frozenset((
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "jr", "sr", "ii", "iii", "iv", "phd",
    "md", "esq", "mba", "cpa", "lord", "lady", "dame", "rev", "revd", "reverend", "hon", "capt",
    "captain", "col", "colonel", "gen", "general", "adm", "admiral", "lt", "sgt", "baron",
    "baroness", "viscount", "viscountess", "marquess", "countess",
))  # fmt: skip
_LEGAL = frozenset((
    "inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "corp", "corporation", "co",
    "company", "gmbh", "ag", "sa", "sas", "sarl", "plc", "bv", "nv", "oy", "ab", "as", "pty",
    "pte", "srl", "spa", "kk", "the", "and", "se", "kg", "kgaa", "ohg", "ug", "sl", "sau",
    "sprl", "bvba", "ltda", "lda", "asa", "oyj", "aps", "pvt", "pllc", "kft", "zrt", "sro",
    # the words of legal forms written out (naamloze vennootschap: N.V.; kabushiki kaisha: K.K.)
    "naamloze", "naamlooze", "besloten", "vennootschap", "aktiengesellschaft", "kabushiki",
    "kaisha", "anonyme", "gesellschaft", "beschrankter", "haftung",
))  # fmt: skip
_STREET = {
    "street": "st", "avenue": "ave", "av": "ave", "road": "rd", "boulevard": "blvd",
    "drive": "dr", "lane": "ln", "court": "ct", "place": "pl", "suite": "ste", "apartment": "apt",
    "highway": "hwy", "parkway": "pkwy", "square": "sq", "terrace": "ter", "north": "n",
    "south": "s", "east": "e", "west": "w", "floor": "fl", "building": "bldg", "unit": "ste",
    "crescent": "cres", "circuit": "cct", "close": "cl", "way": "wy", "circle": "cir",
    "mount": "mt", "saint": "st", "fort": "ft", "center": "ctr", "centre": "ctr",
    "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
    "apt": "apt", "apmnt": "apt", "flat": "apt", "ste": "ste", "lvl": "fl", "level": "fl",
}  # fmt: skip
_ORDINALS = {
    "first": "1", "second": "2", "third": "3", "fourth": "4", "fifth": "5", "sixth": "6",
    "seventh": "7", "eighth": "8", "ninth": "9", "tenth": "10", "eleventh": "11",
    "twelfth": "12", "thirteenth": "13", "fourteenth": "14", "fifteenth": "15",
    "sixteenth": "16", "seventeenth": "17", "eighteenth": "18", "nineteenth": "19",
    "twentieth": "20", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip
_ORDINAL_SUFFIX = re.compile(r"(\d+)(?:st|nd|rd|th)\b")
#: Words that start a note on where a street address is, not part of it (``747 9th Ave.
#: between 50th and 51st Sts.``, ``156 2nd Ave. at 10th St.``, ``2 Smith St cnr High St``).
_CROSS_STREET = frozenset((
    "between", "btwn", "betw", "at", "near", "nr", "off", "corner", "cnr", "opposite", "opp",
))  # fmt: skip
_PARENTHESISED = re.compile(r"\(([^()]*)\)")
#: Abbreviations of words in organisation names, to one form (``deli`` ~ ``delicatessen``).
_ORG_WORDS = {
    "delicatessen": "deli", "international": "intl", "internationale": "intl",
    "manufacturing": "mfg", "services": "svc", "service": "svc", "svcs": "svc",
    "associates": "assoc", "association": "assoc", "brothers": "bros", "department": "dept",
    "university": "univ", "center": "ctr", "centre": "ctr", "hospital": "hosp",
    "national": "natl", "technologies": "tech", "technology": "tech", "systems": "sys",
    "solutions": "sol", "group": "grp", "holdings": "hldg", "industries": "ind",
    "laboratories": "labs", "laboratory": "labs", "lab": "labs", "restaurant": "rest",
    "cafe": "cafe", "caffe": "cafe", "coffeehouse": "cafe", "saint": "st", "mount": "mt",
    "and": "&", "n": "&", "und": "&",
    "bar-b-q": "bbq", "barbecue": "bbq", "barbeque": "bbq",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Features:
    """One record's comparable values. Empty string or empty tuple means missing."""

    record: Record
    first: str  # letters of the given name, initials dropped ('bob', 'jeanpierre')
    last: str  # letters of the last name ('vanderberg')
    emails: tuple[str, ...]  # normalized, primary first
    phones: tuple[str, ...]  # canonical E.164, ";ext=N" kept
    org: str  # contacts: company; companies: name -- folded words, legal suffixes dropped
    domain: str  # companies: bare domain from domain or website
    address: str  # folded words, street types abbreviated
    city: str
    zip: str
    created: datetime | None
    updated: datetime
    filled: int  # how many properties have a value
    state: str = ""  # folded words of the state or province
    birth: str = ""  # contacts: the date of birth as YYYYMMDD, else its digits (birth_key)

    @property
    def id(self) -> str:
        """The record id."""
        return self.record.id

    def show(self, field: str) -> str:
        """The record's own (trimmed) value of a field, for reasons."""
        return collapse_whitespace(self.record.properties.get(field) or "")


#: The fields of :class:`Features` a :func:`consensus` takes the commonest value of.
_CONSENSUS = ("first", "last", "org", "domain", "address", "city", "zip", "state", "birth")


def consensus(feats: Sequence[Features]) -> Features:
    """What most of the records ``feats`` (one cluster) say, as one record's features: per
    field the value most of the records holding one hold (ties: the smallest, so that the
    records' order does not matter), and their commonest e-mail and phone. Its record and
    dates are the first's."""

    def commonest(values: Counter[str]) -> str:
        return min(values.items(), key=lambda kv: (-kv[1], kv[0]))[0] if values else ""

    found: dict[str, object] = {}
    for field in _CONSENSUS:
        found[field] = commonest(Counter(v for f in feats if (v := getattr(f, field))))
    for field in ("emails", "phones"):
        top = commonest(Counter(v for f in feats for v in getattr(f, field)))
        found[field] = (top,) if top else ()
    return replace(feats[0], **found)  # type: ignore[arg-type]


def words(value: str | None) -> list[str]:
    """The folded words of a value (letters runs and digit runs)."""
    return _WORD.findall(fold(value)) if value else []


#: Distinct values whose keys are remembered per kind of field: names, firms, cities and states
#: repeat across records (100,000 generated contacts hold 2,079 first names), so each is
#: folded and split once. A bounded LRU, as for phones.
KEY_CACHE = 1 << 16


@lru_cache(maxsize=KEY_CACHE)
def name_key(value: str | None, *, first_name: bool = False) -> str:
    """A person's name as letters, no honorifics or suffixes (``'Dr. Mary-Ann'`` → ``'maryann'``).

    With ``first_name``, initials are dropped when a full name follows (``'J. Robert'`` →
    ``'robert'``); a lone initial stays (``'J.'`` → ``'j'``).
    """
    kept = [w for w in words(value) if w not in _NAME_NOISE and not w.isdigit()]
    if first_name and len(kept) > 1:
        kept = [w for w in kept if len(w) > 1] or kept[:1]
    return "".join(kept)


def org_key(value: str | None, places: Sequence[str | None] = ()) -> str:
    """An organisation name's words without legal suffixes (``'ACME, Inc.'`` → ``'acme'``).

    Abbreviations are brought to one form (``delicatessen`` → ``deli``, ``intl``) and street
    ordinals to digits (``ninth`` → ``9``), so that two spellings of one name compare equal. A
    part in parentheses that names one of ``places`` (the record's own city, state or country:
    ``'Spago (Beverly Hills)'``) only says where the firm is and is dropped.
    """
    if value and places and "(" in value:
        named = {" ".join(words(p)) for p in places if p} - {""}
        value = _PARENTHESISED.sub(
            lambda m: " " if " ".join(words(m.group(1))) in named else m.group(0), value
        )
    return _org_words(value)


@lru_cache(maxsize=KEY_CACHE)
def _org_words(value: str | None) -> str:
    """:func:`org_key` of a value without places, remembered: firm names repeat across records."""
    found = _acronyms(_numbered(value))
    kept = [_ORG_WORDS.get(w, w) for w in found if w not in _LEGAL]
    return " ".join(w for w in kept if w != "&") or " ".join(found)


def _acronyms(found: list[str]) -> list[str]:
    """Runs of single letters as one word: a legal form or an acronym written with dots or
    spaces (``N.V.``, ``S.p.A.``, ``A B C``) as it is written without (``nv``, ``spa``,
    ``abc``)."""
    out: list[str] = []
    run: list[str] = []
    for word in [*found, ""]:
        if len(word) == 1 and word.isalpha():
            run.append(word)
            continue
        if run:
            out.extend(["".join(run)] if len(run) > 1 else run)
            run = []
        if word:
            out.append(word)
    return out


def _numbered(value: str | None) -> list[str]:
    """The words of a value with ordinals as digits: ``9th`` and ``ninth`` both → ``9``."""
    if not value:
        return []
    text = _ORDINAL_SUFFIX.sub(r"\1", fold(value))
    return [_ORDINALS.get(w, w) for w in _WORD.findall(text)]


@lru_cache(maxsize=KEY_CACHE)
def address_key(value: str | None) -> str:
    """A street address's words: street words abbreviated, ordinals as digits. Remembered
    (a bounded LRU): records at one address (a firm's office, a household) repeat it.

    A note on where it is that follows a numbered street (``747 9th Ave. between 50th and
    51st``, ``156 2nd Ave. at 10th St.``) is dropped: it names other streets, not this one.
    """
    found = _numbered(value)
    for k, word in enumerate(found):
        if k >= 2 and word in _CROSS_STREET and any(w.isdigit() for w in found[:k]):
            found = found[:k]
            break
    return " ".join(_STREET.get(w, w) for w in found)


def joined(name: str) -> str:
    """A key's words run together (``gist brocades`` -> ``gistbrocades``)."""
    return name.replace(" ", "")


def house_numbers(address: str) -> tuple[str, ...]:
    """The numbers of an address key, leading zeros dropped (``'12 9 st'`` → ``('12', '9')``)."""
    return tuple(w.lstrip("0") or "0" for w in address.split() if w.isdigit())


def street_words(address: str) -> str:
    """An address key without its numbers and unit words: the street's name."""
    skip = {"apt", "ste", "fl", "bldg", "unit"}
    return " ".join(w for w in address.split() if not w.isdigit() and w not in skip)


def zip_key(value: str | None, country: str | None) -> str:
    """A postal code: US zip+4 cut to 5 digits; others as letters and digits, upper case."""
    text = "".join(ch for ch in (value or "") if ch.isalnum()).upper()
    if country in (None, "US") and text[:5].isdigit():
        return text[:5]
    return text


_YMD = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[t\s].*)?")
_PACKED = re.compile(r"(\d{4})(\d{2})(\d{2})")
_NUMERIC = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:\s.*)?")
_ORDINAL = r"(\d{1,2})(?:st|nd|rd|th)?"
_DAY_MONTH = re.compile(_ORDINAL + r"[\s\-/.,]+([a-z]+)\.?[\s\-/.,]+(\d{4})")
_MONTH_DAY = re.compile(r"([a-z]+)\.?[\s\-/.,]+" + _ORDINAL + r",?[\s\-/.,]+(\d{4})")
#: English month names and their abbreviations (``sept`` too), by their first three letters.
_MONTHS = {name[:3].lower(): n for n, name in enumerate(calendar.month_name) if name}


def read_day(value: str) -> date | None:
    """The day a date of birth names, or None when it names none.

    ``1980-05-04`` (a time after it ignored), ``19800504``, ``1980/5/4``; ``5/4/1980`` and
    ``05-04-1980`` month first unless the first number cannot be a month (``25/4/1980``), as the
    CRMs' home (US) writes them; ``4 May 1980``, ``May 4th, 1980``, ``04-May-1980``. A value
    without a day (``1980``, ``May 1980``) or not a calendar day (``1980-02-30``) names none.
    """
    text = value.strip().casefold()
    if found := _YMD.fullmatch(text) or _PACKED.fullmatch(text):
        year, month, day = found.groups()
    elif found := _NUMERIC.fullmatch(text):
        first, second, year = found.groups()
        month, day = (second, first) if int(first) > 12 else (first, second)
    elif found := _DAY_MONTH.fullmatch(text):
        day, name, year = found.groups()
        month = _month(name)
    elif found := _MONTH_DAY.fullmatch(text):
        name, day, year = found.groups()
        month = _month(name)
    else:
        return None
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _month(name: str) -> str:
    """The number of an English month's name or abbreviation (``may``, ``sept``); ``0`` when
    ``name`` is none."""
    number = _MONTHS.get(name[:3], 0)
    full = calendar.month_name[number].casefold()
    return str(number) if number and (full.startswith(name) or name == "sept") else "0"


@lru_cache(maxsize=KEY_CACHE)
def birth_key(value: str | None) -> str:
    """A date of birth as it is compared: ``YYYYMMDD`` when it names a day (:func:`read_day`),
    else its digits (a typo'd ``19800532`` still compares digit by digit); empty when none, when
    fewer than four digits (``n/a``, ``12``) or only zeros (``0000-00-00``, a placeholder)."""
    if not value or not value.strip():
        return ""
    day = read_day(value)
    if day is None:
        digits = "".join(ch for ch in value if ch.isdigit())
        return digits if len(digits) >= 4 and digits.strip("0") else ""
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _emails(props: Mapping[str, str | None]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    primary = normalize_email(props.get("email") or "")
    if "@" in primary:
        found[primary] = None
    for extra in normalize_email_list(props.get("additional_emails") or "").split(";"):
        if "@" in extra:
            found.setdefault(extra, None)
    return tuple(found)


def _phones(props: Mapping[str, str | None], region: str) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for field in ("phone", "mobilephone"):
        raw = props.get(field)
        # phone_key reads through normalizers.read_phone, which remembers every reading: the
        # normalize policy's forms and checks of the same phone parse nothing again
        key = phone_key(raw, region) if raw else None
        if key:
            found.setdefault(key, None)
    return tuple(found)


def _created(record: Record) -> datetime | None:
    if record.created_at is not None:
        return record.created_at
    raw = record.properties.get("created_at")
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None
    except ValueError:
        return None


def extract(record: Record, default_region: str) -> Features:
    """The comparable values of a contact or company record."""
    props = record.properties
    country = country_code(collapse_whitespace(props.get("country") or ""))
    region = country if country in phonenumbers.SUPPORTED_REGIONS else default_region
    is_company = record.object_type == "companies"
    domain = ""
    if is_company:
        domain = normalize_domain(props.get("domain") or "") or ""
        domain = domain or normalize_domain(props.get("website") or "") or ""
    return Features(
        record=record,
        first="" if is_company else name_key(props.get("firstname"), first_name=True),
        last="" if is_company else name_key(props.get("lastname")),
        emails=() if is_company else _emails(props),
        phones=_phones(props, region),
        org=org_key(
            props.get("name" if is_company else "company"),
            (props.get("city"), props.get("state"), props.get("country")),
        ),
        domain=domain,
        address=address_key(props.get("address")),
        city=_city(props.get("city")),
        zip=zip_key(props.get("zip"), country),
        created=_created(record),
        updated=record.updated_at,
        filled=sum(1 for v in props.values() if v and not v.isspace()),
        state=_state(props.get("state"), country),
        birth="" if is_company else birth_key(props.get("birthdate")),
    )


@lru_cache(maxsize=KEY_CACHE)
def _city(value: str | None) -> str:
    return " ".join(words(value))


@lru_cache(maxsize=KEY_CACHE)
def _state(value: str | None, country: str | None) -> str:
    """A state as its code where the tables know it (``'Texas'`` → ``'TX'``), else its words."""
    text = collapse_whitespace(value or "")
    if not text:
        return ""
    countries = (country,) if country in STATE_COUNTRIES else STATE_COUNTRIES
    return state_code(text, countries, fuzzy_cutoff=0) or " ".join(words(text))


def first_initials(first: str) -> frozenset[str]:
    """Initials a first name may be filed under, its formal names' included (bob → b, r)."""
    return nicknames().initials(first)


def deletions(name: str) -> frozenset[str]:
    """``name`` and every string one letter shorter (names of 4 letters or more).

    Two names one typo apart (a letter changed, added, dropped, anywhere, the first one
    included) share at least one of these; so do two names with two letters swapped... mostly.
    """
    if len(name) < 4:
        return frozenset((name,)) if name else frozenset()
    return frozenset((name, *(name[:k] + name[k + 1 :] for k in range(len(name)))))


def phonetic(name: str) -> str:
    """A sound code of a folded name (NYSIIS), ``''`` when empty."""
    letters = "".join(ch for ch in name if "a" <= ch <= "z")
    return jellyfish.nysiis(letters) if letters else ""


def soundex(name: str) -> str:
    """American Soundex code of a folded name (``'robert'`` → ``'R163'``); ``''`` when empty."""
    letters = "".join(ch for ch in name if "a" <= ch <= "z")
    return jellyfish.soundex(letters) if letters else ""
