"""Companies: the organisations contacts work for, their records, and duplicate records.

A :class:`Firm` is one real organisation; it has one company record, or (about 5 % of records)
a duplicate cluster of two or three records with the same domain and different ways of writing
the name. A few firms are look-alikes of another one (same name stem, other domain and country):
hard negatives for company matching.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, TypeVar

from sandbox.generator.draft import Draft, between, later
from sandbox.generator.geo import (
    CITIES_BY_COUNTRY,
    COUNTRY_WEIGHTS,
    City,
    abbreviate_street,
    postal_code,
)
from sandbox.generator.geo import street_address as make_street
from sandbox.generator.mess import (
    LEGAL_FORMS,
    company_variant,
    mess_country,
    mess_state,
    mess_text,
    with_suffix,
)
from sandbox.generator.name_pools import ANGLO_LAST, GERMANIC_LAST, ITALIAN_LAST
from sandbox.generator.names import ascii_fold, slug
from sandbox.generator.owners import OwnerPool
from sandbox.generator.phones import Phone, landline, render, render_invalid
from sandbox.generator.picking import Picker
from sandbox.generator.schema import INDUSTRIES

# fmt: off
_STEMS: Final[tuple[str, ...]] = (
    "Blue", "North", "Summit", "Apex", "Silver", "Cedar", "Harbor", "Bright", "Iron", "Pioneer",
    "Evergreen", "Quantum", "Vertex", "Lumen", "Crescent", "Atlas", "Granite", "Redwood",
    "Sterling", "Meridian", "Pacific", "Coastal", "Golden", "Prairie", "Beacon", "Keystone",
    "Riverbend", "Oakridge", "Horizon", "Falcon", "Clearwater", "Highland", "Union", "Liberty",
    "Cascade", "Northstar", "Bluebird", "Copper", "Aspen", "Willow", "Ironwood", "Stonebridge",
)
# business word -> likely industry
_TRADES: Final[dict[str, str]] = {
    "Analytics": "INFORMATION_TECHNOLOGY_AND_SERVICES", "Logistics": "LOGISTICS_AND_SUPPLY_CHAIN",
    "Systems": "INFORMATION_TECHNOLOGY_AND_SERVICES", "Labs": "BIOTECHNOLOGY",
    "Health": "HOSPITAL_HEALTH_CARE", "Capital": "FINANCIAL_SERVICES",
    "Solutions": "MANAGEMENT_CONSULTING", "Software": "COMPUTER_SOFTWARE",
    "Dynamics": "MECHANICAL_OR_INDUSTRIAL_ENGINEERING", "Partners": "MANAGEMENT_CONSULTING",
    "Foods": "FOOD_BEVERAGES", "Energy": "RENEWABLES_ENVIRONMENT",
    "Media": "MARKETING_AND_ADVERTISING",
    "Robotics": "MECHANICAL_OR_INDUSTRIAL_ENGINEERING", "Networks": "TELECOMMUNICATIONS",
    "Consulting": "MANAGEMENT_CONSULTING", "Manufacturing": "MECHANICAL_OR_INDUSTRIAL_ENGINEERING",
    "Realty": "REAL_ESTATE", "Insurance": "INSURANCE", "Biotech": "BIOTECHNOLOGY",
    "Design": "MARKETING_AND_ADVERTISING", "Outfitters": "RETAIL", "Supply": "CONSUMER_GOODS",
    "Technologies": "INFORMATION_TECHNOLOGY_AND_SERVICES", "Financial": "FINANCIAL_SERVICES",
    "Ventures": "FINANCIAL_SERVICES", "Medical": "MEDICAL_DEVICES", "Construction": "CONSTRUCTION",
    "Motors": "AUTOMOTIVE", "Pharma": "PHARMACEUTICALS", "Telecom": "TELECOMMUNICATIONS",
    "Learning": "EDUCATION_MANAGEMENT", "Hospitality": "HOSPITALITY", "Data": "INTERNET",
    "Security": "INFORMATION_TECHNOLOGY_AND_SERVICES", "Accounting": "ACCOUNTING",
    "Bank": "BANKING", "Law": "LEGAL_SERVICES",
}
_PREFIXES: Final[tuple[str, ...]] = (
    "Nova", "Bright", "Data", "Cloud", "Zen", "Flex", "Tru", "Omni", "Hyper", "Sky", "Sync",
    "Opti", "Veri", "Lumi", "Quant", "Terra", "Aero", "Medi", "Fin", "Geo",
)
_SUFFIXES: Final[tuple[str, ...]] = (
    "tek", "wave", "ly", "ify", "hub", "stack", "forge", "path", "scale", "wise", "loop", "grid",
    "sphere", "nest", "bit", "core", "logic", "base", "mint", "flow",
)
# legal form family per country: (family, weight); None: no legal form in the name
_LEGAL: Final[dict[str, tuple[tuple[str | None, int], ...]]] = {
    "US": (("Inc.", 35), ("LLC", 20), ("Corp.", 8), ("Co.", 3), ("Group", 4), (None, 30)),
    "CA": (("Inc.", 40), ("Ltd", 15), ("Corp.", 10), (None, 35)),
    "GB": (("Ltd", 65), ("Group", 5), (None, 30)),
    "DE": (("GmbH", 70), ("Group", 5), (None, 25)),
    "FR": (("SAS", 60), ("Group", 5), (None, 35)),
}
_TLDS: Final[dict[str, tuple[tuple[str, int], ...]]] = {
    "US": ((".com", 75), (".io", 10), (".co", 5), (".net", 5), (".us", 5)),
    "CA": ((".ca", 50), (".com", 50)),
    "GB": ((".co.uk", 70), (".com", 25), (".uk", 5)),
    "DE": ((".de", 80), (".com", 20)),
    "FR": ((".fr", 75), (".com", 25)),
}
# fmt: on

T = TypeVar("T")

COMPANY_DUPLICATE_SHARE: Final = 0.05
LOOKALIKE_SHARE: Final = 0.01


@dataclass(eq=False, slots=True)
class Firm:
    """One real organisation. ``records[0]`` is its first company record."""

    base: str
    legal: str | None
    name: str
    domain: str
    city: City
    phone: Phone
    industry: str | None
    weight: float
    street: str
    zip: str
    records: list[Draft] = field(default_factory=list)
    contacts: list[Draft] = field(default_factory=list)

    @property
    def country(self) -> str:
        """The firm's ISO country code."""
        return self.city.country


