"""What dedupe compares: each record's fields normalized once, into plain comparable values.

Values go through the normalize module's functions first (e-mail, phone, domain, country), then
are folded (accents stripped, case folded) and, for names and organisations, reduced to letters
so that punctuation and honorifics do not count as differences.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import jellyfish
import phonenumbers

from model.records import Record
from policies.dedupe.nicknames import nicknames
from policies.geo import country_code
from policies.normalizers import (
    collapse_whitespace,
    fold,
    normalize_domain,
    normalize_email,
    normalize_email_list,
    phone_key,
)

_WORD = re.compile(r"[^\W\d_]+|\d+")
_NAME_NOISE = frozenset((
    "mr", "mrs", "ms", "miss", "dr", "prof", "sir", "jr", "sr", "ii", "iii", "iv", "phd", "md",
    "esq", "mba", "cpa",
))  # fmt: skip
_LEGAL = frozenset((
    "inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "corp", "corporation", "co",
    "company", "gmbh", "ag", "sa", "sas", "sarl", "plc", "bv", "nv", "oy", "ab", "as", "pty",
    "pte", "srl", "spa", "kk", "the", "and",
))  # fmt: skip
_STREET = {
    "street": "st", "avenue": "ave", "av": "ave", "road": "rd", "boulevard": "blvd",
    "drive": "dr", "lane": "ln", "court": "ct", "place": "pl", "suite": "ste", "apartment": "apt",
    "highway": "hwy", "parkway": "pkwy", "square": "sq", "terrace": "ter", "north": "n",
    "south": "s", "east": "e", "west": "w", "floor": "fl", "building": "bldg", "unit": "ste",
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

    @property
    def id(self) -> str:
        """The record id."""
        return self.record.id

    def show(self, field: str) -> str:
        """The record's own (trimmed) value of a field, for reasons."""
        return collapse_whitespace(self.record.properties.get(field) or "")


def words(value: str | None) -> list[str]:
    """The folded words of a value (letters runs and digit runs)."""
    return _WORD.findall(fold(value)) if value else []


def name_key(value: str | None, *, first_name: bool = False) -> str:
    """A person's name as letters, no honorifics or suffixes (``'Dr. Mary-Ann'`` → ``'maryann'``).

    With ``first_name``, initials are dropped when a full name follows (``'J. Robert'`` →
    ``'robert'``); a lone initial stays (``'J.'`` → ``'j'``).
    """
    kept = [w for w in words(value) if w not in _NAME_NOISE and not w.isdigit()]
    if first_name and len(kept) > 1:
        kept = [w for w in kept if len(w) > 1] or kept[:1]
    return "".join(kept)


def org_key(value: str | None) -> str:
    """An organisation name's words without legal suffixes (``'ACME, Inc.'`` → ``'acme'``)."""
    kept = [w for w in words(value) if w not in _LEGAL]
    return " ".join(kept) or " ".join(words(value))


def address_key(value: str | None) -> str:
    """A street address's words, common street words abbreviated."""
    return " ".join(_STREET.get(w, w) for w in words(value))


def zip_key(value: str | None, country: str | None) -> str:
    """A postal code: US zip+4 cut to 5 digits; others as letters and digits, upper case."""
    text = "".join(ch for ch in (value or "") if ch.isalnum()).upper()
    if country in (None, "US") and text[:5].isdigit():
        return text[:5]
    return text


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
        org=org_key(props.get("name" if is_company else "company")),
        domain=domain,
        address=address_key(props.get("address")),
        city=" ".join(words(props.get("city"))),
        zip=zip_key(props.get("zip"), country),
        created=_created(record),
        updated=record.updated_at,
        filled=sum(1 for v in props.values() if v is not None and v.strip()),
    )


def first_initials(first: str) -> frozenset[str]:
    """Initials a first name may be filed under, its formal names' included (bob → b, r)."""
    return nicknames().initials(first)


def soundex(name: str) -> str:
    """American Soundex code of a folded name (``'robert'`` → ``'R163'``); ``''`` when empty."""
    letters = "".join(ch for ch in name if "a" <= ch <= "z")
    return jellyfish.soundex(letters) if letters else ""
