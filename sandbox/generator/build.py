"""``generate``: one deterministic messy CRM with its ground truth."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta

from sandbox.generator.activity import follow_ups, make_deals, make_tasks
from sandbox.generator.companies import FirmFactory, make_companies
from sandbox.generator.contacts import ContactMaker, make_contacts
from sandbox.generator.draft import Draft
from sandbox.generator.model import Dataset, GeneratedObject, GroundTruth, iso
from sandbox.generator.owners import OwnerPool, make_owners
from sandbox.generator.people import PersonFactory
from sandbox.generator.picking import Picker
from sandbox.generator.schema import DEAL_PIPELINES, PROPERTY_NAMES
from sandbox.generator.tags import TAG_SYNONYMS

OBJECT_TYPES = ("contacts", "companies", "deals", "tasks")
_MODIFIED = {"contacts": "lastmodifieddate"}
_CREATED = {"tasks": "hs_createdate"}  # tasks have no createdate (shared/notes/hubspot.md)


def generate(records: int, seed: int, now: datetime) -> Dataset:
    """A CRM of ``records`` contacts (companies ~ records/5, deals ~ records/4, tasks ~
    records/2, 8-20 owners) and its ground truth.

    Deterministic for ``(records, seed, now)``: all randomness comes from
    ``random.Random(seed)``. ``now`` is read as UTC when naive and cut to milliseconds; every
    created/updated time lies in the two years before it.
    """
    if records < 0:
        raise ValueError("records must be >= 0")
    now = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(UTC)
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    start = now - timedelta(days=730)
    rng = random.Random(seed)
    counter = [rng.randint(100, 999) * 100]
    owners = make_owners(rng, now, counter)
    pool = OwnerPool(owners, rng)
    factory = FirmFactory(rng)
    companies = make_companies(rng, round(records / 5), factory, pool, start=start, now=now)
    employers = Picker(tuple((f, f.weight) for f in companies.firms)) if companies.firms else None
    people = PersonFactory(rng, factory, employers)
    contacts = make_contacts(rng, records, people, ContactMaker(rng, now, pool), now)
    deals = make_deals(
        rng, round(records / 4), companies.firms, contacts.drafts, owners=pool, now=now
    )
    tasks = make_tasks(
        rng,
        records // 2,
        contacts=contacts.drafts,
        deals=deals,
        companies=companies.drafts,
        owners=pool,
        now=now,
    )
    drafts = {
        "contacts": contacts.drafts,
        "companies": companies.drafts,
        "deals": deals,
        "tasks": tasks,
    }
    _assign_ids(rng, drafts, counter)
    truth = GroundTruth(
        seed=seed,
        records=records,
        now=now,
        duplicate_clusters={
            "contacts": _groups(contacts.clusters),
            "companies": _groups(companies.clusters),
        },
        hard_negatives={
            "contacts": _groups([list(pair) for pair in contacts.hard_negatives]),
            "companies": _groups([list(pair) for pair in companies.lookalikes]),
        },
        due_fixes=_due_fixes(drafts),
        tag_synonyms={
            "tags": {tag: [value for value, _, _ in syns] for tag, syns in TAG_SYNONYMS.items()}
        },
    )
    objects = {kind: [_finish(d) for d in _by_id(drafts[kind])] for kind in OBJECT_TYPES}
    pipelines = {"deals": [copy.deepcopy(p) for p in DEAL_PIPELINES]}
    return Dataset(objects=objects, owners=owners, truth=truth, pipelines=pipelines)


def _assign_ids(rng: random.Random, drafts: dict[str, list[Draft]], counter: list[int]) -> None:
    """Number all records in creation order with small gaps, as a CRM does."""
    ordered = [
        (d.created, rank, seq, d)
        for rank, kind in enumerate(OBJECT_TYPES)
        for seq, d in enumerate(drafts[kind])
    ]
    ordered.sort(key=lambda row: row[:3])
    for *_, d in ordered:
        counter[0] += rng.randint(1, 24)
        d.id = str(counter[0])


def _by_id(drafts: list[Draft]) -> list[Draft]:
    return sorted(drafts, key=lambda d: int(d.id))


def _finish(d: Draft) -> GeneratedObject:
    props = {name: d.props.get(name) for name in PROPERTY_NAMES[d.object_type]}
    props["hs_object_id"] = d.id
    props[_CREATED.get(d.object_type, "createdate")] = iso(d.created)
    props[_MODIFIED.get(d.object_type, "hs_lastmodifieddate")] = iso(d.updated)
    associations = {
        kind: sorted((x.id for x in linked), key=int) for kind, linked in sorted(d.assoc.items())
    }
    return GeneratedObject(d.id, props, d.created, d.updated, associations)


def _groups(groups: list[list[Draft]]) -> list[list[str]]:
    return sorted(
        (sorted((d.id for d in group), key=int) for group in groups),
        key=lambda ids: int(ids[0]),
    )


def _due_fixes(drafts: dict[str, list[Draft]]) -> list[dict[str, str | None]]:
    fixes: list[dict[str, str | None]] = []
    for kind in OBJECT_TYPES:
        order = {name: i for i, name in enumerate(PROPERTY_NAMES[kind])}
        for d in _by_id(drafts[kind]):
            for fix in sorted(d.fixes.values(), key=lambda f: order[f.field]):
                entry: dict[str, str | None] = {
                    "policy": "tags" if fix.field == "tags" else "normalize",
                    "object_type": kind,
                    "record_id": d.id,
                    "field": fix.field,
                    "old": fix.old,
                    "new": fix.new,
                    "issue": fix.issue,
                }
                if fix.issue == "invalid":
                    entry["flag"] = "invalid"
                fixes.append(entry)
    for kind in ("contacts", "deals"):
        for d, why in follow_ups(_by_id(drafts[kind])):
            fixes.append(
                {"policy": "follow_up", "object_type": kind, "record_id": d.id, "issue": why}
            )
    return fixes
