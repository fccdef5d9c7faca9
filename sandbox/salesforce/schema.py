"""The objects and fields the sandbox serves, as ``sobjects/{Type}/describe`` describes them.

A trimmed standard org: Lead, Contact, Account, Opportunity, Task, User and Group (queues),
with the standard fields a CRM hygiene tool touches, their types, picklist values (the standard
org's defaults) and what the API user may do with each (``createable``, ``updateable``,
``nillable``, ``filterable``). Field names, types and picklist values are Salesforce's
(``../shared/specs/salesforce/sobjects-openapi-v59.json`` lists the fields; picklist values are
the standard org's, which the OpenAPI does not enumerate). ``Tags__c`` is a custom
multi-select picklist on Lead and Contact, holding the generator's tags with their legacy
synonyms as inactive values (invented: a custom field as an org would add it).

A field that field-level security hides is absent from ``describe`` and from queries
(``SalesforceState.hidden_fields``), as in Salesforce; so are the Person Account fields
(:data:`PERSON_ACCOUNT_FIELDS`) unless the org has Person Accounts enabled
(``SalesforceState.person_accounts``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from sandbox.generator.tags import CANONICAL_TAGS, TAG_SYNONYMS
from sandbox.salesforce.ids import PREFIXES

FieldType = Literal[
    "id",
    "string",
    "email",
    "phone",
    "url",
    "textarea",
    "picklist",
    "multipicklist",
    "reference",
    "boolean",
    "datetime",
    "date",
    "double",
    "currency",
    "int",
    "anyType",
]

API_VERSION: Final = "59.0"


@dataclass(frozen=True, slots=True)
class Field:
    """One field of an object, as describe tells it."""

    name: str
    type: FieldType
    label: str
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    picklist: tuple[tuple[str, bool], ...] = ()
    """(value, active) pairs, in display order."""
    restricted: bool = False
    reference_to: tuple[str, ...] = ()
    custom: bool = False
    calculated: bool = False
    default: str | None = None

    @property
    def filterable(self) -> bool:
        """Long text areas cannot be filtered in SOQL (``Description`` of a Task), nor can a
        history row's ``OldValue`` and ``NewValue`` (``anyType``: "Nillable, Sort")."""
        return not (self.type == "textarea" and self.length > 4000) and self.type != "anyType"

    @property
    def sortable(self) -> bool:
        return self.type == "anyType" or (self.filterable and self.type != "multipicklist")

    def describe(self) -> dict[str, Any]:
        """The field as ``describe`` answers it (the keys a client reads; Salesforce sends
        dozens more)."""
        soap = {
            "id": "tns:ID",
            "reference": "tns:ID",
            "boolean": "xsd:boolean",
            "datetime": "xsd:dateTime",
            "date": "xsd:date",
            "double": "xsd:double",
            "currency": "xsd:double",
            "int": "xsd:int",
            "anyType": "xsd:anyType",
        }.get(self.type, "xsd:string")
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "soapType": soap,
            "length": self.length,
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "filterable": self.filterable,
            "sortable": self.sortable,
            "groupable": self.filterable and self.type not in ("double", "currency", "datetime"),
            "custom": self.custom,
            "calculated": self.calculated,
            "defaultedOnCreate": self.default is not None or self.type == "boolean",
            "unique": False,
            "externalId": False,
            "idLookup": self.name in ("Id", "Email", "Username"),
            "restrictedPicklist": self.restricted,
            "dependentPicklist": False,
            "picklistValues": [
                {
                    "active": active,
                    "defaultValue": value == self.default,
                    "label": value,
                    "validFor": None,
                    "value": value,
                }
                for value, active in self.picklist
            ],
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
        }

    @property
    def relationship_name(self) -> str | None:
        """``AccountId`` → ``Account``; ``WhoId`` → ``Who``; custom ``X__c`` → ``X__r``."""
        if self.type != "reference":
            return None
        if self.name.endswith("__c"):
            return self.name[:-3] + "__r"
        return self.name[:-2] if self.name.endswith("Id") else None


@dataclass(frozen=True, slots=True)
class SObjectType:
    """One object: its fields and what the API can do with it."""

    name: str
    label: str
    plural: str
    fields: tuple[Field, ...]
    mergeable: bool = False
    replicateable: bool = True
    history_of: str | None = None
    """For a field history object (``ContactHistory``...), the object whose history it holds:
    it is read-only through the API (no create, update or delete)."""
    by_name: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name.lower(): f for f in self.fields})

    def field(self, name: str) -> Field | None:
        """The field called ``name`` (any case), or None."""
        return self.by_name.get(name.lower())

    @property
    def key_prefix(self) -> str:
        return PREFIXES[self.name]


