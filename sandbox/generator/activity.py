"""Deals and tasks, and which open leads and open deals are due a follow-up.

An open lead (``hs_lead_status`` NEW, OPEN, IN_PROGRESS or ATTEMPTED_TO_CONTACT) has an open
task about 30 % of the time, only completed tasks about 20 %, none otherwise; an open deal
(stage not closed) has an open task about 40 %, only completed ones about 20 %. A record with
no associated task whose status is other than COMPLETED is due a follow-up.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Final

from sandbox.generator.companies import Firm
from sandbox.generator.draft import Draft, between, later, link
from sandbox.generator.model import iso
from sandbox.generator.owners import OwnerPool
from sandbox.generator.picking import Picker
from sandbox.generator.schema import (
    CLOSED_DEAL_STAGES,
    DEAL_PIPELINES,
    DEFAULT_STAGE_IDS,
    OPEN_LEAD_STATUSES,
)

# fmt: off
_STAGES: Final[Picker[str]] = Picker((
    ("appointmentscheduled", 15), ("qualifiedtobuy", 15), ("presentationscheduled", 12),
    ("decisionmakerboughtin", 10), ("contractsent", 8), ("closedwon", 22), ("closedlost", 18),
))
_PRODUCTS: Final[tuple[str, ...]] = (
    "Annual subscription", "Enterprise plan", "Pilot", "Renewal", "Expansion",
    "Onboarding services", "Pro plan upgrade", "Consulting retainer", "Multi-year agreement",
    "Add-on seats", "Support contract", "Starter plan",
)
_OPEN_STATUS: Final[Picker[str]] = Picker((
    ("NOT_STARTED", 60), ("IN_PROGRESS", 15), ("WAITING", 15), ("DEFERRED", 10),
))
_PRIORITY: Final[Picker[str | None]] = Picker(
    (("LOW", 30), ("MEDIUM", 35), ("HIGH", 20), (None, 15))
)
_TYPE: Final[Picker[str]] = Picker((("TODO", 40), ("CALL", 35), ("EMAIL", 25)))
_SUBJECTS: Final[dict[str, tuple[str, ...]]] = {
    "CALL": ("Call {who}", "Follow-up call with {who}", "Return {who}'s call",
             "Discovery call: {what}"),
    "EMAIL": ("Email {who} re: pricing", "Send proposal to {who}", "Send follow-up email",
              "Share case study with {who}"),
    "TODO": ("Prepare demo for {what}", "Check in with {who}", "Update notes after meeting",
             "Review contract for {what}", "Follow up on {what}"),
}
_BODIES: Final[tuple[str, ...]] = (
    "Discussed pricing; wants a quote for 25 seats.", "Left voicemail.",
    "Asked to reconnect after their budget review.", "Interested in the annual plan.",
    "Needs security questionnaire answered.", "Met at the conference booth.",
    "Decision expected end of quarter.", "Send the updated order form.",
)
# fmt: on
#: Which pipeline the n-th deal goes to (n mod 5): three in five stay in HubSpot's default one.
#: Chosen without a random draw, so adding pipelines left every other generated value as it was.
_PIPELINE_CYCLE: Final[tuple[int, ...]] = (0, 0, 1, 0, 2)


def _in_pipeline(default_stage: str, index: int) -> tuple[str, str]:
    """(pipeline id, stage id) of the n-th deal whose stage drawn in the default pipeline is
    ``default_stage``: the stage of the same meaning in its pipeline (won for won, lost for
    lost, an open stage as far along as the drawn one)."""
    chosen = DEAL_PIPELINES[_PIPELINE_CYCLE[index % len(_PIPELINE_CYCLE)]]
    stages = chosen["stages"]
    if chosen["id"] == "default":
        return "default", default_stage
    closed = [s for s in stages if s["metadata"]["isClosed"] == "true"]
    won = next(s for s in closed if s["metadata"]["probability"] == "1.0")
    lost = next(s for s in closed if s is not won)
    open_ = [s for s in stages if s["metadata"]["isClosed"] != "true"]
    if default_stage == "closedwon":
        return str(chosen["id"]), str(won["id"])
    if default_stage == "closedlost":
        return str(chosen["id"]), str(lost["id"])
    position = DEFAULT_STAGE_IDS.index(default_stage)
    return str(chosen["id"]), str(open_[position * len(open_) // 5]["id"])


def _who(d: Draft) -> str:
    if d.object_type == "contacts":
        return " ".join(x for x in (d.clean.get("firstname"), d.clean.get("lastname")) if x)
    return d.clean.get("dealname") or d.clean.get("name") or "the account"


def make_deals(
    rng: random.Random,
    count: int,
    firms: list[Firm],
    contacts: list[Draft],
    *,
    owners: OwnerPool,
    now: datetime,
) -> list[Draft]:
    """``count`` deals, each on one to three contacts of a firm (or one contact of none)."""
    staffed = [f for f in firms if f.contacts]
    loners = [c for c in contacts if not c.linked("companies")]
    if not contacts or not (staffed or loners):
        return []
    picker = Picker(tuple((f, float(len(f.contacts))) for f in staffed)) if staffed else None
    deals: list[Draft] = []
    for _ in range(count):
        if picker is None or (loners and rng.random() < 0.1):
            people = [rng.choice(loners)]
            company: Draft | None = None
            title = _who(people[0])
        else:
            firm = picker.pick(rng)
            k = rng.choices((1, 2, 3), weights=(60, 30, 10))[0]
            people = rng.sample(firm.contacts, min(k, len(firm.contacts)))
            company = people[0].linked("companies")[0]
            title = firm.base
        start = max(c.created for c in [*people, *([company] if company else [])])
        created = later(rng, start, now, skew=1.0)
        deal = Draft("deals", created, later(rng, created, now))
        pipeline, stage = _in_pipeline(_STAGES.pick(rng), len(deals))
        deal.put("dealname", f"{title} - {rng.choice(_PRODUCTS)}")
        deal.put("amount", _amount(rng))
        deal.put("dealstage", stage)
        deal.put("pipeline", pipeline)
        if stage in CLOSED_DEAL_STAGES:
            closed = between(rng, created, deal.updated)
        else:
            closed = created + timedelta(days=rng.randint(14, 150))
        deal.put("closedate", iso(closed))
        owner = people[0].props.get("hubspot_owner_id")
        if not owner or rng.random() >= 0.7:
            owner = owners.pick(rng, 0.05)
        deal.put("hubspot_owner_id", owner)
        for person in people:
            link(deal, person)
        if company is not None:
            link(deal, company)
        deals.append(deal)
    return deals


def _amount(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.08:
        return None
    value = math.exp(rng.uniform(math.log(1_000), math.log(250_000)))
    if roll < 0.14:
        return f"{value:.2f}"
    return str(int(round(value / 50) * 50))


def _task(
    rng: random.Random, parent: Draft, status: str, owners: OwnerPool, now: datetime
) -> Draft:
    created = later(rng, parent.created, now, skew=1.0)
    task = Draft("tasks", created, later(rng, created, now))
    kind = _TYPE.pick(rng)
    what = parent.clean.get("company") or _who(parent)
    subject = rng.choice(_SUBJECTS[kind]).format(who=_who(parent), what=what)
    task.put("hs_task_subject", subject)
    task.put("hs_task_body", rng.choice(_BODIES) if rng.random() < 0.5 else None)
    task.put("hs_task_status", status)
    task.put("hs_task_priority", _PRIORITY.pick(rng))
    task.put("hs_task_type", kind)
    if status == "COMPLETED":
        due = between(rng, created, task.updated)
    else:
        due = created + timedelta(days=rng.randint(0, 21), hours=rng.randint(0, 8))
    task.put("hs_timestamp", iso(due))
    owner = parent.props.get("hubspot_owner_id")
    if not owner or rng.random() >= 0.85:
        owner = owners.pick(rng, 0.04)
    task.put("hubspot_owner_id", owner)
    link(task, parent)
    return task


def _with_context(rng: random.Random, task: Draft, parent: Draft) -> None:
    """Also associate a task with the parent's company (contacts) or first contact (deals)."""
    if parent.object_type == "contacts" and parent.linked("companies") and rng.random() < 0.3:
        link(task, parent.linked("companies")[0])
    elif parent.object_type == "deals" and parent.linked("contacts") and rng.random() < 0.5:
        link(task, parent.linked("contacts")[0])


