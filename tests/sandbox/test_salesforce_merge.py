"""The sandbox's SOAP ``merge()``: a master and one or two records per request, as Salesforce
takes them ("Up to three records can be merged in a single request, including the master
record", SOAP API guide, merge()); three or more are refused, that request alone."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from simple_salesforce.api import Salesforce

from sandbox.salesforce import SalesforceState
from tests.sandbox.test_salesforce_sandbox import org  # noqa: F401  (the fixture)


def envelope(session: str, requests: list[tuple[str, list[str]]]) -> str:
    body = "".join(
        "<urn:request><urn:masterRecord><urn1:type>Contact</urn1:type>"
        f"<urn1:Id>{master}</urn1:Id></urn:masterRecord>"
        + "".join(f"<urn:recordToMergeIds>{i}</urn:recordToMergeIds>" for i in merged)
        + "</urn:request>"
        for master, merged in requests
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:urn="urn:partner.soap.sforce.com" xmlns:urn1="urn:sobject.partner.soap.sforce.com">'
        f"<soapenv:Header><urn:SessionHeader><urn:sessionId>{session}</urn:sessionId>"
        "</urn:SessionHeader></soapenv:Header>"
        f"<soapenv:Body><urn:merge>{body}</urn:merge></soapenv:Body></soapenv:Envelope>"
    )


def results(sf: Salesforce, requests: list[tuple[str, list[str]]]) -> list[dict[str, list[str]]]:
    answer = sf.session.post(
        f"https://{sf.sf_instance}/services/Soap/u/59.0",
        data=envelope(sf.session_id, requests).encode(),
        headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "merge"},
    )
    assert answer.status_code == 200, answer.text
    found = []
    for result in ET.fromstring(answer.content).iter("{urn:partner.soap.sforce.com}result"):
        values: dict[str, list[str]] = {}
        for item in result.iter():
            values.setdefault(item.tag.rsplit("}", 1)[-1], []).append(item.text or "")
        found.append(values)
    return found


def test_a_request_takes_a_master_and_up_to_two_records(
    org: tuple[SalesforceState, Salesforce],  # noqa: F811
) -> None:
    state, sf = org
    ids = [state.create("Contact", {"LastName": f"Lee {n}"}) for n in range(7)]

    answered = results(sf, [(ids[0], ids[1:3]), (ids[3], ids[4:7])])

    assert len(answered) == 2, "one result per request"
    ok, refused = answered
    assert ok["success"] == ["true"]
    assert sorted(ok["mergedRecordIds"]) == sorted(ids[1:3])
    for gone in ids[1:3]:
        assert state.find("Contact", gone).master_record_id == ids[0]  # type: ignore[union-attr]
    assert refused["success"] == ["false"]
    assert refused["statusCode"] == ["LIMIT_EXCEEDED"]
    for kept in ids[3:7]:
        assert state.live("Contact", kept) is not None, "a refused request merges nothing"
