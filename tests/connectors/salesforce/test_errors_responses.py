"""Requests-level error paths, with ``responses`` standing in for a real org at
login.salesforce.com: what is retried, what stops the source, what fails the call, and the
requests simple-salesforce sends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from pydantic import SecretStr

from connectors.salesforce import AllowanceSpentError, SalesforceConnector, SalesforceSettings
from connectors.salesforce.settings import Credentials
from model.errors import SourceFatalError, SyncdError
from model.records import Cursor
from tests.connectors.hubspot.world import T0, FakeTime

LOGIN = "https://login.salesforce.com/services/Soap/u/59.0"
INSTANCE = "https://acme.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v59.0"
LOGIN_OK = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
    'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>'
    f"<serverUrl>{INSTANCE}/services/Soap/u/59.0/00Dxx0000000001</serverUrl>"
    "<sessionId>00Dxx0000000001!AQ.session</sessionId><userId>005xx000001Sv6eAAC</userId>"
    "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
)
LOGIN_FAULT = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
    'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:sf="urn:fault.partner.soap.sforce.com" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
    "<faultcode>INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN: Invalid username, "
    "password, security token; or user locked out.</faultstring><detail>"
    '<sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>INVALID_LOGIN'
    "</sf:exceptionCode><sf:exceptionMessage>Invalid username, password, security token; or "
    "user locked out.</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault>"
    "</soapenv:Body></soapenv:Envelope>"
)
DESCRIBE = {
    "name": "Contact",
    "fields": [
        {"name": n, "type": t, "updateable": u, "createable": u, "nillable": True, "label": n}
        for n, t, u in (
            ("Id", "id", False),
            ("IsDeleted", "boolean", False),
            ("MasterRecordId", "reference", False),
            ("SystemModstamp", "datetime", False),
            ("FirstName", "string", True),
            ("LastName", "string", True),
        )
    ],
}
LIMIT = {"Sforce-Limit-Info": "api-usage=10/15000"}
ROW = {
    "attributes": {
        "type": "Contact",
        "url": "/services/data/v59.0/sobjects/Contact/003xx0000004TmiAAE",
    },
    "Id": "003xx0000004TmiAAE",
    "SystemModstamp": "2024-05-01T11:00:00.000+0000",
    "FirstName": "Ann",
    "LastName": "Lee",
}


def page(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"totalSize": len(rows), "done": True, "records": list(rows)}


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, LOGIN, body=LOGIN_OK, content_type="text/xml")
        rsps.add(responses.GET, f"{DATA}/sobjects/Contact/describe", json=DESCRIBE, headers=LIMIT)
        yield rsps


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def connector(time: FakeTime) -> Iterator[SalesforceConnector]:
    settings = SalesforceSettings.model_validate(
        {
            "username": "ann@acme.com",
            "password": "${P}",
            "security_token": "${T}",
            "retry": {"max_attempts": 3, "initial_wait_seconds": 1, "jitter_seconds": 0},
        }
    )
    creds = Credentials(username="ann@acme.com")
    creds.password, creds.security_token = SecretStr("p<&"), SecretStr("TOKEN")
    built = SalesforceConnector(settings, creds, sleep=time.sleep)
    yield built
    built.close()


def queries(rsps: responses.RequestsMock) -> list[str]:
    return [c.request.url or "" for c in rsps.calls if "/query" in (c.request.url or "")]


def pull(connector: SalesforceConnector) -> list[Any]:
    return list(connector.pull("contacts", Cursor(), run_started_at=T0))


def add_queries(rsps: responses.RequestsMock, *answers: dict[str, Any]) -> None:
    for answer in answers:
        rsps.add(responses.GET, re.compile(f"{re.escape(DATA)}/query(All)?/.*"), **answer)


OK = {"json": page(), "headers": LIMIT}
COUNT = {"json": {"totalSize": 1, "done": True, "records": []}, "headers": LIMIT}


def test_a_503_and_a_dropped_connection_are_retried(
    mocked: responses.RequestsMock, connector: SalesforceConnector, time: FakeTime
) -> None:
    add_queries(
        mocked,
        {"status": 503, "json": [{"errorCode": "SERVER_UNAVAILABLE", "message": "down"}]},
        {"body": requests.ConnectionError("reset by peer")},
        OK,
        COUNT,
        {"json": page(ROW), "headers": LIMIT},
    )

    batches = pull(connector)

    assert [r.id for b in batches for r in b.records] == ["003xx0000004TmiAAE"]
    assert time.sleeps == [1.0, 2.0], "two retries with backoff"


def test_a_locked_row_answering_a_query_is_retried(
    mocked: responses.RequestsMock, connector: SalesforceConnector, time: FakeTime
) -> None:
    locked = [
        {
            "message": "unable to obtain exclusive access to this record",
            "errorCode": "UNABLE_TO_LOCK_ROW",
            "fields": [],
        }
    ]
    add_queries(mocked, {"status": 400, "json": locked}, OK, COUNT, OK)

    pull(connector)

    assert len(time.sleeps) == 1


def test_a_malformed_query_fails_without_retrying(
    mocked: responses.RequestsMock, connector: SalesforceConnector, time: FakeTime
) -> None:
    bad = [
        {
            "message": "\nSELECT ...\n^\nERROR at Row:1:Column:8\nunexpected token: 'FROM'",
            "errorCode": "MALFORMED_QUERY",
        }
    ]
    add_queries(mocked, {"status": 400, "json": bad})

    with pytest.raises(SyncdError, match="MALFORMED_QUERY") as failed:
        pull(connector)

    assert not isinstance(failed.value, SourceFatalError)
    assert "unexpected token: 'FROM'" in str(failed.value), "the last line of Salesforce's echo"
    assert time.sleeps == []


def test_a_refused_login_stops_the_source(time: FakeTime, connector: SalesforceConnector) -> None:
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, LOGIN, body=LOGIN_FAULT, status=500, content_type="text/xml")
        with pytest.raises(SourceFatalError, match="INVALID_LOGIN"):
            pull(connector)
    assert time.sleeps == []


def test_a_gateway_page_at_login_is_retried(time: FakeTime, connector: SalesforceConnector) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, LOGIN, body="<html>502 Bad Gateway</html>", status=502)
        rsps.add(responses.POST, LOGIN, body=LOGIN_OK, content_type="text/xml")
        rsps.add(responses.GET, f"{DATA}/sobjects/Contact/describe", json=DESCRIBE, headers=LIMIT)
        add_queries(rsps, OK, COUNT, OK)
        pull(connector)
        sent = rsps.calls[1].request.body
    assert time.sleeps == [1.0]
    assert isinstance(sent, str | bytes)
    assert "p&lt;&amp;TOKEN" in (sent.decode() if isinstance(sent, bytes) else sent), (
        "the password and token, HTML-escaped inside the envelope"
    )


def test_the_daily_limit_pauses_the_source(
    mocked: responses.RequestsMock, connector: SalesforceConnector, time: FakeTime
) -> None:
    spent = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    add_queries(mocked, {"status": 403, "json": spent})

    with pytest.raises(AllowanceSpentError):
        pull(connector)

    assert time.sleeps == []


def test_an_expired_session_logs_in_again_once_then_stops(
    mocked: responses.RequestsMock, connector: SalesforceConnector, time: FakeTime
) -> None:
    expired = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    add_queries(mocked, {"status": 401, "json": expired}, {"status": 401, "json": expired})

    with pytest.raises(SourceFatalError):
        pull(connector)

    logins = [c for c in mocked.calls if c.request.url == LOGIN]
    assert len(logins) == 2
    assert time.sleeps == []


def test_the_requests_are_the_sdks_documented_ones(
    mocked: responses.RequestsMock, connector: SalesforceConnector
) -> None:
    add_queries(mocked, OK, COUNT, OK)

    pull(connector)

    login = mocked.calls[0].request
    assert login.headers["SOAPAction"] == "login"
    first = queries(mocked)[0]
    assert first.startswith(f"{DATA}/queryAll/?q=SELECT+Id%2C+SystemModstamp%2C+")
    assert "WHERE+IsDeleted+%3D+true+ORDER+BY+SystemModstamp%2C+Id" in first
    rest = [c.request for c in mocked.calls if c.request.url and c.request.url.startswith(DATA)]
    assert all(r.headers["Authorization"] == "Bearer 00Dxx0000000001!AQ.session" for r in rest)
    assert all(
        r.headers.get("Sforce-Query-Options") == "batchSize=2000"
        for r in rest
        if "/query" in (r.url or "") and "COUNT" not in (r.url or "")
    )
    last = connector.client.allowance.last
    assert last is not None
    assert (last.used, last.limit) == (10, 15000), "read from Sforce-Limit-Info"
