"""What the service keeps in the store: incidents (compare-and-set), next runs, pauses, last
success, outbox depth, completeness checks and the record look-ups they need; both databases."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from model.errors import StateError
from model.records import Cursor, PullBatch, Record
from state.base import CompletenessCheck, OpOutcome, OutboxOp, SourcePause, StoredIncident
from state.store import SqlStateStore

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def hs(store: SqlStateStore) -> SqlStateStore:
    store.ensure_source("hs", "hubspot", T0)
    store.ensure_source("sf", "salesforce", T0)
    return store


def incident(cause: str = "auth", first: float = 0, **changes: object) -> StoredIncident:
    opened = StoredIncident("hs", cause, at(first), at(first), 1, "401", at(first))
    return replace(opened, **changes)  # type: ignore[arg-type]


def test_one_open_incident_per_source_and_cause(hs: SqlStateStore) -> None:
    first = incident()
    assert hs.save_incident(first)
    # another replica opening the same cause a moment later finds it open: nothing saved
    assert not hs.save_incident(incident(first=1))
    assert hs.open_incidents("hs") == [first]
    # another cause, another source: their own incidents
    stale = incident("stale", first=2)
    assert hs.save_incident(stale)
    assert hs.save_incident(replace(incident(first=3), source="sf"))
    assert hs.open_incidents("hs") == [first, stale]
    assert [i.source for i in hs.open_incidents()] == ["hs", "hs", "sf"]


def test_an_incident_is_updated_only_as_it_was_read(hs: SqlStateStore) -> None:
    first = incident()
    hs.save_incident(first)
    updated = replace(first, count=2, last_seen=at(5), message="403")
    assert hs.save_incident(updated, previous=first)
    # a replica that read it before that update decides again: its save does nothing
    assert not hs.save_incident(replace(first, count=2, last_seen=at(6)), previous=first)
    assert hs.open_incidents("hs") == [updated]
    resolved = replace(updated, resolved_at=at(9))
    assert hs.save_incident(resolved, previous=updated)
    assert hs.open_incidents("hs") == []
    # the cause comes back: a new incident
    again = incident(first=20)
    assert hs.save_incident(again)
    assert hs.open_incidents("hs") == [again]
    assert hs.incidents("hs") == [again, resolved]


def test_incidents_need_a_known_source(hs: SqlStateStore) -> None:
    with pytest.raises(StateError, match="unknown source"):
        hs.save_incident(replace(incident(), source="nope"))


def test_next_run_and_last_success(hs: SqlStateStore) -> None:
    assert hs.next_run("hs") is None
    hs.set_next_run("hs", at(15), T0)
    hs.set_next_run("hs", at(30), at(1))
    assert hs.next_run("hs") == at(30)
    assert hs.next_run("sf") is None

    assert hs.last_success("hs") is None
    for n, status in enumerate(["succeeded", "partial", "failed"]):
        hs.start_run(f"r{n}", "hs", at(n), dry_run=False)
        hs.finish_run(f"r{n}", at(n + 0.5), status, {})
    hs.start_run("r9", "hs", at(9), dry_run=False)  # still running
    assert hs.last_success("hs") == at(1.5)  # a partial run completed its sync
    assert hs.last_success("sf") is None


def test_outbox_depth_counts_what_waits_to_be_sent(hs: SqlStateStore) -> None:
    assert hs.outbox_depth() == {}
    hs.start_run("r1", "hs", T0, dry_run=False)
    hs.save_plan("p1", "hs", "r1", T0, {}, [])
    ops = [OutboxOp(f"p1:{n}:0", n, 0, "update", "contacts", str(n), {}) for n in range(3)]
    hs.enqueue("p1", "r1", ops, T0)
    lease = hs.acquire_source("hs", "r1", T0)
    hs.mark_sending(["p1:0:0"], T0, epoch=lease.epoch)
    hs.record_results([OpOutcome("p1:1:0", "applied")], T0, epoch=lease.epoch)
    assert hs.outbox_depth() == {"hs": 2}  # one pending, one sending


def record(record_id: str, minute: float, **kw: object) -> Record:
    return Record("contacts", record_id, {"email": f"{record_id}@x"}, at(minute), **kw)  # type: ignore[arg-type]


def test_live_records_by_bucket_position_and_id(hs: SqlStateStore) -> None:
    hs.start_run("r1", "hs", T0, dry_run=True)
    records = [
        record("1", 1),
        record("2", 2),
        record("3", 3),
        record("4", 12),
        record("5", 13, archived=True),
        record("6", 14, merged_into="4"),
    ]
    hs.store_batch("hs", "r1", PullBatch("contacts", tuple(records), Cursor(at(20))))

    assert hs.count_live("hs", "contacts", [T0, at(10), at(20)]) == [3, 1]
    assert hs.count_live("hs", "companies", [T0, at(20)]) == [0]
    with pytest.raises(StateError, match="ascending"):
        hs.count_live("hs", "contacts", [at(20), T0])

    sample = hs.live_records_at("hs", "contacts", at(10), [2, 0, 7])
    assert [r.id for r in sample] == ["1", "3"]  # positions in id order; 7 is past the end
    assert sample[0].properties == {"email": "1@x"}
    assert hs.live_among("hs", "contacts", ["1", "4", "5", "6", "9"]) == {"1", "4"}
    assert hs.live_ids("hs", "contacts") == {"1", "2", "3", "4"}
    assert hs.live_ids("hs", "companies") == set()


def test_completeness_checks_newest_first(hs: SqlStateStore) -> None:
    checks = [
        CompletenessCheck("hs", "contacts", "counts", at(0), True, 0.0, {"buckets": []}),
        CompletenessCheck("hs", "contacts", "sample", at(1), False, 0.25, {"differs": ["7"]}),
        CompletenessCheck("hs", "deals", "counts", at(2), True, 0.0, {}),
    ]
    for check in checks:
        hs.save_completeness(check)
    assert hs.completeness("hs") == checks[::-1]
    assert hs.completeness("hs", "contacts", limit=1) == [checks[1]]
    assert hs.completeness("sf") == []


def test_a_pause_is_kept_replaced_and_cleared(hs: SqlStateStore) -> None:
    assert hs.source_pause("sf") is None
    pause = SourcePause("sf", at(0), "allowance at the reserve", at(60), used=90, limit=100)
    hs.save_pause(pause)
    assert hs.source_pause("sf") == pause
    assert hs.source_pause("hs") is None
    probed = replace(pause, next_probe_at=at(120), used=85, probes=1, probed_at=at(60))
    hs.save_pause(probed)
    assert hs.paused_sources() == [probed]
    assert hs.clear_pause("sf")
    assert not hs.clear_pause("sf"), "someone else cleared it first"
    assert hs.paused_sources() == []
    with pytest.raises(StateError):
        hs.save_pause(replace(pause, source="nope"))
    with pytest.raises(StateError):
        hs.save_pause(replace(pause, since=datetime(2024, 3, 1)))