def _pick_weighted(rng: random.Random, table: tuple[tuple[T, int], ...]) -> T:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def _base_name(rng: random.Random) -> tuple[str, str | None]:
    roll = rng.random()
    trade = rng.choice(tuple(_TRADES))
    if roll < 0.5:
        return f"{rng.choice(_STEMS)} {trade}", _TRADES[trade]
    if roll < 0.72:
        return rng.choice(_PREFIXES) + rng.choice(_SUFFIXES), None
    surname = rng.choice(ANGLO_LAST + ITALIAN_LAST + GERMANIC_LAST[:26])
    if roll < 0.88:
        return f"{surname} {trade}", _TRADES[trade]
    other = rng.choice(ANGLO_LAST)
    joiner = rng.choice((" & ", " and "))
    kind = rng.choice(("", " Associates", " Law", " Accounting"))
    base = f"{surname}{joiner}{other}{kind}" if kind != " Associates" else f"{surname}{kind}"
    return base, _TRADES.get(kind.strip())


class FirmFactory:
    """Makes firms with unique domains in a country mix."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._domains: set[str] = set()
        self._countries = Picker(tuple(COUNTRY_WEIGHTS.items()))
        self._cities = {
            code: Picker(tuple((c, c.weight) for c in cities))
            for code, cities in CITIES_BY_COUNTRY.items()
        }

    def city(self, country: str | None = None) -> City:
        """A city picked by weight, in ``country`` if given."""
        return self._cities[country or self._countries.pick(self._rng)].pick(self._rng)

    def domain(self, base: str, country: str) -> str:
        """A domain for ``base`` not used before."""
        rng = self._rng
        stem = slug(base.replace("&", "and"))
        tld = _pick_weighted(rng, _TLDS[country])
        for candidate in (stem, f"{stem}hq", f"get{stem}", f"{stem}-{country.lower()}"):
            if candidate + tld not in self._domains:
                self._domains.add(candidate + tld)
                return candidate + tld
        n = 2
        while f"{stem}{n}{tld}" in self._domains:
            n += 1
        self._domains.add(f"{stem}{n}{tld}")
        return f"{stem}{n}{tld}"

    def firm(self, base: str | None = None, country: str | None = None) -> Firm:
        """A new firm (optionally with a given name stem, in a given country)."""
        rng = self._rng
        trade_industry: str | None = None
        if base is None:
            base, trade_industry = _base_name(rng)
        city = self.city(country)
        legal = _pick_weighted(rng, _LEGAL[city.country])
        form = rng.choice(LEGAL_FORMS[legal]) if legal is not None else None
        name = with_suffix(base, form) if rng.random() < 0.85 else base
        industry: str | None = trade_industry or rng.choice(tuple(INDUSTRIES))
        if rng.random() >= 0.8:
            industry = None
        return Firm(
            base=base,
            legal=legal,
            name=name,
            domain=self.domain(base, city.country),
            city=city,
            phone=landline(rng, city),
            industry=industry,
            weight=min(rng.paretovariate(1.4), 40.0),
            street=make_street(rng, city.country),
            zip=postal_code(rng, city),
        )


def _website(rng: random.Random, domain: str) -> str | None:
    roll = rng.random()
    if roll < 0.4:
        return f"https://www.{domain}"
    if roll < 0.5:
        return f"http://{domain}"
    if roll < 0.75:
        return f"www.{domain}"
    if roll < 0.85:
        return domain
    return None


def company_record(
    rng: random.Random,
    firm: Firm,
    owner: str | None,
    created: datetime,
    now: datetime,
    *,
    duplicate: bool,
) -> Draft:
    """A company record of ``firm``; a ``duplicate`` one writes the name another way and
    misses more fields."""
    draft = Draft("companies", created, later(rng, created, now))
    name = company_variant(rng, firm.base, firm.legal, firm.name) if duplicate else firm.name
    keep = 0.7 if duplicate else 1.0
    draft.put("name", name, mess_text(rng, name))
    draft.put("domain", firm.domain)
    website = _website(rng, firm.domain)
    # the clean form of a web site is its bare domain; other forms are a due fix ("format")
    draft.put("website", firm.domain if website else None, (website, "format") if website else None)
    city = firm.city
    if rng.random() < 0.85 * keep:
        nation = city.region if city.country == "GB" else None
        draft.put("country", city.country, mess_country(rng, city.country, nation))
    else:
        draft.put("country", None)
    if rng.random() < 0.75 * keep:
        if rng.random() < 0.015 and not duplicate:
            draft.put("phone", firm.phone.clean, (render_invalid(rng, firm.phone), "invalid"))
        else:
            put_phone(rng, draft, "phone", firm.phone)
    else:
        draft.put("phone", None)
    street = abbreviate_street(firm.street) if duplicate and rng.random() < 0.3 else firm.street
    draft.put("address", street if rng.random() < 0.6 * keep else None)
    if rng.random() < 0.9 * keep:
        draft.put("city", city.name, mess_text(rng, city.name))
    else:
        draft.put("city", None)
    if city.state is not None and rng.random() < 0.85 * keep:
        draft.put("state", city.state, mess_state(rng, city.state))
    else:
        draft.put("state", city.region if city.state is None and rng.random() < 0.3 else None)
    draft.put("zip", firm.zip if rng.random() < 0.55 * keep else None)
    draft.put("industry", firm.industry if rng.random() < 0.9 * keep else None)
    draft.put("hubspot_owner_id", owner)
    draft.put("hs_merged_object_ids", None)
    return draft


def put_phone(rng: random.Random, draft: Draft, name: str, phone: Phone) -> None:
    """Set phone field ``name`` to ``phone`` as typed; national forms only where the record's
    country (already set on ``draft``) tells how to read them."""
    country = draft.clean.get("country")
    known = country in (None, "US", "CA") if phone.nanp else country == phone.region
    raw = render(rng, phone, region_known=known)
    draft.put(name, phone.clean, (raw, "format" if raw != phone.clean else None))


def lookalike(factory: FirmFactory, rng: random.Random, firm: Firm) -> Firm:
    """A different firm with ``firm``'s name stem, in another country (hard negative)."""
    others = [c for c in COUNTRY_WEIGHTS if c != firm.country]
    return factory.firm(base=ascii_fold(firm.base), country=rng.choice(others))