def _picks(*values: str) -> tuple[tuple[str, bool], ...]:
    return tuple((v, True) for v in values)


def _sys(*, owner: bool = True, merge: bool = False) -> list[Field]:
    ro: dict[str, Any] = {"createable": False, "updateable": False}
    found = [
        Field("Id", "id", "Record ID", 18, nillable=False, **ro),
        Field("IsDeleted", "boolean", "Deleted", nillable=False, **ro),
    ]
    if merge:
        found.append(Field("MasterRecordId", "reference", "Master Record ID", 18, **ro))
    if owner:
        found.append(Field("OwnerId", "reference", "Owner ID", 18, nillable=False))
    found += [
        Field("CreatedDate", "datetime", "Created Date", nillable=False, **ro),
        Field("CreatedById", "reference", "Created By ID", 18, nillable=False, **ro),
        Field("LastModifiedDate", "datetime", "Last Modified Date", nillable=False, **ro),
        Field("LastModifiedById", "reference", "Last Modified By ID", 18, nillable=False, **ro),
        Field("SystemModstamp", "datetime", "System Modstamp", nillable=False, **ro),
    ]
    return found


def _address(prefix: str, label: str) -> list[Field]:
    return [
        Field(f"{prefix}Street", "textarea", f"{label} Street", 255),
        Field(f"{prefix}City", "string", f"{label} City", 40),
        Field(f"{prefix}State", "string", f"{label} State/Province", 80),
        Field(f"{prefix}PostalCode", "string", f"{label} Zip/Postal Code", 20),
        Field(f"{prefix}Country", "string", f"{label} Country", 80),
    ]


LEAD_SOURCES: Final = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
LEAD_STATUSES: Final = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)
#: The standard org's lead statuses and whether each is a converted one (``LeadStatus``).
CONVERTED_LEAD_STATUSES: Final = frozenset({"Closed - Converted"})
INDUSTRIES: Final = (
    "Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications",
    "Construction", "Consulting", "Education", "Electronics", "Energy", "Engineering",
    "Entertainment", "Environmental", "Finance", "Food & Beverage", "Government", "Healthcare",
    "Hospitality", "Insurance", "Machinery", "Manufacturing", "Media", "Not For Profit",
    "Recreation", "Retail", "Shipping", "Technology", "Telecommunications", "Transportation",
    "Utilities", "Other",
)  # fmt: skip
#: Opportunity stages of the standard org with ``IsClosed`` and ``IsWon`` (``OpportunityStage``).
STAGES: Final[dict[str, tuple[bool, bool]]] = {
    "Prospecting": (False, False),
    "Qualification": (False, False),
    "Needs Analysis": (False, False),
    "Value Proposition": (False, False),
    "Id. Decision Makers": (False, False),
    "Perception Analysis": (False, False),
    "Proposal/Price Quote": (False, False),
    "Negotiation/Review": (False, False),
    "Closed Won": (True, True),
    "Closed Lost": (True, False),
}
#: Task statuses of the standard org and whether each closes the task (``TaskStatus``).
TASK_STATUSES: Final[dict[str, bool]] = {
    "Not Started": False,
    "In Progress": False,
    "Completed": True,
    "Waiting on someone else": False,
    "Deferred": False,
}
TASK_PRIORITIES: Final = ("High", "Normal", "Low")
TASK_SUBTYPES: Final = ("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn")
SALUTATIONS: Final = ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")


def _tags() -> Field:
    values: list[tuple[str, bool]] = [(v, True) for v in CANONICAL_TAGS]
    for synonyms in TAG_SYNONYMS.values():
        values += [(value, not hidden) for value, _, hidden in synonyms]
    return Field("Tags__c", "multipicklist", "Tags", 4099, picklist=tuple(values), custom=True)


_RO: Final[dict[str, Any]] = {"createable": False, "updateable": False}

