"""SQLite tuning and the pure row helpers."""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from model.errors import StateError
from model.records import Cursor, PullBatch, Record, id_key
from state.db import SQLITE_BUSY_TIMEOUT_MS, WRITE_OPTION, json_text, json_value
from state.models import UTCDateTime
from state.rows import newest_per_id, utc
from state.store import open_store


def test_sqlite_file_store_uses_wal_foreign_keys_and_busy_timeout(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            assert (
                conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == SQLITE_BUSY_TIMEOUT_MS
            )
    finally:
        store.close()


def test_sqlite_foreign_keys_are_enforced(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    try:
        with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO runs VALUES "
                    "('r', 'ghost', '2024-01-01', NULL, 'running', 0, '{}', NULL)"
                )
            )
    finally:
        store.close()


def test_utc_datetime_column_refuses_naive_and_returns_utc() -> None:
    column = UTCDateTime()
    dialect = sa.create_engine("sqlite://").dialect
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2024, 1, 1), dialect)
    plus_five = timezone(timedelta(hours=5))
    bound = column.process_bind_param(datetime(2024, 1, 1, 5, tzinfo=plus_five), dialect)
    assert bound == datetime(2024, 1, 1, 0, tzinfo=UTC)
    assert bound is not None
    assert bound.tzinfo == UTC
    assert column.process_result_value(datetime(2024, 1, 1), dialect) == datetime(
        2024, 1, 1, tzinfo=UTC
    )
    assert column.process_result_value(None, dialect) is None


def test_utc_refuses_naive_with_a_state_error() -> None:
    with pytest.raises(StateError, match="now"):
        utc(datetime(2024, 1, 1), "now")


def test_ids_sort_numerically_then_as_text() -> None:
    ids = ["10", "b", "9", "100", "a", "02", "2"]
    assert sorted(ids, key=id_key) == ["02", "2", "9", "10", "100", "a", "b"]


def test_newest_per_id_keeps_the_later_of_equal_versions() -> None:
    t = datetime(2024, 1, 1, tzinfo=UTC)
    a = Record("contacts", "1", {"v": "a"}, t)
    b = Record("contacts", "1", {"v": "b"}, t)
    c = Record("contacts", "2", {}, t)
    older = Record("contacts", "1", {"v": "old"}, t - timedelta(seconds=1))
    assert newest_per_id((a, c, b, older)) == [b, c]


def test_a_second_sqlite_writer_waits_for_the_lock(sqlite_url: str) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    first, second = open_store(sqlite_url), open_store(sqlite_url)
    try:
        first.ensure_source("hs", "hubspot", t0)
        first.start_run("r1", "hs", t0, dry_run=False)
        locked, release = threading.Event(), threading.Event()

        def hold_write_lock() -> None:
            with first.engine.connect() as conn:
                conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    locked.set()
                    release.wait(5)

        holder = threading.Thread(target=hold_write_lock)
        holder.start()
        assert locked.wait(5)
        threading.Timer(0.3, release.set).start()
        batch = PullBatch("contacts", (Record("contacts", "1", {}, t0),), Cursor(t0))
        assert second.store_batch("hs", "r1", batch) == 1  # waited instead of "database is locked"
        holder.join(5)
        assert first.get_cursor("hs", "contacts") == Cursor(t0)
    finally:
        first.close()
        second.close()


def test_a_new_store_opens_while_another_connection_holds_the_write_lock(tmp_path: Path) -> None:
    # A file still in rollback mode, another connection mid-write: SQLite answers the switch to
    # WAL with "database is locked" at once (no busy timeout), as when two commands open a new
    # store together. Opening must wait for the writer instead of failing.
    path = tmp_path / "state.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE earlier (i INTEGER)")
    writer.execute("BEGIN IMMEDIATE")
    threading.Timer(0.3, writer.execute, args=("COMMIT",)).start()

    store = open_store(f"sqlite:///{path}")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        store.close()
        writer.close()


@pytest.mark.parametrize(
    "value",
    [
        {"firstname": "Zoë", "phone": "+14155550132", "n": 3, "x": 0.1, "none": None},
        {"merged_ids": ["1", "2"], "nested": {"a": [1, 2.5, True]}, "e": ""},
        [1, "two", {"3": 4}],
    ],
)
def test_json_columns_read_back_what_json_would(value: object) -> None:
    assert json_value(json_text(value)) == value
    assert json_value(json_text(value)) == json.loads(json.dumps(value))
    assert json_value(json.dumps(value)) == value  # what the store wrote before orjson


def test_json_columns_take_what_orjson_refuses_through_json() -> None:
    assert json_value(json_text({"big": 2**70})) == {"big": 2**70}
    assert json_text({1: "a"}) == '{"1":"a"}'  # non-string keys as text, as json does
    assert math.isnan(json_value('{"x": NaN}')["x"])  # an older json.dumps wrote NaN