def make_tasks(
    rng: random.Random,
    target: int,
    *,
    contacts: list[Draft],
    deals: list[Draft],
    companies: list[Draft],
    owners: OwnerPool,
    now: datetime,
) -> list[Draft]:
    """Tasks on open leads and open deals (some open, some only completed, many none), then
    history on other records until about ``target`` tasks exist."""
    tasks: list[Draft] = []
    quiet: list[Draft] = []
    for parent in [*contacts, *deals]:
        if not is_open(parent):
            quiet.append(parent)
            continue
        roll = rng.random()
        open_share = 0.3 if parent.object_type == "contacts" else 0.4
        if roll < open_share:
            statuses = [_OPEN_STATUS.pick(rng)] + (["COMPLETED"] if rng.random() < 0.3 else [])
        elif roll < open_share + 0.2:
            statuses = ["COMPLETED"] * rng.randint(1, 2)
        else:
            statuses = []
        for status in statuses:
            task = _task(rng, parent, status, owners, now)
            _with_context(rng, task, parent)
            tasks.append(task)
    quiet += companies
    while quiet and len(tasks) < target:
        parent = rng.choice(quiet)
        status = "COMPLETED" if rng.random() < 0.65 else _OPEN_STATUS.pick(rng)
        task = _task(rng, parent, status, owners, now)
        _with_context(rng, task, parent)
        tasks.append(task)
    return tasks


def is_open(record: Draft) -> bool:
    """Whether a contact is an open lead or a deal is open."""
    if record.object_type == "contacts":
        return record.props.get("hs_lead_status") in OPEN_LEAD_STATUSES
    if record.object_type == "deals":
        return record.props.get("dealstage") not in CLOSED_DEAL_STAGES
    return False


def follow_ups(records: list[Draft]) -> list[tuple[Draft, str]]:
    """Open leads and open deals without an open task, with why: ``no_tasks`` or
    ``only_completed_tasks``."""
    due: list[tuple[Draft, str]] = []
    for record in records:
        if not is_open(record):
            continue
        tasks = record.linked("tasks")
        if any(t.props.get("hs_task_status") != "COMPLETED" for t in tasks):
            continue
        due.append((record, "only_completed_tasks" if tasks else "no_tasks"))
    return due
