"""Countries to ISO 3166-1 alpha-2 and US/Canadian states to ISO 3166-2 subdivision codes.

Lookups work on a *key*: the value's letters and digits only, accents stripped, case folded
(``'U.S.A.'`` → ``'usa'``, ``'Québec'`` → ``'quebec'``). The tables come from pycountry, plus the
common names, abbreviations and native names people actually type, listed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache, lru_cache

import pycountry
from rapidfuzz import fuzz, process

from policies.normalizers import compact

STATE_COUNTRIES = ("US", "CA")
"""Countries whose state field is normalized to subdivision codes."""

_COUNTRY_ALIASES: Mapping[str, str] = {
    "us": "US", "usa": "US", "america": "US", "unitedstatesofamerica": "US",
    "theunitedstates": "US", "unitedstatesamerica": "US",
    "uk": "GB", "greatbritain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northernireland": "GB", "theunitedkingdom": "GB",
    "deutschland": "DE", "westgermany": "DE", "ger": "DE",
    "holland": "NL", "thenetherlands": "NL", "nederland": "NL",
    "russia": "RU", "southkorea": "KR", "korearepublicof": "KR", "republicofkorea": "KR",
    "northkorea": "KP", "turkey": "TR", "ivorycoast": "CI", "macedonia": "MK", "laos": "LA",
    "syria": "SY", "czech": "CZ", "slovakrepublic": "SK", "bosnia": "BA", "vatican": "VA",
    "vaticancity": "VA", "holysee": "VA", "brunei": "BN", "capeverde": "CV", "swaziland": "SZ",
    "burma": "MM", "uae": "AE", "emirates": "AE", "prc": "CN", "mainlandchina": "CN",
    "palestine": "PS", "republicofireland": "IE", "eire": "IE",
    "schweiz": "CH", "suisse": "CH", "svizzera": "CH", "espana": "ES", "italia": "IT",
    "brasil": "BR", "osterreich": "AT", "sverige": "SE", "norge": "NO", "danmark": "DK",
    "suomi": "FI", "polska": "PL", "nippon": "JP", "nihon": "JP", "belgique": "BE",
    "belgie": "BE", "hrvatska": "HR", "magyarorszag": "HU", "hellas": "GR", "ellada": "GR",
    "trinidad": "TT", "drc": "CD", "drcongo": "CD", "democraticrepublicofthecongo": "CD",
    "congokinshasa": "CD", "congobrazzaville": "CG", "micronesia": "FM",
}  # fmt: skip

# Extra keys per subdivision code: AP-style abbreviations and common variants.
_STATE_VARIANTS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "US": {
        "AL": ("ala",), "AZ": ("ariz",), "AR": ("ark",), "CA": ("calif", "cal", "cali"),
        "CO": ("colo",), "CT": ("conn",), "DE": ("del",), "FL": ("fla", "flor"),
        "IL": ("ill", "ills"), "IN": ("ind",), "KS": ("kan", "kans"), "KY": ("ken", "kent"),
        "MA": ("mass",), "MI": ("mich",), "MN": ("minn",), "MS": ("miss",), "MT": ("mont",),
        "NE": ("neb", "nebr"), "NV": ("nev",),
        "OK": ("okla",), "OR": ("ore", "oreg"), "PA": ("penn", "penna"),
        "TN": ("tenn",), "TX": ("tex",), "WA": ("wash",), "WV": ("wva", "wvirginia"),
        "WI": ("wis", "wisc"), "WY": ("wyo",), "ID": ("ida",),
        "DC": ("washingtondc", "washdc", "districtofcolumbia"),
        "NC": ("ncarolina", "ncar"), "SC": ("scarolina", "scar"), "ND": ("ndakota", "ndak"),
        "SD": ("sdakota", "sdak"), "RI": ("rhodeisl",), "NH": ("nhampshire",),
        "NJ": ("njersey",), "NM": ("nmexico", "nmex"), "NY": ("nyork", "newyorkstate"),
        "VI": ("usvirginislands", "virginislands"),
    },
    "CA": {
        "AB": ("alta",), "BC": ("colombiebritannique",), "MB": ("man",),
        "NL": ("nfld", "newfoundland", "terreneuveetlabrador"), "NT": ("nwt",),
        "PE": ("pei", "iledupeintreprinceedward"), "QC": ("que", "pq"), "SK": ("sask",),
        "YT": ("yuk", "yukonterritory"), "ON": ("ont",), "NS": ("nouvelleecosse",),
        "NB": ("nouveaubrunswick",),
    },
}  # fmt: skip


def _country_index() -> tuple[dict[str, str], dict[str, str]]:
    """(exact key → alpha-2, name key → alpha-2 for fuzzy matching); colliding keys dropped."""
    exact: dict[str, str] = {}
    names: dict[str, str] = {}
    clashes: set[str] = set()

    def add(table: dict[str, str], key: str, code: str) -> None:
        if not key:
            return
        if table.get(key, code) != code:
            clashes.add(key)
        table[key] = code

    for country in pycountry.countries:
        code = str(country.alpha_2)
        add(exact, compact(code), code)
        add(exact, compact(str(country.alpha_3)), code)
        for attr in ("name", "official_name", "common_name"):
            name = getattr(country, attr, None)
            if name:
                add(exact, compact(str(name)), code)
                add(names, compact(str(name)), code)
    for key, code in _COUNTRY_ALIASES.items():
        add(exact, key, code)
        if len(key) > 3:
            add(names, key, code)
    for key in clashes:
        exact.pop(key, None)
        names.pop(key, None)
    return exact, names


@cache
def _countries() -> tuple[dict[str, str], dict[str, str]]:
    return _country_index()


@lru_cache(maxsize=4096)
def country_code(value: str, fuzzy_cutoff: float = 85.0) -> str | None:
    """The ISO 3166-1 alpha-2 code a country name, code or common variant stands for.

    ``'USA'``, ``'U.S.'``, ``'United States of America'`` → ``'US'``; ``'UK'``,
    ``'Great Britain'`` → ``'GB'``; ``'Deutschland'`` → ``'DE'``. When no exact key matches and
    ``fuzzy_cutoff`` is above 0, a misspelling (``'Germnay'``) is accepted if it scores at least
    the cutoff (0..100, rapidfuzz ratio) against one country's names and clearly beats every
    other country. ``None`` when unknown or ambiguous (``'Korea'``).
    """
    key = compact(value)
    exact, names = _countries()
    if key in exact:
        return exact[key]
    if fuzzy_cutoff <= 0 or len(key) < 5:
        return None
    matches = process.extract(key, names.keys(), scorer=fuzz.ratio, limit=8)
    if not matches or matches[0][1] < fuzzy_cutoff:
        return None
    best = names[matches[0][0]]
    rivals = [score for name, score, _ in matches[1:] if names[name] != best]
    if rivals and matches[0][1] - max(rivals) < 5:
        return None
    return best


def _state_tables() -> dict[str, dict[str, str]]:
    """Per country, key → subdivision suffix (``'newyork'`` → ``'NY'``)."""
    tables: dict[str, dict[str, str]] = {}
    for country in STATE_COUNTRIES:
        table: dict[str, str] = {}
        for sub in pycountry.subdivisions:
            if sub.country_code != country:
                continue
            suffix = str(sub.code).split("-", 1)[1]
            table[compact(suffix)] = suffix
            table[compact(str(sub.name))] = suffix
        for suffix, variants in _STATE_VARIANTS[country].items():
            for variant in variants:
                table[variant] = suffix
        tables[country] = table
    return tables


@cache
def _states() -> dict[str, dict[str, str]]:
    return _state_tables()


@lru_cache(maxsize=4096)
def state_code(
    value: str, countries: tuple[str, ...] = STATE_COUNTRIES, fuzzy_cutoff: float = 88.0
) -> str | None:
    """The subdivision suffix (``'NY'``, ``'QC'``) a state name or abbreviation stands for.

    Looks only in the tables of ``countries`` (any of ``STATE_COUNTRIES``). A trailing "state"
    is ignored (``'WA State'``). A misspelt name of six letters or more (``'Massachusets'``) is
    accepted when it scores at least ``fuzzy_cutoff`` (rapidfuzz ratio) against one
    subdivision's keys and clearly beats every other; 0 turns that off. ``None`` when the value
    is unknown there or ambiguous.
    """
    key = compact(value)
    tables = {c: t for c, t in _states().items() if c in countries}
    found = {t[key] for t in tables.values() if key in t}
    if not found and key.endswith("state") and len(key) > 5:
        found = {t[key[:-5]] for t in tables.values() if key[:-5] in t}
    if not found and fuzzy_cutoff > 0 and len(key) >= 6:
        choices = {k: code for t in tables.values() for k, code in t.items() if len(k) >= 4}
        matches = process.extract(key, choices.keys(), scorer=fuzz.ratio, limit=8)
        if matches and matches[0][1] >= fuzzy_cutoff:
            best = choices[matches[0][0]]
            rivals = [s for k, s, _ in matches[1:] if choices[k] != best]
            if not rivals or matches[0][1] - max(rivals) >= 5:
                found = {best}
    return found.pop() if len(found) == 1 else None


def known_state_keys(countries: Iterable[str] = STATE_COUNTRIES) -> set[str]:
    """Every key the state tables of ``countries`` know (for tests and documentation)."""
    tables = _states()
    return {key for c in countries for key in tables.get(c, {})}
