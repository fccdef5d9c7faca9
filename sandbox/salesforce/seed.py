"""A Salesforce view of the generator's messy CRM: the same people, companies, deals and tasks,
as a Salesforce org holds them.

The generator (:mod:`sandbox.generator`) speaks a neutral-enough CRM with HubSpot's property
names; this module reads it as Salesforce would store it:

- owners → ``User`` (archived ones inactive); one ``Group`` queue owns some leads;
- companies → ``Account`` (``Website`` from the web site or the domain; ``Billing*`` address;
  the industry as the nearest value of Salesforce's standard picklist);
- contacts → ``Lead`` for people still early in the funnel (lifecycle stage subscriber or lead:
  the first record of a duplicate cluster decides for all of it), else
  ``Contact`` (``AccountId`` from their company, ``Mailing*`` address). A fifth of the duplicate
  clusters straddle both (their last record goes the other way): a Lead that duplicates a
  Contact, which syncd reports rather than merges. Lead statuses map to the standard org's;
  a few leads are converted already; ``LastName`` and ``Company`` are required, so a missing one
  becomes ``[not provided]`` as Web-to-Lead writes it. E-mail capitals and padding stay (the
  messy data is the point);
- in an org with Person Accounts enabled (``SalesforceState.person_accounts``), a third of the
  people without a company (whole duplicate clusters at a time) → person accounts (an
  ``Account`` with the person's ``FirstName``, ``LastName``, ``PersonEmail``... and its person
  ``Contact``); their ids and clusters are listed under ``PersonAccount``;
- deals → ``Opportunity`` (stages mapped to the standard sales process, ``AccountId``);
- tasks → ``Task`` (``WhoId`` the contact or lead, ``WhatId`` the opportunity or account unless
  the who is a lead, statuses and priorities mapped).

:func:`seed_state` loads it into a :class:`~sandbox.salesforce.store.SalesforceState` and answers
the ids each generated record got, and the ground truth in those ids.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sandbox.salesforce.schema import INDUSTRIES, LEAD_SOURCES
from sandbox.salesforce.store import SalesforceState

LEAD_STAGES = frozenset({"subscriber", "lead"})
LEAD_STATUS = {
    "NEW": "Open - Not Contacted",
    "OPEN": "Open - Not Contacted",
    "IN_PROGRESS": "Working - Contacted",
    "ATTEMPTED_TO_CONTACT": "Working - Contacted",
    "CONNECTED": "Working - Contacted",
    "OPEN_DEAL": "Closed - Converted",
    "UNQUALIFIED": "Closed - Not Converted",
    "BAD_TIMING": "Closed - Not Converted",
}
STAGE = {
    "appointmentscheduled": "Prospecting",
    "qualifiedtobuy": "Qualification",
    "presentationscheduled": "Proposal/Price Quote",
    "decisionmakerboughtin": "Negotiation/Review",
    "contractsent": "Negotiation/Review",
    "closedwon": "Closed Won",
    "closedlost": "Closed Lost",
}
TASK_STATUS = {
    "NOT_STARTED": "Not Started",
    "IN_PROGRESS": "In Progress",
    "WAITING": "Waiting on someone else",
    "COMPLETED": "Completed",
    "DEFERRED": "Deferred",
}
PRIORITY = {"LOW": "Low", "MEDIUM": "Normal", "HIGH": "High"}
TASK_TYPE = {"TODO": "Task", "CALL": "Call", "EMAIL": "Email"}
_INDUSTRY_WORDS = {
    "BANK": "Banking",
    "FINANC": "Finance",
    "ACCOUNT": "Finance",
    "INSURANCE": "Insurance",
    "SOFTWARE": "Technology",
    "INFORMATION": "Technology",
    "INTERNET": "Technology",
    "COMPUTER": "Technology",
    "BIOTECH": "Biotechnology",
    "HEALTH": "Healthcare",
    "HOSPITAL": "Healthcare",
    "PHARMA": "Healthcare",
    "HOSPITALITY": "Hospitality",
    "FOOD": "Food & Beverage",
    "CONSTRUCTION": "Construction",
    "CONSULT": "Consulting",
    "EDUCATION": "Education",
    "LEGAL": "Consulting",
    "LOGISTIC": "Transportation",
    "AUTOMOTIVE": "Manufacturing",
    "ENGINEERING": "Engineering",
    "CONSUMER": "Retail",
    "RETAIL": "Retail",
    "MEDIA": "Media",
    "TELECOM": "Telecommunications",
    "ENERGY": "Energy",
}
NOT_PROVIDED = "[not provided]"


class _Object(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def properties(self) -> Mapping[str, str | None]: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def updated_at(self) -> datetime: ...

    @property
    def associations(self) -> Mapping[str, list[str]]: ...


class _Truth(Protocol):
    @property
    def duplicate_clusters(self) -> Mapping[str, list[list[str]]]: ...


class _Dataset(Protocol):
    @property
    def objects(self) -> Mapping[str, list[Any]]: ...

    @property
    def owners(self) -> list[dict[str, Any]]: ...

    @property
    def truth(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class Seeded:
    """What :func:`seed_state` made: the Salesforce id of each generated id, its object, and the
    generator's duplicate clusters in Salesforce ids (``{"Contact": [[...]], "Lead": ...,
    "Account": ...}``, within one object; ``lead_contact`` lists clusters that straddle Lead and
    Contact, which syncd reports instead of merging)."""

    ids: dict[str, str]
    objects: dict[str, str]
    clusters: dict[str, list[list[str]]]
    lead_contact: list[list[str]]


def industry(value: str | None) -> str | None:
    """The standard-picklist industry nearest a generator's industry value."""
    if not value:
        return None
    upper = value.upper()
    found = next((label for word, label in _INDUSTRY_WORDS.items() if word in upper), None)
    return found if found in INDUSTRIES else "Other"


