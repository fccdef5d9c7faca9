"""Parent relationship fields in SOQL (``Account.Name``, ``Owner.Name``), as the REST query and
Bulk API 2.0 answer them: a nested object with its own ``attributes`` (``null`` when the lookup
is empty) in JSON, an ``Account.Name`` column in CSV; an unknown relationship refused as
Salesforce refuses it."""

from __future__ import annotations

import csv
import io

import pytest
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sandbox.salesforce import SalesforceState
from tests.sandbox.test_salesforce_sandbox import org  # noqa: F401  (the fixture)


def test_a_parent_field_nests_under_its_relationship(
    org: tuple[SalesforceState, Salesforce],  # noqa: F811
) -> None:
    state, sf = org
    owner = state.add_user("Ann", "Lee", "ann@example.com")
    acme = state.create("Account", {"Name": "Acme AS"})
    ingrid = state.create("Contact", {"LastName": "Solberg", "AccountId": acme, "OwnerId": owner})
    alone = state.create("Contact", {"LastName": "Alone", "OwnerId": owner})

    answer = sf.query(
        "SELECT Id, Account.Name, Owner.Name, LastName FROM Contact ORDER BY LastName"
    )

    by_name = {r["LastName"]: r for r in answer["records"]}
    assert list(by_name["Solberg"]) == ["attributes", "Id", "Account", "Owner", "LastName"]
    assert by_name["Solberg"]["Account"] == {
        "attributes": {"type": "Account", "url": f"/services/data/v59.0/sobjects/Account/{acme}"},
        "Name": "Acme AS",
    }
    assert by_name["Solberg"]["Owner"]["Name"] == "Ann Lee"
    assert by_name["Solberg"]["Id"] == ingrid
    assert by_name["Alone"]["Account"] is None
    assert by_name["Alone"]["Id"] == alone


def test_an_unknown_relationship_is_refused_as_salesforce_does(
    org: tuple[SalesforceState, Salesforce],  # noqa: F811
) -> None:
    _, sf = org
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.query("SELECT Id, Company.Name FROM Contact")
    [error] = refused.value.content
    assert error["errorCode"] == "INVALID_FIELD"
    assert "Didn't understand relationship 'Company' in field path" in error["message"]


def test_bulk_csv_names_the_column_by_its_path(
    org: tuple[SalesforceState, Salesforce],  # noqa: F811
) -> None:
    state, sf = org
    acme = state.create("Account", {"Name": "Acme AS"})
    state.create("Contact", {"LastName": "Solberg", "AccountId": acme})
    state.create("Contact", {"LastName": "Alone"})

    pages = list(sf.bulk2.Contact.query("SELECT Id, LastName, Account.Name FROM Contact", wait=0))

    rows = [r for page in pages for r in csv.DictReader(io.StringIO(page))]
    assert {r["LastName"]: r["Account.Name"] for r in rows} == {"Solberg": "Acme AS", "Alone": ""}
