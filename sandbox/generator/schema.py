"""Property definitions per object type, as ``GET /crm/v3/properties/{objectType}`` returns them.

``PROPERTIES[object_type]`` is a list of HubSpot ``Property`` objects (JSON-ready dicts with
``name``, ``label``, ``type``, ``fieldType``, ``groupName``, ``description``, ``options``,
``displayOrder``, ``calculated``, ``externalOptions``, ``hasUniqueValue``, ``hidden``,
``hubspotDefined``, ``formField``, ``archived`` and ``modificationMetadata``). Enumerations list
their options (``label``, ``value``, ``hidden``, ``displayOrder``); ``hubspot_owner_id`` is an
enumeration with ``externalOptions: true`` and no options (its values are owner ids, as in
HubSpot). ``modificationMetadata.readOnlyValue`` is true for the values HubSpot computes
(create and last-modified dates, ``hs_object_id``, ``hs_merged_object_ids``, last activity).

The enumeration values used by the generator are exported as tuples (``LIFECYCLE_STAGES``...).
"""

from __future__ import annotations

from typing import Any, Final

from sandbox.generator.tags import CANONICAL_TAGS, TAG_SYNONYMS
from sandbox.hubspot.pipelines import DEFAULT_DEAL_STAGES, default_deal_pipeline, pipeline

JsonDict = dict[str, object]

LIFECYCLE_STAGES: Final[dict[str, str]] = {
    "subscriber": "Subscriber",
    "lead": "Lead",
    "marketingqualifiedlead": "Marketing Qualified Lead",
    "salesqualifiedlead": "Sales Qualified Lead",
    "opportunity": "Opportunity",
    "customer": "Customer",
    "other": "Other",
}
LEAD_STATUSES: Final[dict[str, str]] = {
    "NEW": "New",
    "OPEN": "Open",
    "IN_PROGRESS": "In Progress",
    "OPEN_DEAL": "Open Deal",
    "UNQUALIFIED": "Unqualified",
    "ATTEMPTED_TO_CONTACT": "Attempted to Contact",
    "CONNECTED": "Connected",
    "BAD_TIMING": "Bad Timing",
}
OPEN_LEAD_STATUSES: Final[tuple[str, ...]] = ("NEW", "OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT")
# Deal pipelines: HubSpot's default one and two a portal added, whose ids (and their stages')
# are numeric, as HubSpot gives them. "Closed Won" and "Contract Sent" are labels of stages in two
# pipelines (a rule naming a stage by label matches both).
DEAL_PIPELINES: Final[tuple[dict[str, Any], ...]] = (
    default_deal_pipeline(),
    pipeline("75100001", "Renewals", 1, (
        ("75100011", "Renewal Due", 0.3, False), ("75100012", "Quote Sent", 0.6, False),
        ("75100013", "Negotiation", 0.8, False), ("75100014", "Renewed", 1.0, True),
        ("75100015", "Churned", 0.0, True),
    ), created="2023-02-01T09:00:00.000Z"),
    pipeline("75100002", "Partner Channel", 2, (
        ("75100021", "Referred", 0.1, False), ("75100022", "Qualified", 0.4, False),
        ("75100023", "Contract Sent", 0.9, False), ("75100024", "Closed Won", 1.0, True),
        ("75100025", "Closed Lost", 0.0, True),
    ), created="2023-06-12T14:30:00.000Z"),
)  # fmt: skip
DEAL_STAGES: Final[dict[str, str]] = {
    str(st["id"]): str(st["label"]) for p in DEAL_PIPELINES for st in p["stages"]
}
CLOSED_DEAL_STAGES: Final[tuple[str, ...]] = tuple(
    str(st["id"])
    for p in DEAL_PIPELINES
    for st in p["stages"]
    if st["metadata"]["isClosed"] == "true"
)
#: The stages of HubSpot's default pipeline, in order (what the generator draws first).
DEFAULT_STAGE_IDS: Final[tuple[str, ...]] = tuple(sid for sid, _, _, _ in DEFAULT_DEAL_STAGES)
TASK_STATUSES: Final[dict[str, str]] = {
    "NOT_STARTED": "Not Started",
    "IN_PROGRESS": "In Progress",
    "WAITING": "Waiting",
    "COMPLETED": "Completed",
    "DEFERRED": "Deferred",
}
TASK_PRIORITIES: Final[dict[str, str]] = {"LOW": "Low", "MEDIUM": "Medium", "HIGH": "High"}
TASK_TYPES: Final[dict[str, str]] = {"TODO": "To-do", "CALL": "Call", "EMAIL": "Email"}
INDUSTRIES: Final[dict[str, str]] = {
    "ACCOUNTING": "Accounting",
    "AUTOMOTIVE": "Automotive",
    "BANKING": "Banking",
    "BIOTECHNOLOGY": "Biotechnology",
    "COMPUTER_SOFTWARE": "Computer Software",
    "CONSTRUCTION": "Construction",
    "CONSUMER_GOODS": "Consumer Goods",
    "EDUCATION_MANAGEMENT": "Education Management",
    "FINANCIAL_SERVICES": "Financial Services",
    "FOOD_BEVERAGES": "Food & Beverages",
    "HOSPITAL_HEALTH_CARE": "Hospital & Health Care",
    "HOSPITALITY": "Hospitality",
    "INFORMATION_TECHNOLOGY_AND_SERVICES": "Information Technology and Services",
    "INSURANCE": "Insurance",
    "INTERNET": "Internet",
    "LEGAL_SERVICES": "Legal Services",
    "LOGISTICS_AND_SUPPLY_CHAIN": "Logistics and Supply Chain",
    "MANAGEMENT_CONSULTING": "Management Consulting",
    "MARKETING_AND_ADVERTISING": "Marketing and Advertising",
    "MECHANICAL_OR_INDUSTRIAL_ENGINEERING": "Mechanical or Industrial Engineering",
    "MEDICAL_DEVICES": "Medical Devices",
    "NONPROFIT_ORGANIZATION_MANAGEMENT": "Non-profit Organization Management",
    "PHARMACEUTICALS": "Pharmaceuticals",
    "REAL_ESTATE": "Real Estate",
    "RENEWABLES_ENVIRONMENT": "Renewables & Environment",
    "RETAIL": "Retail",
    "TELECOMMUNICATIONS": "Telecommunications",
}
PIPELINES: Final[dict[str, str]] = {str(p["id"]): str(p["label"]) for p in DEAL_PIPELINES}

