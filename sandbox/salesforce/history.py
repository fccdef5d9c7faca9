"""Field history tracking and the recycle bin's end, as a Salesforce org keeps them.

**Field history.** An admin picks, per object, up to :data:`MAX_TRACKED` fields to track (Help,
"Field History Tracking": "You can select up to 20 standard and custom fields per object").
From then on every save that changes a tracked field adds a row to the object's history object
(``ContactHistory``, ``LeadHistory``, ``AccountHistory``, ``OpportunityFieldHistory``; see
:mod:`sandbox.salesforce.schema`) with the old and new values, the field's ``DataType``, who
saved (``CreatedById``: the person in the UI, or the integration user of an API call) and when.
A save that leaves the value as it was adds nothing; a creation adds one ``created`` row.
Changes made before a field was tracked are not there. Long text areas and multi-select
picklists are "tracked as edited; their old and new field values are not recorded" (Help,
same page): their rows hold null values. A lookup's change adds two rows (Object Reference,
EntityHistory: "Two rows are added to this object when foreign key fields change. One row
contains the foreign key object names that display in the online application", the other the
ids). History is kept 18 months in the org and 24 months through the API (Help: "Field history
data is retained for up to 18 months through your org, and up to 24 months via the API"; use
``queryAll()`` for rows 18 to 24 months old). Rows follow their record to the recycle bin and
go with it when it is purged.

**The recycle bin.** Deleted records stay :data:`RECYCLE_BIN_DAYS` days, then are purged: gone
from ``queryAll`` and from the delete log, and ``sobjects/{Type}/deleted`` refuses a window that
starts before the last purged record's deletion (``earliestDateAvailable``: "the timestamp of
the last physically deleted object"; GetDeletedResult in the SOAP API guide). A person can
empty the bin sooner (:meth:`SalesforceState.empty_recycle_bin`). Invented, not modelled: the
bin's capacity (25 times the org's storage in MB; beyond it the oldest records are purged
early).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any, Final

from sandbox.salesforce.schema import (
    HISTORY_DATA_TYPES,
    HISTORY_OBJECTS,
    OBJECTS,
    Field,
    history_field,
    trackable,
)

MAX_TRACKED: Final = 20
RECYCLE_BIN_DAYS: Final = 15
HISTORY_IN_APP: Final = timedelta(days=548)
"""18 months: how long ``query`` returns a history row."""
HISTORY_VIA_API: Final = timedelta(days=730)
"""24 months: how long ``queryAll`` does, after which the row is gone."""

#: Fields the sandbox org tracks unless a test says otherwise (invented: an admin's choice; a
#: new org tracks nothing).
DEFAULT_TRACKED: Final[Mapping[str, frozenset[str]]] = {
    "Contact": frozenset(
        {
            "FirstName",
            "LastName",
            "Email",
            "Phone",
            "MobilePhone",
            "Title",
            "MailingStreet",
            "MailingCity",
            "MailingState",
            "MailingPostalCode",
            "MailingCountry",
            "OwnerId",
            "AccountId",
            "Tags__c",
        }
    ),
    "Lead": frozenset(
        {
            "FirstName",
            "LastName",
            "Email",
            "Phone",
            "MobilePhone",
            "Title",
            "Company",
            "City",
            "State",
            "Country",
            "Status",
            "OwnerId",
        }
    ),
    "Account": frozenset(
        {"Name", "Phone", "Website", "Industry", "BillingCity", "BillingCountry", "OwnerId"}
    ),
    "Opportunity": frozenset({"Name", "Amount", "CloseDate", "StageName", "OwnerId"}),
}


def checked_tracking(sobject: str, fields: Iterable[str]) -> frozenset[str]:
    """``fields`` as the tracked set of ``sobject`` (API names), or ``ValueError`` as Setup
    refuses it: an object without history, a field that cannot be tracked, more than 20."""
    if sobject not in HISTORY_OBJECTS:
        raise ValueError(f"{sobject} has no field history in the sandbox")
    allowed = {f.name.lower(): f.name for f in trackable(OBJECTS[sobject])}
    chosen = frozenset(allowed.get(name.lower(), name) for name in fields)
    unknown = sorted(n for n in chosen if n.lower() not in allowed)
    if unknown:
        raise ValueError(f"{sobject} cannot track {unknown}")
    if len(chosen) > MAX_TRACKED:
        raise ValueError(f"at most {MAX_TRACKED} fields per object can be tracked")
    return chosen


def unrecorded(spec: Field) -> bool:
    """Whether a change of ``spec`` is tracked as edited without its values."""
    return spec.type == "multipicklist" or (spec.type == "textarea" and spec.length > 255)


def change_rows(
    parent: str,
    parent_id: str,
    spec: Field,
    *,
    old: Any,
    new: Any,
    name_of: Callable[[str], str | None],
) -> list[dict[str, Any]]:
    """The history rows (values by API name) that one change of ``spec`` adds; ``name_of``
    gives the name a lookup's id displays as."""
    _, parent_field = HISTORY_OBJECTS[parent]
    base = {parent_field: parent_id, "Field": history_field(spec)}
    data_type = HISTORY_DATA_TYPES.get(spec.type, "Text")
    if unrecorded(spec):
        return [{**base, "DataType": data_type, "OldValue": None, "NewValue": None}]
    rows = [{**base, "DataType": data_type, "OldValue": old, "NewValue": new}]
    if spec.type == "reference":
        # (?) the names row's DataType is not documented; "Text" stands in
        named = {
            "DataType": "Text",
            "OldValue": name_of(str(old)) if old else None,
            "NewValue": name_of(str(new)) if new else None,
        }
        rows.insert(0, {**base, **named})
    return rows


def created_row(parent: str, parent_id: str) -> dict[str, Any]:
    """The row a record's creation adds to its object's history."""
    _, parent_field = HISTORY_OBJECTS[parent]
    return {parent_field: parent_id, "Field": "created", "DataType": None}
