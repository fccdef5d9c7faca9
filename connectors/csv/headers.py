"""Spreadsheet headers as exports write them, matched to canonical fields.

A header names a canonical field (:mod:`model.fields`) when, ignoring case, spaces and ``_``
(:func:`header_key`), it is the field's own name (``First Name``, ``LEAD_STATUS``, ``Owner ID``)
or one of the names below, per object type, that exports use for it. The names are those of
the exports people bring: HubSpot's (``Record ID``, ``Phone Number``, ``Contact owner``,
``State/Region``, ``Postal Code``, ``Country/Region``, ``Website URL``...), Salesforce's
(``Contact ID``, ``Account Name``, ``Title``, ``Mobile``, ``Mailing Street``, ``Mailing
Zip/Postal Code``, ``Billing City``, ``Opportunity Name``, ``Stage``...), Excel's and Outlook's
contact lists (``E-mail Address``, ``Business Phone``, ``Web Page``...) and Google Contacts'
(``Given Name``, ``E-mail 1 - Value``, ``Organization Name``...).

A column that names no field is carried through to the cleaned file untouched and is reported
as not used. :data:`ID_HEADERS` are the headers taken for the record id when no ``id_column``
is set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final

from connectors.csv.settings import CANONICAL_FIELDS


def header_key(name: str) -> str:
    """A header as it is compared: case folded, without spaces or ``_``."""
    return "".join(name.split()).replace("_", "").casefold()


def _names(object_type: str, pairs: Mapping[str, Iterable[str]]) -> Mapping[str, str]:
    """Header key → field, from field → the headers that name it (fields of the type only)."""
    fields = CANONICAL_FIELDS[object_type]
    return MappingProxyType(
        {
            header_key(header): name
            for name, headers in pairs.items()
            if name in fields
            for header in headers
        }
    )


_PERSON: Final = {
    "firstname": ("Given Name", "First", "Forename"),
    "lastname": ("Family Name", "Surname", "Last"),
    "email": (
        "Email Address",
        "E-mail",
        "E-mail Address",
        "E-mail 1 - Value",
        "Primary Email",
        "Work Email",
    ),
    "additional_emails": ("Additional email addresses", "E-mail 2 - Value"),
    "birthdate": ("Date of Birth", "DOB", "Birth Date", "Birthday"),
    "phone": (
        "Phone Number",
        "Phone 1 - Value",
        "Business Phone",
        "Work Phone",
        "Telephone",
    ),
    "mobilephone": ("Mobile Phone Number", "Mobile", "Mobile Number", "Cell Phone", "Cell"),
    "company": (
        "Company Name",
        "Account Name",
        "Organization",
        "Organization Name",
        "Organization 1 - Name",
    ),
    "jobtitle": ("Title", "Organization Title", "Organization 1 - Title", "Position"),
    "address": (
        "Street Address",
        "Street",
        "Mailing Street",
        "Business Street",
        "Address 1 - Street",
        "Address Line 1",
        "Address 1",
    ),
    # Suburb and Locality: Australian and British files (FEBRL's people, the record-linkage
    # benchmark, name the town `suburb`)
    "city": ("Mailing City", "Business City", "Address 1 - City", "Town", "Suburb", "Locality"),
    "state": (
        "State/Region",
        "State/Province",
        "Mailing State/Province",
        "Business State",
        "Address 1 - Region",
        "Province",
    ),
    "zip": (
        "Postal Code",
        "Zip",
        "Zip Code",
        "Zip/Postal Code",
        "Mailing Zip/Postal Code",
        "Business Postal Code",
        "Address 1 - Postal Code",
        "Postcode",
    ),
    "country": (
        "Country/Region",
        "Mailing Country",
        "Business Country/Region",
        "Address 1 - Country",
    ),
    "website": ("Website URL", "Web Page", "Web Site", "Website 1 - Value", "URL"),
    "owner_id": ("Contact owner", "Lead Owner", "Contact Owner Name", "Owner", "HubSpot Owner"),
    "lead_status": ("HubSpot Lead Status",),
    "lifecycle_stage": ("Lifecycle Stage",),
    "last_activity_at": ("Last Activity Date", "Last Activity"),
    "created_at": ("Create Date", "Created Date", "Created", "Date Created"),
    "updated_at": ("Last Modified Date", "Last Modified"),
}
_COMPANY: Final = {
    "name": ("Company Name", "Account Name", "Company", "Organization Name"),
    "domain": ("Company Domain Name", "Domain Name", "Website Domain"),
    "website": ("Website URL", "Web Page", "Web Site", "URL"),
    "phone": ("Phone Number", "Business Phone", "Main Phone", "Telephone"),
    "address": ("Street Address", "Street", "Billing Street", "Address Line 1"),
    "city": ("Billing City", "Town"),
    "state": ("State/Region", "State/Province", "Billing State/Province", "Province"),
    "zip": ("Postal Code", "Zip", "Zip Code", "Zip/Postal Code", "Billing Zip/Postal Code"),
    "country": ("Country/Region", "Billing Country"),
    "owner_id": ("Company owner", "Account Owner", "Owner"),
    "created_at": ("Create Date", "Created Date", "Created"),
    "updated_at": ("Last Modified Date", "Last Modified"),
}
_DEAL: Final = {
    "dealname": ("Deal Name", "Opportunity Name", "Name"),
    "amount": ("Deal Amount",),
    "closedate": ("Close Date", "Expected Close Date"),
    "stage": ("Deal Stage", "Stage"),
    "pipeline": ("Deal Pipeline",),
    "owner_id": ("Deal owner", "Opportunity Owner", "Owner"),
    "created_at": ("Create Date", "Created Date", "Created"),
    "updated_at": ("Last Modified Date", "Last Modified"),
}
_TASK: Final = {
    "subject": ("Task Title", "Title", "Task Subject"),
    "body": ("Notes", "Task Notes", "Description", "Comments"),
    "status": ("Task Status",),
    "priority": ("Task Priority",),
    "task_type": ("Task Type",),
    "due": ("Due Date", "Due", "Activity Date"),
    "owner_id": ("Assigned to", "Task owner", "Owner"),
    "created_at": ("Create Date", "Created Date", "Created"),
}

#: Per object type: header key → canonical field, for the names exports use (see above).
ALIASES: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "contacts": _names("contacts", _PERSON),
        "leads": _names("leads", _PERSON),
        "companies": _names("companies", _COMPANY),
        "deals": _names("deals", _DEAL),
        "tasks": _names("tasks", _TASK),
    }
)

#: Per object type, the headers taken for the record id (without ``id_column``), first found
#: in this order: a Salesforce contacts export also holds ``Account ID``, which is no contact's.
#: Last, the record-linkage data sets' (FEBRL's ``rec_id``, Splink's ``unique_id``).
_LINKAGE_IDS = ("rec_id", "unique_id")
ID_HEADERS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "contacts": ("id", "Record ID", "Contact ID", "hs_object_id", *_LINKAGE_IDS),
        "leads": ("id", "Record ID", "Lead ID", "hs_object_id", *_LINKAGE_IDS),
        "companies": ("id", "Record ID", "Company ID", "Account ID", "hs_object_id", *_LINKAGE_IDS),
        "deals": ("id", "Record ID", "Deal ID", "Opportunity ID", "hs_object_id"),
        "tasks": ("id", "Record ID", "Task ID", "Activity ID", "hs_object_id"),
    }
)


def field_for(object_type: str, header: str) -> str | None:
    """The canonical field ``header`` names in a file of ``object_type``, or ``None``.

    Its own name first (``lead_status`` for ``Lead Status``), then the names exports use.
    """
    key = header_key(header)
    own = {header_key(name): name for name in CANONICAL_FIELDS[object_type]}
    return own.get(key) or ALIASES[object_type].get(key)
