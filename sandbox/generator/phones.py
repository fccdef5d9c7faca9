"""Phone numbers: valid numbers for a city, and the ways people type them.

Clean value: E.164 (``+14155550123``), the form ``phonenumbers.format_number(n, E164)`` gives
and HubSpot's phone validation stores. An extension, which E.164 cannot hold, is appended in
RFC 3966 syntax: ``+14155550123;ext=123`` (``phonenumbers.parse`` reads it back with the
extension). Typed forms in a national style (``(415) 555-0123``, ``020 7946 0958``,
``030/12345678``) are only used where the record's country (or, for North American numbers, no
country at all) tells which region to parse them in, so that each clean value is certain.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from sandbox.generator.geo import City

_CC: Final[dict[str, str]] = {"US": "1", "CA": "1", "GB": "44", "DE": "49", "FR": "33"}
_NSN_LEN: Final[dict[str, int]] = {"US": 10, "CA": 10, "GB": 10, "DE": 10, "FR": 9}
# Mobile prefixes (national significant number) and how many digits follow.
_MOBILE: Final[dict[str, tuple[tuple[str, int], ...]]] = {
    "GB": (("74", 8), ("75", 8), ("77", 8), ("78", 8)),
    "DE": (("151", 8), ("152", 8), ("157", 8), ("160", 7), ("170", 7), ("171", 7), ("176", 8),
           ("177", 8)),
    "FR": (("61", 7), ("62", 7), ("64", 7), ("65", 7), ("66", 7), ("67", 7), ("68", 7), ("75", 7),
           ("76", 7), ("77", 7), ("78", 7)),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Phone:
    """A phone number: country calling code, national significant number, its region.

    ``area_len`` is the length of the area (national destination) code inside ``nsn``.
    """

    cc: str
    nsn: str
    region: str
    area_len: int
    ext: str | None = None

    @property
    def e164(self) -> str:
        """The number in E.164, without extension."""
        return f"+{self.cc}{self.nsn}"

    @property
    def clean(self) -> str:
        """The canonical value: E.164, then ``;ext=N`` when there is an extension."""
        return self.e164 + (f";ext={self.ext}" if self.ext else "")

    @property
    def nanp(self) -> bool:
        """Whether this is a North American (+1) number."""
        return self.cc == "1"


def _digits(rng: random.Random, count: int) -> str:
    return f"{rng.randrange(10**count):0{count}d}" if count > 0 else ""


def landline(rng: random.Random, city: City) -> Phone:
    """A valid fixed-line number in ``city``."""
    area = rng.choice(city.areas)
    region = city.country
    if region in ("US", "CA"):
        exchange = rng.randint(200, 999)
        while exchange % 100 == 11:
            exchange = rng.randint(200, 999)
        return Phone("1", f"{area}{exchange}{_digits(rng, 4)}", region, 3)
    nsn = area + _digits(rng, _NSN_LEN[region] - len(area))
    area_len = {"GB": 2 if area.startswith("20") else 3, "DE": 2, "FR": 1}[region]
    return Phone(_CC[region], nsn, region, area_len)


def mobile(rng: random.Random, city: City) -> Phone:
    """A valid mobile number of ``city``'s country (in North America: an area code of the city)."""
    if city.country in ("US", "CA"):
        return landline(rng, city)
    prefix, count = rng.choice(_MOBILE[city.country])
    area_len = {"GB": 4, "DE": 3, "FR": 1}[city.country]
    return Phone(_CC[city.country], prefix + _digits(rng, count), city.country, area_len)


def with_extension(rng: random.Random, phone: Phone) -> Phone:
    """``phone`` with a 2-5 digit extension."""
    ext = str(rng.randint(1, 9)) + _digits(rng, rng.randint(1, 4))
    return Phone(phone.cc, phone.nsn, phone.region, phone.area_len, ext)


Format = Callable[[Phone], str]


def _pairs(digits: str, sep: str = " ") -> str:
    return sep.join(digits[i : i + 2] for i in range(0, len(digits), 2))


def _rest(p: Phone, sep: str = " ") -> str:
    rest = p.nsn[p.area_len :]
    if p.region == "FR":
        return _pairs(rest, sep)
    if len(rest) >= 7:
        cut = len(rest) - 4
        return f"{rest[:cut]}{sep}{rest[cut:]}"
    return rest


def _area(p: Phone) -> str:
    return p.nsn[: p.area_len]


