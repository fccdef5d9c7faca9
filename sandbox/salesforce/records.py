"""Stored records and their values as the API writes them (``attributes``, Salesforce's
datetime format, typed JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sandbox.salesforce.schema import API_VERSION, STAGES, TASK_STATUSES, Field, SObjectType


def sf_datetime(moment: datetime) -> str:
    """Salesforce's JSON datetime: ``2024-01-01T00:00:00.000+0000`` (no colon in the offset)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def csv_datetime(moment: datetime) -> str:
    """Bulk API 2.0's CSV datetime: ``2024-01-01T00:00:00.000Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def to_second(moment: datetime) -> datetime:
    """Salesforce keeps datetimes to the second (the milliseconds it sends are always 000)."""
    return moment.astimezone(UTC).replace(microsecond=0)


@dataclass(slots=True)
class StoredRecord:
    """One record of one object, live or in the recycle bin.

    ``values`` holds the writable and calculated-at-write fields by API name, typed (str, bool,
    float, date); system fields live in attributes of their own. ``visible_from`` makes a change
    commit late: queries do not see the record until the clock reaches it.
    """

    sobject: str
    id: str
    values: dict[str, Any]
    created_at: datetime
    created_by: str
    modstamp: datetime
    last_modified: datetime
    last_modified_by: str
    deleted: bool = False
    deleted_at: datetime | None = None
    master_record_id: str | None = None
    visible_from: datetime | None = None
    history: list[tuple[str, Any, datetime, str]] = field(default_factory=list)
    """(field, new value, when, by whom) for each change, oldest first."""

    def row(self, schema: SObjectType) -> dict[str, Any]:
        """Every field's typed value by lower-case API name (what SOQL filters and sorts)."""
        values = {f.name.lower(): self.values.get(f.name) for f in schema.fields}
        for f in schema.fields:  # a checkbox is never null in Salesforce: false until set
            if f.type == "boolean" and values[f.name.lower()] is None:
                values[f.name.lower()] = False
        values.update(
            {
                "id": self.id,
                "isdeleted": self.deleted,
                "masterrecordid": self.master_record_id,
                "createddate": self.created_at,
                "createdbyid": self.created_by,
                "lastmodifieddate": self.last_modified,
                "lastmodifiedbyid": self.last_modified_by,
                "systemmodstamp": self.modstamp,
            }
        )
        if self.sobject == "Opportunity":
            closed, won = STAGES.get(str(self.values.get("StageName")), (False, False))
            values["isclosed"], values["iswon"] = closed, won
        elif self.sobject == "Task":
            values["isclosed"] = TASK_STATUSES.get(str(self.values.get("Status")), False)
        elif self.sobject == "User":
            first, last = self.values.get("FirstName"), self.values.get("LastName")
            values["name"] = " ".join(str(p) for p in (first, last) if p)
        elif self.sobject == "Lead":
            values["isconverted"] = bool(self.values.get("IsConverted"))
        return values


def json_value(value: Any) -> Any:
    """A typed value as Salesforce's JSON carries it."""
    if isinstance(value, datetime):
        return sf_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def csv_value(value: Any) -> str:
    """A typed value as a Bulk API 2.0 CSV cell (empty for null)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return csv_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else str(value)
    return str(value)


def attributes(sobject: str, record_id: str) -> dict[str, str]:
    return {"type": sobject, "url": f"/services/data/v{API_VERSION}/sobjects/{sobject}/{record_id}"}


def render(record: StoredRecord, schema: SObjectType, fields: list[Field]) -> dict[str, Any]:
    """A record as query and GET answer it: ``attributes`` first, then the fields asked for."""
    row = record.row(schema)
    out: dict[str, Any] = {"attributes": attributes(record.sobject, record.id)}
    for f in fields:
        out[f.name] = json_value(row.get(f.name.lower()))
    return out