def _date(value: str | None) -> str | None:
    return value[:10] if value else None


def _website(props: Mapping[str, str | None]) -> str | None:
    return props.get("website") or props.get("domain")


def _pick(choices: tuple[str, ...], key: str) -> str:
    return choices[zlib.crc32(key.encode()) % len(choices)]


def _lead_ids(dataset: _Dataset) -> set[str]:
    """The generated contacts that become leads (see the module docstring)."""
    contacts = {c.id: c for c in dataset.objects.get("contacts", [])}
    clusters = dataset.truth.duplicate_clusters.get("contacts", [])
    in_cluster: dict[str, list[str]] = {i: cluster for cluster in clusters for i in cluster}
    leads: set[str] = set()
    for contact_id in contacts:
        cluster = in_cluster.get(contact_id, [contact_id])
        first = contacts[cluster[0]]
        is_lead = (first.properties.get("lifecyclestage") or "") in LEAD_STAGES
        straddles = len(cluster) > 1 and zlib.crc32(cluster[0].encode()) % 5 == 0
        if straddles and contact_id == cluster[-1]:
            is_lead = not is_lead
        if is_lead:
            leads.add(contact_id)
    return leads


def _person_ids(dataset: _Dataset, leads: set[str]) -> set[str]:
    """The generated contacts that become person accounts in an org with Person Accounts
    enabled: a third of the duplicate clusters (and lone contacts) whose people have no company,
    the first record deciding for its whole cluster, so that a cluster is all person accounts
    or none (Salesforce merges person accounts only with person accounts)."""
    contacts = {c.id: c for c in dataset.objects.get("contacts", [])}
    clusters = dataset.truth.duplicate_clusters.get("contacts", [])
    in_cluster: dict[str, list[str]] = {i: cluster for cluster in clusters for i in cluster}
    people: set[str] = set()
    for contact_id in contacts:
        cluster = in_cluster.get(contact_id, [contact_id])
        alone = all(
            not contacts[m].associations.get("companies") and m not in leads for m in cluster
        )
        if alone and zlib.crc32(cluster[0].encode()) % 3 == 0:
            people.add(contact_id)
    return people


