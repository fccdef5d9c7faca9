"""Blocking: only records that share a cheap key are compared, so cost grows near-linearly.

Each record gets a few keys per configured kind; records sharing any key form candidate pairs.
A key shared by more than ``max_block_size`` records is too common to mean anything and is
skipped (its records still meet through their other keys).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from policies.dedupe.features import Features, first_initials, soundex
from policies.dedupe.nicknames import nicknames
from policies.normalizers import split_extension

ROLE_MAILBOXES = frozenset((
    "info", "sales", "admin", "contact", "hello", "support", "office", "team", "mail", "noreply",
    "no-reply", "billing", "hr", "jobs", "careers", "marketing", "help", "service", "enquiries",
    "inquiries", "accounts", "finance",
))  # fmt: skip


def contact_keys(f: Features, kinds: Iterable[str]) -> set[str]:
    """The blocking keys of a contact for the given kinds (see ``ContactBlockingKey``)."""
    keys: set[str] = set()
    for kind in kinds:
        if kind == "email":
            keys.update(f"e|{e}" for e in f.emails)
        elif kind == "phone":
            keys.update(f"p|{split_extension(p)[0]}" for p in f.phones)
        elif kind == "name" and f.last:
            code = soundex(f.last)
            keys.update(f"n|{code}|{i}" for i in first_initials(f.first))
            if f.first:  # the same key for a record with first and last name swapped
                keys.add(f"n|{soundex(f.first)}|{f.last[0]}")
        elif kind == "zip_name" and f.zip and f.last:
            keys.add(f"z|{f.zip}|{f.last[:3]}")
        elif kind == "email_local":
            for email in f.emails:
                local = email.split("@", 1)[0]
                if len(local) >= 4 and local not in ROLE_MAILBOXES:
                    keys.add(f"l|{local}")
        elif kind == "company_name" and f.org and f.first:
            org = f.org.split()[0]
            keys.update(f"c|{org}|{name}" for name in nicknames().formal_names(f.first))
    return keys


def company_keys(f: Features, kinds: Iterable[str]) -> set[str]:
    """The blocking keys of a company for the given kinds (see ``CompanyBlockingKey``)."""
    keys: set[str] = set()
    for kind in kinds:
        if kind == "domain" and f.domain:
            keys.add(f"d|{f.domain}")
        elif kind == "phone":
            keys.update(f"p|{split_extension(p)[0]}" for p in f.phones)
        elif kind == "name" and f.org:
            keys.add(f"n|{f.org.split()[0]}")
            keys.add(f"s|{f.org.replace(' ', '')[:6]}")
        elif kind == "zip_name" and f.zip and f.org:
            keys.add(f"z|{f.zip}|{f.org[:3]}")
    return keys


def candidate_pairs(
    features: Sequence[Features], kinds: Iterable[str], max_block_size: int
) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, of records sharing a blocking key, sorted."""
    kinds = tuple(kinds)
    blocks: dict[str, list[int]] = defaultdict(list)
    for index, f in enumerate(features):
        keys = (
            company_keys(f, kinds)
            if f.record.object_type == "companies"
            else contact_keys(f, kinds)
        )
        for key in keys:
            blocks[key].append(index)
    pairs: set[tuple[int, int]] = set()
    for members in blocks.values():
        if 2 <= len(members) <= max_block_size:
            for n, i in enumerate(members):
                pairs.update((i, j) for j in members[n + 1 :])
    return sorted(pairs)
