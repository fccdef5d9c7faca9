"""The required-fields policy: records that lack a field their object type (and stage) needs.

Which fields are required is said per object type in ``fields``
(``[policies.required.fields]``). A list means those fields are always required::

    contacts = ["email", "lastname"]

A table adds fields required only at some values of a stage/status field (``by``), on top of
the ``always`` ones; stage values compare ignoring case and surrounding whitespace::

    deals = {always = ["dealname"], by = "stage",
             stages = {contractsent = ["amount", "closedate"]}}

With ``by = "stage"`` a key names a deal stage by its label, in every pipeline (``"Contract
Sent"``), by its id, or as ``pipeline:stage`` (``"Renewals:Quote Sent"``;
:mod:`policies.stages`). Stage ids are the CRM's own, so a rule naming them belongs in the
source's policies (``[sources.NAME.policies.required]``); the default asks for amount and close
date on won deals (``by = "is_won"``), which every CRM's connector decides.

A field counts as missing when it is absent, ``None`` or only whitespace.

By default every missing field of a record is a :class:`~policies.base.Flag` (field = the
missing field, value ``None``) whose reason names the rule. With ``as_tasks`` the record gets
instead ONE :class:`~policies.base.CreateTask` for its owner ("Fill in amount, Close Date on
deal Big deal"), due ``due_in_business_days`` business days after ``snapshot.now``'s date
(:func:`policies.follow_up.add_business_days`); the owner is the record's
``owner_id``, else ``fallback_owner_id``, else nobody. Field names in subjects use the
CRM's labels (``snapshot.schema``) when known. Records are visited by object type in the order
of ``fields``, ids in numeric order; a record's missing fields in rule order (always, then
stage), without repeats.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from functools import partial
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from model.changes import Change, CreateTask, Flag, Snapshot
from model.fields import TRUE, record_kind, record_label
from model.records import PropertyDef, Record
from policies.base import Policy, RecordMemory
from policies.follow_up import add_business_days
from policies.normalizers import collapse_whitespace
from policies.stages import stage_matches


class RequiredRule(BaseModel):
    """The required fields of one object type: always, and per value of a stage field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    always: tuple[str, ...] = Field(default=(), description="Fields every record needs.")
    by: str | None = Field(
        default=None,
        description="Stage/status field whose value selects extra required fields "
        "(e.g. stage, lead_status, lifecycle_stage, is_won).",
    )
    stages: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Value of 'by' (case-insensitive) → fields also required at that value; "
        "with by = 'stage', a stage label (every pipeline), id, or 'pipeline:stage'.",
    )

    @model_validator(mode="before")
    @classmethod
    def _list_means_always(cls, data: Any) -> Any:
        if isinstance(data, list | tuple):
            return {"always": tuple(data)}
        return data

    @model_validator(mode="after")
    def _stages_need_by(self) -> RequiredRule:
        if self.stages and not self.by:
            raise ValueError("'stages' needs 'by' (the field whose value is the stage)")
        return self

    def fields_for(self, record: Record) -> tuple[tuple[str, ...], str | None]:
        """(the fields ``record`` needs, the stage value that added some, if any)."""
        wanted = list(self.always)
        stage_hit: str | None = None
        if self.by == "stage":  # a label in every pipeline, an id, or pipeline:stage
            props = record.properties
            for value, fields in self.stages.items():
                if stage_matches(props, value):
                    wanted.extend(fields)
                    stage_hit = (props.get("stage_label") or props.get("stage") or "").strip()
        elif self.by:
            stage = (record.properties.get(self.by) or "").strip().casefold()
            for value, fields in self.stages.items():
                if stage and value.strip().casefold() == stage:
                    wanted.extend(fields)
                    stage_hit = (record.properties.get(self.by) or "").strip()
        return tuple(dict.fromkeys(wanted)), stage_hit


def _default_fields() -> dict[str, RequiredRule]:
    late = ("amount", "closedate")
    return {
        "contacts": RequiredRule(always=("email", "lastname")),
        "companies": RequiredRule(always=("name", "domain")),
        "deals": RequiredRule(always=("dealname", "stage"), by="is_won", stages={TRUE: late}),
    }