_READ_ONLY: Final = frozenset(
    {"createdate", "hs_createdate", "lastmodifieddate", "hs_lastmodifieddate", "hs_object_id",
     "hs_merged_object_ids", "notes_last_updated"}
)  # fmt: skip


def _options(values: dict[str, str]) -> list[JsonDict]:
    return [
        {"label": label, "value": value, "hidden": False, "displayOrder": i}
        for i, (value, label) in enumerate(values.items())
    ]


def _tag_options() -> list[JsonDict]:
    options = _options(CANONICAL_TAGS)
    for synonyms in TAG_SYNONYMS.values():
        for value, label, hidden in synonyms:
            options.append(
                {"label": label, "value": value, "hidden": hidden, "displayOrder": len(options)}
            )
    return options


# (name, label, type, fieldType, groupName, description, options)
_Spec = tuple[str, str, str, str, str, str, list[JsonDict]]


def _build(specs: list[_Spec]) -> list[JsonDict]:
    props: list[JsonDict] = []
    for order, (name, label, type_, field_type, group, description, options) in enumerate(specs):
        custom = name == "tags"
        read_only = name in _READ_ONLY
        props.append(
            {
                "name": name,
                "label": label,
                "type": type_,
                "fieldType": field_type,
                "groupName": group,
                "description": description,
                "options": options,
                "displayOrder": order,
                "calculated": read_only and name != "hs_object_id",
                "externalOptions": name == "hubspot_owner_id",
                "hasUniqueValue": name == "hs_object_id",
                "hidden": False,
                "hubspotDefined": not custom,
                "formField": not read_only and type_ != "datetime",
                "archived": False,
                "modificationMetadata": {
                    "archivable": custom,
                    "readOnlyDefinition": not custom,
                    "readOnlyValue": read_only,
                },
                **({"referencedObjectType": "OWNER"} if name == "hubspot_owner_id" else {}),
            }
        )
    return props


def _common(group: str, modified: str, created: str = "createdate") -> list[_Spec]:
    return [
        ("hubspot_owner_id", "Owner", "enumeration", "select", group,
         "The owner of the record.", []),
        (created, "Create Date", "datetime", "date", group,
         "The date the record was created.", []),
        (modified, "Last Modified Date", "datetime", "date", group,
         "Most recent timestamp of any property update for this record.", []),
        ("hs_object_id", "Record ID", "number", "number", group,
         "The unique ID for this record. This value is set automatically by HubSpot.", []),
    ]  # fmt: skip


def _merged(group: str) -> _Spec:
    return (
        "hs_merged_object_ids", "Merged Record IDs", "string", "text", group,
        "The IDs of the records merged into this one, separated by semicolons.", [],
    )  # fmt: skip


def _address(group: str) -> list[_Spec]:
    return [
        ("address", "Street Address", "string", "text", group, "Street address.", []),
        ("city", "City", "string", "text", group, "City.", []),
        ("state", "State/Region", "string", "text", group, "State or region.", []),
        ("zip", "Postal Code", "string", "text", group, "Postal or ZIP code.", []),
        ("country", "Country/Region", "string", "text", group, "Country or region.", []),
    ]


