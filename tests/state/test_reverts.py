"""What syncd wrote per field, and reverts with their releases; on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from model.errors import StateError
from state import migrate
from state.base import Revert
from state.db import make_engine
from state.store import SqlStateStore
from tests.state.test_audit_reviews import apply

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def written(running: SqlStateStore) -> SqlStateStore:
    """Run r1 wrote 12.phone twice, 12.email and 13.phone; run r2 wrote 12.email again."""
    running.start_run("r2", "hs", at(10), dry_run=False)
    apply(running, "hs", "r1", "p1", [("12", "phone", "a"), ("12", "email", "b")])
    apply(running, "hs", "r1", "p2", [("12", "phone", "c"), ("13", "phone", "d")])
    apply(running, "hs", "r2", "p3", [("12", "email", "e")])
    return running


def test_field_writes_are_the_latest_not_undone_write_per_field(written: SqlStateStore) -> None:
    found = written.field_writes("hs", "contacts", ["12", "13", "99"])
    assert {k: e.after for k, e in found.items()} == {
        ("12", "phone"): "c",
        ("12", "email"): "e",
        ("13", "phone"): "d",
    }
    assert written.field_writes("hs", "contacts", ["13"]).keys() == {("13", "phone")}
    assert written.field_writes("hs", "companies", ["12"]) == {}
    assert written.field_writes("other", "contacts", ["12"]) == {}
    # r2's write undone: the one before it is the latest again
    written.start_run("undo", "hs", at(20), dry_run=False)
    written.mark_undone([e.id for e in written.audit(run_id="r2")], "undo", at(21))
    assert written.field_writes("hs", "contacts", ["12"])[("12", "email")].after == "b"


def revert(store: SqlStateStore, record_id: str, field: str, **changes: object) -> Revert:
    entry = store.field_writes("hs", "contacts", [record_id])[(record_id, field)]
    base = Revert(
        source="hs",
        object_type="contacts",
        record_id=record_id,
        field=field,
        value=entry.after,
        reverted_to="typed by a person",
        audit_id=entry.id,
        written_at=entry.applied_at,
        found_at=at(30),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_reverts_round_trip_replace_and_release(written: SqlStateStore) -> None:
    phone = revert(written, "12", "phone", changed_by="Ann Lee", changed_via="the HubSpot app")
    other = revert(written, "13", "phone", changed_at=at(25))
    email = revert(written, "12", "email")
    written.save_reverts([other, email, phone])
    assert written.reverts("hs") == [email, phone, other]  # by record (numeric), then field
    assert written.reverts("hs", "companies") == []
    assert written.reverts("hs", released=True) == []

    released = written.release_reverts("hs", "contacts", ["12"], "phone", at(40), by="bob")
    assert released == [replace(phone, released_at=at(40), released_by="bob")]
    assert written.reverts("hs", released=True) == released
    assert written.reverts("hs", released=False) == [email, other]
    assert written.release_reverts("hs", "contacts", ["12"], "phone", at(41)) == []  # once
    # no field: every unreleased revert of the records
    assert written.release_reverts("hs", "contacts", ["12", "13"], None, at(42)) == [
        replace(email, released_at=at(42)),
        replace(other, released_at=at(42)),
    ]
    # a newer revert of the same field replaces the row, release and all
    again = replace(phone, reverted_to="changed back again", found_at=at(50))
    written.save_reverts([again])
    assert written.reverts("hs", released=False) == [again]
    assert written.reverts("hs")[1].released_at is None


def test_revert_mistakes_are_refused(written: SqlStateStore) -> None:
    phone = revert(written, "12", "phone")
    with pytest.raises(StateError, match="twice"):
        written.save_reverts([phone, phone])
    with pytest.raises(StateError, match="unknown source"):
        written.save_reverts([replace(phone, source="nope")])
    with pytest.raises(StateError):
        written.save_reverts([replace(phone, audit_id=999_999)])
    with pytest.raises(StateError, match="timezone-aware"):
        written.save_reverts([replace(phone, found_at=datetime(2024, 1, 1))])
    with pytest.raises(StateError, match="unknown source"):
        written.release_reverts("nope", "contacts", ["12"], None, at(1))
    assert written.reverts("hs") == []


def test_0005_upgrades_a_database_with_an_audit_log_and_downgrades(state_url: str) -> None:
    engine = make_engine(state_url)
    config = migrate.alembic_config()
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0004")
        old = SqlStateStore(engine)  # the audit log is of 0002, the lease (epoch) of 0004
        old.ensure_source("hs", "hubspot", T0)
        old.acquire_source("hs", "r1", T0)
        old.start_run("r1", "hs", T0, dry_run=False)
        apply(old, "hs", "r1", "p1", [("12", "phone", "a")])
        assert "reverts" not in sa.inspect(engine).get_table_names()

        assert migrate.upgrade(engine) == migrate.head_revision()
        store = SqlStateStore(engine)
        phone = revert(store, "12", "phone")
        store.save_reverts([phone])
        assert store.reverts("hs") == [phone]

        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0004")
        assert "reverts" not in sa.inspect(engine).get_table_names()
        assert [e.after for e in old.audit(source="hs")] == ["a"]
    finally:
        engine.dispose()