def _a(p: Phone) -> str:
    return p.nsn[:3]


def _b(p: Phone) -> str:
    return p.nsn[3:6]


def _c(p: Phone) -> str:
    return p.nsn[6:]


# (format, weight, needs the region): region-dependent forms are the national ones.
# fmt: off
_NANP_FORMATS: Final[tuple[tuple[Format, int, bool], ...]] = (
    (lambda p: p.e164, 30, False),
    (lambda p: f"({_a(p)}) {_b(p)}-{_c(p)}", 24, True),
    (lambda p: f"{_a(p)}-{_b(p)}-{_c(p)}", 15, True),
    (lambda p: f"{_a(p)}.{_b(p)}.{_c(p)}", 5, True),
    (lambda p: p.nsn, 6, True),
    (lambda p: f"{_a(p)} {_b(p)} {_c(p)}", 3, True),
    (lambda p: f"1-{_a(p)}-{_b(p)}-{_c(p)}", 3, True),
    (lambda p: f"1 ({_a(p)}) {_b(p)}-{_c(p)}", 1, True),
    (lambda p: f"({_a(p)}){_b(p)}-{_c(p)}", 1, True),
    (lambda p: f"+1 {_a(p)} {_b(p)} {_c(p)}", 5, False),
    (lambda p: f"+1 ({_a(p)}) {_b(p)}-{_c(p)}", 4, False),
    (lambda p: f"+1-{_a(p)}-{_b(p)}-{_c(p)}", 2, False),
    (lambda p: f"+1.{_a(p)}.{_b(p)}.{_c(p)}", 1, False),
)
_INTL_FORMATS: Final[tuple[tuple[Format, int, bool], ...]] = (
    (lambda p: p.e164, 35, False),
    (lambda p: f"+{p.cc} {_area(p)} {_rest(p)}", 25, False),
    (lambda p: f"+{p.cc} (0){_area(p)} {_rest(p)}", 8, False),
    (lambda p: f"+{p.cc}-{_area(p)}-{_rest(p, '')}", 2, False),
    (lambda p: f"0{_area(p)} {_rest(p)}", 15, True),
    (lambda p: f"(0{_area(p)}) {_rest(p)}", 3, True),
    (lambda p: f"0{p.nsn}", 4, True),
    (lambda p: f"00{p.cc} {_area(p)} {_rest(p)}", 3, True),
    (lambda p: f"0{_area(p)}/{_rest(p, '')}" if p.region == "DE"
        else f"0{_area(p)}.{_rest(p, '.')}", 5, True),
)
_EXTENSIONS: Final[tuple[str, ...]] = (
    " x{}", " x{}", " ext. {}", " ext {}", " x. {}", " Ext: {}", " #{}", " ext.{}", " extension {}",
)
# fmt: on


def render(rng: random.Random, phone: Phone, *, region_known: bool) -> str:
    """``phone`` as someone typed it. National forms only when ``region_known``."""
    table = _NANP_FORMATS if phone.nanp else _INTL_FORMATS
    choices = [(fmt, w) for fmt, w, needs in table if region_known or not needs]
    fmt = rng.choices([f for f, _ in choices], weights=[w for _, w in choices])[0]
    text = fmt(phone)
    if phone.ext is None:
        return text
    if text == phone.e164:
        return phone.clean
    return text + rng.choice(_EXTENSIONS).format(phone.ext)


_PLACEHOLDERS: Final[tuple[str, ...]] = ("n/a", "N/A", "none", "-", "tbd", "000-000-0000", "0")


def render_invalid(rng: random.Random, phone: Phone) -> str:
    """A broken rendition of ``phone`` no parser can repair: a digit short, no area code for a
    North American number, an impossible area code, or a placeholder."""
    roll = rng.random()
    if roll < 0.25:
        return rng.choice(_PLACEHOLDERS)
    if phone.nanp:
        if roll < 0.55:
            return f"{_b(phone)}-{_c(phone)}"
        if roll < 0.8:
            return f"({_a(phone)}) {_b(phone)}-{_c(phone)[:3]}"
        return f"+1 (123) {_b(phone)}-{_c(phone)}"
    # German numbers are valid at almost any length: cut to one digit after the area code.
    keep = 1 if phone.region == "DE" else len(phone.nsn) - phone.area_len - 2
    return f"+{phone.cc} {_area(phone)} {phone.nsn[phone.area_len : phone.area_len + keep]}"
