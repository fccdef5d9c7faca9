"""The Partner SOAP API's ``login`` and ``merge``, as ``partner.wsdl`` (API 58.0) defines them.

Requests are parsed as XML (the SDK HTML-escapes the password, so no regex would do); the
operation is the first element of the ``Body``, whatever its prefix. ``SOAPAction`` is not
insisted on (the WSDL declares ``soapAction=""``). Answers put ``sessionId`` and ``serverUrl``
unprefixed in the partner namespace, as Salesforce does and as the SDK reads them (it looks for
elements named exactly ``sessionId`` and ``serverUrl``); faults carry ``sf:exceptionCode`` and
``sf:exceptionMessage`` with ``sf`` bound to ``urn:fault.partner.soap.sforce.com``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from sandbox.http.wire import Response

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PARTNER = "urn:partner.soap.sforce.com"
SOBJECT = "urn:sobject.partner.soap.sforce.com"
FAULT_NS = "urn:fault.partner.soap.sforce.com"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XML = {"Content-Type": "text/xml; charset=utf-8"}


class SoapRequestError(ValueError):
    """A body that is no SOAP envelope of a known operation."""


@dataclass(frozen=True, slots=True)
class SoapCall:
    """A parsed SOAP request: the operation (local name), the session id of its
    ``SessionHeader`` (if any), and the operation element."""

    operation: str
    session_id: str | None
    element: ET.Element


@dataclass(frozen=True, slots=True)
class MergeRequest:
    """One ``request`` of a ``merge`` call: the master (type, id, values to set on it) and the
    ids to merge into it."""

    sobject: str
    master_id: str
    values: dict[str, str | None]
    merged_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MergeResult:
    """One ``result`` of a ``mergeResponse``."""

    success: bool
    master_id: str | None = None
    merged_ids: tuple[str, ...] = ()
    updated_related_ids: tuple[str, ...] = ()
    errors: tuple[tuple[str, str, tuple[str, ...]], ...] = field(default_factory=tuple)
    """(statusCode, message, fields) per error."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def _text(element: ET.Element, name: str) -> str | None:
    found = _child(element, name)
    return None if found is None else (found.text or "")


def parse(raw: bytes) -> SoapCall:
    """The operation of a SOAP envelope; :class:`SoapRequestError` when it is not one."""
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise SoapRequestError(f"not XML: {exc}") from None
    if _local(root.tag) != "Envelope":
        raise SoapRequestError("not a SOAP envelope")
    body = _child(root, "Body")
    if body is None or len(body) == 0:
        raise SoapRequestError("the envelope has no Body operation")
    session: str | None = None
    header = _child(root, "Header")
    if header is not None:
        session_header = _child(header, "SessionHeader")
        if session_header is not None:
            session = _text(session_header, "sessionId")
    operation = body[0]
    return SoapCall(_local(operation.tag), session, operation)


def login_credentials(call: SoapCall) -> tuple[str, str]:
    """The username and password (security token appended) of a ``login`` call."""
    username = _text(call.element, "username")
    password = _text(call.element, "password")
    if username is None or password is None:
        raise SoapRequestError("login needs a username and a password")
    return username, password


def merge_requests(call: SoapCall) -> list[MergeRequest]:
    """The ``request`` elements of a ``merge`` call."""
    found: list[MergeRequest] = []
    for request in (c for c in call.element if _local(c.tag) == "request"):
        master = _child(request, "masterRecord")
        if master is None:
            raise SoapRequestError("a merge request needs a masterRecord")
        values: dict[str, str | None] = {}
        sobject, master_id = "", ""
        for item in master:
            name = _local(item.tag)
            nil = item.get(f"{{{XSI}}}nil") == "true"
            if name == "type":
                sobject = item.text or ""
            elif name == "Id":
                master_id = item.text or ""
            elif name != "fieldsToNull":
                values[name] = None if nil else (item.text or "")
            else:
                values[item.text or ""] = None
        merged = tuple(
            (c.text or "").strip() for c in request if _local(c.tag) == "recordToMergeIds"
        )
        found.append(MergeRequest(sobject, master_id, values, merged))
    return found


