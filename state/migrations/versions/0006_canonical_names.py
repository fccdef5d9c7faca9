"""Canonical field names: stored data moves from HubSpot's property names to model/fields.py's.

Until this revision the canonical names were HubSpot's property names. Records, plans, outbox
payloads (so a push interrupted across the upgrade still finishes) and audit entries (so old runs
can still be undone) are rewritten with the frozen map below, which is deliberately a copy: it
describes the data as syncd 0.1 stored it and must not change when the connectors' maps do.

- ``records.properties``: keys renamed per object type; ``hs_object_id`` dropped (it is the
  record's id; the connector no longer exposes it); a task's status ``COMPLETED`` becomes
  ``completed`` and every other status ``open``; the fields the connector now decides are added
  where their base field is present, as the connector delivers them with its defaults:
  ``lead_open`` (``hs_lead_status`` one of NEW, OPEN, IN_PROGRESS, ATTEMPTED_TO_CONTACT),
  ``is_closed``/``is_won`` (``dealstage`` closedwon/closedlost). A source that configures other
  open lead statuses gets them on the records its next pulls read.
- ``plan_changes.payload``: an update's or a flag's ``field`` (and a task status value), a
  merge's ``field_values`` and ``field_baseline`` keys. Record ids are untouched.
- ``outbox.payload``: an update operation's ``fields`` keys (and task status values).
- ``audit_log.field`` (and task status values in ``before``/``after``).

Review decisions (ids only) and health figures (fixed metric names) hold no field names. No
schema change. Downgrade maps back (decided fields dropped, ``open`` written as
``NOT_STARTED``; ``hs_object_id``, which only repeated the id, stays out).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OWNER = {"hubspot_owner_id": "owner_id"}
_TIMES = {"createdate": "created_at", "hs_lastmodifieddate": "updated_at"}
RENAMES: Mapping[str, Mapping[str, str]] = {
    "contacts": {
        "hs_additional_emails": "additional_emails",
        "lifecyclestage": "lifecycle_stage",
        "hs_lead_status": "lead_status",
        **_OWNER,
        "notes_last_updated": "last_activity_at",
        "createdate": "created_at",
        "lastmodifieddate": "updated_at",
        "hs_merged_object_ids": "merged_ids",
    },
    "companies": {**_OWNER, **_TIMES, "hs_merged_object_ids": "merged_ids"},
    "deals": {"dealstage": "stage", **_OWNER, **_TIMES, "hs_merged_object_ids": "merged_ids"},
    "tasks": {
        "hs_task_subject": "subject",
        "hs_task_body": "body",
        "hs_task_status": "status",
        "hs_task_priority": "priority",
        "hs_task_type": "task_type",
        "hs_timestamp": "due",
        **_OWNER,
        **_TIMES,
    },
    "owners": {"firstName": "firstname", "lastName": "lastname", "userId": "user_id"},
}
"""syncd 0.1's field names (HubSpot's) → canonical names, per object type. Frozen."""
DROPPED = "hs_object_id"
STATUS = ("tasks", "hs_task_status")
OPEN_LEAD_STATUSES = frozenset({"new", "open", "in_progress", "attempted_to_contact"})
CLOSED_STAGES = frozenset({"closedwon", "closedlost"})
WON_STAGES = frozenset({"closedwon"})
DECIDED = ("lead_open", "is_closed", "is_won")
PAGE = 500

Json = dict[str, Any]


def _status_up(value: object) -> object:
    if not isinstance(value, str) or not value:
        return value
    return "completed" if value.strip().upper() == "COMPLETED" else "open"


def _status_down(value: object) -> object:
    return {"completed": "COMPLETED", "open": "NOT_STARTED"}.get(value, value)  # type: ignore[call-overload]


class _Names:
    """One direction of the map: field names and the task status values."""

    def __init__(self, up: bool) -> None:
        self.up = up
        self.maps = {
            t: dict(m) if up else {new: old for old, new in m.items()} for t, m in RENAMES.items()
        }
        self.status_field = STATUS[1] if up else RENAMES["tasks"][STATUS[1]]

    def field(self, object_type: str, name: str) -> str:
        return self.maps.get(object_type, {}).get(name, name)

    def value(self, object_type: str, name: str, value: object) -> object:
        """A value of field ``name`` (the name before the rename)."""
        if object_type != "tasks" or name != self.status_field:
            return value
        return _status_up(value) if self.up else _status_down(value)


def _flag(value: object, wanted: frozenset[str]) -> str:
    text = value.strip().casefold() if isinstance(value, str) else ""
    return "true" if text and text in wanted else "false"


def _properties(names: _Names, object_type: str, old: Json) -> Json:
    new: Json = {}
    for name, value in old.items():
        if names.up and name == DROPPED:
            continue
        if not names.up and name in DECIDED and object_type in ("contacts", "deals"):
            continue
        new[names.field(object_type, name)] = names.value(object_type, name, value)
    if names.up and object_type == "contacts" and "hs_lead_status" in old:
        new["lead_open"] = _flag(old["hs_lead_status"], OPEN_LEAD_STATUSES)
    if names.up and object_type == "deals" and "dealstage" in old:
        new["is_closed"] = _flag(old["dealstage"], CLOSED_STAGES)
        new["is_won"] = _flag(old["dealstage"], WON_STAGES)
    return new


def _renamed(names: _Names, object_type: str, values: object) -> object:
    """A ``{field: value}`` mapping with its keys renamed (values as they are)."""
    if not isinstance(values, dict):
        return values
    return {names.field(object_type, k): v for k, v in values.items()}


def _change(names: _Names, payload: Json) -> Json:
    """One ``plan_changes`` payload (``change_to_dict`` form)."""
    object_type, kind = str(payload.get("object_type")), payload.get("kind")
    new = dict(payload)
    name = payload.get("field")
    if kind in ("update", "flag") and isinstance(name, str):
        new["field"] = names.field(object_type, name)
        for key in ("old", "new", "value"):
            if key in payload:
                new[key] = names.value(object_type, name, payload[key])
    if kind in ("merge", "review"):
        for key in ("field_values", "field_baseline"):
            if key in payload:
                new[key] = _renamed(names, object_type, payload[key])
    return new


def _outbox(names: _Names, kind: str, object_type: str, payload: Json) -> Json:
    """One outbox payload: an update operation's ``fields`` ({field: {old, new}})."""
    fields = payload.get("fields")
    if kind != "update" or not isinstance(fields, dict):
        return payload
    renamed: Json = {}
    for name, values in fields.items():
        if isinstance(values, dict):
            values = {k: names.value(object_type, name, v) for k, v in values.items()}
        renamed[names.field(object_type, name)] = values
    return {**payload, "fields": renamed}


