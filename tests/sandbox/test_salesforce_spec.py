"""The Salesforce sandbox's answers against the published descriptions: records and save results
against the sObjects OpenAPI (v59.0), routes against Salesforce's Postman collection, the SOAP
login and merge against ``partner.wsdl``."""

from __future__ import annotations

import copy
import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_schema_validator import OAS30Validator

from sandbox.http.wire import Request
from sandbox.salesforce import SalesforceSandbox, SalesforceState
from sandbox.salesforce.app import UNROUTED, SalesforceApp
from tests.sandbox.support import Clock

SPECS = Path(
    os.environ.get("SYNCD_SPECS_DIR", Path(__file__).resolve().parents[3] / "shared/specs")
)
SALESFORCE = SPECS / "salesforce"
pytestmark = pytest.mark.skipif(
    not (SALESFORCE / "sobjects-openapi-v59.json").exists(), reason="no published descriptions"
)
WSDL_NS = {"xsd": "http://www.w3.org/2001/XMLSchema"}
CUSTOM = {"Tags__c"}
"""Fields the sandbox adds to the standard objects (a custom field, as an org would)."""


def lenient(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema as real records meet it: every property may be null (Salesforce sends null for
    empty fields, the description never says ``nullable``), no formats (its datetimes carry
    ``+0000``), and no property the description does not name."""
    found = copy.deepcopy(schema)
    for prop in found.get("properties", {}).values():
        prop["nullable"] = True
        prop.pop("format", None)
    found["additionalProperties"] = False
    return found


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return json.loads((SALESFORCE / "sobjects-openapi-v59.json").read_text())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[SalesforceSandbox, requests.Session, str]]:
    state = SalesforceState(Clock(), daily_limit=None)
    with SalesforceSandbox(state) as sandbox:
        session = requests.Session()
        ca = str(sandbox.ca_file(tmp_path / "ca.pem"))
        session.verify = ca
        session.trust_env = False  # REQUESTS_CA_BUNDLE would win over verify
        token = state.new_session()
        session.headers["Authorization"] = f"Bearer {token}"
        yield sandbox, session, f"{sandbox.base_url}/services/data/v59.0"


def test_records_match_the_published_sobject_schemas(openapi: dict[str, Any], served: Any) -> None:
    sandbox, session, base = served
    state: SalesforceState = sandbox.state
    account = state.create("Account", {"Name": "Acme", "Website": "acme.com"})
    made = {
        "Account": account,
        "Contact": state.create("Contact", {"LastName": "Lee", "AccountId": account}),
        "Lead": state.create("Lead", {"LastName": "Ray", "Company": "Ray Co"}),
        "Opportunity": state.create(
            "Opportunity", {"Name": "D", "StageName": "Prospecting", "CloseDate": "2024-06-01"}
        ),
        "Task": state.create("Task", {"Subject": "Call", "Status": "Not Started"}),
        "User": state.api_user_id,
    }
    schemas = openapi["components"]["schemas"]
    for sobject, record_id in made.items():
        answer = session.get(f"{base}/sobjects/{sobject}/{record_id}")
        assert answer.status_code == 200
        body = {k: v for k, v in answer.json().items() if k not in CUSTOM}
        OAS30Validator(lenient(schemas[f"{sobject}SObject"])).validate(body)


def test_saves_and_errors_match_save_result_and_error_info(
    openapi: dict[str, Any], served: Any
) -> None:
    _, session, base = served
    schemas = openapi["components"]["schemas"]
    created = session.post(f"{base}/sobjects/Contact/", json={"LastName": "Lee"})
    refused = session.post(f"{base}/sobjects/Contact/", json={"LastName": "Lee", "Email": "x"})
    collection = session.post(
        f"{base}/composite/sobjects",
        json={"allOrNone": False, "records": [{"attributes": {"type": "Contact"}, "Email": "y"}]},
    )

    assert created.status_code == 201
    OAS30Validator(schemas["SaveResult"]).validate(created.json())
    assert refused.status_code == 400
    for error in refused.json():
        OAS30Validator(lenient(schemas["ErrorInfo"])).validate(error)
    for result in collection.json():
        OAS30Validator(schemas["SaveResult"]).validate(result)
    assert {e["statusCode"] for r in collection.json() for e in r["errors"]} == {
        "INVALID_EMAIL_ADDRESS",
        "REQUIRED_FIELD_MISSING",
    }


def _postman() -> Iterator[tuple[str, str, str]]:
    """(file, method, path) of every request of the Postman collection kept here."""
    for path in sorted((SALESFORCE / "postman").rglob("*.json")):
        if path.name == "index.json" or "environments" in path.parts:
            continue
        request = json.loads(path.read_text())
        url = str(request.get("url") or "")
        url = url.replace("{{_endpoint}}", "").replace("{{url}}{{site}}", "")
        url = url.replace("{{version}}", "59.0").split("?")[0]
        url = re.sub(r"<SOBJECT_API_NAME>|<[A-Z_]+>", "Contact", url)
        url = re.sub(r"\{\{_?\w*[iI]d\}\}|:id|<RECORD_ID>", "0035g0000000001AAA", url)
        yield path.relative_to(SALESFORCE / "postman").as_posix(), str(request["method"]), url


#: Postman requests the sandbox serves (the rest of the collection syncd does not use).
USED = {
    "rest/query.json",
    "rest/queryall.json",
    "rest/limit.json",
    "rest/describe_global.json",
    "rest/sobject_describe.json",
    "rest/sobject_get_deleted.json",
    "rest/sobject_get_updated.json",
    "rest/sobject_create.json",
    "rest/sobject_rows.json",
    "rest/sobject_rows_update.json",
    "rest/sobject_rows_delete.json",
    "rest/sobject_basic_information.json",
    "composite/sobject_collections_create.json",
    "composite/sobject_collections_retrieve.json",
    "query/create_job_query.json",
    "query/get_job_info_query.json",
    "query/get_job_query_result.json",
    "query/abort_a_job_query.json",
    "query/delete_job_query.json",
    "auth/soap_login.json",
}


def test_the_requests_syncd_uses_are_routed_as_postman_spells_them() -> None:
    app = SalesforceApp(SalesforceState(Clock()))
    found = {name: (method, path) for name, method, path in _postman()}

    assert set(found) >= USED, "the collection still has them"
    unrouted = [
        (name, method, path)
        for name, (method, path) in found.items()
        if name in USED and app.route_label(Request(method, path)).endswith(UNROUTED)
    ]
    assert unrouted == []
    # the collection's update and delete URLs name the object, Salesforce's documentation
    # does not (``PATCH|DELETE /composite/sobjects``): the sandbox routes the documented ones
    for method in ("PATCH", "DELETE"):
        assert app.route_label(Request(method, "/services/data/v59.0/composite/sobjects")) == (
            f"{method} /services/data/v{{version}}/composite/sobjects"
        )


def _sequence(wsdl: ET.Element, name: str) -> list[str]:
    found = wsdl.find(f".//xsd:complexType[@name='{name}']", WSDL_NS)
    assert found is not None, name
    return [e.get("name", "") for e in found.iter(f"{{{WSDL_NS['xsd']}}}element")]


def _children(answer: bytes, path: tuple[str, ...]) -> list[str]:
    node = ET.fromstring(answer)
    for name in path:
        node = next(c for c in node if c.tag.rsplit("}", 1)[-1] == name)
    return [c.tag.rsplit("}", 1)[-1] for c in node]


def test_soap_login_and_merge_answer_as_the_wsdl_defines(served: Any) -> None:
    sandbox, session, _ = served
    wsdl = ET.parse(SALESFORCE / "partner.wsdl").getroot()
    postman = json.loads((SALESFORCE / "postman/auth/soap_login.json").read_text())
    envelope = postman["rawModeData"].replace("{{username}}", "sandbox")
    envelope = envelope.replace("{{password}}{{secretToken}}", "sandboxsandbox")
    headers = {h["key"]: h["value"] for h in postman["headerData"]}
    state: SalesforceState = sandbox.state
    master = state.create("Contact", {"LastName": "A"})
    merged = state.create("Contact", {"LastName": "B"})

    login = session.post(f"{sandbox.base_url}/services/Soap/u/59.0", data=envelope, headers=headers)
    session_id = ET.fromstring(login.content).find(".//{urn:partner.soap.sforce.com}sessionId")
    assert session_id is not None
    merge = session.post(
        f"{sandbox.base_url}/services/Soap/u/59.0",
        headers={"Content-Type": "text/xml", "SOAPAction": "merge"},
        data=(
            '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:u="urn:partner.soap.sforce.com" xmlns:s="urn:sobject.partner.soap.sforce.com">'
            f"<e:Header><u:SessionHeader><u:sessionId>{session_id.text}</u:sessionId>"
            "</u:SessionHeader></e:Header><e:Body><u:merge><u:request><u:masterRecord>"
            f"<s:type>Contact</s:type><s:Id>{master}</s:Id></u:masterRecord>"
            f"<u:recordToMergeIds>{merged}</u:recordToMergeIds></u:request></u:merge>"
            "</e:Body></e:Envelope>"
        ),
    )

    assert login.status_code == 200
    assert set(_children(login.content, ("Body", "loginResponse", "result"))) <= set(
        _sequence(wsdl, "LoginResult")
    )
    assert merge.status_code == 200
    fields = _children(merge.content, ("Body", "mergeResponse", "result"))
    assert set(fields) <= set(_sequence(wsdl, "MergeResult"))
    assert "mergedRecordIds" in fields
    order = _sequence(wsdl, "MergeResult")
    assert [f for f in order if f in fields] == list(dict.fromkeys(fields)), "in the WSDL's order"
