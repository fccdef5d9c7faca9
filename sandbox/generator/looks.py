"""Looks: what one contact record shows of a person, and how duplicate records of one person
differ from each other.

A :class:`Look` holds the clean values one record carries (before typing mess). The first
record of a duplicate cluster gets :func:`base_look`; the others :func:`variant_look`, which
applies one to three of the changes real duplicates show (nickname, one typo, swapped names,
an initial, accents dropped, caps lock, the other e-mail, an extra e-mail, no e-mail, another
spelling of the company, missing fields, an abbreviated street, a new job title, the mobile
given as phone). :func:`tie_cluster` then makes sure every record is recognisably the person.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from typing import Final

from sandbox.generator.companies import Firm
from sandbox.generator.geo import abbreviate_street
from sandbox.generator.mess import company_variant
from sandbox.generator.names import ascii_fold, names_compatible, nickname_variants, typo
from sandbox.generator.people import JOB_TITLES, Person
from sandbox.generator.phones import Phone
from sandbox.generator.picking import Picker


@dataclass(slots=True)
class Look:
    """The clean values of one contact record of a person. ``city``/``state``/``country`` say
    whether the record shows the person's place; ``case`` is caps-lock typing of the name."""

    first: str
    last: str
    email: str | None
    additional: list[str]
    phone: Phone | None
    mobile: Phone | None
    company: str | None
    jobtitle: str | None
    address: str | None
    city: bool
    state: bool
    zip: str | None
    country: bool
    website: str | None
    case: str | None = None
    allow_invalid: bool = True
    ops: list[str] = field(default_factory=list)


