"""How clean values get messy on the way into a CRM: stray whitespace, caps lock, spelled-out
states and countries, broken e-mail addresses, company-name suffix variants.

Each ``mess_*`` function takes the clean value and returns ``(raw, issue)``: ``issue`` is
``None`` when the raw value is the clean one, else ``"whitespace"``, ``"case"``, ``"variant"``
or ``"invalid"`` (the raw value cannot be repaired; the clean value is unknown to a policy).
"""

from __future__ import annotations

import random
from typing import Final

from sandbox.generator.geo import COUNTRY_VARIANTS, STATE_VARIANTS

Messed = tuple[str, str | None]

WHITESPACE_RATE: Final = 0.04


def mess_whitespace(rng: random.Random, clean: str) -> str:
    """``clean`` with a leading/trailing space, a tab, or a doubled inner space."""
    roll = rng.random()
    if " " in clean and roll < 0.35:
        i = clean.index(" ")
        return clean[:i] + "  " + clean[i + 1 :]
    if roll < 0.6:
        return clean + rng.choice((" ", "  ", "\t"))
    if roll < 0.85:
        return " " + clean
    return f" {clean} "


def mess_text(rng: random.Random, clean: str, rate: float = WHITESPACE_RATE) -> Messed:
    """A free-text value (name, company, city) with stray whitespace at ``rate``."""
    if rng.random() < rate:
        return mess_whitespace(rng, clean), "whitespace"
    return clean, None


_INVALID_EMAIL_RATE: Final = 0.015


def mess_email(rng: random.Random, clean: str, *, allow_invalid: bool = True) -> Messed:
    """An e-mail address as typed: mixed case, padded, or (rarely) syntactically broken."""
    roll = rng.random()
    if roll < _INVALID_EMAIL_RATE and allow_invalid:
        return _broken_email(rng, clean), "invalid"
    if roll < 0.075:
        local, domain = clean.split("@", 1)
        if rng.random() < 0.3:
            return clean.upper(), "case"
        cased = ".".join(part[:1].upper() + part[1:] for part in local.split("."))
        return f"{cased}@{domain[:1].upper()}{domain[1:]}", "case"
    if roll < 0.105:
        return mess_whitespace(rng, clean), "whitespace"
    return clean, None


def _broken_email(rng: random.Random, clean: str) -> str:
    local, domain = clean.split("@", 1)
    name, _, tld = domain.rpartition(".")
    return rng.choice(
        (
            f"{local}@{domain.split('.', 1)[0]}",  # no top-level domain
            f"{local}@@{domain}",
            f"{local}@{name},{tld}",
            f"{local}.{domain}",  # no @
            f"{local.replace('.', ' ', 1) if '.' in local else local + ' '}@{domain}",
            f"{local}@{name}..{tld}",
        )
    )


def mess_case_emails(rng: random.Random, clean: str, rate: float = 0.06) -> Messed:
    """A ``;``-joined list of e-mails where one may carry capitals."""
    if rng.random() < rate:
        first, _, rest = clean.partition(";")
        local, domain = first.split("@", 1)
        raw = f"{local[:1].upper()}{local[1:]}@{domain}" + (f";{rest}" if rest else "")
        if raw != clean:
            return raw, "case"
    return clean, None


STATE_VARIANT_RATE: Final = 0.2


def mess_state(rng: random.Random, code: str) -> Messed:
    """A US/CA subdivision code as people write it (full name, AP abbreviation, lower case)."""
    roll = rng.random()
    if roll < STATE_VARIANT_RATE:
        variants = STATE_VARIANTS[code]
        raw = variants[0] if rng.random() < 0.45 else rng.choice(variants)
        return raw, "variant"
    if roll < STATE_VARIANT_RATE + 0.04:
        return code.lower(), "case"
    if roll < STATE_VARIANT_RATE + 0.055:
        return mess_whitespace(rng, code), "whitespace"
    return code, None


COUNTRY_VARIANT_RATE: Final = 0.2


def mess_country(rng: random.Random, code: str, nation: str | None) -> Messed:
    """An ISO alpha-2 country code as people write it; ``nation`` is England/Scotland for GB."""
    roll = rng.random()
    if roll < COUNTRY_VARIANT_RATE:
        if nation is not None and rng.random() < 0.15:
            return nation, "variant"
        names = COUNTRY_VARIANTS[code]
        raw = rng.choices([n for n, _ in names], weights=[w for _, w in names])[0]
        return raw, "variant"
    if roll < COUNTRY_VARIANT_RATE + 0.02:
        return mess_whitespace(rng, code), "whitespace"
    return code, None


# Legal-form families: the forms people write for the same legal suffix.
LEGAL_FORMS: Final[dict[str, tuple[str, ...]]] = {
    "Inc.": ("Inc.", "Inc", ", Inc.", "Incorporated", ", Inc"),
    "LLC": ("LLC", "L.L.C.", ", LLC", "Llc"),
    "Ltd": ("Ltd", "Ltd.", "Limited", "LTD"),
    "Corp.": ("Corp.", "Corp", "Corporation"),
    "Co.": ("Co.", "Company", "& Co."),
    "GmbH": ("GmbH", "Gmbh", "G.m.b.H."),
    "SAS": ("SAS", "S.A.S."),
    "Group": ("Group", "Grp"),
}


def with_suffix(base: str, form: str | None) -> str:
    """``base`` followed by a legal form (``Acme`` + ``, Inc.`` -> ``Acme, Inc.``)."""
    if not form:
        return base
    return f"{base}{form}" if form.startswith(",") else f"{base} {form}"


def company_variant(rng: random.Random, base: str, suffix: str | None, canonical: str) -> str:
    """Another way to write the company ``base`` with legal form ``suffix`` (not ``canonical``):
    without the suffix, with another form of it, with a suffix it does not have, in capitals."""
    options: list[str] = [base, base, base.upper()]
    if suffix is not None:
        options += [with_suffix(base, form) for form in LEGAL_FORMS[suffix]]
    else:
        options += [with_suffix(base, "Inc."), with_suffix(base, "Corp"), with_suffix(base, "LLC")]
    if " and " in base:
        options.append(base.replace(" and ", " & "))
    elif " & " in base:
        options.append(base.replace(" & ", " and "))
    options = [o for o in options if o != canonical]
    return rng.choice(options) if options else canonical