def seed_state(state: SalesforceState, dataset: _Dataset) -> Seeded:
    """Load the Salesforce view of ``dataset`` into ``state`` (see the module docstring)."""
    ids: dict[str, str] = {}
    objects: dict[str, str] = {}
    with state.lock:
        for owner in dataset.owners:
            user_id = state.add_user(
                str(owner.get("firstName") or ""),
                str(owner.get("lastName") or "Owner"),
                str(owner.get("email") or f"owner{owner['id']}@example.com"),
                active=not owner.get("archived", False),
                created_at=_when(owner.get("createdAt")),
            )
            ids[str(owner["id"])] = user_id
            objects[str(owner["id"])] = "User"
        queue = state.add_queue("Unassigned leads")
        leads = _lead_ids(dataset)
        people = _person_ids(dataset, leads) if state.person_accounts else set()

        def owner_of(props: Mapping[str, str | None]) -> str | None:
            return ids.get(props.get("hubspot_owner_id") or "")

        for company in dataset.objects.get("companies", []):
            p = company.properties
            values = {
                "Name": p.get("name") or NOT_PROVIDED,
                "Website": _website(p),
                "Phone": p.get("phone"),
                "BillingStreet": p.get("address"),
                "BillingCity": p.get("city"),
                "BillingState": p.get("state"),
                "BillingPostalCode": p.get("zip"),
                "BillingCountry": p.get("country"),
                "Industry": industry(p.get("industry")),
                "OwnerId": owner_of(p) or state.api_user_id,
            }
            _add(state, "Account", obj=company, values=values, ids=ids, objects=objects)
        for contact in dataset.objects.get("contacts", []):
            p = contact.properties
            common = {
                "FirstName": p.get("firstname"),
                "LastName": p.get("lastname") or NOT_PROVIDED,
                "Email": p.get("email"),
                "Phone": p.get("phone"),
                "MobilePhone": p.get("mobilephone"),
                "Title": p.get("jobtitle"),
                "LeadSource": _pick(LEAD_SOURCES, contact.id),
                "Tags__c": p.get("tags"),
                "OwnerId": owner_of(p) or state.api_user_id,
            }
            if contact.id in leads:
                status = LEAD_STATUS.get(p.get("hs_lead_status") or "NEW", "Open - Not Contacted")
                values = {
                    **common,
                    "Company": p.get("company") or NOT_PROVIDED,
                    "Street": p.get("address"),
                    "City": p.get("city"),
                    "State": p.get("state"),
                    "PostalCode": p.get("zip"),
                    "Country": p.get("country"),
                    "Website": p.get("website"),
                    "Status": status,
                    "IsConverted": status == "Closed - Converted",
                }
                if zlib.crc32(contact.id.encode()) % 20 == 0:
                    values["OwnerId"] = queue  # a lead no one picked up yet
                _add(state, "Lead", obj=contact, values=values, ids=ids, objects=objects)
            elif contact.id in people:
                values = {
                    "FirstName": p.get("firstname"),
                    "LastName": p.get("lastname") or NOT_PROVIDED,
                    "PersonEmail": p.get("email"),
                    "Phone": p.get("phone"),
                    "PersonMobilePhone": p.get("mobilephone"),
                    "PersonTitle": p.get("jobtitle"),
                    "PersonMailingStreet": p.get("address"),
                    "PersonMailingCity": p.get("city"),
                    "PersonMailingState": p.get("state"),
                    "PersonMailingPostalCode": p.get("zip"),
                    "PersonMailingCountry": p.get("country"),
                    "OwnerId": owner_of(p) or state.api_user_id,
                }
                ids[contact.id] = state.create_person_account(
                    values,
                    created_at=contact.created_at,
                    modified_at=contact.updated_at,
                    by=values["OwnerId"] if str(values["OwnerId"]).startswith("005") else None,
                )
                objects[contact.id] = "PersonAccount"
            else:
                company_ids = contact.associations.get("companies") or []
                values = {
                    **common,
                    "AccountId": ids.get(company_ids[0]) if company_ids else None,
                    "MailingStreet": p.get("address"),
                    "MailingCity": p.get("city"),
                    "MailingState": p.get("state"),
                    "MailingPostalCode": p.get("zip"),
                    "MailingCountry": p.get("country"),
                }
                _add(state, "Contact", obj=contact, values=values, ids=ids, objects=objects)
        for deal in dataset.objects.get("deals", []):
            p = deal.properties
            company_ids = deal.associations.get("companies") or []
            amount = p.get("amount")
            values = {
                "Name": p.get("dealname") or NOT_PROVIDED,
                "Amount": float(amount) if amount else None,
                "CloseDate": _date(p.get("closedate")) or deal.created_at.date().isoformat(),
                "StageName": STAGE.get(p.get("dealstage") or "", "Prospecting"),
                "AccountId": ids.get(company_ids[0]) if company_ids else None,
                "OwnerId": owner_of(p) or state.api_user_id,
            }
            _add(state, "Opportunity", obj=deal, values=values, ids=ids, objects=objects)
        for task in dataset.objects.get("tasks", []):
            p = task.properties
            who = _first(task, ("contacts",), ids)
            what = (
                None
                if who is not None and objects.get(who[0]) == "Lead"
                else _first(task, ("deals", "companies"), ids)
            )
            values = {
                "Subject": p.get("hs_task_subject"),
                "Description": p.get("hs_task_body"),
                "Status": TASK_STATUS.get(p.get("hs_task_status") or "", "Not Started"),
                "Priority": PRIORITY.get(p.get("hs_task_priority") or "", "Normal"),
                "TaskSubtype": TASK_TYPE.get(p.get("hs_task_type") or "", "Task"),
                "ActivityDate": _date(p.get("hs_timestamp")),
                "OwnerId": owner_of(p) or state.api_user_id,
                "WhoId": who[1] if who else None,
                "WhatId": what[1] if what else None,
            }
            _add(state, "Task", obj=task, values=values, ids=ids, objects=objects)
    return Seeded(ids, objects, *_clusters(dataset, ids, objects))


