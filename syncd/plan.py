"""The plan: the changes of all policies for one source, composed, ordered, with an id.

Composition rules (``compose``):

- A record that a merge absorbs disappears, so changes aimed at it do not go to the CRM. An update
  of a field whose value the survivor inherits (``Merge.field_values``) lands on the survivor:
  the merge carries the normalized value. Other updates of an absorbed record are dropped.
- Flags and archives of an absorbed record are dropped with it.
- A follow-up task for an absorbed record is dropped: the survivor keeps its own values and
  tasks, and the follow-up policy already proposed a task for the survivor if it needs one.
- Review pairs (``kind == "review"``) change nothing, so nothing composes with them.
- One field of one record is written once: when two policies propose a value for the same
  field (normalize and tags both fixing ``state``), the first policy in order wins and the
  later proposal is dropped.

Order: the policies' order (normalize, dedupe, follow_up), and within a policy the order the
policy returned, which is deterministic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from model.changes import Archive, Change, CreateTask, Flag, Merge, Update


@dataclass(frozen=True, slots=True)
class Plan:
    """A persisted, ordered list of changes for one source.

    ``baseline`` describes the state the plan was made from (record counts, newest change);
    ``labels`` maps ``(object_type, id)`` to a name a person recognizes, for reports only.
    """

    id: str
    source: str
    created_at: datetime
    changes: tuple[Change, ...]
    run_id: str | None = None
    baseline: Mapping[str, object] = field(default_factory=dict)
    labels: Mapping[tuple[str, str], str] = field(default_factory=dict)
    stats: Mapping[str, object] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        """Counts a person reads first: updates, records updated, merges, reviews, tasks."""
        kinds = Counter(c.kind for c in self.changes)
        updated = {(c.object_type, c.record_id) for c in self.changes if isinstance(c, Update)}
        absorbed = sum(
            len(c.merged_ids) for c in self.changes if isinstance(c, Merge) and c.kind == "merge"
        )
        return {
            "changes": len(self.changes),
            "updates": kinds["update"],
            "records_updated": len(updated),
            "merges": kinds["merge"],
            "records_merged_away": absorbed,
            "reviews": kinds["review"],
            "tasks": kinds["create_task"],
            "archives": kinds["archive"],
            "flags": kinds["flag"],
        }


def compose(changes: Sequence[Change]) -> list[Change]:
    """Apply the composition rules of this module to the policies' changes."""
    absorbed: dict[tuple[str, str], Merge] = {}
    for change in changes:
        if isinstance(change, Merge) and change.kind == "merge":
            for merged_id in change.merged_ids:
                absorbed[(change.object_type, merged_id)] = change

    carried: dict[int, dict[str, str | None]] = {}
    kept: list[Change] = []
    written: set[tuple[str, str, str]] = set()
    for change in changes:
        if isinstance(change, Update):
            target = (change.object_type, change.record_id, change.field)
            if target in written:
                continue
            written.add(target)
        if isinstance(change, Update | CreateTask | Flag | Archive):
            merge = absorbed.get((change.object_type, change.record_id))
            if merge is None:
                kept.append(change)
            elif isinstance(change, Update) and merge.field_values.get(change.field) == change.old:
                carried.setdefault(id(merge), dict(merge.field_values))[change.field] = change.new
            continue
        kept.append(change)

    return [
        replace(c, field_values=carried[id(c)]) if isinstance(c, Merge) and id(c) in carried else c
        for c in kept
    ]


def record_label(object_type: str, properties: Mapping[str, str | None]) -> str:
    """A short human name for a record: a person's name, a company or deal name, a subject."""

    def get(key: str) -> str:
        return (properties.get(key) or "").strip()

    if object_type == "contacts":
        name = " ".join(p for p in (get("firstname"), get("lastname")) if p)
        return name or get("email")
    for key in ("name", "dealname", "subject", "email"):
        if get(key):
            return get(key)
    return ""
