"""Owners (the portal's users) and how records are spread over them."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sandbox.generator.draft import between, later
from sandbox.generator.model import iso
from sandbox.generator.names import pick_name, slug
from sandbox.generator.picking import Picker

_OWNER_CULTURES = ("anglo", "anglo", "anglo", "hispanic", "south_asian", "chinese", "irish")
_PORTAL_DOMAINS = ("northpeak.io", "brightlane.com", "kestrelhq.com", "tidewaterapp.com")


class OwnerPool:
    """The owners of a portal; picks an owner for a record (busier owners more often)."""

    def __init__(self, owners: list[dict[str, object]], rng: random.Random) -> None:
        self.owners = owners
        self._picker = Picker(tuple((str(o["id"]), rng.uniform(0.3, 1.6)) for o in owners))

    def pick(self, rng: random.Random, missing: float) -> str | None:
        """An owner id, or ``None`` with probability ``missing`` (unassigned record)."""
        if rng.random() < missing:
            return None
        return self._picker.pick(rng)


def make_owners(rng: random.Random, now: datetime, next_id: list[int]) -> list[dict[str, object]]:
    """8-20 active owners as ``GET /crm/v3/owners/`` returns them; ids come from ``next_id``
    (a one-element counter shared with the records, so ids are unique across all types)."""
    domain = rng.choice(_PORTAL_DOMAINS)
    count = rng.randint(8, 20)
    user_ids = rng.sample(range(1_000_000, 9_999_999), count)
    owners: list[dict[str, object]] = []
    used: set[str] = set()
    start = now - timedelta(days=3 * 365)
    for user_id in user_ids:
        culture = rng.choice(_OWNER_CULTURES)
        first, last = pick_name(rng, culture, female=rng.random() < 0.5, fold=True)
        email = f"{slug(first)}.{slug(last)}@{domain}"
        if email in used:
            email = f"{slug(first)}.{slug(last)}{len(used)}@{domain}"
        used.add(email)
        created = between(rng, start, now - timedelta(days=2 * 365))
        next_id[0] += rng.randint(1, 9)
        owners.append(
            {
                "id": str(next_id[0]),
                "email": email,
                "type": "PERSON",
                "firstName": first,
                "lastName": last,
                "userId": user_id,
                "archived": False,
                "createdAt": iso(created),
                "updatedAt": iso(later(rng, created, now)),
            }
        )
    return owners
