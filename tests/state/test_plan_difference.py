"""Plans stored as what differs from a plan stored whole: read back the same, counted, kept
by retention while a plan builds on them; both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from model.changes import Change, CreateTask, Flag, Merge, Update
from model.errors import StateError
from state.base import KeptPlan, Retention
from state.models import plan_changes_t, plans_t
from state.plan_diff import REUSED_SHARE, assemble, difference
from state.store import SqlStateStore

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def update(record_id: str, new: str = "a@x.com") -> Update:
    return Update("hs", "contacts", "normalize", "lower-cased", record_id, "email", "A", new)


def merge(primary: str, other: str) -> Merge:
    return Merge(
        "hs", "contacts", "dedupe", "same e-mail", primary, (other,), 0.97, {"email": 4.5},
        {"phone": "+14155550132"}, "merge",
    )  # fmt: skip


BASE: list[Change] = [
    *(update(str(n)) for n in range(10)),
    merge("20", "21"),
    Flag("hs", "contacts", "required", "missing", "30", "email", None),
    CreateTask("hs", "contacts", "follow_up", "open", "12", "Call", "7", date(2026, 11, 3)),
]
#: BASE with record 3's update gone, record 5's changed, one new update and the merge moved
#: to the end: 10 of 13 changes reused, in three runs
NEXT: list[Change] = [
    *(update(str(n)) for n in (0, 1, 2, 4)),
    update("5", "b@x.com"),
    *(update(str(n)) for n in range(6, 10)),
    update("99"),
    BASE[11],
    BASE[12],
    merge("20", "21"),  # equal, not the same object
]


def saved_rows(store: SqlStateStore, plan_id: str) -> int:
    query = sa.select(sa.func.count()).where(plan_changes_t.c.plan_id == plan_id)
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


@pytest.fixture
def planned(store: SqlStateStore) -> SqlStateStore:
    store.ensure_source("hs", "hubspot", T0)
    store.ensure_source("sf", "salesforce", T0)
    store.start_run("r1", "hs", T0, dry_run=True)
    return store


def test_the_difference_reuses_equal_changes_in_runs() -> None:
    found = difference(BASE, NEXT)
    assert found is not None
    assert found.fresh == [4, 9]  # record 5's new value, record 99
    assert found.reused == [(0, 0, 3), (3, 4, 1), (5, 6, 4), (10, 11, 2), (12, 10, 1)]
    rows = {seq: BASE[seq] for seq in range(len(BASE))}
    own = {seq: NEXT[seq] for seq in found.fresh}
    assert assemble(found.reused, rows, own, lambda c: c, "p") == NEXT


def test_a_plan_mostly_new_is_no_difference() -> None:
    fresh = [update(str(n), "new@x.com") for n in range(10)]
    assert difference(BASE, fresh) is None
    share = int(len(BASE) * REUSED_SHARE)
    assert difference(BASE, [*BASE[: share - 1], *fresh[:share]]) is None
    assert difference(BASE, []) is None
    # each change of the base is reused once: a change twice in a plan is stored once more
    twice = difference(BASE, [*BASE, BASE[0]])
    assert twice is not None
    assert twice.fresh == [len(BASE)]


def test_a_difference_missing_a_row_cannot_be_read() -> None:
    found = difference(BASE, NEXT)
    assert found is not None
    rows = {seq: BASE[seq] for seq in range(len(BASE)) if seq != 6}
    own = {seq: NEXT[seq] for seq in found.fresh}
    with pytest.raises(StateError, match="incomplete"):
        assemble(found.reused, rows, own, lambda c: c, "p")
    with pytest.raises(StateError, match="incomplete"):
        assemble(found.reused, dict(enumerate(BASE)), {}, lambda c: c, "p")


def test_a_plan_on_a_base_is_stored_as_its_difference(planned: SqlStateStore) -> None:
    first = planned.save_plan("p1", "hs", "r1", T0, {}, BASE)
    assert first == KeptPlan("p1", "hs", tuple(BASE))
    second = planned.save_plan("p2", "hs", "r1", T0 + timedelta(minutes=5), {}, NEXT, base=first)
    assert second is first  # the next plans build on p1 too
    assert saved_rows(planned, "p1") == len(BASE)
    assert saved_rows(planned, "p2") == 2
    assert planned.load_plan("p2").changes == NEXT
    assert planned.load_plan("p1").changes == BASE
    assert planned.plan_info("p2").kinds == {"update": 10, "merge": 1, "flag": 1, "create_task": 1}
    assert planned.plan_info("p1").kinds == {"update": 10, "merge": 1, "flag": 1, "create_task": 1}
    later = [*NEXT, update("7", "c@x.com")]
    third = planned.save_plan("p3", "hs", "r1", T0 + timedelta(minutes=9), {}, later, base=second)
    assert third is first
    assert planned.load_plan("p3").changes == later


def test_a_plan_unlike_its_base_is_stored_whole_and_is_the_next_base(
    planned: SqlStateStore,
) -> None:
    first = planned.save_plan("p1", "hs", "r1", T0, {}, BASE)
    other = [update(str(n), "new@x.com") for n in range(10)]
    second = planned.save_plan("p2", "hs", "r1", T0, {}, other, base=first)
    assert second == KeptPlan("p2", "hs", tuple(other))
    assert saved_rows(planned, "p2") == len(other)
    # another source's plan is never a base
    planned.start_run("r2", "sf", T0, dry_run=True)
    third = planned.save_plan("p3", "sf", "r2", T0, {}, other, base=second)
    assert third.id == "p3"
    assert saved_rows(planned, "p3") == len(other)
    with planned.engine.connect() as conn:
        bases = dict(conn.execute(sa.select(plans_t.c.id, plans_t.c.base_id)).all())
    assert bases == {"p1": None, "p2": None, "p3": None}


def test_a_base_gone_before_its_first_plan_leaves_it_whole(planned: SqlStateStore) -> None:
    first = planned.save_plan("p1", "hs", "r1", T0, {}, BASE)
    planned.save_plan("p2", "hs", "r1", T0 + timedelta(days=30), {}, [])
    pruned = planned.prune(Retention(plans=T0 + timedelta(days=1)))
    assert pruned.plans == 1  # p1: older, not the newest, nothing builds on it
    third = planned.save_plan("p3", "hs", "r1", T0 + timedelta(days=31), {}, NEXT, base=first)
    assert third.id == "p3"
    assert saved_rows(planned, "p3") == len(NEXT)
    assert planned.load_plan("p3").changes == NEXT


def test_retention_keeps_a_base_while_a_plan_builds_on_it(planned: SqlStateStore) -> None:
    first = planned.save_plan("p1", "hs", "r1", T0, {}, BASE)
    planned.save_plan("p2", "hs", "r1", T0 + timedelta(days=1), {}, NEXT, base=first)
    planned.save_plan("p3", "hs", "r1", T0 + timedelta(days=30), {}, [])
    # p1 and p2 are both old: p2 goes, and p1 stays as long as p2 did
    assert planned.prune(Retention(plans=T0 + timedelta(days=10))).plans == 1
    assert sorted(p.id for p in planned.list_plans("hs")) == ["p1", "p3"]
    assert planned.prune(Retention(plans=T0 + timedelta(days=10))).plans == 1
    assert [p.id for p in planned.list_plans("hs")] == ["p3"]


def test_a_kept_plan_read_back_needs_its_base(planned: SqlStateStore) -> None:
    first = planned.save_plan("p1", "hs", "r1", T0, {}, BASE)
    planned.save_plan("p2", "hs", "r1", T0, {}, NEXT, base=first)
    with planned.engine.begin() as conn:  # what no store does: the base's rows deleted
        conn.execute(sa.delete(plan_changes_t).where(plan_changes_t.c.plan_id == "p1"))
    with pytest.raises(StateError, match=r"p2.*incomplete"):
        planned.load_plan("p2")


def test_a_base_another_plan_came_after_is_no_base(planned: SqlStateStore) -> None:
    # another run planned the source since (a CLI run, another replica, an undo): the kept
    # plan is not built on by the newest plan, so retention could take it; the next is whole
    first = planned.save_plan("p1", "hs", "r1", T0, {}, BASE)
    planned.save_plan("p2", "hs", "r1", T0 + timedelta(minutes=1), {}, BASE)  # whole, its own
    third = planned.save_plan("p3", "hs", "r1", T0 + timedelta(minutes=2), {}, NEXT, base=first)
    assert third.id == "p3"
    assert saved_rows(planned, "p3") == len(NEXT)
    # plans built on the base, and only they, since it: it is still one
    fourth = planned.save_plan("p4", "hs", "r1", T0 + timedelta(minutes=3), {}, NEXT, base=third)
    fifth = planned.save_plan("p5", "hs", "r1", T0 + timedelta(minutes=4), {}, NEXT, base=fourth)
    assert fifth is third
    assert saved_rows(planned, "p5") == 0
    assert planned.load_plan("p5").changes == NEXT
