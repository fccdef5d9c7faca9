"""The Salesforce field map and cursor arithmetic on their own: values both ways, decided
fields, and cursors that never move back nor past the run start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.salesforce.cursor import Deletions, advance, deletions
from connectors.salesforce.ids import full_id
from connectors.salesforce.mapping import WriteRefusedError, field_map, record_of
from connectors.salesforce.settings import SalesforceSettings
from model.fields import FALSE, TASK_COMPLETED, TASK_OPEN, TRUE
from model.writes import WriteErrorKind

SETTINGS = SalesforceSettings.model_validate(
    {"username": "u", "password": "${P}", "security_token": "${T}"}
)


def describe(*fields: tuple[str, str, bool]) -> dict[str, Any]:
    system = [("Id", "id", False), ("SystemModstamp", "datetime", False)]
    return {
        "fields": [
            {"name": n, "type": t, "updateable": u, "createable": u, "label": n}
            for n, t, u in [*system, *fields]
        ]
    }


def test_values_read_as_their_canonical_strings() -> None:
    deals = field_map(
        "deals",
        SETTINGS,
        describe(
            ("Amount", "currency", True),
            ("CloseDate", "date", True),
            ("IsClosed", "boolean", False),
            ("StageName", "picklist", True),
        ),
    )
    raw = {
        "Id": "0065g0000000001AAA",
        "SystemModstamp": "2024-05-01T10:00:00.000+0000",
        "Amount": 1234.5,
        "CloseDate": "2024-06-30",
        "IsClosed": False,
        "StageName": "Prospecting",
    }

    record = record_of("deals", raw, deals)

    assert record.properties == {
        "amount": "1234.5",
        "closedate": "2024-06-30T00:00:00.000Z",
        "is_closed": FALSE,
        "stage": "Prospecting",
    }, "IsWon is not in this describe: unknown, absent"
    assert record.updated_at == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_writes_take_salesforces_types_and_refuse_what_they_cannot() -> None:
    deals = field_map(
        "deals",
        SETTINGS,
        describe(
            ("Amount", "currency", True),
            ("CloseDate", "date", True),
            ("OwnerId", "reference", False),
        ),
    )

    assert deals.to_vendor({"amount": "1200", "closedate": "2024-06-30T00:00:00.000Z"}) == {
        "Amount": 1200.0,
        "CloseDate": "2024-06-30",
    }
    with pytest.raises(WriteRefusedError) as typed:
        deals.to_vendor({"amount": "a lot"})
    assert (typed.value.kind, typed.value.fields) == (WriteErrorKind.INVALID_VALUE, ("amount",))
    with pytest.raises(WriteRefusedError) as locked:
        deals.to_vendor({"owner_id": "0055g0000000001AAA"})
    assert (locked.value.kind, locked.value.fields) == (WriteErrorKind.PERMISSION, ("owner_id",))
    with pytest.raises(WriteRefusedError) as decided:
        deals.to_vendor({"is_won": TRUE})
    assert decided.value.fields == ("is_won",)


def test_a_tasks_status_comes_from_is_closed_and_goes_back_as_a_status() -> None:
    tasks = field_map(
        "tasks", SETTINGS, describe(("Status", "picklist", True), ("IsClosed", "boolean", False))
    )
    base = {"Id": "00T5g0000000001AAA", "SystemModstamp": "2024-05-01T10:00:00.000+0000"}

    waiting = record_of(
        "tasks", {**base, "Status": "Waiting on someone else", "IsClosed": False}, tasks
    )
    done = record_of("tasks", {**base, "Status": "Done (custom)", "IsClosed": True}, tasks)

    assert waiting.properties["status"] == TASK_OPEN
    assert done.properties["status"] == TASK_COMPLETED
    assert tasks.to_vendor({"status": TASK_COMPLETED}) == {"Status": "Completed"}
    assert tasks.to_vendor({"status": TASK_OPEN}) == {"Status": "Not Started"}


def test_a_lead_is_open_until_converted_or_closed() -> None:
    leads = field_map(
        "leads", SETTINGS, describe(("Status", "picklist", True), ("IsConverted", "boolean", False))
    )
    base = {"Id": "00Q5g0000000001AAA", "SystemModstamp": "2024-05-01T10:00:00.000+0000"}

    def lead_open(status: str, converted: bool) -> str | None:
        raw = {**base, "Status": status, "IsConverted": converted}
        return record_of("leads", raw, leads).properties["lead_open"]

    assert lead_open("Working - Contacted", converted=False) == TRUE
    assert lead_open("Closed - Not Converted", converted=False) == FALSE
    assert record_of("leads", {**base, "Status": "x", "IsConverted": True}, leads).archived


def test_a_custom_field_takes_a_canonical_name_over_the_default() -> None:
    settings = SETTINGS.model_copy(update={"fields": {"contacts": {"Work_Email__c": "email"}}})
    contacts = field_map(
        "contacts", settings, describe(("Email", "email", True), ("Work_Email__c", "email", True))
    )

    assert contacts.vendor_name("email") == "Work_Email__c"
    assert "Email" not in contacts.vendor_names


MOMENTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


@given(MOMENTS | st.none(), MOMENTS | st.none(), MOMENTS)
def test_a_cursor_never_moves_back_nor_past_the_run_start(
    current: datetime | None, seen: datetime | None, run_started_at: datetime
) -> None:
    after = advance(current, seen, run_started_at)

    if current is not None:
        assert after is not None
        assert after >= current
    if seen is not None and after is not None and (current is None or current <= run_started_at):
        assert after <= run_started_at


@given(MOMENTS, st.integers(min_value=0, max_value=40 * 24 * 60))
def test_deletions_come_from_the_log_only_where_it_reaches(
    run_started_at: datetime, minutes_back: int
) -> None:
    since = run_started_at - timedelta(minutes=minutes_back)

    how = deletions(since, run_started_at, 15)

    if minutes_back == 0:
        assert how is Deletions.NONE
    elif how is Deletions.LOG:
        assert timedelta(minutes=1) < run_started_at - since <= timedelta(days=15)
    else:
        assert how is Deletions.RECONCILE


@given(
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        min_size=15,
        max_size=15,
    )
)
def test_ids_are_case_insensitive_in_their_long_form(body: str) -> None:
    long = full_id(body)

    assert long is not None
    assert full_id(long) == long
    assert full_id(long[:15] + long[15:].lower()) == long
    wrong = long[:15] + ("AAA" if long[15:] != "AAA" else "BBB")
    assert full_id(wrong) is None, "an 18-character id whose checksum does not match"
