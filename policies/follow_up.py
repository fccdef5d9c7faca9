"""The follow-up policy: records that need a next action and have no open task get one.

Which records need a next action is said by **rules** (``[[policies.follow_up.rules]]``): each
names an object type (``contacts``, ``deals``, ``companies``) and conditions that must all hold
(:class:`Condition`: a field equals a value, is in or not in a list, a multi-value field such as
``tags`` contains a value, or a date such as ``last_activity_at`` is older than N days). Fields
and values are canonical (:mod:`model.fields`). A condition on a deal's ``stage`` names the stage
by its label in every pipeline (``"Closed Won"``), by its id, or as ``pipeline:stage``
(``"Renewals:Renewed"``; :mod:`policies.stages`). The first rule that matches a record decides its
task; a record gets at most one. Without ``rules`` the default rules (:data:`DEFAULT_RULES`)
are: an **open lead** is a contact whose CRM says so (``lead_open`` is ``true``); an **open
deal** is a deal that is not closed (``is_closed`` is not ``true``: a deal without a stage
counts as open).

A record already has an open task when a task in the snapshot whose ``status`` is not
``completed`` is associated with it, in either direction: the task's ``associations`` list the
record, or the record's ``associations["tasks"]`` list the task. A task id the snapshot does not
hold (archived, not pulled) does not count.

**Owner**: the record's ``owner_id`` unless the snapshot's owners mark that owner
archived; else ``fallback_owner_id``; else, with ``round_robin`` (default), the active
(not archived) owners of ``snapshot.owners`` in turn: owners ordered by id, the records that need
one taken in record-id order (across object types), so the same snapshot always gives the same
owners; else nobody.

**Due** ``due_in_business_days`` (the rule's, else the setting's) business days after
``snapshot.now``'s date: weekends are skipped, and the public holidays of ``holiday_country``
when set. **Subject and body** come from the rule's templates filled with the record's
properties (``str.format_map``; a missing or empty property renders as ``''``, and the extra keys
``id`` and ``display_name`` are always there). The change's **reason** is the rule's ``reason``
template (missing properties render as ``not set``), then ``has no open task; follow-up due
DATE``.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, MutableMapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache, partial
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from model.changes import Change, CreateTask, Snapshot
from model.fields import TASK_COMPLETED, TRUE, record_kind, record_label
from model.records import Record, id_key
from policies.base import Policy, RecordMemory
from policies.normalizers import collapse_whitespace
from policies.stages import stage_matches

FollowUpType = Literal["contacts", "leads", "deals", "companies"]


class Condition(BaseModel):
    """One test on one field of a record; exactly one operator must be set.

    Text comparisons ignore case and surrounding whitespace. A missing or empty value equals
    nothing, is in no list and so is ``not_in`` every list, contains nothing, and is older than
    any number of days (no recorded activity at all).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    field: str = Field(
        description="Canonical field name, e.g. lead_status, stage, tags. A stage is named by "
        "its label (in every pipeline), its id, or as 'pipeline:stage'."
    )
    equals: str | None = Field(default=None, description="The value is this one.")
    in_: tuple[str, ...] | None = Field(
        default=None, alias="in", description="The value is one of these."
    )
    not_in: tuple[str, ...] | None = Field(
        default=None, description="The value is none of these (a missing value counts)."
    )
    contains: str | None = Field(
        default=None,
        description="A ';'-joined multi-value field (tags) holds this value among its values.",
    )
    older_than_days: int | None = Field(
        default=None,
        ge=0,
        description="An ISO date-time field (last_activity_at: last activity) lies more than "
        "this many days before the snapshot's now, or is missing.",
    )

    @model_validator(mode="after")
    def _one_operator(self) -> Condition:
        set_ = [
            name
            for name in ("equals", "in_", "not_in", "contains", "older_than_days")
            if getattr(self, name) is not None
        ]
        if len(set_) != 1:
            raise ValueError(
                "a condition needs exactly one of equals, in, not_in, contains, "
                f"older_than_days; found {len(set_)}"
            )
        return self

    def holds(self, record: Record, now: datetime) -> bool:
        """Whether the condition holds for ``record`` at ``now``."""
        if self.field == "stage" and self.contains is None and self.older_than_days is None:
            return self._stage_holds(record)
        raw = record.properties.get(self.field)
        value = (raw or "").strip().casefold()
        if self.equals is not None:
            return bool(value) and value == self.equals.strip().casefold()
        if self.in_ is not None:
            return bool(value) and value in _folded(self.in_)
        if self.not_in is not None:
            return value not in _folded(self.not_in)
        if self.contains is not None:
            parts = {p.strip().casefold() for p in value.split(";")}
            return self.contains.strip().casefold() in parts
        assert self.older_than_days is not None
        moment = parse_moment(raw)
        return moment is None or moment < _utc(now) - timedelta(days=self.older_than_days)

    def _stage_holds(self, record: Record) -> bool:
        """``equals``, ``in`` or ``not_in`` on a deal's stage, each value a label, an id or
        ``pipeline:stage`` (:func:`policies.stages.stage_matches`)."""
        props = record.properties
        if self.equals is not None:
            return stage_matches(props, self.equals)
        if self.in_ is not None:
            return any(stage_matches(props, v) for v in self.in_)
        assert self.not_in is not None
        return not any(stage_matches(props, v) for v in self.not_in)


