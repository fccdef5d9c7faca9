"""Records, cursors and snapshots: the contract suite, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.errors import StateError
from model.records import Cursor, PullBatch, Record, id_key
from state.rows import as_stored, baseline_of, newest_per_id, snapshot_of
from state.store import SqlStateStore, open_store

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def rec(
    record_id: str,
    minutes: int = 0,
    object_type: str = "contacts",
    **props: str | None,
) -> Record:
    return Record(object_type, record_id, props, T0 + timedelta(minutes=minutes))


def batch(
    *records: Record,
    cursor_minutes: int | None = None,
    object_type: str = "contacts",
    skipped: tuple[tuple[str, str], ...] = (),
) -> PullBatch:
    at = None if cursor_minutes is None else T0 + timedelta(minutes=cursor_minutes)
    return PullBatch(object_type, records, Cursor(at), skipped)


def count_rows(store: SqlStateStore, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


# -- sources and cursors -------------------------------------------------------------------------


def test_ensure_source_is_idempotent_and_checks_the_connector(store: SqlStateStore) -> None:
    store.ensure_source("hs", "hubspot", T0)
    store.ensure_source("hs", "hubspot", T0 + timedelta(days=1))
    assert count_rows(store, "sources") == 1
    with store.engine.connect() as conn:
        created: object = conn.execute(sa.text("SELECT created_at FROM sources")).scalar_one()
    assert "2024-03-01" in str(created)
    with pytest.raises(StateError, match="hubspot"):
        store.ensure_source("hs", "salesforce", T0)


def test_unknown_source_is_refused(store: SqlStateStore) -> None:
    for call in (
        lambda: store.get_cursor("nope", "contacts"),
        lambda: store.snapshot("nope", T0),
        lambda: store.baseline_summary("nope"),
        lambda: store.start_run("r", "nope", T0, dry_run=True),
    ):
        with pytest.raises(StateError, match="unknown source"):
            call()


def test_cursor_starts_empty_and_never_moves_backwards(running: SqlStateStore) -> None:
    assert running.get_cursor("hs", "contacts") == Cursor(None)
    running.store_batch("hs", "r1", batch(cursor_minutes=None))
    assert running.get_cursor("hs", "contacts") == Cursor(None)
    running.store_batch("hs", "r1", batch(cursor_minutes=10))
    assert running.get_cursor("hs", "contacts").updated_at == T0 + timedelta(minutes=10)
    running.store_batch("hs", "r1", batch(cursor_minutes=5))
    running.store_batch("hs", "r1", batch(cursor_minutes=None))
    assert running.get_cursor("hs", "contacts").updated_at == T0 + timedelta(minutes=10)
    running.store_batch("hs", "r1", batch(cursor_minutes=11))
    assert running.get_cursor("hs", "contacts").updated_at == T0 + timedelta(minutes=11)
    # Streams are independent.
    assert running.get_cursor("hs", "deals") == Cursor(None)


def test_cursor_comes_back_in_utc(running: SqlStateStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    at = datetime(2024, 3, 1, 14, 30, tzinfo=plus_two)
    running.store_batch("hs", "r1", PullBatch("contacts", (), Cursor(at)))
    got = running.get_cursor("hs", "contacts").updated_at
    assert got == at
    assert got is not None
    assert got.tzinfo == UTC
    assert got.hour == 12


_names = itertools.count()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.one_of(st.none(), st.integers(0, 10_000)), min_size=1, max_size=6))
def test_cursor_is_the_max_of_every_batch_seen(
    store: SqlStateStore, cursors: list[int | None]
) -> None:
    source = f"s{next(_names)}"
    store.ensure_source(source, "hubspot", T0)
    store.start_run(f"{source}-run", source, T0, dry_run=False)
    for minutes in cursors:
        store.store_batch(source, f"{source}-run", batch(cursor_minutes=minutes))
    seen = [m for m in cursors if m is not None]
    expected = T0 + timedelta(minutes=max(seen)) if seen else None
    assert store.get_cursor(source, "contacts") == Cursor(expected)


# -- records -------------------------------------------------------------------------------------


def test_records_round_trip_exactly(running: SqlStateStore) -> None:
    full = Record(
        object_type="deals",
        id="42",
        properties={"dealname": "Big one", "amount": "1000.50", "closedate": None, "é": "ü"},
        updated_at=datetime(2024, 3, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
        created_at=datetime(2023, 1, 1, tzinfo=UTC),
        archived=False,
        merged_into=None,
        merged_ids=("7", "8"),
        associations={"contacts": ("1", "2"), "companies": ("3",)},
    )
    archived = Record("deals", "43", {"dealname": "gone"}, T0, archived=True)
    merged = Record("deals", "44", {"dealname": "dupe"}, T0, merged_into="42")
    written = running.store_batch("hs", "r1", batch(full, archived, merged, object_type="deals"))
    assert written == 3
    got = running.get_records("hs", "deals", ["44", "42", "43", "999"])
    assert got == {"42": full, "43": archived, "44": merged}
    assert list(got) == ["42", "43", "44"]
    assert got["42"].updated_at.tzinfo == UTC
    assert got["42"].updated_at.microsecond == 123456
    assert running.get_records("hs", "contacts", ["42"]) == {}


def test_snapshot_has_live_records_in_numeric_id_order(running: SqlStateStore) -> None:
    contacts = [rec(i, email=f"{i}@x.com") for i in ("10", "9", "100", "2", "abc")]
    running.store_batch(
        "hs",
        "r1",
        batch(
            *contacts,
            Record("contacts", "5", {}, T0, archived=True),
            Record("contacts", "6", {}, T0, merged_into="2"),
        ),
    )
    running.store_batch("hs", "r1", batch(rec("1", object_type="deals"), object_type="deals"))
    running.store_batch(
        "hs",
        "r1",
        batch(
            rec("300", object_type="owners", email="a@x.com", firstname="Ann"),
            Record("owners", "301", {"email": "old@x.com"}, T0, archived=True),
            object_type="owners",
        ),
    )
    snap = running.snapshot("hs", T0)
    assert snap.source == "hs"
    assert snap.now == T0
    assert [r.id for r in snap.of("contacts")] == ["2", "9", "10", "100", "abc"]
    assert [r.id for r in snap.of("deals")] == ["1"]
    assert set(snap.records) == {"contacts", "deals"}
    assert snap.owners == {"300": {"email": "a@x.com", "firstname": "Ann"}}
    assert snap.of("contacts")[0] == contacts[3]

    only = running.snapshot("hs", T0, object_types=["deals", "tasks"], owners=False)
    assert set(only.records) == {"deals", "tasks"}
    assert only.of("tasks") == ()
    assert only.owners == {}
    with_owners = running.snapshot("hs", T0, object_types=["owners"])
    assert [r.id for r in with_owners.of("owners")] == ["300"]
    assert set(with_owners.owners) == {"300"}
    # Deterministic: the same state gives the same snapshot.
    assert running.snapshot("hs", T0) == snap


def test_a_stale_read_never_overwrites_newer_data(running: SqlStateStore) -> None:
    assert running.store_batch("hs", "r1", batch(rec("1", 10, email="new@x.com"))) == 1
    assert running.store_batch("hs", "r1", batch(rec("1", 5, email="old@x.com"))) == 0
    assert running.get_records("hs", "contacts", ["1"])["1"].properties == {"email": "new@x.com"}
    # Same timestamp: the incoming read wins (a re-read of the same version).
    assert running.store_batch("hs", "r1", batch(rec("1", 10, email="same@x.com"))) == 1
    assert running.get_records("hs", "contacts", ["1"])["1"].properties == {"email": "same@x.com"}
    assert running.store_batch("hs", "r1", batch(rec("1", 11, email="newer@x.com"))) == 1
    assert running.get_records("hs", "contacts", ["1"])["1"].properties == {"email": "newer@x.com"}


def test_a_record_repeated_in_one_batch_keeps_its_newest_version(running: SqlStateStore) -> None:
    written = running.store_batch(
        "hs",
        "r1",
        batch(rec("1", 3, v="b"), rec("1", 9, v="newest"), rec("1", 1, v="a"), rec("2", 0)),
    )
    assert written == 2
    assert running.get_records("hs", "contacts", ["1"])["1"].properties == {"v": "newest"}


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from("123"), st.integers(0, 5)), max_size=5),
        min_size=1,
        max_size=4,
    )
)
def test_stored_records_are_the_newest_versions_seen(
    store: SqlStateStore, batches: list[list[tuple[str, int]]]
) -> None:
    source = f"v{next(_names)}"
    store.ensure_source(source, "hubspot", T0)
    store.start_run(f"{source}-run", source, T0, dry_run=False)
    expected: dict[str, tuple[int, str]] = {}
    for b, versions in enumerate(batches):
        records = []
        for n, (record_id, minutes) in enumerate(versions):
            tag = f"{b}.{n}"
            records.append(rec(record_id, minutes, tag=tag))
            if record_id not in expected or minutes >= expected[record_id][0]:
                expected[record_id] = (minutes, tag)
        store.store_batch(source, f"{source}-run", batch(*records))
    got = store.get_records(source, "contacts", "123")
    assert {i: (r.updated_at, r.properties["tag"]) for i, r in got.items()} == {
        i: (T0 + timedelta(minutes=m), tag) for i, (m, tag) in expected.items()
    }


def test_store_batch_refuses_bad_input(running: SqlStateStore) -> None:
    running.ensure_source("other", "hubspot", T0)
    with pytest.raises(StateError, match="not a started run"):
        running.store_batch("hs", "no-such-run", batch(rec("1")))
    with pytest.raises(StateError, match="not a started run"):
        running.store_batch("other", "r1", batch(rec("1")))
    with pytest.raises(StateError, match="unknown source"):
        running.store_batch("nope", "r1", batch(rec("1")))
    with pytest.raises(StateError, match="holds a deals record"):
        running.store_batch("hs", "r1", batch(rec("1", object_type="deals")))
    naive = Record("contacts", "1", {}, datetime(2024, 1, 1))
    with pytest.raises(StateError, match="timezone-aware"):
        running.store_batch("hs", "r1", batch(naive))
    assert count_rows(running, "records") == 0


def test_skipped_records_are_kept_with_the_run(running: SqlStateStore) -> None:
    running.store_batch("hs", "r1", batch(rec("1"), skipped=(("7", "bad date"), ("3", "403"))))
    running.store_batch("hs", "r1", batch(object_type="deals", skipped=(("9", "gone"),)))
    assert running.skipped_records("r1") == [
        ("contacts", "7", "bad date"),
        ("contacts", "3", "403"),
        ("deals", "9", "gone"),
    ]
    assert running.skipped_records("other") == []


# -- atomicity -----------------------------------------------------------------------------------


def _nothing_committed(store: SqlStateStore) -> None:
    assert store.get_records("hs", "contacts", ["1", "2"]) == {}
    assert store.get_cursor("hs", "contacts") == Cursor(None)
    assert store.skipped_records("r1") == []


def test_a_constraint_violation_mid_batch_commits_nothing(running: SqlStateStore) -> None:
    # The skipped row violates NOT NULL after the records were upserted.
    bad: tuple[tuple[str, str], ...] = (("9", None),)  # type: ignore[assignment]
    with pytest.raises(StateError, match="constraint"):
        running.store_batch("hs", "r1", batch(rec("1"), rec("2"), cursor_minutes=5, skipped=bad))
    _nothing_committed(running)


def test_a_crash_after_the_cursor_moved_commits_nothing(
    running: SqlStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = SqlStateStore._advance_cursor

    def advance_then_crash(self: SqlStateStore, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        raise RuntimeError("crash")

    monkeypatch.setattr(SqlStateStore, "_advance_cursor", advance_then_crash)
    with pytest.raises(RuntimeError, match="crash"):
        running.store_batch(
            "hs", "r1", batch(rec("1"), rec("2"), cursor_minutes=5, skipped=(("3", "x"),))
        )
    _nothing_committed(running)
    monkeypatch.undo()
    assert running.store_batch("hs", "r1", batch(rec("1"), cursor_minutes=5)) == 1
    assert running.get_cursor("hs", "contacts") == Cursor(T0 + timedelta(minutes=5))


# -- baseline summary and scale -----------------------------------------------------------------


def test_baseline_summary_counts_and_newest_per_type(running: SqlStateStore) -> None:
    assert running.baseline_summary("hs") == {}
    running.store_batch(
        "hs",
        "r1",
        batch(rec("1", 5), rec("2", 30), Record("contacts", "3", {}, T0, archived=True)),
    )
    running.store_batch("hs", "r1", batch(rec("7", 1, object_type="deals"), object_type="deals"))
    assert running.baseline_summary("hs") == {
        "contacts": {"count": 3, "live": 2, "max_updated_at": "2024-03-01T12:30:00+00:00"},
        "deals": {"count": 1, "live": 1, "max_updated_at": "2024-03-01T12:01:00+00:00"},
    }


def test_records_as_stored_make_the_snapshot_and_baseline_the_store_reads(
    running: SqlStateStore,
) -> None:
    """What a dry run over a throw-away store plans from without writing its records
    (``Engine.keep_run`` off) is what the store would have given back."""
    eastern = timezone(timedelta(hours=-5))
    pulled = [
        rec("10", 5, firstname="Ann", city="Boston"),
        rec("9", 3, firstname="Bob"),
        Record("contacts", "x1", {"firstname": None}, datetime(2024, 3, 1, 9, tzinfo=eastern)),
        Record("contacts", "3", {}, T0, archived=True),
        Record("contacts", "4", {"firstname": "Cy"}, T0, merged_into="9"),
        rec("9", 1, firstname="Bob (older)"),  # an older version of 9: the newer one stays
        rec("7", 1, object_type="deals", stage="won"),
        Record("owners", "o2", {"email": "o2@x.com"}, T0),
    ]
    for object_type in ("contacts", "deals", "owners"):
        of_type = tuple(r for r in pulled if r.object_type == object_type)
        running.store_batch("hs", "r1", batch(*of_type, object_type=object_type))
    kept = newest_per_id(map(as_stored, pulled))
    assert snapshot_of("hs", T0, kept) == running.snapshot("hs", T0)
    assert snapshot_of("hs", T0, kept, ["contacts"]) == running.snapshot("hs", T0, ["contacts"])
    assert baseline_of(kept) == running.baseline_summary("hs")
    snapshot = snapshot_of("hs", T0, kept)
    assert [r.id for r in snapshot.of("contacts")] == ["9", "10", "x1"]
    assert snapshot.of("contacts")[0].properties["firstname"] == "Bob"
    assert snapshot.owners == {"o2": {"email": "o2@x.com"}}


@pytest.fixture
def statements(running: SqlStateStore) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    sa.event.listen(running.engine, "before_cursor_execute", count)
    yield seen
    sa.event.remove(running.engine, "before_cursor_execute", count)


def test_ten_thousand_records_store_in_bulk(running: SqlStateStore, statements: list[str]) -> None:
    props = {f"field{i}": f"value {i}" for i in range(15)}
    records = tuple(
        Record("contacts", str(i), props, T0 + timedelta(seconds=i), associations={"deals": ("1",)})
        for i in range(10_000)
    )
    assert running.store_batch("hs", "r1", batch(*records, cursor_minutes=1)) == 10_000
    assert len(statements) < 10, "store_batch must not issue a query per record"
    snap = running.snapshot("hs", T0)
    assert len(snap.of("contacts")) == 10_000
    assert snap.of("contacts")[-1].id == "9999"


def test_a_record_merged_away_without_values_keeps_its_baseline(running: SqlStateStore) -> None:
    """The connector learns of a merge from the survivor's merged ids and knows nothing of the
    absorbed record's values; the store keeps them (a resumed push compares against them)."""
    running.store_batch("hs", "r1", batch(rec("7", 0, phone="(555) 123-4567", email="a@x.io")))
    merged = Record("contacts", "7", {}, T0 + timedelta(minutes=5), merged_into="9")
    running.store_batch("hs", "r1", batch(merged, rec("9", 5, phone="+15551234567")))
    kept = running.get_records("hs", "contacts", ["7"])["7"]
    assert kept.merged_into == "9"
    assert kept.properties == {"phone": "(555) 123-4567", "email": "a@x.io"}
    assert kept.updated_at == T0 + timedelta(minutes=5)
    assert [r.id for r in running.snapshot("hs", T0).of("contacts")] == ["9"]


