"""0006: a store written with syncd 0.1's names (HubSpot's) moves to the canonical ones and back.

The rows are written the way the 0.1 code stored them, at the revision before 0006, through the
store's own methods; then the store is upgraded and read back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from model.changes import CreateTask, Flag, Merge, Update
from model.records import Record
from state import migrate
from state.base import AuditRecord, OpOutcome, OutboxOp
from state.db import make_engine
from state.store import SqlStateStore
from tests.state.old_schema import (
    read_old_plan,
    read_old_record,
    write_old_plan,
    write_old_records,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
#: The revision 0006 follows (whatever the chain before it).
BEFORE = ScriptDirectory.from_config(migrate.alembic_config()).get_revision("0006").down_revision
assert isinstance(BEFORE, str)


def _migrate_to(engine: sa.Engine, revision: str, *, down: bool = False) -> None:
    config = migrate.alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def rec(
    object_type: str, record_id: str, merged_into: str | None = None, **props: str | None
) -> Record:
    return Record(object_type, record_id, props, T0, T0, merged_into=merged_into)


OLD_ANN = {
    "firstname": "Ann",
    "email": "ann@example.com",
    "hs_additional_emails": None,
    "lifecyclestage": "lead",
    "hs_lead_status": "NEW",
    "hubspot_owner_id": "7",
    "notes_last_updated": None,
    "createdate": "2026-01-01T00:00:00Z",
    "lastmodifieddate": "2026-11-01T09:00:00Z",
    "hs_object_id": "12",
    "hs_merged_object_ids": "5",
    "nps_custom": "9",
}
NEW_ANN = {
    "firstname": "Ann",
    "email": "ann@example.com",
    "additional_emails": None,
    "lifecycle_stage": "lead",
    "lead_status": "NEW",
    "lead_open": "true",
    "owner_id": "7",
    "last_activity_at": None,
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-11-01T09:00:00Z",
    "merged_ids": "5",
    "nps_custom": "9",  # a property nobody maps keeps its name
}
OLD_RECORDS = [
    rec("contacts", "12", **OLD_ANN),
    rec("contacts", "13", firstname="Bo", hs_lead_status="CONNECTED", hs_object_id="13"),
    rec("contacts", "5", merged_into="12"),  # merged away: no properties
    rec(
        "deals", "30", dealname="D", dealstage="closedwon", hubspot_owner_id=None, hs_object_id="30"
    ),
    rec("deals", "31", dealname="E", dealstage="contractsent", hs_object_id="31"),
    rec(
        "tasks",
        "40",
        hs_task_subject="Call",
        hs_task_status="WAITING",
        hs_task_body="b [syncd:p0:9:0]",
        hs_timestamp="2026-11-03T15:00:00Z",
        hs_object_id="40",
    ),
    rec("tasks", "41", hs_task_subject="Done", hs_task_status="COMPLETED", hs_object_id="41"),
    rec("owners", "7", email="o@x.com", firstName="Olga", lastName="Oh", userId="9"),
]
NEW_PROPERTIES = {
    ("contacts", "12"): NEW_ANN,
    ("contacts", "13"): {"firstname": "Bo", "lead_status": "CONNECTED", "lead_open": "false"},
    ("contacts", "5"): {},
    ("deals", "30"): {
        "dealname": "D",
        "stage": "closedwon",
        "owner_id": None,
        "is_closed": "true",
        "is_won": "true",
    },
    ("deals", "31"): {
        "dealname": "E",
        "stage": "contractsent",
        "is_closed": "false",
        "is_won": "false",
    },
    ("tasks", "40"): {
        "subject": "Call",
        "status": "open",
        "body": "b [syncd:p0:9:0]",
        "due": "2026-11-03T15:00:00Z",
    },
    ("tasks", "41"): {"subject": "Done", "status": "completed"},
    ("owners", "7"): {"email": "o@x.com", "firstname": "Olga", "lastname": "Oh", "user_id": "9"},
}


def old_plan() -> list[Update | Merge | Flag | CreateTask]:
    return [
        Update("hs", "contacts", "tags", "status", "12", "hs_lead_status", "NEW", "OPEN"),
        Update("hs", "contacts", "normalize", "case", "12", "firstname", "ann", "Ann"),
        Merge(
            "hs",
            "contacts",
            "dedupe",
            "same",
            "12",
            ("13",),
            0.97,
            {"email": 1.0},
            {"hubspot_owner_id": "7", "jobtitle": "CEO"},
            "merge",
            {"hubspot_owner_id": None, "jobtitle": None},
        ),
        Flag("hs", "deals", "required", "missing", "31", "dealstage", None),
        Flag("hs", "tasks", "tags", "odd", "40", "hs_task_status", "WAITING"),
        CreateTask("hs", "contacts", "follow_up", "open", "12", "Call", "7", date(2026, 11, 3)),
    ]


def new_plan() -> list[Update | Merge | Flag | CreateTask]:
    return [
        Update("hs", "contacts", "tags", "status", "12", "lead_status", "NEW", "OPEN"),
        Update("hs", "contacts", "normalize", "case", "12", "firstname", "ann", "Ann"),
        Merge(
            "hs",
            "contacts",
            "dedupe",
            "same",
            "12",
            ("13",),
            0.97,
            {"email": 1.0},
            {"owner_id": "7", "jobtitle": "CEO"},
            "merge",
            {"owner_id": None, "jobtitle": None},
        ),
        Flag("hs", "deals", "required", "missing", "31", "stage", None),
        Flag("hs", "tasks", "tags", "odd", "40", "status", "open"),
        CreateTask("hs", "contacts", "follow_up", "open", "12", "Call", "7", date(2026, 11, 3)),
    ]


def write_old_store(store: SqlStateStore) -> None:
    """What syncd 0.1 left behind: records, a plan half pushed, an audited run."""
    store.ensure_source("hs", "hubspot", T0)
    epoch = store.acquire_source("hs", "r1", T0).epoch
    store.start_run("r1", "hs", T0, dry_run=False)
    write_old_records(store.engine, "hs", "r1", OLD_RECORDS)
    write_old_plan(store.engine, "p0", "hs", "r1", T0, {}, old_plan())
    ops = [
        OutboxOp("p0:0:0", 0, 0, "update", "contacts", "12",
                 {"policy": "tags", "reason": "status",
                  "fields": {"hs_lead_status": {"old": "NEW", "new": "OPEN"}}}),
        OutboxOp("p0:2:0", 2, 0, "update", "contacts", "12",
                 {"policy": "dedupe", "reason": "same",
                  "fields": {"hubspot_owner_id": {"old": None, "new": "7"},
                             "jobtitle": {"old": None, "new": "CEO"}}}),
        OutboxOp("p0:2:1", 2, 1, "merge", "contacts", "12",
                 {"policy": "dedupe", "reason": "same", "merged_id": "13"}),
        OutboxOp("p0:4:0", 4, 0, "update", "tasks", "41",
                 {"policy": "x", "reason": "done",
                  "fields": {"hs_task_status": {"old": "NOT_STARTED", "new": "COMPLETED"}}}),
        OutboxOp("p0:5:0", 5, 0, "create_task", "contacts", "12",
                 {"policy": "follow_up", "reason": "open", "subject": "Call", "body": "",
                  "owner_id": "7", "due": "2026-11-03"}),
    ]  # fmt: skip
    store.enqueue("p0", "r1", ops, T0)
    audit = [
        AuditRecord("r1", "p0", "p0:2:0", "hs", "dedupe", "update", "contacts", "12",
                    name, None, value, T0, {"status": 200})
        for name, value in (("hubspot_owner_id", "7"), ("jobtitle", "CEO"))
    ]  # fmt: skip
    status = AuditRecord("r1", "p0", "p0:4:0", "hs", "x", "update", "tasks", "41",
                         "hs_task_status", "NOT_STARTED", "COMPLETED", T0, {})  # fmt: skip
    store.record_results(
        [
            OpOutcome("p0:2:0", "applied", audit=audit),
            OpOutcome("p0:4:0", "applied", audit=[status]),
        ],
        T0,
        epoch=epoch,
    )
    store.mark_sending(["p0:0:0"], T0 + timedelta(seconds=1), epoch=epoch)  # killed here
    store.record_review("hs", "contacts", ["12", "13"], "approved", T0)
    store.save_health("r1", "hs", T0, {"all": {"records": 7.0}})


def test_upgrade_moves_everything_to_canonical_names_and_back(state_url: str) -> None:
    engine = make_engine(state_url)
    try:
        _migrate_to(engine, BEFORE)
        store = SqlStateStore(engine)
        write_old_store(store)

        assert migrate.upgrade(engine) == migrate.head_revision()

        for (object_type, record_id), properties in NEW_PROPERTIES.items():
            found = store.get_records("hs", object_type, [record_id])[record_id]
            assert dict(found.properties) == properties, (object_type, record_id)
        assert store.get_records("hs", "contacts", ["5"])["5"].merged_into == "12"
        assert store.load_plan("p0").changes == new_plan()
        outbox = {e.key: e for e in store.outbox("p0")}
        assert outbox["p0:0:0"].status == "sending"  # still to finish, now in canonical terms
        assert outbox["p0:0:0"].payload["fields"] == {"lead_status": {"old": "NEW", "new": "OPEN"}}
        assert outbox["p0:2:0"].payload["fields"] == {
            "owner_id": {"old": None, "new": "7"},
            "jobtitle": {"old": None, "new": "CEO"},
        }
        assert outbox["p0:2:1"].payload["merged_id"] == "13"
        assert outbox["p0:4:0"].payload["fields"] == {"status": {"old": "open", "new": "completed"}}
        assert outbox["p0:5:0"].payload["owner_id"] == "7"
        audit = [(e.field, e.before, e.after) for e in store.audit(run_id="r1")]
        assert sorted(audit, key=str) == sorted(
            [("owner_id", None, "7"), ("jobtitle", None, "CEO"), ("status", "open", "completed")],
            key=str,
        )
        assert store.review_decisions("hs", "contacts") == {frozenset({"12", "13"}): "approved"}
        assert [p.metrics for p in store.health_history("hs")] == [{"all": {"records": 7.0}}]

        _migrate_to(engine, BEFORE, down=True)
        for record in OLD_RECORDS:
            found = read_old_record(engine, "hs", record.object_type, record.id)
            expected = {k: v for k, v in record.properties.items() if k != "hs_object_id"}
            if record.id == "40":
                expected["hs_task_status"] = "NOT_STARTED"  # 'open' does not say which
            assert dict(found.properties) == expected, record.id
        old = old_plan()
        old[4] = Flag("hs", "tasks", "tags", "odd", "40", "hs_task_status", "NOT_STARTED")
        assert read_old_plan(engine, "p0") == old

        assert migrate.upgrade(engine) == migrate.head_revision()
        assert store.load_plan("p0").changes == new_plan()
    finally:
        engine.dispose()