@lru_cache(maxsize=256)
def _folded(values: tuple[str, ...]) -> frozenset[str]:
    """A condition's values trimmed and case-folded, once: a rule is checked on every record."""
    return frozenset(v.strip().casefold() for v in values)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_moment(raw: str | None) -> datetime | None:
    """An ISO 8601 date-time (``Z`` allowed; naive read as UTC) or epoch milliseconds (HubSpot
    writes those too), in UTC; None when it is neither (``'²'`` is a digit to ``str.isdigit``
    and no number to ``int``; a millisecond count past year 9999 is no moment)."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        if text.isascii() and text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class FollowUpRule(BaseModel):
    """A kind of record that needs a next action, and the task it gets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    object_type: FollowUpType = Field(description="Which records the rule looks at.")
    when: tuple[Condition, ...] = Field(
        default=(), description="Conditions that must all hold (none: every record)."
    )
    reason: str = Field(
        description="Why the record needs a next action; {field} placeholders as in subject, "
        "a missing property renders as 'not set'."
    )
    subject: str = Field(
        description="Task subject; {field} placeholders take the record's properties, plus "
        "{id} and {display_name} (model.fields.record_label: a contact's or lead's name, else "
        "e-mail; a company's name, else domain; a deal's name; else 'contact <id>')."
    )
    body: str = Field(default="", description="Task body, with the same placeholders.")
    due_in_business_days: int | None = Field(
        default=None, ge=0, le=365, description="Overrides the policy's due_in_business_days."
    )

    def matches(self, record: Record, now: datetime) -> bool:
        """Whether every condition holds."""
        return all(c.holds(record, now) for c in self.when)


DEFAULT_RULES: tuple[FollowUpRule, ...] = (
    FollowUpRule(
        object_type="contacts",
        when=(Condition(field="lead_open", equals=TRUE),),
        reason="open lead (lead status {lead_status})",
        subject="Follow up with {display_name}",
        body="Open lead {display_name} (lead status {lead_status}) has no open task.",
    ),
    FollowUpRule(
        object_type="leads",
        when=(Condition(field="lead_open", equals=TRUE),),
        reason="open lead (lead status {lead_status})",
        subject="Follow up with {display_name}",
        body="Open lead {display_name} (lead status {lead_status}) has no open task.",
    ),
    FollowUpRule(
        object_type="deals",
        when=(Condition(field="is_closed", not_in=(TRUE,)),),
        reason="open deal (stage {stage})",
        subject="Follow up on deal {display_name}",
        body="Open deal {display_name} (stage {stage}) has no open task.",
    ),
)
"""The rules without ``rules`` in the settings: open leads (contacts with an open lead status,
and the records of CRMs that keep leads apart, such as Salesforce) and open deals."""