def _case(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.02:
        return "upper"
    if roll < 0.035:
        return "lower"
    return None


def base_look(rng: random.Random, p: Person, force: frozenset[str] = frozenset()) -> Look:
    """A record of ``p`` as it is usually entered; ``force`` names fields it must show
    (``email``, ``company``, ``address``, ``city``, ``phone``)."""
    use_work = p.work_email is not None and (p.personal_email is None or rng.random() < 0.85)
    email = p.work_email if use_work else p.personal_email
    if email is not None and "email" not in force and rng.random() < 0.05:
        email = None
    other = p.personal_email if email == p.work_email else p.work_email
    company: str | None = None
    if p.firm is not None and ("company" in force or rng.random() < 0.9):
        firm = p.firm
        variant = rng.random() < 0.12
        company = company_variant(rng, firm.base, firm.legal, firm.name) if variant else firm.name
    address = p.address if "address" in force or rng.random() < 0.5 else None
    city = address is not None or "city" in force or rng.random() < 0.8
    return Look(
        first=p.first,
        last=p.last,
        email=email,
        additional=[other] if other and email and rng.random() < 0.04 else [],
        phone=p.phone if "phone" in force or rng.random() < 0.72 else None,
        mobile=p.mobile if rng.random() < 0.6 else None,
        company=company,
        jobtitle=p.jobtitle if rng.random() < 0.8 else None,
        address=address,
        city=city,
        state=city and rng.random() < 0.88,
        zip=p.zip if (address and rng.random() < 0.8) or rng.random() < 0.12 else None,
        country=rng.random() < 0.8,
        website=_website(p.firm) if p.firm is not None and rng.random() < 0.12 else None,
        case=_case(rng),
    )


def _website(firm: Firm) -> str:
    return f"www.{firm.domain}" if len(firm.domain) % 2 else f"https://{firm.domain}"


def associated_firm(p: Person, look: Look) -> Firm | None:
    """The firm a record is associated with: its company is named, or its e-mail is at the
    firm's domain (HubSpot associates contacts to companies by e-mail domain)."""
    if p.firm is None:
        return None
    emails = [e for e in (look.email, *look.additional) if e]
    if look.company is not None or any(e.endswith("@" + p.firm.domain) for e in emails):
        return p.firm
    return None


NAME_OPS: Final = frozenset({"nickname", "typo", "swap", "initial"})
_OPS: Final[Picker[str]] = Picker(
    (
        ("nickname", 18), ("typo", 14), ("swap", 6), ("initial", 3), ("fold", 10), ("case", 8),
        ("email_other", 10), ("email_additional", 8), ("no_email", 10), ("company_variant", 12),
        ("missing", 16), ("street", 4), ("jobtitle", 5), ("phone_swap", 4),
    )
)  # fmt: skip
_BASE_OPS: Final = ("case", "missing", "fold", "street")


def _applicable(op: str, p: Person, look: Look) -> bool:
    both_emails = p.work_email is not None and p.personal_email is not None
    return {
        "nickname": bool(nickname_variants(p.first)),
        "fold": ascii_fold(p.first + p.last) != p.first + p.last,
        "email_other": both_emails,
        "email_additional": both_emails,
        "no_email": look.email is not None,
        "company_variant": p.firm is not None,
        "street": look.address is not None,
        "jobtitle": p.firm is not None,
        "phone_swap": p.mobile is not None,
    }.get(op, True)


def _apply(rng: random.Random, op: str, p: Person, look: Look, base: Look) -> None:
    if op == "nickname":
        look.first = rng.choice(nickname_variants(p.first))
    elif op == "typo":
        if rng.random() < 0.5 and len(look.last) >= 4:
            look.last = typo(rng, look.last)
        else:
            look.first = typo(rng, look.first)
    elif op == "swap":
        look.first, look.last = look.last, look.first
    elif op == "initial":
        look.first = look.first[0] + "."
    elif op == "fold":
        look.first, look.last = ascii_fold(look.first), ascii_fold(look.last)
    elif op == "case":
        look.case = rng.choice(("upper", "lower"))
    elif op in ("email_other", "email_additional"):
        other = p.personal_email if base.email == p.work_email else p.work_email
        look.email, look.additional = other, []
        if op == "email_additional" and base.email is not None and other is not None:
            if rng.random() < 0.5:
                look.additional = [base.email]
            elif other not in base.additional:
                base.additional.append(other)
    elif op == "no_email":
        look.email, look.additional = None, []
    elif op == "company_variant" and p.firm is not None:
        firm = p.firm
        look.company = (
            company_variant(rng, firm.base, firm.legal, look.company or firm.name)
            if rng.random() < 0.8
            else None
        )
    elif op == "missing":
        _drop(rng, look)
    elif op == "street" and look.address is not None:
        look.address = abbreviate_street(look.address)
    elif op == "jobtitle":
        look.jobtitle = rng.choice(JOB_TITLES)
    elif op == "phone_swap":
        look.phone, look.mobile = p.mobile, None


def _drop(rng: random.Random, look: Look) -> None:
    names = ("jobtitle", "address", "zip", "city", "state", "phone", "mobile", "country", "company")
    for name in rng.sample(names, k=rng.randint(1, 3)):
        setattr(look, name, False if name in ("city", "state", "country") else None)


def _choose_ops(rng: random.Random, p: Person, look: Look, count: int) -> list[str]:
    chosen: list[str] = []
    for _ in range(20):
        if len(chosen) == count:
            break
        op = _OPS.pick(rng)
        if op in chosen or (op in NAME_OPS and NAME_OPS.intersection(chosen)):
            continue
        if _applicable(op, p, look):
            chosen.append(op)
    return chosen


def variant_look(rng: random.Random, p: Person, base: Look) -> Look:
    """Another record of the person of ``base``, with one to three duplicate changes."""
    look = dataclasses.replace(base, additional=list(base.additional), case=None, ops=[])
    if rng.random() < 0.3:
        look.jobtitle = p.jobtitle if look.jobtitle is None else None
    if rng.random() < 0.3:
        look.mobile = p.mobile if look.mobile is None else None
    if rng.random() < 0.25:
        look.country = not look.country
    count = rng.choices((1, 2, 3), weights=(40, 40, 20))[0]
    look.ops = _choose_ops(rng, p, look, count)
    for op in look.ops:
        _apply(rng, op, p, look, base)
    look.allow_invalid = False
    return look


def cluster_looks(rng: random.Random, p: Person, size: int) -> list[Look]:
    """``size`` looks of ``p`` for a duplicate cluster, tied together (:func:`tie_cluster`)."""
    base = base_look(rng, p, frozenset({"email"}))
    base.allow_invalid = False
    if rng.random() < 0.3:
        op = rng.choice([o for o in _BASE_OPS if _applicable(o, p, base)])
        _apply(rng, op, p, base, base)
        base.ops = [op]
    looks = [base] + [variant_look(rng, p, base) for _ in range(size - 1)]
    tie_cluster(p, looks)
    return looks


def _anchors(look: Look) -> set[str]:
    keys = {e for e in (look.email, *look.additional) if e}
    keys.update(ph.e164 for ph in (look.phone, look.mobile) if ph is not None)
    return keys


def _tied(p: Person, a: Look, b: Look) -> bool:
    if not _anchors(a).isdisjoint(_anchors(b)):
        return True
    if not names_compatible(a.first, a.last, b.first, b.last):
        return False
    firm_a, firm_b = associated_firm(p, a), associated_firm(p, b)
    return (firm_a is not None and firm_a is firm_b) or (a.city and b.city)


def tie_cluster(p: Person, looks: list[Look]) -> None:
    """Make each look share an e-mail or phone number with an earlier one, or show a matching
    name at the same company or city; restore the base's e-mail (or phone) where none does."""
    base = looks[0]
    if not _anchors(base):
        base.phone = p.phone
    for i, look in enumerate(looks[1:], start=1):
        if any(_tied(p, look, earlier) for earlier in looks[:i]):
            continue
        if base.email is not None:
            look.email = base.email
            look.additional = [e for e in look.additional if e != base.email]
        else:
            base.phone = look.phone = p.phone
        look.ops.append("restored")