# -- kept snapshots ------------------------------------------------------------------------------

_ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("pull"),
            st.sampled_from(["contacts", "deals", "owners"]),
            st.lists(
                st.tuples(
                    st.sampled_from(["1", "2", "3", "10"]),
                    st.integers(0, 5),
                    st.sampled_from(["live", "archived", "merged"]),
                ),
                max_size=4,
            ),
        ),
        st.tuples(st.just("refresh"), st.just("contacts"), st.just([("2", 6, "live")])),
        st.tuples(st.just("reset"), st.just(""), st.just([])),
    ),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_ops)
def test_a_kept_snapshot_brought_up_to_date_equals_one_read_whole(
    store: SqlStateStore, ops: list[tuple[str, str, list[tuple[str, int, str]]]]
) -> None:
    source = f"k{next(_names)}"
    store.ensure_source(source, "hubspot", T0)
    store.start_run(f"{source}-run", source, T0, dry_run=False)
    kept = store.kept_snapshot(source, T0, None)
    assert kept.whole
    for n, (what, object_type, versions) in enumerate(ops):
        records = [
            Record(
                object_type,
                record_id,
                {"n": str(n)},
                T0 + timedelta(minutes=minutes),
                archived=state == "archived",
                merged_into="10" if state == "merged" and record_id != "10" else None,
                # a deal on contact 1, which may be merged away: its survivor stands for it
                associations={"contacts": ("1",)} if object_type == "deals" else {},
            )
            for record_id, minutes, state in versions
        ]
        if what == "pull":
            store.store_batch(source, f"{source}-run", batch(*records, object_type=object_type))
        elif what == "refresh":
            store.refresh_records(source, records)
        else:
            store.reset_source(source, T0)
        now = T0 + timedelta(hours=n)
        kept = store.kept_snapshot(source, now, kept)
        assert kept.snapshot == store.snapshot(source, now), (what, versions)