def _envelope(body: str, *, fault_ns: bool = False) -> bytes:
    extra = f' xmlns:sf="{FAULT_NS}"' if fault_ns else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns="{PARTNER}" '
        f'xmlns:xsi="{XSI}"{extra}><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>'
    ).encode()


def login_response(
    *,
    server_url: str,
    session_id: str,
    user_id: str,
    org_id: str,
    username: str,
    email: str,
    full_name: str,
) -> Response:
    """``loginResponse/result`` (``LoginResult`` of the WSDL), HTTP 200."""
    x = escape
    metadata = server_url.replace("/Soap/u/", "/Soap/m/")
    body = (
        "<loginResponse><result>"
        f"<metadataServerUrl>{x(metadata)}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired>"
        "<sandbox>true</sandbox>"
        f"<serverUrl>{x(server_url)}</serverUrl>"
        f"<sessionId>{x(session_id)}</sessionId>"
        f"<userId>{x(user_id)}</userId>"
        "<userInfo>"
        f"<organizationId>{x(org_id)}</organizationId>"
        "<organizationName>syncd sandbox</organizationName>"
        f"<userEmail>{x(email)}</userEmail>"
        f"<userFullName>{x(full_name)}</userFullName>"
        f"<userId>{x(user_id)}</userId>"
        f"<userName>{x(username)}</userName>"
        "</userInfo>"
        "</result></loginResponse>"
    )
    return Response(200, None, dict(_XML), raw=_envelope(body))


def fault(code: str, message: str, *, login: bool = False) -> Response:
    """A SOAP fault, HTTP 500: ``LoginFault`` for a login, ``UnexpectedErrorFault`` otherwise,
    with ``sf:exceptionCode`` and ``sf:exceptionMessage`` (what the SDK reads)."""
    kind = "LoginFault" if login else "UnexpectedErrorFault"
    bare = code.removeprefix("sf:")
    x = escape
    body = (
        "<soapenv:Fault>"
        f"<faultcode>{x(code)}</faultcode>"
        f"<faultstring>{x(bare)}: {x(message)}</faultstring>"
        f'<detail><sf:{kind} xsi:type="sf:{kind}">'
        f"<sf:exceptionCode>{x(bare)}</sf:exceptionCode>"
        f"<sf:exceptionMessage>{x(message)}</sf:exceptionMessage>"
        f"</sf:{kind}></detail>"
        "</soapenv:Fault>"
    )
    return Response(500, None, dict(_XML), raw=_envelope(body, fault_ns=True))


def merge_response(results: Sequence[MergeResult]) -> Response:
    """``mergeResponse`` with one ``result`` (``MergeResult``) per request, HTTP 200."""
    x = escape
    parts: list[str] = []
    for result in results:
        inner = ""
        for code, message, fields in result.errors:
            names = "".join(f"<fields>{x(f)}</fields>" for f in fields)
            inner += (
                f"<errors>{names}<message>{x(message)}</message>"
                f"<statusCode>{x(code)}</statusCode></errors>"
            )
        inner += f"<id>{x(result.master_id)}</id>" if result.master_id else '<id xsi:nil="true"/>'
        inner += "".join(f"<mergedRecordIds>{x(i)}</mergedRecordIds>" for i in result.merged_ids)
        inner += f"<success>{'true' if result.success else 'false'}</success>"
        inner += "".join(
            f"<updatedRelatedIds>{x(i)}</updatedRelatedIds>" for i in result.updated_related_ids
        )
        parts.append(f"<result>{inner}</result>")
    return Response(
        200, None, dict(_XML), raw=_envelope(f"<mergeResponse>{''.join(parts)}</mergeResponse>")
    )
