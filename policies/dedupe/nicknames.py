"""First-name nickname equivalence (Bob ~ Robert), from the data table ``nicknames.csv``.

Each line of the table is a group: a formal name first, then its short forms. A name may be in
several groups (``al``: Albert, Alan, Alfred). Two names are equivalent when they share a group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class NicknameTable:
    """Name → ids of its groups, and group id → the group's formal name."""

    groups: Mapping[str, frozenset[int]]
    formal: Mapping[int, str]

    @classmethod
    def parse(cls, lines: Iterable[str]) -> NicknameTable:
        """Build from ``nicknames.csv``-style lines (``#`` comments and blank lines skipped)."""
        groups: dict[str, set[int]] = {}
        formal: dict[int, str] = {}
        for raw in lines:
            names = [n.strip().lower() for n in raw.split(",") if n.strip()]
            if not names or names[0].startswith("#"):
                continue
            group_id = len(formal)
            formal[group_id] = names[0]
            for name in names:
                groups.setdefault(name, set()).add(group_id)
        return cls({n: frozenset(ids) for n, ids in groups.items()}, formal)

    def equivalent(self, a: str, b: str) -> bool:
        """Whether two folded first names are the same or nicknames of one another."""
        if a == b:
            return True
        ga, gb = self.groups.get(a), self.groups.get(b)
        return ga is not None and gb is not None and not ga.isdisjoint(gb)

    def formal_names(self, name: str) -> frozenset[str]:
        """``name`` and every formal name it may stand for (bob → bob, robert)."""
        found = {name} if name else set()
        found.update(self.formal[g] for g in self.groups.get(name, ()))
        return frozenset(found)

    def initials(self, name: str) -> frozenset[str]:
        """First letters of ``name`` and of every formal name it may stand for (bob → b, r)."""
        found = {name[:1]} if name else set()
        found.update(self.formal[g][:1] for g in self.groups.get(name, ()))
        return frozenset(found)


@cache
def nicknames() -> NicknameTable:
    """The packaged nickname table (read once)."""
    text = resources.files(__package__).joinpath("nicknames.csv").read_text(encoding="utf-8")
    return NicknameTable.parse(text.splitlines())