@dataclass(slots=True)
class CompanySet:
    """The firms, their company records, duplicate clusters and look-alike pairs."""

    firms: list[Firm] = field(default_factory=list)
    drafts: list[Draft] = field(default_factory=list)
    clusters: list[list[Draft]] = field(default_factory=list)
    lookalikes: list[tuple[Draft, Draft]] = field(default_factory=list)


def make_companies(
    rng: random.Random,
    count: int,
    factory: FirmFactory,
    owners: OwnerPool,
    *,
    start: datetime,
    now: datetime,
) -> CompanySet:
    """``count`` company records: one per firm, except about 5 % of records in duplicate
    clusters of two or three, plus about 1 % look-alike firms."""
    target = round(count * rng.uniform(0.04, 0.06))
    sizes: list[int] = []
    while sum(sizes) < target:
        size = min(rng.choices((2, 3), weights=(85, 15))[0], target - sum(sizes))
        if size < 2:
            break
        sizes.append(size)
    plain = count - sum(sizes)
    pairs = min(round(count * LOOKALIKE_SHARE), plain // 2)
    out = CompanySet()
    out.firms = [factory.firm() for _ in range(plain - pairs)]
    twins = [(base, lookalike(factory, rng, base)) for base in rng.sample(out.firms, pairs)]
    out.firms += [twin for _, twin in twins]
    clustered = [factory.firm() for _ in sizes]
    for firm, size in zip([*out.firms, *clustered], [1] * len(out.firms) + sizes, strict=True):
        created = between(rng, start, now)
        for i in range(size):
            owner = owners.pick(rng, missing=0.12)
            record = company_record(rng, firm, owner, created, now, duplicate=i > 0)
            firm.records.append(record)
            out.drafts.append(record)
            created = between(rng, created, now)
        if size > 1:
            out.clusters.append(list(firm.records))
    out.firms += clustered
    out.lookalikes = [(a.records[0], b.records[0]) for a, b in twins]
    return out