LEAD = SObjectType(
    "Lead",
    "Lead",
    "Leads",
    (
        *_sys(merge=True),
        Field("FirstName", "string", "First Name", 40),
        Field("LastName", "string", "Last Name", 80, nillable=False),
        Field("Salutation", "picklist", "Salutation", 40, picklist=_picks(*SALUTATIONS)),
        Field("Company", "string", "Company", 255, nillable=False),
        Field("Title", "string", "Title", 128),
        Field("Email", "email", "Email", 80),
        Field("Phone", "phone", "Phone", 40),
        Field("MobilePhone", "phone", "Mobile Phone", 40),
        Field("Street", "textarea", "Street", 255),
        Field("City", "string", "City", 40),
        Field("State", "string", "State/Province", 80),
        Field("PostalCode", "string", "Zip/Postal Code", 20),
        Field("Country", "string", "Country", 80),
        Field("Website", "url", "Website", 255),
        Field("Industry", "picklist", "Industry", 255, picklist=_picks(*INDUSTRIES)),
        Field("LeadSource", "picklist", "Lead Source", 255, picklist=_picks(*LEAD_SOURCES)),
        Field(
            "Status",
            "picklist",
            "Status",
            255,
            nillable=False,
            picklist=_picks(*LEAD_STATUSES),
            default="Open - Not Contacted",
        ),
        Field("IsConverted", "boolean", "Converted", nillable=False, updateable=False),
        Field("ConvertedDate", "date", "Converted Date", **_RO),
        Field("ConvertedContactId", "reference", "Converted Contact ID", 18, **_RO),
        Field("ConvertedAccountId", "reference", "Converted Account ID", 18, **_RO),
        Field("LastActivityDate", "date", "Last Activity", **_RO),
        _tags(),
    ),
    mergeable=True,
)


def _person_account() -> tuple[Field, ...]:
    """Account fields of an org with Person Accounts enabled: the person's fields, read and
    written through the Account (Salesforce's Account reference, "Person Account fields")."""
    return (
        Field("IsPersonAccount", "boolean", "Is Person Account", nillable=False, **_RO),
        Field("PersonContactId", "reference", "Person Contact ID", 18, reference_to=("Contact",),
              **_RO),
        Field("FirstName", "string", "First Name", 40),
        Field("LastName", "string", "Last Name", 80),
        Field("PersonTitle", "string", "Title", 80),
        Field("PersonEmail", "email", "Email", 80),
        Field("PersonMobilePhone", "phone", "Mobile", 40),
        *_address("PersonMailing", "Mailing"),
        Field("PersonBirthdate", "date", "Birthdate"),
    )  # fmt: skip


PERSON_ACCOUNT_FIELDS: Final[dict[str, frozenset[str]]] = {
    "Account": frozenset(f.name for f in _person_account()),
    "Contact": frozenset({"IsPersonAccount"}),
}
"""Fields that exist only in an org with Person Accounts enabled (hidden otherwise)."""

PERSON_CONTACT: Final[dict[str, str]] = {
    "FirstName": "FirstName",
    "LastName": "LastName",
    "PersonTitle": "Title",
    "PersonEmail": "Email",
    "PersonMobilePhone": "MobilePhone",
    "Phone": "Phone",
    "PersonMailingStreet": "MailingStreet",
    "PersonMailingCity": "MailingCity",
    "PersonMailingState": "MailingState",
    "PersonMailingPostalCode": "MailingPostalCode",
    "PersonMailingCountry": "MailingCountry",
    "PersonBirthdate": "Birthdate",
    "OwnerId": "OwnerId",
}
"""A person account's field → its person contact's field, which mirrors it."""

CONTACT = SObjectType(
    "Contact",
    "Contact",
    "Contacts",
    (
        *_sys(merge=True),
        Field("AccountId", "reference", "Account ID", 18, reference_to=("Account",)),
        Field("FirstName", "string", "First Name", 40),
        Field("LastName", "string", "Last Name", 80, nillable=False),
        Field("Salutation", "picklist", "Salutation", 40, picklist=_picks(*SALUTATIONS)),
        Field("Title", "string", "Title", 128),
        Field("Email", "email", "Email", 80),
        Field("Phone", "phone", "Business Phone", 40),
        Field("MobilePhone", "phone", "Mobile Phone", 40),
        *_address("Mailing", "Mailing"),
        Field("Birthdate", "date", "Birthdate"),
        Field("LeadSource", "picklist", "Lead Source", 255, picklist=_picks(*LEAD_SOURCES)),
        Field("Description", "textarea", "Contact Description", 32000),
        Field("LastActivityDate", "date", "Last Activity", **_RO),
        _tags(),
        Field("IsPersonAccount", "boolean", "Is Person Account", nillable=False, **_RO),
    ),
    mergeable=True,
)

