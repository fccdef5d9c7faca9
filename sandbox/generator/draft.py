"""Records under construction: raw values, the clean value behind each messy one, associations
by reference (ids are assigned at the end, in creation order), and a few time helpers."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sandbox.generator.mess import Messed


@dataclass(frozen=True, slots=True)
class Fix:
    """A due normalization: ``field`` holds ``old`` and should hold ``new`` (``None``: invalid)."""

    field: str
    old: str
    new: str | None
    issue: str


@dataclass(eq=False, slots=True)
class Draft:
    """A record being generated. Compared and hashed by identity."""

    object_type: str
    created: datetime
    updated: datetime
    props: dict[str, str | None] = field(default_factory=dict)
    clean: dict[str, str | None] = field(default_factory=dict)
    fixes: dict[str, Fix] = field(default_factory=dict)
    assoc: dict[str, list[Draft]] = field(default_factory=dict)
    id: str = ""

    def put(self, name: str, clean: str | None, messed: Messed | None = None) -> None:
        """Set ``name`` to the raw value of ``messed`` (default: ``clean`` as is) and remember
        the clean value; a raw value that differs from it becomes a due fix."""
        raw, issue = messed if messed is not None else (clean, None)
        self.props[name] = raw
        self.clean[name] = None if issue == "invalid" else clean
        self.fixes.pop(name, None)
        if issue is not None and raw is not None and raw != clean:
            self.fixes[name] = Fix(name, raw, None if issue == "invalid" else clean, issue)

    def linked(self, object_type: str) -> list[Draft]:
        """The associated drafts of ``object_type``."""
        return self.assoc.get(object_type, [])


def link(a: Draft, b: Draft) -> None:
    """Associate ``a`` and ``b`` both ways (once)."""
    mine = a.assoc.setdefault(b.object_type, [])
    if not any(x is b for x in mine):
        mine.append(b)
        b.assoc.setdefault(a.object_type, []).append(a)


def between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment in ``[start, end]`` at millisecond resolution (``start`` if the range is empty)."""
    span = int((end - start).total_seconds() * 1000)
    if span <= 0:
        return start
    return start + timedelta(milliseconds=rng.randint(0, span))


def later(rng: random.Random, start: datetime, now: datetime, skew: float = 0.7) -> datetime:
    """A moment between ``start`` and ``now``, leaning towards ``now`` for ``skew`` < 1."""
    span = int((now - start).total_seconds() * 1000)
    if span <= 0:
        return start
    return start + timedelta(milliseconds=int(span * rng.random() ** skew))
