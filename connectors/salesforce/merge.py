"""Salesforce's ``merge()``: SOAP only (the REST API has none, nor does simple-salesforce), sent
through the session the SDK holds, as ``partner.wsdl`` defines it.

One ``request`` per call: a master (type and Id) and up to two records to merge into it (three
records in all). Salesforce moves the merged records' related records (tasks, opportunities,
contacts of an account) to the master and deletes the merged ones to the recycle bin with
``MasterRecordId`` set; a merge cannot be undone.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

MAX_MERGED = 2
"""Records merged into one master per request."""


def envelope(sobject: str, master_id: str, merged_ids: Sequence[str]) -> str:
    """The ``merge`` envelope; ``{SESSION_ID}`` is filled in when sent."""
    if not 1 <= len(merged_ids) <= MAX_MERGED:
        raise ValueError(f"a merge takes 1 to {MAX_MERGED} records besides the master")
    x = escape
    merged = "".join(f"<urn:recordToMergeIds>{x(i)}</urn:recordToMergeIds>" for i in merged_ids)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:urn="urn:partner.soap.sforce.com" '
        'xmlns:urn1="urn:sobject.partner.soap.sforce.com">'
        "<soapenv:Header><urn:SessionHeader><urn:sessionId>{SESSION_ID}</urn:sessionId>"
        "</urn:SessionHeader></soapenv:Header>"
        "<soapenv:Body><urn:merge><urn:request>"
        f"<urn:masterRecord><urn1:type>{x(sobject)}</urn1:type><urn1:Id>{x(master_id)}</urn1:Id>"
        f"</urn:masterRecord>{merged}"
        "</urn:request></urn:merge></soapenv:Body></soapenv:Envelope>"
    )


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    """One ``MergeResult``: ``errors`` are ``{statusCode, message, fields}`` dicts."""

    success: bool
    master_id: str | None
    merged_ids: tuple[str, ...]
    updated_related_ids: tuple[str, ...]
    errors: tuple[dict[str, object], ...]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def outcome(body: ET.Element) -> MergeOutcome:
    """The first ``result`` of a ``mergeResponse`` body; ``ValueError`` when there is none."""
    response = next((c for c in body if _local(c.tag) == "mergeResponse"), None)
    result = (
        next((c for c in response if _local(c.tag) == "result"), None)
        if response is not None
        else None
    )
    if result is None:
        raise ValueError("the merge answer holds no result")

    def texts(name: str) -> tuple[str, ...]:
        return tuple((c.text or "").strip() for c in result if _local(c.tag) == name)

    errors: list[dict[str, object]] = []
    for error in (c for c in result if _local(c.tag) == "errors"):
        errors.append(
            {
                "statusCode": next((c.text for c in error if _local(c.tag) == "statusCode"), ""),
                "message": next((c.text for c in error if _local(c.tag) == "message"), ""),
                "fields": [c.text or "" for c in error if _local(c.tag) == "fields"],
            }
        )
    master = texts("id")
    return MergeOutcome(
        success=texts("success") == ("true",),
        master_id=master[0] if master and master[0] else None,
        merged_ids=texts("mergedRecordIds"),
        updated_related_ids=texts("updatedRelatedIds"),
        errors=tuple(errors),
    )