def _pages(
    conn: sa.Connection, table: sa.TableClause, keys: Sequence[str], columns: Sequence[str]
) -> Iterator[list[sa.RowMapping]]:
    """Every row of ``table`` in pages of :data:`PAGE`, in primary key order (keyset paging:
    rows are updated between pages, never while a page is read)."""
    key = sa.tuple_(*(table.c[k] for k in keys))
    query = sa.select(*(table.c[c] for c in (*keys, *columns))).order_by(*(table.c[k] for k in keys))
    last: tuple[Any, ...] | None = None
    while True:
        page = query if last is None else query.where(key > sa.tuple_(*map(sa.literal, last)))
        rows = list(conn.execute(page.limit(PAGE)).mappings())
        if not rows:
            return
        yield rows
        last = tuple(rows[-1][k] for k in keys)


def _rewrite(
    conn: sa.Connection,
    table: sa.TableClause,
    keys: Sequence[str],
    column: str,
    change: Callable[[sa.RowMapping], object],
    extra: Sequence[str] = (),
) -> None:
    """Set ``column`` of every row to ``change(row)`` where that differs."""
    update = (
        table.update()
        .where(*(table.c[k] == sa.bindparam(f"k_{k}") for k in keys))
        .values({column: sa.bindparam("v_new")})
    )
    for rows in _pages(conn, table, keys, (column, *extra)):
        changed = []
        for row in rows:
            new = change(row)
            if new != row[column]:
                changed.append({**{f"k_{k}": row[k] for k in keys}, "v_new": new})
        if changed:
            conn.execute(update, changed)


def _migrate(up: bool) -> None:
    names = _Names(up)
    conn = op.get_bind()
    records = sa.table(
        "records",
        sa.column("source", sa.String),
        sa.column("object_type", sa.String),
        sa.column("remote_id", sa.String),
        sa.column("properties", sa.JSON),
    )
    _rewrite(
        conn,
        records,
        ("source", "object_type", "remote_id"),
        "properties",
        lambda r: _properties(names, r["object_type"], dict(r["properties"])),
    )
    changes = sa.table(
        "plan_changes",
        sa.column("plan_id", sa.String),
        sa.column("seq", sa.Integer),
        sa.column("payload", sa.JSON),
    )
    _rewrite(conn, changes, ("plan_id", "seq"), "payload", lambda r: _change(names, r["payload"]))
    outbox = sa.table(
        "outbox",
        sa.column("id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("object_type", sa.String),
        sa.column("payload", sa.JSON),
    )
    _rewrite(
        conn,
        outbox,
        ("id",),
        "payload",
        lambda r: _outbox(names, r["kind"], r["object_type"], r["payload"]),
        extra=("kind", "object_type"),
    )
    audit = sa.table(
        "audit_log",
        sa.column("id", sa.Integer),
        sa.column("object_type", sa.String),
        sa.column("field", sa.String),
        sa.column("before", sa.Text),
        sa.column("after", sa.Text),
    )
    def value_of(column: str) -> Callable[[sa.RowMapping], object]:
        return lambda r: names.value(r["object_type"], r["field"], r[column])

    for column in ("before", "after"):
        _rewrite(conn, audit, ("id",), column, value_of(column), extra=("object_type", "field"))
    _rewrite(
        conn,
        audit,
        ("id",),
        "field",
        lambda r: None if r["field"] is None else names.field(r["object_type"], r["field"]),
        extra=("object_type",),
    )


def upgrade() -> None:
    _migrate(up=True)


def downgrade() -> None:
    _migrate(up=False)