ACCOUNT = SObjectType(
    "Account",
    "Account",
    "Accounts",
    (
        *_sys(merge=True),
        Field("Name", "string", "Account Name", 255, nillable=False),
        Field("Website", "url", "Website", 255),
        Field("Phone", "phone", "Account Phone", 40),
        *_address("Billing", "Billing"),
        Field("Industry", "picklist", "Industry", 255, picklist=_picks(*INDUSTRIES)),
        Field("Description", "textarea", "Account Description", 32000),
        Field("LastActivityDate", "date", "Last Activity", **_RO),
        *_person_account(),
    ),
    mergeable=True,
)

OPPORTUNITY = SObjectType(
    "Opportunity",
    "Opportunity",
    "Opportunities",
    (
        *_sys(),
        Field("AccountId", "reference", "Account ID", 18, reference_to=("Account",)),
        Field("Name", "string", "Name", 120, nillable=False),
        Field("Amount", "currency", "Amount"),
        Field("CloseDate", "date", "Close Date", nillable=False),
        Field(
            "StageName",
            "picklist",
            "Stage",
            255,
            nillable=False,
            picklist=_picks(*STAGES),
            restricted=True,
        ),
        Field("IsClosed", "boolean", "Closed", nillable=False, calculated=True, **_RO),
        Field("IsWon", "boolean", "Won", nillable=False, calculated=True, **_RO),
        Field("LeadSource", "picklist", "Lead Source", 255, picklist=_picks(*LEAD_SOURCES)),
        Field("LastActivityDate", "date", "Last Activity", **_RO),
    ),
)

TASK = SObjectType(
    "Task",
    "Task",
    "Tasks",
    (
        *_sys(),
        Field("WhoId", "reference", "Name ID", 18, reference_to=("Contact", "Lead")),
        Field("WhatId", "reference", "Related To ID", 18, reference_to=("Account", "Opportunity")),
        Field("Subject", "string", "Subject", 255),
        Field("Description", "textarea", "Comments", 32000),
        Field(
            "Status",
            "picklist",
            "Status",
            255,
            nillable=False,
            picklist=_picks(*TASK_STATUSES),
            default="Not Started",
        ),
        Field(
            "Priority",
            "picklist",
            "Priority",
            40,
            nillable=False,
            picklist=_picks(*TASK_PRIORITIES),
            default="Normal",
        ),
        Field(
            "TaskSubtype",
            "picklist",
            "Task Subtype",
            40,
            picklist=_picks(*TASK_SUBTYPES),
            restricted=True,
            updateable=False,
        ),
        Field("ActivityDate", "date", "Due Date Only"),
        Field("IsClosed", "boolean", "Closed", nillable=False, calculated=True, **_RO),
    ),
)

USER = SObjectType(
    "User",
    "User",
    "Users",
    (
        Field("Id", "id", "User ID", 18, nillable=False, **_RO),
        Field("Username", "string", "Username", 80, nillable=False),
        Field("FirstName", "string", "First Name", 40),
        Field("LastName", "string", "Last Name", 80, nillable=False),
        Field("Name", "string", "Full Name", 121, **_RO),
        Field("Email", "email", "Email", 128, nillable=False),
        Field("IsActive", "boolean", "Active", nillable=False),
        Field("UserType", "picklist", "User Type", 40, picklist=_picks("Standard"), **_RO),
        Field("CreatedDate", "datetime", "Created Date", nillable=False, **_RO),
        Field("LastModifiedDate", "datetime", "Last Modified Date", nillable=False, **_RO),
        Field("SystemModstamp", "datetime", "System Modstamp", nillable=False, **_RO),
    ),
    replicateable=True,
)

GROUP = SObjectType(
    "Group",
    "Group",
    "Groups",
    (
        Field("Id", "id", "Group ID", 18, nillable=False, **_RO),
        Field("Name", "string", "Name", 40, nillable=False),
        Field("Type", "picklist", "Type", 40, picklist=_picks("Queue", "Regular"), **_RO),
        Field("CreatedDate", "datetime", "Created Date", nillable=False, **_RO),
        Field("LastModifiedDate", "datetime", "Last Modified Date", nillable=False, **_RO),
        Field("SystemModstamp", "datetime", "System Modstamp", nillable=False, **_RO),
    ),
)

