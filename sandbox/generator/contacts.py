"""Contacts: people turned into contact records, with duplicate clusters and hard negatives.

About 11-14 % of contact records belong to a duplicate cluster of two to four records of one
person (see :mod:`sandbox.generator.looks`). Hard negatives are pairs of different people that
look alike: colleagues with the same surname at one company (often sharing its main line),
relatives at one address (sometimes sharing the home phone), and namesakes ("John Smith") in
different cities.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from sandbox.generator.companies import Firm, put_phone
from sandbox.generator.draft import Draft, between, later, link
from sandbox.generator.looks import Look, associated_firm, base_look, cluster_looks
from sandbox.generator.mess import (
    mess_case_emails,
    mess_country,
    mess_email,
    mess_state,
    mess_text,
)
from sandbox.generator.model import iso
from sandbox.generator.name_pools import COMMON_NAMES
from sandbox.generator.names import name_case
from sandbox.generator.owners import OwnerPool
from sandbox.generator.people import Person, PersonFactory
from sandbox.generator.phones import render_invalid, with_extension
from sandbox.generator.picking import Picker
from sandbox.generator.tags import TAG_SYNONYMS, TAG_WEIGHTS, canonical_tags

# fmt: off
_LIFECYCLE: Final[Picker[str | None]] = Picker((
    ("subscriber", 12), ("lead", 35), ("marketingqualifiedlead", 15), ("salesqualifiedlead", 10),
    ("opportunity", 8), ("customer", 15), ("other", 3), (None, 2),
))
_LEAD_STATUS: Final[dict[str | None, Picker[str | None]]] = {
    "subscriber": Picker(((None, 70), ("NEW", 20), ("OPEN", 10))),
    "lead": Picker((("NEW", 25), ("OPEN", 20), ("IN_PROGRESS", 15), ("ATTEMPTED_TO_CONTACT", 15),
                    ("CONNECTED", 10), ("UNQUALIFIED", 8), ("BAD_TIMING", 5), (None, 2))),
    "marketingqualifiedlead": Picker((("NEW", 15), ("OPEN", 20), ("IN_PROGRESS", 20),
                                      ("ATTEMPTED_TO_CONTACT", 15), ("CONNECTED", 20),
                                      ("BAD_TIMING", 5), ("UNQUALIFIED", 5))),
    "salesqualifiedlead": Picker((("IN_PROGRESS", 30), ("CONNECTED", 40), ("OPEN_DEAL", 20),
                                  ("ATTEMPTED_TO_CONTACT", 10))),
    "opportunity": Picker((("OPEN_DEAL", 70), ("CONNECTED", 20), ("IN_PROGRESS", 10))),
    "customer": Picker(((None, 50), ("CONNECTED", 30), ("OPEN_DEAL", 20))),
    "other": Picker(((None, 50), ("UNQUALIFIED", 30), ("BAD_TIMING", 20))),
    None: Picker(((None, 60), ("NEW", 40))),
}
# fmt: on
_TAGS: Final[Picker[str]] = Picker(tuple(TAG_WEIGHTS.items()))
_CLUSTER_SIZE: Final[Picker[int]] = Picker(((2, 70), (3, 22), (4, 8)))
_TWO_YEARS: Final = timedelta(days=730)

# Hard-negative pairs per contact record, by kind.
COWORKER_RATE: Final = 0.006
RELATIVE_RATE: Final = 0.005
NAMESAKE_RATE: Final = 0.004


@dataclass(slots=True)
class ContactSet:
    """The contact drafts, the duplicate clusters among them, and the hard-negative pairs."""

    drafts: list[Draft] = field(default_factory=list)
    clusters: list[list[Draft]] = field(default_factory=list)
    hard_negatives: list[tuple[Draft, Draft]] = field(default_factory=list)


class ContactMaker:
    """Turns a person's look into a contact draft (typing mess, status, owner, tags) and
    associates it with a record of the person's firm."""

    def __init__(self, rng: random.Random, now: datetime, owners: OwnerPool) -> None:
        self._rng = rng
        self._now = now
        self._owners = owners

    def draft(self, p: Person, look: Look, created: datetime) -> Draft:
        """The contact record showing ``look`` of ``p``."""
        rng = self._rng
        d = Draft("contacts", created, later(rng, created, self._now))
        for name, value in (("firstname", look.first), ("lastname", look.last)):
            if look.case is not None and name_case(value, look.case) != value:
                d.put(name, value, (name_case(value, look.case), "case"))
            else:
                d.put(name, value, mess_text(rng, value))
        if look.email is not None:
            d.put(
                "email", look.email, mess_email(rng, look.email, allow_invalid=look.allow_invalid)
            )
        else:
            d.put("email", None)
        extra = ";".join(e for e in look.additional if e != look.email)
        d.put(
            "hs_additional_emails", extra or None, mess_case_emails(rng, extra) if extra else None
        )
        self._place(d, p, look)
        for name, phone in (("phone", look.phone), ("mobilephone", look.mobile)):
            if phone is None:
                d.put(name, None)
            elif look.allow_invalid and rng.random() < 0.02:
                d.put(name, phone.clean, (render_invalid(rng, phone), "invalid"))
            else:
                put_phone(rng, d, name, phone)
        d.put("company", look.company, mess_text(rng, look.company) if look.company else None)
        d.put("jobtitle", look.jobtitle)
        bare = bare_domain(look.website) if look.website else None
        d.put("website", bare, (look.website, "format") if look.website else None)
        stage = _LIFECYCLE.pick(rng)
        d.put("lifecyclestage", stage)
        d.put("hs_lead_status", _LEAD_STATUS[stage].pick(rng))
        d.put("hubspot_owner_id", self._owners.pick(rng, missing=0.1))
        raw_tags = self._tags(created)
        if raw_tags is None:
            d.put("tags", None)
        else:
            clean = canonical_tags(raw_tags)
            d.put("tags", clean, (raw_tags, "synonym" if raw_tags != clean else None))
        activity = between(rng, d.created, d.updated) if rng.random() < 0.6 else None
        d.put("notes_last_updated", iso(activity) if activity else None)
        d.put("hs_merged_object_ids", None)
        firm = associated_firm(p, look)
        if firm is not None:
            self._associate(d, firm)
        return d

    def _place(self, d: Draft, p: Person, look: Look) -> None:
        rng = self._rng
        city = p.city
        if look.country:
            nation = city.region if city.country == "GB" else None
            d.put("country", city.country, mess_country(rng, city.country, nation))
        else:
            d.put("country", None)
        if look.city:
            d.put("city", city.name, mess_text(rng, city.name))
        else:
            d.put("city", None)
        if look.state and city.state is not None:
            d.put("state", city.state, mess_state(rng, city.state))
        else:
            shown = look.state and city.region is not None and rng.random() < 0.2
            d.put("state", city.region if shown else None)
        d.put("address", look.address)
        d.put("zip", look.zip)

    def _tags(self, created: datetime) -> str | None:
        rng = self._rng
        if rng.random() >= 0.35:
            return None
        count = rng.choices((1, 2, 3), weights=(60, 30, 10))[0]
        chosen: list[str] = []
        while len(chosen) < count:
            tag = _TAGS.pick(rng)
            if tag not in chosen:
                chosen.append(tag)
        # Older records carry more legacy options.
        age = (self._now - created) / _TWO_YEARS
        legacy = 0.06 + 0.26 * min(1.0, max(0.0, age))
        values: list[str] = []
        for tag in chosen:
            synonym = rng.choice(TAG_SYNONYMS[tag])[0]
            values.append(synonym if rng.random() < legacy else tag)
            if rng.random() < 0.03:
                values.append(tag if values[-1] != tag else synonym)
        return ";".join(values)

    def _associate(self, d: Draft, firm: Firm) -> None:
        rng = self._rng
        records = firm.records
        record = records[0] if len(records) == 1 or rng.random() < 0.75 else rng.choice(records)
        link(d, record)
        firm.contacts.append(d)