_CI: Final = "contactinformation"
_CONTACTS: Final[list[_Spec]] = [
    ("firstname", "First Name", "string", "text", _CI, "A contact's first name.", []),
    ("lastname", "Last Name", "string", "text", _CI, "A contact's last name.", []),
    ("email", "Email", "string", "text", _CI, "A contact's primary email address.", []),
    ("hs_additional_emails", "Additional email addresses", "string", "text", _CI,
     "A set of additional email addresses for a contact, separated by semicolons.", []),
    ("phone", "Phone Number", "string", "phonenumber", _CI, "A contact's primary phone number.",
     []),
    ("mobilephone", "Mobile Phone Number", "string", "phonenumber", _CI,
     "A contact's mobile phone number.", []),
    ("company", "Company Name", "string", "text", _CI,
     "Name of the contact's company, as entered on the contact.", []),
    ("jobtitle", "Job Title", "string", "text", _CI, "A contact's job title.", []),
    *_address(_CI),
    ("website", "Website URL", "string", "text", _CI, "The contact's company website.", []),
    ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", _CI,
     "The qualification of contacts to sales readiness.", _options(LIFECYCLE_STAGES)),
    ("hs_lead_status", "Lead Status", "enumeration", "radio", "sales_properties",
     "The contact's sales, prospecting or outreach status.", _options(LEAD_STATUSES)),
    ("tags", "Tags", "enumeration", "checkbox", "syncd_hygiene",
     "Segmentation tags (custom property). Values are separated by semicolons.", _tag_options()),
    ("notes_last_updated", "Last Activity Date", "datetime", "date", "sales_properties",
     "The last time a note, call, email, meeting or task was logged for the contact.", []),
    *_common(_CI, "lastmodifieddate"),
    _merged(_CI),
]  # fmt: skip

_CO: Final = "companyinformation"
_COMPANIES: Final[list[_Spec]] = [
    ("name", "Company name", "string", "text", _CO, "The name of the company.", []),
    ("domain", "Company Domain Name", "string", "text", _CO,
     "The domain name of the company's website.", []),
    ("website", "Website URL", "string", "text", _CO, "The main website of the company.", []),
    ("phone", "Phone Number", "string", "phonenumber", _CO, "The company's main phone number.",
     []),
    *_address(_CO),
    ("industry", "Industry", "enumeration", "select", _CO,
     "The type of business the company performs.", _options(INDUSTRIES)),
    *_common(_CO, "hs_lastmodifieddate"),
    _merged(_CO),
]  # fmt: skip

_DI: Final = "dealinformation"
_DEALS: Final[list[_Spec]] = [
    ("dealname", "Deal Name", "string", "text", _DI, "The name given to this deal.", []),
    ("amount", "Amount", "number", "number", _DI, "The total amount of the deal.", []),
    ("dealstage", "Deal Stage", "enumeration", "radio", _DI,
     "The stage of the deal in its pipeline.", _options(DEAL_STAGES)),
    ("pipeline", "Pipeline", "enumeration", "select", _DI,
     "The pipeline the deal is in.", _options(PIPELINES)),
    ("closedate", "Close Date", "datetime", "date", _DI,
     "Date the deal was closed or is expected to close.", []),
    *_common(_DI, "hs_lastmodifieddate"),
]  # fmt: skip

_TI: Final = "task"
_TASKS: Final[list[_Spec]] = [
    ("hs_task_subject", "Task Title", "string", "text", _TI, "The title of the task.", []),
    ("hs_task_body", "Task Notes", "string", "textarea", _TI, "The body of the task.", []),
    ("hs_task_status", "Task Status", "enumeration", "select", _TI,
     "The status of the task.", _options(TASK_STATUSES)),
    ("hs_task_priority", "Priority", "enumeration", "select", _TI,
     "The priority of the task.", _options(TASK_PRIORITIES)),
    ("hs_task_type", "Task Type", "enumeration", "select", _TI,
     "The type of the task.", _options(TASK_TYPES)),
    ("hs_timestamp", "Due Date", "datetime", "date", _TI, "When the task is due.", []),
    # tasks have hs_createdate and no createdate (shared/notes/hubspot.md)
    *_common(_TI, "hs_lastmodifieddate", "hs_createdate"),
]  # fmt: skip

PROPERTIES: Final[dict[str, list[JsonDict]]] = {
    "contacts": _build(_CONTACTS),
    "companies": _build(_COMPANIES),
    "deals": _build(_DEALS),
    "tasks": _build(_TASKS),
}

PROPERTY_NAMES: Final[dict[str, tuple[str, ...]]] = {
    object_type: tuple(str(p["name"]) for p in props) for object_type, props in PROPERTIES.items()
}
