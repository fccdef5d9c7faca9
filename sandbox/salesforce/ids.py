"""Salesforce record ids: a 3-character key prefix per object, 12 more characters, and a
3-character checksum that makes the 15-character case-sensitive id case-insensitive (18)."""

from __future__ import annotations

import re
import string

_ALPHABET = string.ascii_uppercase + "012345"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
ID_18 = re.compile(r"^[a-zA-Z0-9]{18}$")
ID_15 = re.compile(r"^[a-zA-Z0-9]{15}$")

#: Key prefixes of the objects the sandbox serves (the first three characters of every id).
PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Opportunity": "006",
    "Group": "00G",
    "Lead": "00Q",
    "Task": "00T",
    # every field history object shares one prefix (?: 017 is AccountHistory's, ContactHistory's
    # and LeadHistory's in real orgs; OpportunityFieldHistory's is assumed the same)
    "LeadHistory": "017",
    "ContactHistory": "017",
    "AccountHistory": "017",
    "OpportunityFieldHistory": "017",
    "Organization": "00D",
    "BulkJob": "750",
    "QueryLocator": "01g",
}


def checksum(id15: str) -> str:
    """The three characters that extend a 15-character id to 18: for each run of five
    characters, a bit per upper-case letter (lowest bit first), as one character of
    ``A..Z0..5``."""
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, ch in enumerate(id15[start : start + 5]) if ch.isupper())
        suffix += _ALPHABET[bits]
    return suffix


def make_id(prefix: str, number: int, pod: str = "5g") -> str:
    """The 18-character id of the ``number``-th record with key ``prefix``: prefix, a two
    character instance part, a base-62 counter, checksum."""
    digits = ""
    value = number
    while True:
        value, rest = divmod(value, 62)
        digits = _BASE62[rest] + digits
        if value == 0:
            break
    body = f"{prefix}{pod}{digits.rjust(10, '0')}"
    if len(body) != 15:
        raise ValueError(f"counter {number} does not fit an id")
    return body + checksum(body)


def normalize(record_id: str) -> str | None:
    """The 18-character form of a 15- or 18-character id, or None when it is not one (an
    18-character id with a wrong checksum is not one either)."""
    if ID_15.match(record_id):
        return record_id + checksum(record_id)
    if ID_18.match(record_id) and checksum(record_id[:15]) == record_id[15:].upper():
        return record_id[:15] + checksum(record_id[:15])
    return None