# -- field history ---------------------------------------------------------------------------
# The objects holding tracked fields' history: one row per change, with ``Field``, ``OldValue``,
# ``NewValue`` (``anyType``: filterable never, sortable), ``DataType``, ``CreatedById`` and
# ``CreatedDate``; none is createable or updateable (Object Reference, "ContactHistory",
# "StandardObjectNameHistory", "OpportunityFieldHistory"; the field reference's
# salesforce-field-reference-opportunityfieldhistory page gives labels and lengths).

#: Parent object → (its history object, the history's field naming the parent).
HISTORY_OBJECTS: Final[dict[str, tuple[str, str]]] = {
    "Lead": ("LeadHistory", "LeadId"),
    "Contact": ("ContactHistory", "ContactId"),
    "Account": ("AccountHistory", "AccountId"),
    "Opportunity": ("OpportunityFieldHistory", "OpportunityId"),
}
HISTORY_CREATED: Final = "created"
"""The ``Field`` of the row a record's creation adds when its object tracks history."""
#: Field type → the history row's ``DataType`` (?: the names are those of the DataType
#: picklist of ActivityFieldHistory's reference page; which one each field type gets is not
#: documented).
HISTORY_DATA_TYPES: Final[dict[str, str]] = {
    "string": "Text",
    "email": "Email",
    "phone": "Phone",
    "url": "Url",
    "textarea": "TextArea",
    "picklist": "DynamicEnum",
    "multipicklist": "MultiEnum",
    "reference": "EntityId",
    "boolean": "Boolean",
    "date": "DateOnly",
    "datetime": "DateTime",
    "double": "Double",
    "currency": "Currency",
    "int": "Double",
}


def history_field(spec: Field) -> str:
    """How a history row's ``Field`` names ``spec``: its API name, or for a standard lookup its
    relationship name (``OwnerId`` → ``Owner``; ?: as the History related list labels it)."""
    relationship = spec.relationship_name
    return relationship if relationship is not None and not spec.custom else spec.name


def trackable(schema: SObjectType) -> list[Field]:
    """The fields of ``schema`` an admin may track: what users can set, no formula, no system
    field (Help, "Field History Tracking": not formula, roll-up, auto-number, Created By, Last
    Modified By)."""
    return [f for f in schema.fields if f.updateable and not f.calculated and f.type != "id"]


def _history(parent: SObjectType) -> SObjectType:
    name, parent_field = HISTORY_OBJECTS[parent.name]
    label = (
        "Opportunity Field History"
        if name == "OpportunityFieldHistory"
        else f"{parent.label} History"
    )
    ro: dict[str, Any] = {"createable": False, "updateable": False}
    changed = dict.fromkeys(history_field(f) for f in trackable(parent))
    fields = (
        Field("Id", "id", f"{label} ID", 18, nillable=False, **ro),
        Field("IsDeleted", "boolean", "Deleted", nillable=False, **ro),
        Field(parent_field, "reference", f"{parent.label} ID", 18, nillable=False,
              reference_to=(parent.name,), **ro),
        Field("CreatedById", "reference", "Created By ID", 18, nillable=False,
              reference_to=("User",), **ro),
        Field("CreatedDate", "datetime", "Created Date", nillable=False, **ro),
        Field("Field", "picklist", "Changed Field", 255, nillable=False, restricted=True,
              picklist=_picks(HISTORY_CREATED, *changed), **ro),
        Field("DataType", "picklist", "Datatype", 40, restricted=True,
              picklist=_picks(*dict.fromkeys(HISTORY_DATA_TYPES.values())), **ro),
        Field("OldValue", "anyType", "Old Value", 255, **ro),
        Field("NewValue", "anyType", "New Value", 255, **ro),
    )  # fmt: skip
    return SObjectType(name, label, f"{label}", fields, history_of=parent.name)


HISTORIES: Final = tuple(_history(t) for t in (LEAD, CONTACT, ACCOUNT, OPPORTUNITY))

OBJECTS: Final[dict[str, SObjectType]] = {
    t.name: t for t in (LEAD, CONTACT, ACCOUNT, OPPORTUNITY, TASK, USER, GROUP, *HISTORIES)
}
"""Every object the sandbox serves, by API name."""


def sobject(name: str) -> SObjectType | None:
    """The object called ``name`` (any case), or None."""
    return next((t for n, t in OBJECTS.items() if n.lower() == name.lower()), None)