def make_contacts(
    rng: random.Random, n: int, people: PersonFactory, maker: ContactMaker, now: datetime
) -> ContactSet:
    """``n`` contact records: singles, duplicate clusters and hard-negative pairs."""
    start = now - _TWO_YEARS
    coworkers = round(n * COWORKER_RATE)
    relatives = round(n * RELATIVE_RATE)
    namesakes = round(n * NAMESAKE_RATE)
    budget = max(0, n - coworkers - relatives - 2 * namesakes)
    target = min(round(n * rng.uniform(0.11, 0.14)), max(0, budget - coworkers - relatives))
    sizes: list[int] = []
    while sum(sizes) < target:
        size = min(_CLUSTER_SIZE.pick(rng), target - sum(sizes))
        if size < 2:
            break
        sizes.append(size)
    singles = [people.person() for _ in range(budget - sum(sizes))]
    out = ContactSet()
    force: dict[int, frozenset[str]] = {}
    pairs: list[tuple[Person, Person]] = []
    employed = [p for p in singles if p.firm is not None]
    for p in rng.sample(employed, min(coworkers, len(employed))):
        other = people.person(firm=p.firm, name=people.other_given_name(p), culture=p.culture)
        shown = {"company"}
        if p.firm is not None and rng.random() < 0.4:  # both give the firm's main line
            main = p.firm.phone
            p.phone, other.phone = (
                (main, main)
                if rng.random() < 0.5
                else (with_extension(rng, main), with_extension(rng, main))
            )
            shown.add("phone")
        pairs.append((p, other))
        force[id(p)] = force[id(other)] = frozenset(shown)
    taken = {id(p) for pair in pairs for p in pair}
    free = [p for p in singles if id(p) not in taken]
    for p in rng.sample(free, min(relatives, len(free))):
        other = people.relative(p)
        pairs.append((p, other))
        shown = {"address", "phone"} if p.phone is other.phone else {"address"}
        force[id(p)] = force[id(other)] = frozenset(shown)
    for _ in range(namesakes):
        name = rng.choice(COMMON_NAMES)
        first = people.person(name=name)
        second = people.person(name=name)
        for _ in range(20):
            if (second.city.name, second.city.state) != (first.city.name, first.city.state):
                break
            second = people.person(name=name)
        pairs.append((first, second))
        force[id(first)] = force[id(second)] = frozenset({"city"})
    single_ids = {id(p) for p in singles}
    persons = singles + [p for pair in pairs for p in pair if id(p) not in single_ids]
    while len(persons) + sum(sizes) < n:
        persons.append(people.person())  # too few singles to pair: keep the count exact
    by_person: dict[int, Draft] = {}
    for p in persons:
        look = base_look(rng, p, force.get(id(p), frozenset()))
        d = maker.draft(p, look, between(rng, start, now))
        by_person[id(p)] = d
        out.drafts.append(d)
    out.hard_negatives = [(by_person[id(a)], by_person[id(b)]) for a, b in pairs]
    for size in sizes:
        p = people.person(needs_email=True)
        created = between(rng, start, now)
        cluster: list[Draft] = []
        for look in cluster_looks(rng, p, size):
            cluster.append(maker.draft(p, look, created))
            created = between(rng, created, now)
        out.clusters.append(cluster)
        out.drafts.extend(cluster)
    return out


def bare_domain(website: str) -> str:
    """``https://www.acme.com`` → ``acme.com``: the clean form of a web site."""
    text = website.split("://", 1)[-1]
    return text.removeprefix("www.").split("/", 1)[0].lower()
