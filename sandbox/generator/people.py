"""People: who they are (name, place, employer, e-mails, phones), independent of how many CRM
records show them."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from sandbox.generator.companies import Firm, FirmFactory
from sandbox.generator.geo import City, postal_code, street_address
from sandbox.generator.name_pools import CULTURE_MIX
from sandbox.generator.names import (
    NICKNAMES,
    given_names_related,
    nickname_variants,
    pick_name,
    slug,
)
from sandbox.generator.phones import Phone, landline, mobile, with_extension
from sandbox.generator.picking import Picker

# fmt: off
JOB_TITLES: Final[tuple[str, ...]] = (
    "CEO", "CTO", "CFO", "COO", "Founder", "Co-Founder", "Owner", "VP of Sales",
    "VP Marketing", "Head of Marketing", "Marketing Manager", "Marketing Coordinator",
    "Account Executive", "Senior Account Executive", "Sales Development Representative",
    "Sales Manager", "Software Engineer", "Senior Software Engineer", "Engineering Manager",
    "Product Manager", "Operations Manager", "Office Manager", "Controller", "HR Director",
    "Procurement Specialist", "Purchasing Manager", "Director of IT", "IT Manager",
    "Customer Success Manager", "Consultant", "Analyst", "Project Manager", "RevOps Manager",
    "Chief Revenue Officer", "General Counsel", "Executive Assistant", "Data Scientist",
)
_PERSONAL_DOMAINS: Final[dict[str, tuple[tuple[str, float], ...]]] = {
    "US": (("gmail.com", 45), ("yahoo.com", 15), ("outlook.com", 10), ("hotmail.com", 10),
           ("icloud.com", 8), ("aol.com", 4), ("proton.me", 3), ("comcast.net", 3)),
    "CA": (("gmail.com", 45), ("hotmail.com", 12), ("outlook.com", 10), ("yahoo.ca", 10),
           ("rogers.com", 8), ("shaw.ca", 8), ("icloud.com", 7)),
    "GB": (("gmail.com", 40), ("hotmail.co.uk", 15), ("yahoo.co.uk", 10), ("outlook.com", 10),
           ("btinternet.com", 10), ("sky.com", 5), ("icloud.com", 5)),
    "DE": (("gmail.com", 25), ("gmx.de", 25), ("web.de", 25), ("t-online.de", 15),
           ("outlook.de", 5), ("posteo.de", 5)),
    "FR": (("gmail.com", 35), ("orange.fr", 20), ("free.fr", 15), ("laposte.net", 10),
           ("hotmail.fr", 10), ("sfr.fr", 5), ("yahoo.fr", 5)),
}
_WORK_PATTERNS: Final[tuple[tuple[str, float], ...]] = (
    ("{f}.{l}", 45), ("{i}{l}", 20), ("{f}", 7), ("{f}{j}", 5), ("{f}_{l}", 4), ("{i}.{l}", 10),
    ("{f}{l}", 5), ("{l}.{f}", 2), ("{l}", 2),
)
_PERSONAL_PATTERNS: Final[tuple[tuple[str, float], ...]] = (
    ("{f}.{l}", 25), ("{f}{l}", 15), ("{f}.{l}{n}", 15), ("{i}{l}{n}", 12), ("{f}_{l}", 6),
    ("{l}.{f}", 5), ("{f}{y}", 12), ("{f}.{l}{Y}", 6), ("{f}{l}{n}", 4),
)
# fmt: on


@dataclass(eq=False, slots=True)
class Person:
    """One real person. ``phone`` is the number they give as "phone" (a direct line, their
    firm's main line, or a home line); ``mobile`` their own mobile, if any."""

    first: str
    last: str
    culture: str
    female: bool
    city: City
    address: str
    zip: str
    firm: Firm | None
    jobtitle: str | None
    work_email: str | None
    personal_email: str | None
    phone: Phone
    mobile: Phone | None

    @property
    def primary_email(self) -> str | None:
        """The e-mail the person gives first: work if employed, else personal."""
        return self.work_email or self.personal_email


class PersonFactory:
    """Makes people, keeping e-mail addresses unique across everyone made."""

    def __init__(self, rng: random.Random, firms: FirmFactory, employers: Picker[Firm] | None):
        self._rng = rng
        self._firms = firms
        self._employers = employers
        self._emails: set[str] = set()
        self._cultures = {code: Picker(tuple(mix.items())) for code, mix in CULTURE_MIX.items()}
        self._domains = {code: Picker(t) for code, t in _PERSONAL_DOMAINS.items()}
        self._work = Picker(_WORK_PATTERNS)
        self._personal = Picker(_PERSONAL_PATTERNS)

    def person(
        self,
        *,
        employed: bool | None = None,
        firm: Firm | None = None,
        city: City | None = None,
        name: tuple[str, str] | None = None,
        culture: str | None = None,
        needs_email: bool = False,
    ) -> Person:
        """A new person; keyword arguments pin what a caller needs (a hard negative's firm,
        city, name or culture)."""
        rng = self._rng
        if firm is None and self._employers is not None:
            if employed is None:
                employed = rng.random() < 0.82
            if employed:
                firm = self._employers.pick(rng)
        if city is None:
            city = self._home_city(firm)
        culture = culture or self._cultures[city.country].pick(rng)
        female = rng.random() < 0.5
        fold = city.country in ("US", "CA", "GB") and rng.random() < 0.45
        first, last = name or pick_name(rng, culture, female=female, fold=fold)
        work = self._email(first, last, firm.domain, self._work) if firm is not None else None
        personal: str | None = None
        if (firm is None and rng.random() < 0.92) or (firm is not None and rng.random() < 0.55):
            domain = self._domains[city.country].pick(rng)
            personal = self._email(first, last, domain, self._personal)
        if needs_email and work is None and personal is None:
            personal = self._email(
                first, last, self._domains[city.country].pick(rng), self._personal
            )
        return Person(
            first=first,
            last=last,
            culture=culture,
            female=female,
            city=city,
            address=firm.street
            if firm is not None and firm.city is city
            else street_address(rng, city.country),
            zip=firm.zip if firm is not None and firm.city is city else postal_code(rng, city),
            firm=firm,
            jobtitle=rng.choice(JOB_TITLES) if firm is not None or rng.random() < 0.3 else None,
            work_email=work,
            personal_email=personal,
            phone=self._phone(firm, city),
            mobile=mobile(rng, city) if rng.random() < 0.45 else None,
        )

    def _home_city(self, firm: Firm | None) -> City:
        rng = self._rng
        if firm is None:
            return self._firms.city()
        roll = rng.random()
        if roll < 0.7:
            return firm.city
        if roll < 0.95:
            return self._firms.city(firm.country)
        return self._firms.city()

    def _phone(self, firm: Firm | None, city: City) -> Phone:
        rng = self._rng
        if firm is None:
            return landline(rng, city) if rng.random() < 0.5 else mobile(rng, city)
        if rng.random() < 0.22:
            main = firm.phone
            return with_extension(rng, main) if rng.random() < 0.3 else main
        office = firm.city if firm.city.country == city.country else city
        line = landline(rng, office)
        return with_extension(rng, line) if rng.random() < 0.05 else line

    def _email(self, first: str, last: str, domain: str, patterns: Picker[str]) -> str:
        rng = self._rng
        given = first
        if first not in NICKNAMES and patterns is self._work and rng.random() < 0.4:
            given = next(iter(nickname_variants(first)), first)
        f, l_ = slug(given) or "x", slug(last) or "x"
        for attempt in range(8):
            local = patterns.pick(rng).format(
                f=f,
                l=l_,
                i=f[0],
                j=l_[0],
                n=rng.randint(1, 99),
                y=rng.randint(60, 99) if rng.random() < 0.8 else f"{rng.randint(0, 9):02d}",
                Y=rng.randint(1960, 2003),
            )
            if attempt >= 4:
                local += str(rng.randint(2, 999))
            email = f"{local}@{domain}"
            if email not in self._emails:
                self._emails.add(email)
                return email
        email = f"{f}.{l_}.{len(self._emails)}@{domain}"
        self._emails.add(email)
        return email

    def other_given_name(self, person: Person) -> tuple[str, str]:
        """A (given, surname) pair with ``person``'s surname and a given name that is not a
        form of theirs and starts with another letter (for look-alike relatives and
        colleagues)."""
        rng = self._rng
        for _ in range(40):
            given, _ = pick_name(rng, person.culture, female=rng.random() < 0.5, fold=False)
            if given[:1] != person.first[:1] and not given_names_related(given, person.first):
                return given, person.last
        return ("Alex" if person.first[:1] != "A" else "Sam"), person.last

    def relative(self, person: Person) -> Person:
        """Someone living with ``person`` (same surname, address, sometimes the home phone)."""
        rng = self._rng
        other = self.person(
            employed=rng.random() < 0.5,
            city=person.city,
            name=self.other_given_name(person),
            culture=person.culture,
            needs_email=True,
        )
        # Their shared home, not an office address.
        home = street_address(rng, person.city.country), postal_code(rng, person.city)
        person.address, person.zip = other.address, other.zip = home
        other.work_email = other.work_email if other.firm is not person.firm else None
        if other.firm is person.firm:
            other.firm = None
        if rng.random() < 0.45:  # the home landline, on both records
            person.phone = other.phone = landline(rng, person.city)
        return other