class FollowUpSettings(BaseModel):
    """Settings of the follow-up policy (``[policies.follow_up]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="Run this policy.")
    rules: tuple[FollowUpRule, ...] | None = Field(
        default=None,
        description="Which records need a next action, first match wins; unset: open leads "
        "(lead_open is true) and open deals (is_closed is not true).",
    )
    due_in_business_days: int = Field(
        default=2, ge=0, le=365, description="Business days from today to the task's due date."
    )
    holiday_country: str | None = Field(
        default=None,
        description="Country (ISO 3166-1 alpha-2, e.g. 'US') whose public holidays are not "
        "business days; none when unset.",
    )
    fallback_owner_id: str | None = Field(
        default=None, description="Owner of tasks for records without an (active) owner."
    )
    round_robin: bool = Field(
        default=True,
        description="Without a record owner or fallback_owner_id, share tasks among the "
        "active owners in turn (by owner id, records in id order).",
    )

    @field_validator("holiday_country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        import holidays  # noqa: PLC0415  (only when a country is set: see _holidays)

        code = value.strip().upper()
        if code not in holidays.list_supported_countries():
            raise ValueError(f"holidays does not know country {value!r}")
        return code

    def effective_rules(self) -> tuple[FollowUpRule, ...]:
        """``rules``, or :data:`DEFAULT_RULES`."""
        return DEFAULT_RULES if self.rules is None else self.rules


class _Defaulting(dict[str, str]):
    """A format_map mapping: its own keys, else the record's value trimmed (looked up only when
    a template names it, not for all of a record's fields), else ``missing``."""

    missing = ""

    def __init__(self, own: Mapping[str, str], properties: Mapping[str, str | None]) -> None:
        super().__init__(own)
        self.properties = properties

    def __missing__(self, key: str) -> str:
        return collapse_whitespace(self.properties.get(key) or "") or self.missing


class _NotSet(_Defaulting):
    missing = "not set"


def _holidays(country: str, years: range) -> Container[date]:
    """The public holidays of ``country`` in ``years``. The ``holidays`` package is imported
    here, not with this module: its calendars take 0.15 s to import, a cost every run paid
    although no holiday country is set by default."""
    import holidays  # noqa: PLC0415

    found: Container[date] = holidays.country_holidays(country, years=years)
    return found


