"""The Salesforce sandbox's field history and recycle bin, as a client meets them through the
real SDK: history rows per tracked change and who made it, read-only history objects, history
kept 18/24 months, deleted records purged after 15 days."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.login import SalesforceLogin

from sandbox.salesforce import SalesforceSandbox, SalesforceState
from tests.sandbox.support import Clock
from tests.sandbox.test_salesforce_sandbox import session_trusting


@pytest.fixture
def org(clock: Clock, tmp_path: Path) -> Iterator[tuple[SalesforceState, Salesforce]]:
    state = SalesforceState(clock, daily_limit=None)
    with SalesforceSandbox(state) as sandbox:
        session = session_trusting(sandbox.ca_file(tmp_path / "ca.pem"))
        sid, instance = SalesforceLogin(
            username="sandbox",
            password="sandbox",
            security_token="sandbox",
            session=session,
            scratch_url=sandbox.base_url,
        )
        yield state, Salesforce(session_id=sid, instance=instance, session=session)


def history(sf: Salesforce, contact: str, *, deleted: bool = False) -> list[dict[str, object]]:
    soql = (
        "SELECT ContactId, Field, DataType, OldValue, NewValue, CreatedById, CreatedDate "
        f"FROM ContactHistory WHERE ContactId = '{contact}' ORDER BY CreatedDate DESC, Id"
    )
    return list(sf.query_all(soql, include_deleted=deleted)["records"])


def test_each_tracked_change_is_a_row_saying_who_made_it(
    org: tuple[SalesforceState, Salesforce], clock: Clock
) -> None:
    state, sf = org
    person = state.add_user("Ann", "Lee", "ann@example.com")
    contact = state.create("Contact", {"LastName": "Ray", "Phone": "555 0100"})
    clock.now += timedelta(minutes=5)
    state.update("Contact", contact, {"Phone": "555-0100", "Description": "x"}, by=person)
    clock.now += timedelta(minutes=5)
    sf.Contact.update(contact, {"Phone": "+1 555 0100", "Title": "CEO"})
    sf.Contact.update(contact, {"Phone": "+1 555 0100"})  # no change: no row
    clock.now += timedelta(minutes=5)
    state.update("Contact", contact, {"OwnerId": person}, by=person)

    rows = [
        (r["Field"], r["DataType"], r["OldValue"], r["NewValue"], r["CreatedById"])
        for r in history(sf, contact)
    ]

    api = state.api_user_id
    assert rows == [
        ("Owner", "Text", "syncd Integration", "Ann Lee", person),  # a lookup: names, then ids
        ("Owner", "EntityId", api, person, person),
        ("Phone", "Phone", "555-0100", "+1 555 0100", api),
        ("Title", "Text", None, "CEO", api),
        ("Phone", "Phone", "555 0100", "555-0100", person),  # Description is not tracked
        ("created", None, None, None, api),
    ]
    assert history(sf, contact)[2]["CreatedDate"] == "2024-05-01T12:10:00.000+0000"


def test_history_objects_are_read_only_and_their_values_unfilterable(
    org: tuple[SalesforceState, Salesforce],
) -> None:
    state, sf = org
    contact = state.create("Contact", {"LastName": "Ray"})
    described = sf.ContactHistory.describe()
    assert (described["createable"], described["updateable"], described["deletable"]) == (
        False,
        False,
        False,
    )
    picklist = next(f for f in described["fields"] if f["name"] == "Field")["picklistValues"]
    assert {"created", "Phone", "Owner", "Email"} <= {p["value"] for p in picklist}

    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.ContactHistory.create({"ContactId": contact, "Field": "Phone"})
    assert refused.value.content[0]["errorCode"] == "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"
    assert "entity type cannot be inserted: Contact History" in refused.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest) as unfiltered:
        sf.query("SELECT Id FROM ContactHistory WHERE NewValue = 'x'")
    assert unfiltered.value.content[0]["errorCode"] == "INVALID_FIELD"
    [row] = history(sf, contact)
    row_id = str(row["attributes"]["url"]).rsplit("/", 1)[1]  # type: ignore[index]
    answer = sf.restful("composite/sobjects", method="DELETE", params={"ids": row_id})
    assert answer[0]["errors"][0]["statusCode"] == "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"


def test_tracking_is_chosen_per_field_and_history_ages_out(
    org: tuple[SalesforceState, Salesforce], clock: Clock
) -> None:
    state, sf = org
    with pytest.raises(ValueError, match="cannot track"):
        state.track("Contact", ["Email", "LastModifiedById"])
    state.track("Contact", ["Email"])
    contact = state.create("Contact", {"LastName": "Ray"})
    clock.now += timedelta(minutes=1)
    state.update("Contact", contact, {"Phone": "1", "Email": "a@b.co"})
    assert [r["Field"] for r in history(sf, contact)] == ["Email", "created"]

    clock.now += timedelta(days=600)  # 18 months on: queryAll only
    assert history(sf, contact) == []
    assert len(history(sf, contact, deleted=True)) == 2
    clock.now += timedelta(days=200)  # 24 months on: gone
    assert history(sf, contact, deleted=True) == []


def test_the_recycle_bin_is_purged_after_15_days(
    org: tuple[SalesforceState, Salesforce], clock: Clock
) -> None:
    state, sf = org
    old, recent = (state.create("Contact", {"LastName": n}) for n in ("Old", "Recent"))
    start = clock.now
    state.delete("Contact", old)
    clock.now += timedelta(days=10)
    state.delete("Contact", recent)
    bin_query = "SELECT Id FROM Contact WHERE IsDeleted = true"
    assert len(sf.query_all(bin_query, include_deleted=True)["records"]) == 2

    clock.now += timedelta(days=6)  # old was deleted 16 days ago: purged
    ids = [r["Id"] for r in sf.query_all(bin_query, include_deleted=True)["records"]]
    assert ids == [recent]
    assert history(sf, old, deleted=True) == []  # its history went with it
    window = sf.Contact.deleted(clock.now - timedelta(days=14), clock.now)
    assert [r["id"] for r in window["deletedRecords"]] == [recent]
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Contact.deleted(start - timedelta(hours=1), clock.now)
    assert refused.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"

    assert state.empty_recycle_bin() == 1  # a person empties the bin: the log starts after
    assert sf.query_all(bin_query, include_deleted=True)["records"] == []
    with pytest.raises(SalesforceMalformedRequest):
        sf.Contact.deleted(clock.now - timedelta(days=14), clock.now)
    later = sf.Contact.deleted(clock.now - timedelta(days=5), clock.now)
    assert later["deletedRecords"] == []
    assert later["earliestDateAvailable"] == (start + timedelta(days=10)).astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.000+0000"
    )
    assert state.counts()["Contact"] == 0
