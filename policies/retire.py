"""The retirement policy: records with no activity for a long time and nothing open.

A record of one of ``object_types`` is **stale** when both hold:

- **No activity** for more than ``stale_after_days`` days before ``snapshot.now``. Its last
  activity is the latest of its ``activity_fields`` that parse as a date-time (ISO 8601 or
  epoch milliseconds; by default ``last_activity_at`` and ``updated_at``); when none does, the
  record's ``updated_at`` as pulled.
  Taking the latest is deliberately cautious: a record a person touched recently is never
  stale. (A write by syncd also counts as a touch.)
- **Nothing open**: no open task is associated with it (either direction, as in
  :mod:`policies.follow_up`; a task is open when its ``status`` is not ``completed``); no
  open deal (``is_closed`` not ``true``) is associated with it in either direction; a contact
  is not an open lead (``lead_open`` not ``true``); a deal is not itself open. Whether a lead
  is open or a deal closed is the CRM's to say, through its connector.

What a stale record gets is ``action``: ``report`` (default) a :class:`~policies.base.Flag`
(field ``None``, value = the last activity date); ``tag`` an :class:`~policies.base.Update`
adding ``tag_value`` to the ``;``-joined multi-select ``tag_field`` (nothing when it is
already there, compared ignoring case); ``archive`` an :class:`~policies.base.Archive`. Every
reason names the last activity date. Records are visited per object type in the order of
``object_types``, ids in numeric order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from model.changes import Archive, Change, Flag, Snapshot, Update
from model.fields import TRUE
from model.records import Record
from policies.base import Policy, RecordMemory
from policies.follow_up import open_task_targets, parse_moment

RetireAction = Literal["report", "tag", "archive"]


class RetireSettings(BaseModel):
    """Settings of the retirement policy (``[policies.retire]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="Run this policy.")
    action: RetireAction = Field(
        default="report",
        description="What a stale record gets: 'report' (a finding, changes nothing), 'tag' "
        "(tag_value added to tag_field) or 'archive' (archived in the CRM).",
    )
    object_types: tuple[Literal["contacts", "companies", "deals"], ...] = Field(
        default=("contacts",), description="Which records may be retired."
    )
    stale_after_days: int = Field(
        default=365, ge=1, description="Days without activity after which a record is stale."
    )
    activity_fields: tuple[str, ...] = Field(
        default=("last_activity_at", "updated_at"),
        description="Date-time fields whose latest value is the record's last activity.",
    )
    tag_field: str = Field(
        default="tags", description="action 'tag': the ';'-joined multi-select field to tag."
    )
    tag_value: str = Field(default="stale", description="action 'tag': the value to add.")


def last_activity(record: Record, fields: Iterable[str]) -> datetime:
    """The latest parsable date-time among ``fields``; ``record.updated_at`` when none parses."""
    moments = [m for m in (parse_moment(record.properties.get(f)) for f in fields) if m]
    if moments:
        return max(moments)
    updated = record.updated_at
    return updated.replace(tzinfo=UTC) if updated.tzinfo is None else updated


class RetirePolicy(Policy):
    """Reports, tags or archives stale records (see the module docstring)."""

    name = "retire"

    def __init__(self, settings: RetireSettings) -> None:
        self.settings = settings
        self._memory: MutableMapping[str, Any] | None = None
        self._notes: dict[str, str] = {}

    def incremental(self, memory: MutableMapping[str, Any]) -> None:
        """Keep each record's last activity in ``memory`` and reuse it while the record's
        properties and update time are the same (it reads nothing else); whether a record is
        stale, or busy, is worked out each run (the clock, the open tasks and deals)."""
        self._memory = memory

    @property
    def notes(self) -> Mapping[str, str]:
        """How many records' last activity the last call read again."""
        return dict(self._notes)

    def __call__(self, snapshot: Snapshot) -> list[Change]:
        s = self.settings
        now = snapshot.now if snapshot.now.tzinfo else snapshot.now.replace(tzinfo=UTC)
        cutoff = now - timedelta(days=s.stale_after_days)
        busy = self._busy(snapshot)
        activity: RecordMemory[datetime] = RecordMemory(self._memory, "records", s.activity_fields)
        read = partial(last_activity, fields=s.activity_fields)
        changes: list[Change] = []
        for object_type in s.object_types:
            for record in snapshot.in_id_order(object_type):
                if record.id in busy:
                    continue
                lead_open = record.properties.get("lead_open") == TRUE
                if object_type == "contacts" and lead_open:
                    continue
                if object_type == "deals" and self._open_deal(record):
                    continue
                last = activity.value(record, read, also=record.updated_at)
                if last >= cutoff:
                    continue
                change = self._change(snapshot, record, last)
                if change is not None:
                    changes.append(change)
        if (again := activity.keep()) is not None:
            self._notes = {"records": f"{again} records' activity read again"}
        return changes

    @staticmethod
    def _open_deal(deal: Record) -> bool:
        return deal.properties.get("is_closed") != TRUE

    def _busy(self, snapshot: Snapshot) -> set[str]:
        """Ids of records with an open task or an open deal associated (either direction)."""
        targets, open_tasks = open_task_targets(snapshot.of("tasks"))
        busy = set(targets)
        open_deals: set[str] = set()
        for deal in snapshot.of("deals"):
            if self._open_deal(deal):
                open_deals.add(deal.id)
                for ids in deal.associations.values():
                    busy.update(ids)
        for object_type in self.settings.object_types:
            for record in snapshot.of(object_type):
                linked_tasks = record.associations.get("tasks", ())
                linked_deals = record.associations.get("deals", ())
                if not open_tasks.isdisjoint(linked_tasks) or not open_deals.isdisjoint(
                    linked_deals
                ):
                    busy.add(record.id)
        return busy

    def _change(self, snapshot: Snapshot, record: Record, last: datetime) -> Change | None:
        s = self.settings
        why = (
            f"no activity since {last.date().isoformat()} (over {s.stale_after_days} days) "
            "and nothing open"
        )
        src, kind, rid = snapshot.source, record.object_type, record.id
        if s.action == "archive":
            return Archive(src, kind, self.name, f"{why}: archive", rid)
        if s.action == "tag":
            old = record.properties.get(s.tag_field)
            values = [v.strip() for v in (old or "").split(";") if v.strip()]
            if s.tag_value.strip().casefold() in {v.casefold() for v in values}:
                return None
            new = ";".join([*values, s.tag_value.strip()])
            reason = f"{why}: tag {s.tag_value!r}"
            return Update(src, kind, self.name, reason, rid, s.tag_field, old, new)
        return Flag(src, kind, self.name, why, rid, None, last.date().isoformat())
