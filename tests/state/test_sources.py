"""A source as a whole: the account it synced, forgetting it on purpose, when its deletions were
last read, and what ids its CRM merged away stand for now (run on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from model.changes import Update
from model.errors import StateError
from model.records import Cursor, PullBatch, Record
from state import migrate
from state.base import OutboxOp
from state.db import make_engine
from state.store import SqlStateStore
from tests.state.conftest import T0


def at(minutes: int) -> Cursor:
    return Cursor(T0 + timedelta(minutes=minutes))


def test_a_source_is_bound_to_the_first_account_it_names(running: SqlStateStore) -> None:
    assert running.source_account("hs") is None
    assert running.bind_account("hs", "111") == "111"
    assert running.bind_account("hs", "222") == "111", "the first account stays"
    assert running.source_account("hs") == "111"
    with pytest.raises(StateError, match="unknown source"):
        running.bind_account("nope", "1")


def test_deletions_read_at_moves_forward_on_its_own(running: SqlStateStore) -> None:
    later = T0 + timedelta(hours=24)
    running.store_batch("hs", "r1", PullBatch("contacts", (), Cursor(T0, T0)))
    running.store_batch("hs", "r1", PullBatch("contacts", (), at(30)))  # not read this time
    assert running.get_cursor("hs", "contacts") == Cursor(T0 + timedelta(minutes=30), T0)
    running.store_batch("hs", "r1", PullBatch("contacts", (), Cursor(at(10).updated_at, later)))
    assert running.get_cursor("hs", "contacts") == Cursor(T0 + timedelta(minutes=30), later)
    running.store_batch("hs", "r1", PullBatch("contacts", (), Cursor(None, T0)))
    assert running.get_cursor("hs", "contacts").deletions_read_at == later, "never backwards"


def _merged_world(store: SqlStateStore) -> None:
    """Contacts 1 and 2 merged into 9 (a new id); a task on 2, a task on 3."""
    records = [
        Record("contacts", "1", {"firstname": "Ann"}, T0, merged_into="9"),
        Record("contacts", "2", {"firstname": "Anne"}, T0, merged_into="9"),
        Record("contacts", "3", {"firstname": "Bob"}, T0),
        Record("contacts", "9", {"firstname": "Ann"}, T0, merged_ids=("1", "2")),
    ]
    tasks = [
        Record("tasks", "50", {"status": "open"}, T0, associations={"contacts": ("2", "1")}),
        Record("tasks", "51", {"status": "open"}, T0, associations={"contacts": ("3",)}),
    ]
    store.store_batch("hs", "r1", PullBatch("contacts", tuple(records), at(1)))
    store.store_batch("hs", "r1", PullBatch("tasks", tuple(tasks), at(1)))


def test_associations_of_merged_ids_stand_for_their_survivor(running: SqlStateStore) -> None:
    _merged_world(running)

    snapshot = running.snapshot("hs", T0)

    tasks = {t.id: t for t in snapshot.of("tasks")}
    assert tasks["50"].associations == {"contacts": ("9",)}
    assert tasks["51"].associations == {"contacts": ("3",)}
    assert [c.id for c in snapshot.of("contacts")] == ["3", "9"]


def test_review_decisions_outlive_a_merge_that_gave_a_new_id(running: SqlStateStore) -> None:
    _merged_world(running)
    running.record_review("hs", "contacts", ["1", "3"], "rejected", T0)

    assert running.review_decisions("hs", "contacts") == {frozenset({"9", "3"}): "rejected"}


def test_reset_forgets_records_cursors_and_account_and_settles_unsent_ops(
    running: SqlStateStore,
) -> None:
    _merged_world(running)
    running.bind_account("hs", "111")
    running.record_review("hs", "contacts", ["1", "3"], "rejected", T0)
    change = Update("hs", "contacts", "normalize", "trim", "3", "firstname", "Bob", "Bob B")
    running.save_plan("p1", "hs", "r1", T0, {}, [change])
    running.enqueue("p1", "r1", [OutboxOp("p1:0:0", 0, 0, "update", "contacts", "3", {})], T0)
    running.ensure_source("other", "hubspot", T0)
    running.start_run("r2", "other", T0, dry_run=False)
    seven = Record("contacts", "7", {}, T0)
    running.store_batch("other", "r2", PullBatch("contacts", (seven,), at(1)))

    counts = running.reset_source("hs", T0 + timedelta(hours=1))

    assert counts["records"] == 6
    assert counts["cursors"] == 2
    assert counts["review decisions"] == 1
    assert counts["operations not sent"] == 1
    assert running.snapshot("hs", T0).records == {}
    assert running.get_cursor("hs", "contacts") == Cursor()
    assert running.source_account("hs") is None
    assert running.review_decisions("hs", "contacts") == {}
    [op] = running.outbox("p1")
    assert op.status == "skipped"
    assert op.reason is not None
    assert "reset-source" in op.reason
    assert running.pending_plans("hs") == []
    assert running.get_run("r1").id == "r1", "history stays"
    assert [r.id for r in running.snapshot("other", T0).of("contacts")] == ["7"]


def test_0008_adds_the_columns_and_re_reads_hubspot_deals_and_tasks(state_url: str) -> None:
    engine = make_engine(state_url)
    try:
        config = migrate.alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0007")
        old = SqlStateStore(engine)  # the methods used need only the 0007 schema
        for name, connector in (("hs", "hubspot"), ("csv", "csv")):
            old.ensure_source(name, connector, T0)
            old.start_run(f"r-{name}", name, T0, dry_run=False)
            for object_type in ("deals", "tasks", "contacts"):
                old.store_batch(name, f"r-{name}", PullBatch(object_type, (), at(5)))

        migrate.upgrade(engine)

        store = SqlStateStore(engine)
        assert store.get_cursor("hs", "deals") == Cursor(), "re-read in full: pipelines decide"
        assert store.get_cursor("hs", "tasks") == Cursor(), "re-read: created_at is new"
        assert store.get_cursor("hs", "contacts") == at(5)
        assert store.get_cursor("csv", "deals") == at(5)
        assert store.source_account("hs") is None
        columns = {c["name"] for c in sa.inspect(engine).get_columns("cursors")}
        assert "deletions_read_at" in columns
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0007")
        columns = {c["name"] for c in sa.inspect(engine).get_columns("sources")}
        assert "account_id" not in columns
    finally:
        engine.dispose()
