"""The follow-up policy: every open lead and open deal has an open task, or gets one.

An open lead is a contact whose ``hs_lead_status`` is one of ``open_lead_statuses``; an open
deal is a deal whose ``dealstage`` is not one of ``closed_deal_stages`` (a deal without a stage
counts as open). A record already has an open task when a task in the snapshot whose
``hs_task_status`` is not ``COMPLETED`` is associated with it, in either direction: the task's
``associations`` list the record, or the record's ``associations["tasks"]`` list the task. A task
id the snapshot does not hold (archived, not pulled) does not count.

The new task is owned by the record's ``hubspot_owner_id`` (unless the snapshot's owners mark
that owner archived), else ``fallback_owner_id``, else nobody. It is due ``due_in_business_days``
business days after ``snapshot.now``'s date: weekends are skipped, and the public holidays of
``holiday_country`` when set. Subject and body come from templates filled with the record's
properties (``str.format_map``; a missing or empty property renders as ``''``, and the extra
keys ``id`` and ``display_name`` are always there).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Literal

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.base import Record
from policies.base import Change, CreateTask, Policy, Snapshot
from policies.normalizers import collapse_whitespace
from policies.order import id_key


class FollowUpSettings(BaseModel):
    """Settings of the follow-up policy (``[policies.follow_up]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="Run this policy.")
    object_types: tuple[Literal["contacts", "deals"], ...] = Field(
        default=("contacts", "deals"),
        description="Which records get follow-ups: open leads (contacts), open deals (deals).",
    )
    open_lead_statuses: tuple[str, ...] = Field(
        default=("NEW", "OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT"),
        description="hs_lead_status values that make a contact an open lead.",
    )
    closed_deal_stages: tuple[str, ...] = Field(
        default=("closedwon", "closedlost"),
        description="dealstage values of closed deals; any other stage is open.",
    )
    completed_task_statuses: tuple[str, ...] = Field(
        default=("COMPLETED",),
        description="hs_task_status values of tasks that no longer count as open.",
    )
    due_in_business_days: int = Field(
        default=2, ge=0, le=365, description="Business days from today to the task's due date."
    )
    holiday_country: str | None = Field(
        default=None,
        description="Country (ISO 3166-1 alpha-2, e.g. 'US') whose public holidays are not "
        "business days; none when unset.",
    )
    fallback_owner_id: str | None = Field(
        default=None, description="Owner of tasks for records without an (active) owner."
    )
    contact_subject: str = Field(
        default="Follow up with {display_name}",
        description="Task subject for an open lead; {field} placeholders take the contact's "
        "properties, plus {id} and {display_name} (name, else e-mail, else 'contact <id>').",
    )
    contact_body: str = Field(
        default="Open lead {display_name} (lead status {hs_lead_status}) has no open task.",
        description="Task body for an open lead.",
    )
    deal_subject: str = Field(
        default="Follow up on deal {display_name}",
        description="Task subject for an open deal; placeholders take the deal's properties, "
        "plus {id} and {display_name} (dealname, else 'deal <id>').",
    )
    deal_body: str = Field(
        default="Open deal {display_name} (stage {dealstage}) has no open task.",
        description="Task body for an open deal.",
    )

    @field_validator("holiday_country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if code not in holidays.list_supported_countries():
            raise ValueError(f"holidays does not know country {value!r}")
        return code


class _Defaulting(dict[str, str]):
    """A format_map mapping in which unknown keys render as empty."""

    def __missing__(self, key: str) -> str:
        return ""


def add_business_days(start: date, days: int, holiday_country: str | None = None) -> date:
    """``start`` plus ``days`` business days (Monday to Friday, not a public holiday).

    With ``days == 0`` the result is ``start`` if that is a business day, else the next one.
    """
    years = range(start.year, start.year + 2 + days // 200)
    off = holidays.country_holidays(holiday_country, years=years) if holiday_country else {}

    def business(day: date) -> bool:
        return day.weekday() < 5 and day not in off

    current = start
    while not business(current):
        current += timedelta(days=1)
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if business(current):
            remaining -= 1
    return current


def open_task_targets(
    tasks: Iterable[Record], completed: Iterable[str]
) -> tuple[set[str], set[str]]:
    """(ids of records that open tasks point at, ids of the open tasks themselves)."""
    done = {s.upper() for s in completed}
    targets: set[str] = set()
    open_ids: set[str] = set()
    for task in tasks:
        if (task.properties.get("hs_task_status") or "").upper() in done:
            continue
        open_ids.add(task.id)
        for ids in task.associations.values():
            targets.update(ids)
    return targets, open_ids


class FollowUpPolicy(Policy):
    """Proposes a :class:`CreateTask` for each open lead or open deal without an open task."""

    name = "follow_up"

    def __init__(self, settings: FollowUpSettings) -> None:
        self.settings = settings

    def __call__(self, snapshot: Snapshot) -> list[Change]:
        targets, open_ids = open_task_targets(
            snapshot.of("tasks"), self.settings.completed_task_statuses
        )
        due = add_business_days(
            snapshot.now.date(), self.settings.due_in_business_days, self.settings.holiday_country
        )
        changes: list[Change] = []
        for object_type in self.settings.object_types:
            for record in sorted(snapshot.of(object_type), key=lambda r: id_key(r.id)):
                why = self._why_open(record)
                if why is None or record.id in targets:
                    continue
                if not open_ids.isdisjoint(record.associations.get("tasks", ())):
                    continue
                changes.append(self._task(snapshot, record, why, due))
        return changes

    def _why_open(self, record: Record) -> str | None:
        props = record.properties
        if record.object_type == "contacts":
            status = (props.get("hs_lead_status") or "").strip()
            if status.upper() in {s.upper() for s in self.settings.open_lead_statuses}:
                return f"open lead (lead status {status})"
            return None
        stage = (props.get("dealstage") or "").strip()
        if stage.lower() in {s.lower() for s in self.settings.closed_deal_stages}:
            return None
        return f"open deal (stage {stage or 'not set'})"

    def _owner(self, record: Record, owners: Mapping[str, Mapping[str, str | None]]) -> str | None:
        owner = (record.properties.get("hubspot_owner_id") or "").strip()
        if owner and (owners.get(owner, {}).get("archived") or "").lower() != "true":
            return owner
        return self.settings.fallback_owner_id

    def _task(self, snapshot: Snapshot, record: Record, why: str, due: date) -> CreateTask:
        values = _Defaulting(
            {k: collapse_whitespace(v) for k, v in record.properties.items() if v is not None}
        )
        values["id"] = record.id
        values["display_name"] = _display_name(record)
        contact = record.object_type == "contacts"
        subject = self.settings.contact_subject if contact else self.settings.deal_subject
        body = self.settings.contact_body if contact else self.settings.deal_body
        owner = self._owner(record, snapshot.owners)
        return CreateTask(
            source=snapshot.source,
            object_type=record.object_type,
            policy=self.name,
            reason=f"{why} has no open task; follow-up due {due.isoformat()}",
            record_id=record.id,
            subject=collapse_whitespace(subject.format_map(values)),
            owner_id=owner,
            due=due,
            body=collapse_whitespace(body.format_map(values)),
        )


def _display_name(record: Record) -> str:
    props = record.properties
    if record.object_type == "contacts":
        name = collapse_whitespace(f"{props.get('firstname') or ''} {props.get('lastname') or ''}")
        email = (props.get("email") or "").strip()
        return name or email or f"contact {record.id}"
    return collapse_whitespace(props.get("dealname") or "") or f"deal {record.id}"
