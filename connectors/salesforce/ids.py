"""Salesforce record ids as the connector meets them: 15 characters (case-sensitive) or 18
(with a 3-character checksum that makes them case-insensitive). SOQL refuses a filter naming a
string that is no id (``INVALID_QUERY_FILTER_OPERATOR``), so ids are checked before they are
sent."""

from __future__ import annotations

import re
import string

_ALPHABET = string.ascii_uppercase + "012345"
_SHAPE = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")


def _checksum(id15: str) -> str:
    return "".join(
        _ALPHABET[sum(1 << i for i, ch in enumerate(id15[start : start + 5]) if ch.isupper())]
        for start in (0, 5, 10)
    )


def full_id(record_id: str) -> str | None:
    """The 18-character form of an id, or ``None`` when the string is no Salesforce id (an
    18-character string whose checksum does not match its first 15 is none either)."""
    if not _SHAPE.match(record_id):
        return None
    body = record_id[:15]
    expected = body + _checksum(body)
    if len(record_id) == 18 and record_id[15:].upper() != expected[15:]:
        return None
    return expected


def soql_ids(ids: list[str]) -> str:
    """A SOQL ``IN`` list of ids (already checked): ``('001...', '001...')``."""
    return "(" + ", ".join(f"'{i}'" for i in ids) + ")"
