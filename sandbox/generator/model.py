"""The generator's public values: generated objects, the dataset, and its ground truth."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


def iso(moment: datetime) -> str:
    """``moment`` (UTC) as HubSpot writes timestamps: ``2024-03-01T12:00:00.000Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class GeneratedObject:
    """One CRM record as the sandbox serves it.

    ``properties`` holds every property of the object type's data model (``None`` when empty),
    values as HubSpot sends them (strings). ``associations`` maps a canonical object type to the
    ids of associated records; associations are symmetric (a task listing a contact is listed
    by that contact).
    """

    id: str
    properties: dict[str, str | None]
    created_at: datetime
    updated_at: datetime
    associations: dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """What a perfect hygiene run would find in the dataset (see the package docstring)."""

    seed: int
    records: int
    now: datetime
    duplicate_clusters: dict[str, list[list[str]]]
    hard_negatives: dict[str, list[list[str]]]
    due_fixes: list[dict[str, str | None]]
    tag_synonyms: dict[str, dict[str, list[str]]]

    def to_json(self) -> dict[str, object]:
        """The JSON document: ``generator``, ``version``, ``seed``, ``records``, ``now``,
        ``duplicate_clusters``, ``hard_negatives``, ``due_fixes``, ``tag_synonyms``."""
        return {
            "generator": "syncd-sandbox",
            "version": 1,
            "seed": self.seed,
            "records": self.records,
            "now": iso(self.now),
            "duplicate_clusters": self.duplicate_clusters,
            "hard_negatives": self.hard_negatives,
            "due_fixes": self.due_fixes,
            "tag_synonyms": self.tag_synonyms,
        }

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` to ``path`` as UTF-8 JSON (stable key order, one fix a line)."""
        doc = self.to_json()
        head = {k: v for k, v in doc.items() if k != "due_fixes"}
        body = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
        fixes = ",\n  ".join(json.dumps(f, ensure_ascii=False) for f in self.due_fixes)
        Path(path).write_text(f'{body},\n "due_fixes": [\n  {fixes}\n ]\n}}\n', encoding="utf-8")


@dataclass(frozen=True, slots=True)
class Dataset:
    """A generated CRM: records by object type, owners (HubSpot owner JSON), ground truth, and
    the pipelines by object type (HubSpot ``Pipeline`` JSON; deals only)."""

    objects: dict[str, list[GeneratedObject]]
    owners: list[dict[str, object]]
    truth: GroundTruth
    pipelines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