class RequiredSettings(BaseModel):
    """Settings of the required-fields policy (``[policies.required]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="Run this policy.")
    fields: dict[str, RequiredRule] = Field(
        default_factory=_default_fields,
        description="Per object type: a list of always-required fields, or a table "
        "{always, by, stages} adding fields required at some stage values. Default: contacts "
        "email, lastname; companies name, domain; deals dealname, stage, and amount, "
        "closedate once won.",
    )
    as_tasks: bool = Field(
        default=False,
        description="Instead of one finding per missing field, give the record's owner one "
        "task to fill them in.",
    )
    due_in_business_days: int = Field(
        default=5, ge=0, le=365, description="as_tasks: business days until the task is due."
    )
    holiday_country: str | None = Field(
        default=None,
        description="as_tasks: country (ISO 3166-1 alpha-2) whose public holidays are not "
        "business days.",
    )
    fallback_owner_id: str | None = Field(
        default=None, description="as_tasks: owner of tasks for records without an owner."
    )

    @field_validator("holiday_country")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return None if value is None else value.strip().upper()


class RequiredPolicy(Policy):
    """Flags (or, with ``as_tasks``, one task per record for) missing required fields."""

    name = "required"

    def __init__(self, settings: RequiredSettings) -> None:
        self.settings = settings
        self._memory: MutableMapping[str, Any] | None = None
        self._notes: dict[str, str] = {}

    def incremental(self, memory: MutableMapping[str, Any]) -> None:
        """Keep each record's flags in ``memory`` and reuse them while its properties are the
        same (they are a function of the record and the settings). Tasks (``as_tasks``) are
        worked out each run: their due date reads the clock."""
        self._memory = memory

    @property
    def notes(self) -> Mapping[str, str]:
        """How many records the last call checked again."""
        return dict(self._notes)

    def __call__(self, snapshot: Snapshot) -> list[Change]:
        memory = None if self.settings.as_tasks else self._memory
        signature = (snapshot.source, self.settings.model_dump_json())
        checked: RecordMemory[tuple[Change, ...]] = RecordMemory(memory, "records", signature)
        changes: list[Change] = []
        for object_type, rule in self.settings.fields.items():
            check = partial(self._record_changes, snapshot, rule=rule)
            for record in snapshot.in_id_order(object_type):
                changes.extend(checked.value(record, check))
        if (again := checked.keep()) is not None:
            self._notes = {"records": f"{again} checked again"}
        return changes

    def _record_changes(
        self, snapshot: Snapshot, record: Record, rule: RequiredRule
    ) -> tuple[Change, ...]:
        """``record``'s flags, or its task: none when it fills what ``rule`` requires."""
        needed, stage = rule.fields_for(record)
        missing = [f for f in needed if not (record.properties.get(f) or "").strip()]
        if not missing:
            return ()
        where = f" at {rule.by} {stage}" if stage else ""
        if self.settings.as_tasks:
            return (self._task(snapshot, record, missing, where),)
        return tuple(
            Flag(
                source=snapshot.source,
                object_type=record.object_type,
                policy=self.name,
                reason=f"required field {name} is empty ({record.object_type}{where} need "
                f"{', '.join(needed)})",
                record_id=record.id,
                field=name,
                value=None,
            )
            for name in missing
        )

    def _task(
        self, snapshot: Snapshot, record: Record, missing: list[str], where: str
    ) -> CreateTask:
        labels = _labels(snapshot.schema.get(record.object_type, {}))
        names = ", ".join(labels.get(f, f) for f in missing)
        kind = record_kind(record.object_type)
        who = record_label(record.object_type, record.properties) or record.id
        owner = (record.properties.get("owner_id") or "").strip()
        due = add_business_days(
            snapshot.now.date(), self.settings.due_in_business_days, self.settings.holiday_country
        )
        return CreateTask(
            source=snapshot.source,
            object_type=record.object_type,
            policy=self.name,
            reason=f"required {'field' if len(missing) == 1 else 'fields'} "
            f"{', '.join(missing)} empty ({record.object_type}{where}); task due "
            f"{due.isoformat()}",
            record_id=record.id,
            subject=collapse_whitespace(f"Fill in {names} on {kind} {who}"),
            owner_id=owner or self.settings.fallback_owner_id,
            due=due,
            body=f"These required fields are empty: {names}.",
        )


def _labels(schema: Mapping[str, PropertyDef]) -> dict[str, str]:
    return {name: prop.label or name for name, prop in schema.items()}