def test_a_kept_snapshot_reads_only_what_was_written_since(running: SqlStateStore) -> None:
    contacts = [rec(str(i), email=f"{i}@x.com") for i in range(1, 101)]
    running.store_batch("hs", "r1", batch(*contacts))
    first = running.kept_snapshot("hs", T0, None)
    assert (first.read, first.whole) == (100, True)
    unchanged = running.kept_snapshot("hs", T0, first)
    assert (unchanged.read, unchanged.whole) == (0, False)
    assert unchanged.snapshot.of("contacts") is first.snapshot.of("contacts")

    running.store_batch("hs", "r1", batch(rec("7", 1, email="new@x.com"), rec("101", 1)))
    running.store_batch(
        "hs", "r1", batch(Record("contacts", "8", {}, T0 + timedelta(1), archived=True))
    )
    later = running.kept_snapshot("hs", T0, unchanged)
    assert (later.read, later.whole) == (3, False)
    ids = [r.id for r in later.snapshot.of("contacts")]
    assert len(ids) == 100
    assert "8" not in ids
    assert ids[-1] == "101"
    assert later.snapshot == running.snapshot("hs", T0)

    running.store_batch(
        "hs", "r1", batch(Record("contacts", "9", {}, T0 + timedelta(1), merged_into="7"))
    )
    merged = running.kept_snapshot("hs", T0, later)
    assert merged.whole  # a merge moves other records' associations: read whole
    assert merged.snapshot == running.snapshot("hs", T0)
    # the merged-away record pulled again as it was (within a pull's lookback): nothing moved
    again = Record("contacts", "9", {}, T0 + timedelta(1), merged_into="7")
    running.store_batch("hs", "r1", batch(again, rec("7", 2, email="seven@x.com")))
    repulled = running.kept_snapshot("hs", T0, merged)
    assert (repulled.read, repulled.whole) == (2, False)
    assert repulled.snapshot == running.snapshot("hs", T0)
    running.reset_source("hs", T0)
    assert running.kept_snapshot("hs", T0, repulled) == running.kept_snapshot("hs", T0, None)


