"""The sandbox's SOQL: a real parser for the subset syncd sends, evaluated as SOQL evaluates,
refused as Salesforce refuses."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from sandbox.salesforce.ids import make_id, normalize
from sandbox.salesforce.soql import SoqlError, matches, parse, run

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
A, B = make_id("003", 1), make_id("003", 2)


def rows() -> list[dict[str, Any]]:
    return [
        {"id": A, "email": "Ann@Acme.com", "systemmodstamp": datetime(2024, 5, 1, 9, tzinfo=UTC),
         "isdeleted": False, "tags__c": "vip;newsletter", "mailingcity": None, "lastname": "Lee"},
        {"id": B, "email": None, "systemmodstamp": datetime(2024, 4, 1, 9, tzinfo=UTC),
         "isdeleted": True, "tags__c": None, "mailingcity": "Oslo", "lastname": "Ray"},
    ]  # fmt: skip


def select(where: str, order: str = "") -> list[str]:
    query = parse(f"SELECT Id FROM Contact WHERE {where} {order}".strip(), now=lambda: NOW)
    return [r["id"] for r in run(query, rows())]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("SystemModstamp >= 2024-04-15T00:00:00Z", [A]),
        ("SystemModstamp > 2024-04-01T09:00:00.000+00:00", [A]),
        ("SystemModstamp = 2024-04-01T09:00:00Z", [B]),
        ("Email = 'ann@acme.com'", [A]),  # text compares without case
        ("Email != null", [A]),
        ("Email = null", [B]),
        ("MailingCity != 'Oslo'", [A]),  # null is not 'Oslo'
        (f"Id IN ('{A[:15]}', 'x0000000000000a')".replace("'x0000000000000a'", f"'{B}'"), [A, B]),
        (f"Id NOT IN ('{A}')", [B]),
        ("LastName LIKE 'l%'", [A]),
        ("Tags__c INCLUDES ('vip')", [A]),
        ("Tags__c EXCLUDES ('vip')", [B]),
        ("IsDeleted = true", [B]),
        ("NOT IsDeleted = true", [A]),
        ("(IsDeleted = true OR Email = 'ann@acme.com') AND LastName = 'Ray'", [B]),
        ("SystemModstamp = TODAY", [A]),
        ("SystemModstamp = LAST_N_DAYS:40", [A, B]),
    ],
)
def test_conditions(where: str, expected: list[str]) -> None:
    assert select(where) == expected


def test_order_by_with_nulls_first_then_limit() -> None:
    assert select("Id != null", "ORDER BY MailingCity, Id") == [A, B], "nulls first ascending"
    assert select("Id != null", "ORDER BY MailingCity DESC") == [B, A], "nulls last descending"
    assert select("Id != null", "ORDER BY SystemModstamp, Id LIMIT 1") == [B]
    query = parse("SELECT COUNT() FROM Contact")
    assert query.count
    assert query.fields == ()


@pytest.mark.parametrize(
    ("text", "code", "detail", "column"),
    [
        ("SELECT Id FROM Contact WHERE SystemModstamp > '2024-01-01'", "INVALID_FIELD",
         "must be of type dateTime and should not be enclosed in quotes", 47),
        ("SELECT Id, Foo FROM Contact", "INVALID_FIELD",
         "No such column 'Foo' on entity 'Contact'", 12),
        ("SELECT Id FROM Nope", "INVALID_TYPE", "sObject type 'Nope' is not supported", 16),
        ("SELECT Id FROM Contact WHERE Email = 'a' AND LastName = 'b' OR Id = null",
         "MALFORMED_QUERY", "unexpected token: 'OR'", 61),
        ("SELECT Id FROM Contact WHERE", "MALFORMED_QUERY", "unexpected token: '<EOF>'", 29),
        ("SELECT Id FROM Contact WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR",
         "invalid ID field: abc", 35),
        ("SELECT Id FROM Task WHERE Description = 'x'", "INVALID_FIELD",
         "field 'Description' can not be filtered in a query call", 27),
        ("SELECT Id FROM Contact WHERE Email = 5", "INVALID_FIELD",
         "must be of type string and should be enclosed in quotes", 38),
        ("SELECT Id, Id FROM Contact", "INVALID_FIELD", "duplicate field selected: Id", 12),
        ("SELECT Id FROM Contact ORDER BY", "MALFORMED_QUERY", "unexpected token: '<EOF>'", 32),
        ("SELECT Acount.Name FROM Contact", "INVALID_FIELD",
         "Didn't understand relationship 'Acount' in field path", 8),
    ],
)  # fmt: skip
def test_refusals_are_salesforces(text: str, code: str, detail: str, column: int) -> None:
    with pytest.raises(SoqlError) as refused:
        parse(text)

    assert refused.value.code == code
    assert detail in refused.value.detail
    assert refused.value.message.startswith(f"\n{text}\n")
    assert f"ERROR at Row:1:Column:{column}\n" in refused.value.message
    caret = refused.value.message.split("\n")[2]
    assert caret == " " * (column - 1) + "^"


def test_a_field_hidden_by_field_level_security_does_not_exist() -> None:
    with pytest.raises(SoqlError, match="No such column 'Title'"):
        parse(
            "SELECT Id, Title FROM Contact", hidden=lambda obj, f: (obj, f) == ("Contact", "Title")
        )


def test_strings_keep_their_escapes() -> None:
    query = parse(r"SELECT Id FROM Contact WHERE LastName = 'O\'Brien'")
    assert matches(query.where, {"lastname": "o'brien"})


def test_ids_are_checked_and_compared_in_their_long_form() -> None:
    assert normalize(A[:15]) == A
    assert normalize(A[:15] + "ZZZ") is None
    assert date(2024, 5, 1) == NOW.date()
