"""Places: cities with their subdivision, country, postal codes, phone areas and street styles;
and the many ways people spell states and countries.

Clean values: ``country`` is ISO 3166-1 alpha-2; ``state`` is the ISO 3166-2 subdivision code
without the country prefix for the US and Canada (``CA``, ``NY``, ``DC``, ``ON``). Elsewhere a
region name may appear in ``state``; it has no canonical form here and is never a due fix.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class City:
    """A city people and companies are in.

    ``areas`` are phone area codes without trunk prefix (NANP: 3 digits; elsewhere the national
    destination code); ``zips`` are postal-code prefixes; ``region`` is a region name written
    in ``state`` outside the US and Canada (never normalized).
    """

    name: str
    state: str | None
    country: str
    weight: int
    areas: tuple[str, ...]
    zips: tuple[str, ...]
    region: str | None = None


# fmt: off
CITIES: Final[tuple[City, ...]] = (
    City("New York", "NY", "US", 60, ("212", "646", "718", "917"), ("100", "101", "102", "112")),
    City("Los Angeles", "CA", "US", 40, ("213", "310", "323"), ("900", "900", "913")),
    City("San Francisco", "CA", "US", 32, ("415", "628"), ("941",)),
    City("San Jose", "CA", "US", 14, ("408", "669"), ("951",)),
    City("San Diego", "CA", "US", 14, ("619", "858"), ("921",)),
    City("Chicago", "IL", "US", 32, ("312", "773", "872"), ("606",)),
    City("Springfield", "IL", "US", 4, ("217",), ("627",)),
    City("Houston", "TX", "US", 24, ("713", "832", "281"), ("770",)),
    City("Austin", "TX", "US", 22, ("512", "737"), ("787",)),
    City("Dallas", "TX", "US", 22, ("214", "469", "972"), ("752",)),
    City("Seattle", "WA", "US", 24, ("206",), ("981",)),
    City("Boston", "MA", "US", 26, ("617", "857"), ("021",)),
    City("Springfield", "MA", "US", 4, ("413",), ("011",)),
    City("Denver", "CO", "US", 18, ("303", "720"), ("802",)),
    City("Atlanta", "GA", "US", 20, ("404", "678", "470"), ("303",)),
    City("Miami", "FL", "US", 18, ("305", "786"), ("331",)),
    City("Orlando", "FL", "US", 8, ("407", "321"), ("328",)),
    City("Phoenix", "AZ", "US", 14, ("602", "480"), ("850",)),
    City("Philadelphia", "PA", "US", 16, ("215", "267"), ("191",)),
    City("Pittsburgh", "PA", "US", 8, ("412",), ("152",)),
    City("Portland", "OR", "US", 12, ("503", "971"), ("972",)),
    City("Portland", "ME", "US", 3, ("207",), ("041",)),
    City("Minneapolis", "MN", "US", 10, ("612",), ("554",)),
    City("Detroit", "MI", "US", 8, ("313",), ("482",)),
    City("Nashville", "TN", "US", 10, ("615",), ("372",)),
    City("Charlotte", "NC", "US", 10, ("704", "980"), ("282",)),
    City("Raleigh", "NC", "US", 8, ("919",), ("276",)),
    City("Salt Lake City", "UT", "US", 7, ("801",), ("841",)),
    City("Columbus", "OH", "US", 8, ("614",), ("432",)),
    City("Baltimore", "MD", "US", 7, ("410", "443"), ("212",)),
    City("Washington", "DC", "US", 12, ("202",), ("200",)),
    City("Springfield", "MO", "US", 3, ("417",), ("658",)),
    City("Toronto", "ON", "CA", 30, ("416", "647"), ("M5V", "M4W", "M6G", "M5H")),
    City("Ottawa", "ON", "CA", 8, ("613", "343"), ("K1P", "K2P", "K1N")),
    City("Vancouver", "BC", "CA", 18, ("604", "778"), ("V6B", "V5K", "V6E")),
    City("Montreal", "QC", "CA", 16, ("514", "438"), ("H2X", "H3B", "H2T")),
    City("Calgary", "AB", "CA", 10, ("403", "587"), ("T2P", "T3A", "T2R")),
    City("London", None, "GB", 40, ("207", "203", "208"), ("EC1A", "SW1A", "W1D", "N1", "E1"),
         "England"),
    City("Manchester", None, "GB", 10, ("1612",), ("M1", "M2", "M4"), "England"),
    City("Edinburgh", None, "GB", 7, ("1314",), ("EH1", "EH2", "EH3"), "Scotland"),
    City("Bristol", None, "GB", 6, ("1179",), ("BS1", "BS2", "BS8"), "England"),
    City("Birmingham", None, "GB", 6, ("1214",), ("B1", "B2", "B5"), "England"),
    City("Berlin", None, "DE", 20, ("302", "303", "304", "308"), ("101", "104", "107", "120"),
         "Berlin"),
    City("München", None, "DE", 14, ("892",), ("803", "806", "809"), "Bayern"),
    City("Hamburg", None, "DE", 10, ("402",), ("200", "204", "221"), "Hamburg"),
    City("Frankfurt am Main", None, "DE", 9, ("692",), ("603", "604", "605"), "Hessen"),
    City("Paris", None, "FR", 28, ("14", "15"), ("750",), "Île-de-France"),
    City("Lyon", None, "FR", 9, ("472", "478"), ("690",), "Auvergne-Rhône-Alpes"),
    City("Marseille", None, "FR", 7, ("491",), ("130",), "Provence-Alpes-Côte d'Azur"),
    City("Toulouse", None, "FR", 6, ("561",), ("310",), "Occitanie"),
)
# fmt: on

# Share of people and companies per country (weights); cities are picked by weight inside.
COUNTRY_WEIGHTS: Final[dict[str, int]] = {"US": 74, "CA": 10, "GB": 8, "DE": 4, "FR": 4}

CITIES_BY_COUNTRY: Final[dict[str, tuple[City, ...]]] = {
    code: tuple(c for c in CITIES if c.country == code) for code in COUNTRY_WEIGHTS
}

# Subdivision code -> how people write it besides the code (full name first).
STATE_VARIANTS: Final[dict[str, tuple[str, ...]]] = {
    "NY": ("New York", "N.Y.", "new york", "NEW YORK", "N.Y", "New York State"),
    "CA": ("California", "Calif.", "calif.", "Calif", "CALIFORNIA", "Cal.", "california"),
    "IL": ("Illinois", "Ill.", "illinois", "ILL"),
    "TX": ("Texas", "Tex.", "texas", "TEXAS", "Tx"),
    "WA": ("Washington", "Wash.", "washington", "WA State"),
    "MA": ("Massachusetts", "Mass.", "mass", "Massachusets"),
    "CO": ("Colorado", "Colo.", "colorado"),
    "GA": ("Georgia", "Ga.", "georgia"),
    "FL": ("Florida", "Fla.", "florida", "FLA"),
    "AZ": ("Arizona", "Ariz.", "arizona"),
    "PA": ("Pennsylvania", "Pa.", "Penn.", "pennsylvania", "Penna."),
    "OR": ("Oregon", "Ore.", "Oreg.", "oregon"),
    "ME": ("Maine", "Me.", "maine"),
    "MN": ("Minnesota", "Minn.", "minnesota"),
    "MI": ("Michigan", "Mich.", "michigan"),
    "TN": ("Tennessee", "Tenn.", "tennessee"),
    "NC": ("North Carolina", "N.C.", "north carolina", "N. Carolina"),
    "UT": ("Utah", "utah", "UTAH"),
    "OH": ("Ohio", "ohio", "OHIO"),
    "MD": ("Maryland", "Md.", "maryland"),
    "DC": ("District of Columbia", "D.C.", "Washington DC", "Washington, D.C.", "dc"),
    "MO": ("Missouri", "Mo.", "missouri"),
    "ON": ("Ontario", "Ont.", "ontario", "ONT"),
    "BC": ("British Columbia", "B.C.", "british columbia"),
    "QC": ("Quebec", "Québec", "Que.", "PQ", "P.Q.", "quebec"),
    "AB": ("Alberta", "Alta.", "alberta"),
}

# ISO alpha-2 -> how people write the country besides the code (weights in parallel).
COUNTRY_VARIANTS: Final[dict[str, tuple[tuple[str, int], ...]]] = {
    "US": (
        ("United States", 40), ("USA", 25), ("U.S.", 8), ("us", 6), ("U.S.A.", 6),
        ("United States of America", 9), ("usa", 4), ("United states", 2),
    ),
    "CA": (("Canada", 70), ("canada", 15), ("CAN", 10), ("CANADA", 5)),
    "GB": (
        ("United Kingdom", 40), ("UK", 30), ("U.K.", 6), ("Great Britain", 8), ("gb", 4),
        ("united kingdom", 4), ("Britain", 2),
    ),
    "DE": (("Germany", 50), ("Deutschland", 25), ("germany", 10), ("DEU", 8), ("GER", 7)),
    "FR": (("France", 80), ("france", 14), ("FRA", 6)),
}  # fmt: skip

# How the UK constituent country of a city is written as the "country" (England, Scotland).
UK_NATIONS: Final[tuple[str, ...]] = ("England", "Scotland")

_US_STREETS: Final[tuple[str, ...]] = (
    "Main", "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park",
    "Market", "Mission", "Sunset", "Highland", "Lincoln", "Jefferson", "Madison", "Franklin",
    "Church", "River", "Spring", "Walnut", "Chestnut", "Willow", "2nd", "3rd", "5th", "Center",
)  # fmt: skip
# (long form, abbreviation) pairs: duplicates often disagree on which one was typed.
# fmt: off
STREET_TYPES: Final[tuple[tuple[str, str], ...]] = (
    ("Street", "St."), ("Avenue", "Ave"), ("Boulevard", "Blvd"), ("Road", "Rd"),
    ("Drive", "Dr."), ("Lane", "Ln"), ("Court", "Ct"), ("Place", "Pl"),
)
_UNITS: Final[tuple[str, ...]] = ("Suite", "Ste", "Apt", "Unit", "Floor")
_UK_STREETS: Final[tuple[str, ...]] = (
    "High Street", "Station Road", "Church Lane", "Victoria Road", "Baker Street",
    "King Street", "Queen's Road", "Mill Lane", "Park Avenue", "Albert Street", "The Crescent",
)
_DE_STREETS: Final[tuple[str, ...]] = (
    "Hauptstraße", "Bahnhofstraße", "Goethestraße", "Schillerstraße", "Lindenweg",
    "Gartenstraße", "Friedrichstraße", "Marktplatz", "Kirchweg", "Am Hafen",
)
_FR_STREETS: Final[tuple[str, ...]] = (
    "rue de la Paix", "rue Victor Hugo", "avenue Jean Jaurès", "boulevard Haussmann",
    "rue de Rivoli", "avenue de la République", "rue du Faubourg Saint-Honoré", "quai Saint-Michel",
)
# fmt: on
_LETTERS: Final[str] = "ABCDEFGHJKLMNPRSTVWXYZ"


def street_address(rng: random.Random, country: str) -> str:
    """A street address line in the style of ``country``."""
    number = rng.randint(1, 9899) if country in ("US", "CA") else rng.randint(1, 180)
    if country == "GB":
        flat = f"Flat {rng.randint(1, 24)}, " if rng.random() < 0.2 else ""
        return f"{flat}{number} {rng.choice(_UK_STREETS)}"
    if country == "DE":
        return f"{rng.choice(_DE_STREETS)} {number}"
    if country == "FR":
        return f"{number} {rng.choice(_FR_STREETS)}"
    name = rng.choice(_US_STREETS)
    kind = rng.choice(STREET_TYPES)[0] if name != "Broadway" else ""
    line = f"{number} {name} {kind}".strip()
    if rng.random() < 0.18:
        line += f", {rng.choice(_UNITS)} {rng.randint(1, 40) * 10 + rng.randint(0, 9)}"
    return line


def abbreviate_street(address: str) -> str:
    """``address`` with its street type abbreviated (or spelled out if it was abbreviated)."""
    for long, short in STREET_TYPES:
        if f" {long}" in address:
            return address.replace(f" {long}", f" {short}", 1)
        if f" {short}" in address:
            return address.replace(f" {short}", f" {long}", 1)
    return address


def postal_code(rng: random.Random, city: City) -> str:
    """A postal code of ``city`` (US ZIP, Canadian FSA LDU, UK outward inward, DE/FR 5 digits)."""
    prefix = rng.choice(city.zips)
    if city.country == "US":
        return f"{prefix}{rng.randint(0, 99):02d}"
    if city.country == "CA":
        return f"{prefix} {rng.randint(0, 9)}{rng.choice(_LETTERS)}{rng.randint(0, 9)}"
    if city.country == "GB":
        return f"{prefix} {rng.randint(1, 9)}{rng.choice(_LETTERS)}{rng.choice(_LETTERS)}"
    if city.country == "FR":
        return f"{prefix}{rng.randint(1, 20):02d}"
    return f"{prefix}{rng.randint(0, 99):02d}"