def _first(obj: _Object, kinds: tuple[str, ...], ids: Mapping[str, str]) -> tuple[str, str] | None:
    for kind in kinds:
        for linked in obj.associations.get(kind) or []:
            if linked in ids:
                return linked, ids[linked]
    return None


def _add(
    state: SalesforceState,
    sobject: str,
    *,
    obj: _Object,
    values: dict[str, Any],
    ids: dict[str, str],
    objects: dict[str, str],
) -> None:
    record_id = state.create(
        sobject,
        {k: v for k, v in values.items() if v is not None},
        created_at=obj.created_at,
        modified_at=obj.updated_at,
        by=values.get("OwnerId") if str(values.get("OwnerId", "")).startswith("005") else None,
    )
    ids[obj.id] = record_id
    objects[obj.id] = sobject


def _clusters(
    dataset: _Dataset, ids: Mapping[str, str], objects: Mapping[str, str]
) -> tuple[dict[str, list[list[str]]], list[list[str]]]:
    found: dict[str, list[list[str]]] = {
        "Contact": [],
        "Lead": [],
        "Account": [],
        "PersonAccount": [],
    }
    straddling: list[list[str]] = []
    for kind in ("contacts", "companies"):
        for cluster in dataset.truth.duplicate_clusters.get(kind, []):
            by_object: dict[str, list[str]] = {}
            for member in cluster:
                by_object.setdefault(objects[member], []).append(ids[member])
            for name, members in by_object.items():
                if len(members) > 1:
                    found[name].append(sorted(members))
            if len(by_object) > 1:
                straddling.append(sorted(ids[m] for m in cluster))
    return found, straddling


def _when(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return None