def test_a_kept_snapshot_keeps_id_order_as_records_come_in_between(
    running: SqlStateStore,
) -> None:
    running.store_batch("hs", "r1", batch(rec("5"), rec("10"), rec("30")))
    kept = running.kept_snapshot("hs", T0, None)
    # one new id among the held ones, one after them, one held record changed, one archived
    running.store_batch("hs", "r1", batch(rec("7", 1), rec("40", 1), rec("10", 2, email="x@y.z")))
    running.store_batch(
        "hs", "r1", batch(Record("contacts", "30", {}, T0 + timedelta(3), archived=True))
    )
    later = running.kept_snapshot("hs", T0, kept)
    assert not later.whole
    assert later.snapshot.ordered
    assert [r.id for r in later.snapshot.in_id_order("contacts")] == ["5", "7", "10", "40"]
    assert later.snapshot == running.snapshot("hs", T0)


@given(
    st.lists(st.one_of(st.from_regex(r"\d{1,3}", fullmatch=True), st.text(max_size=3)), unique=True)
)
def test_a_snapshot_as_the_store_reads_it_is_in_id_order(ids: list[str]) -> None:
    snapshot = snapshot_of("s", T0, [rec(i) for i in ids])
    assert snapshot.ordered  # in_id_order takes the records as they are
    assert [r.id for r in snapshot.in_id_order("contacts")] == sorted(ids, key=id_key)


def test_a_kept_snapshot_sees_what_another_process_wrote(
    running: SqlStateStore, state_url: str
) -> None:
    running.store_batch("hs", "r1", batch(rec("1", email="a@x.com"), rec("2", email="b@x.com")))
    kept = running.kept_snapshot("hs", T0, None)
    other = open_store(state_url)  # a `syncd run` between two of the service's cycles
    try:
        other.refresh_records("hs", [rec("2", 5, email="pushed@x.com")])
        other.store_batch("hs", "r1", batch(rec("3", 5, email="c@x.com")))
    finally:
        other.close()
    later = running.kept_snapshot("hs", T0, kept)
    assert (later.read, later.whole) == (2, False)
    assert later.snapshot == running.snapshot("hs", T0)
    assert later.snapshot.of("contacts")[1].properties == {"email": "pushed@x.com"}