def add_business_days(start: date, days: int, holiday_country: str | None = None) -> date:
    """``start`` plus ``days`` business days (Monday to Friday, not a public holiday).

    With ``days == 0`` the result is ``start`` if that is a business day, else the next one.
    """
    years = range(start.year, start.year + 2 + days // 200)
    off = _holidays(holiday_country, years) if holiday_country else {}

    def business(day: date) -> bool:
        return day.weekday() < 5 and day not in off

    current = start
    while not business(current):
        current += timedelta(days=1)
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if business(current):
            remaining -= 1
    return current


def open_task_targets(tasks: Iterable[Record]) -> tuple[set[str], set[str]]:
    """(ids of records that open tasks point at, ids of the open tasks themselves); a task is
    open unless its ``status`` is ``completed``."""
    targets: set[str] = set()
    open_ids: set[str] = set()
    for task in tasks:
        if task.properties.get("status") == TASK_COMPLETED:
            continue
        open_ids.add(task.id)
        for ids in task.associations.values():
            targets.update(ids)
    return targets, open_ids


class FollowUpPolicy(Policy):
    """Proposes a :class:`CreateTask` for each record a rule matches that has no open task."""

    name = "follow_up"

    def __init__(self, settings: FollowUpSettings) -> None:
        self.settings = settings
        self.rules = settings.effective_rules()
        self._memory: MutableMapping[str, Any] | None = None
        self._notes: dict[str, str] = {}

    # -- incremental runs --------------------------------------------------------------------

    def incremental(self, memory: MutableMapping[str, Any]) -> None:
        """Keep in ``memory``, by record, the rule that picked it and its task's words (reason,
        subject, body), and reuse them while the record's properties are unchanged: they are
        a function of the record and the rules. Where a rule of a type reads the clock
        (``older_than_days``), its records are matched again each run; whether a record has an
        open task, the owner and the due date are worked out each run."""
        self._memory = memory

    @property
    def notes(self) -> Mapping[str, str]:
        """How many tasks' words the last call wrote again."""
        return dict(self._notes)

    def __call__(self, snapshot: Snapshot) -> list[Change]:
        signature = (snapshot.source, self.settings.model_dump_json())
        picks: RecordMemory[FollowUpRule | None] = RecordMemory(self._memory, "picked", signature)
        targets, open_ids = open_task_targets(snapshot.of("tasks"))
        found: list[tuple[Record, FollowUpRule]] = []
        types = list(dict.fromkeys(rule.object_type for rule in self.rules))
        for object_type in types:
            rules = [rule for rule in self.rules if rule.object_type == object_type]
            pick = partial(_first_match, rules, snapshot.now)
            # which rule picks a record reads its properties alone, unless one reads the clock
            timeless = all(c.older_than_days is None for r in rules for c in r.when)
            for record in snapshot.in_id_order(object_type):
                rule = picks.value(record, pick) if timeless else pick(record)
                if rule is None or record.id in targets:
                    continue
                if not open_ids.isdisjoint(record.associations.get("tasks", ())):
                    continue
                found.append((record, rule))
        owners = self._owners(snapshot, [record for record, _ in found])
        today, country = snapshot.now.date(), self.settings.holiday_country
        days = {rule.due_in_business_days for _, rule in found}
        due = {  # per rule's delay, not per task: 42,000 tasks of 100,000 contacts share one
            d: add_business_days(
                today, self.settings.due_in_business_days if d is None else d, country
            )
            for d in days
        }
        words: RecordMemory[tuple[str, str, str]] = RecordMemory(self._memory, "words", signature)
        tasks: list[Change] = []
        for record, rule in found:
            why, subject, body = words.value(record, partial(self._words, rule=rule), also=rule)
            due_on = due[rule.due_in_business_days]
            tasks.append(
                CreateTask(
                    source=snapshot.source,
                    object_type=record.object_type,
                    policy=self.name,
                    reason=f"{why} has no open task; follow-up due {due_on.isoformat()}",
                    record_id=record.id,
                    subject=subject,
                    owner_id=owners.get(record.id),
                    due=due_on,
                    body=body,
                )
            )
        picks.keep()
        if (again := words.keep()) is not None:
            self._notes = {"tasks": f"{again} tasks' words written again"}
        return tasks

    def _owners(self, snapshot: Snapshot, records: Sequence[Record]) -> dict[str, str]:
        """Owner id per record id, for the records that get one (see the module docstring)."""
        chosen: dict[str, str] = {}
        orphans: list[Record] = []
        for record in records:
            owner = (record.properties.get("owner_id") or "").strip()
            if owner and not _archived(snapshot.owners.get(owner, {})):
                chosen[record.id] = owner
            elif self.settings.fallback_owner_id:
                chosen[record.id] = self.settings.fallback_owner_id
            else:
                orphans.append(record)
        active = sorted(
            (o for o, props in snapshot.owners.items() if not _archived(props)), key=id_key
        )
        if self.settings.round_robin and active:
            ordered = sorted(orphans, key=lambda r: (id_key(r.id), r.object_type))
            for n, record in enumerate(ordered):
                chosen[record.id] = active[n % len(active)]
        return chosen

    def _words(self, record: Record, rule: FollowUpRule) -> tuple[str, str, str]:
        """The reason (without its due date), subject and body of ``record``'s task."""
        own = {"id": record.id, "display_name": _display_name(record)}
        values = _Defaulting(own, record.properties)
        return (
            collapse_whitespace(rule.reason.format_map(_NotSet(own, record.properties))),
            collapse_whitespace(rule.subject.format_map(values)),
            collapse_whitespace(rule.body.format_map(values)),
        )


def _first_match(
    rules: Sequence[FollowUpRule], now: datetime, record: Record
) -> FollowUpRule | None:
    """The first of ``rules`` that picks ``record`` at ``now``, if any."""
    return next((rule for rule in rules if rule.matches(record, now)), None)


def _archived(props: Mapping[str, str | None]) -> bool:
    return (props.get("archived") or "").strip().lower() == "true"


def _display_name(record: Record) -> str:
    label = record_label(record.object_type, record.properties)
    return label or f"{record_kind(record.object_type)} {record.id}"
