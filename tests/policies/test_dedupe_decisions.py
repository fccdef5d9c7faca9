"""Dedupe honours a person's review decisions: rejected groups stay apart, approved ones merge."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from model.changes import Merge, Snapshot
from model.records import Record
from policies.dedupe import DedupePolicy, DedupeSettings
from policies.dedupe.decisions import constraints

NOW = datetime(2024, 5, 3, 15, 30, tzinfo=UTC)


def person(record_id: str, *, age: float = 30, **props: str | None) -> Record:
    return Record(
        "contacts", record_id, props, NOW - timedelta(days=1), created_at=NOW - timedelta(days=age)
    )


def run(*records: Record, decisions: Mapping[frozenset[str], str] | None = None) -> list[Merge]:
    snapshot = Snapshot(
        "test", NOW, {"contacts": list(records)}, decisions={"contacts": decisions or {}}
    )
    changes = DedupePolicy(DedupeSettings(object_types=("contacts",)))(snapshot)
    return [c for c in changes if isinstance(c, Merge)]


def groups(merges: list[Merge], kind: str) -> set[frozenset[str]]:
    return {frozenset((m.primary_id, *m.merged_ids)) for m in merges if m.kind == kind}


# Two Maria Garcias in Denver: a review, not a merge.
MARIA_1 = person("1", firstname="Maria", lastname="Garcia", city="Denver", age=90)
MARIA_2 = person("2", firstname="Maria", lastname="Garcia", city="Denver")
# Three records of one Jane Dawson sharing an e-mail: one automatic merge.
JANE = [
    person(str(n), firstname="Jane", lastname="Dawson", email="jane@x.com", age=100 - n)
    for n in (11, 12, 13)
]
# A name alone: below even the review threshold.
LEE_1 = person("21", firstname="Ann", lastname="Lee", age=50)
LEE_2 = person("22", firstname="Ann", lastname="Lee")


def test_without_decisions_the_fixtures_behave_as_assumed() -> None:
    merges = run(MARIA_1, MARIA_2, *JANE, LEE_1, LEE_2)
    assert groups(merges, "review") == {frozenset({"1", "2"})}
    assert groups(merges, "merge") == {frozenset({"11", "12", "13"})}


def test_rejected_review_is_not_proposed_again() -> None:
    rejected = {frozenset({"1", "2"}): "rejected"}
    assert run(MARIA_1, MARIA_2, decisions=rejected) == []


def test_rejected_merge_pair_is_split_out_of_a_larger_cluster() -> None:
    merges = run(*JANE, decisions={frozenset({"11", "13"}): "rejected"})
    proposed = groups(merges, "merge") | groups(merges, "review")
    assert all(not {"11", "13"} <= g for g in proposed)
    assert proposed  # 12 still goes with one of them
    assert any("12" in g for g in proposed)


def test_approved_pair_is_merged_whatever_its_score() -> None:
    (merge,) = run(LEE_1, LEE_2, decisions={frozenset({"21", "22"}): "approved"})
    assert (merge.kind, merge.primary_id, merge.merged_ids) == ("merge", "21", ("22",))
    assert merge.reason.startswith("approved by a person: ")
    assert merge.confidence < 0.75


def test_approved_review_becomes_a_merge() -> None:
    (merge,) = run(MARIA_1, MARIA_2, decisions={frozenset({"1", "2"}): "approved"})
    assert merge.kind == "merge"
    assert merge.merged_ids == ("2",)
    assert "approved by a person" in merge.reason


def test_decisions_of_other_types_or_missing_records_change_nothing() -> None:
    snapshot = Snapshot(
        "test",
        NOW,
        {"contacts": [MARIA_1, MARIA_2]},
        decisions={"companies": {frozenset({"1", "2"}): "rejected"}},
    )
    merges = DedupePolicy(DedupeSettings())(snapshot)
    assert len(merges) == 1
    approved_gone = {frozenset({"21", "999"}): "approved"}
    assert run(LEE_1, LEE_2, decisions=approved_gone) == []


def test_constraints_join_approvals_and_forbid_rejections() -> None:
    rules = constraints(
        ["a", "b", "c", "d"],
        {
            frozenset({"a", "b"}): "approved",
            frozenset({"b", "c"}): "approved",
            frozenset({"a", "b", "d"}): "rejected",
        },
    )
    assert rules.groups == ((0, 1, 2), (3,))
    assert rules.approved == ((0, 1, 2),)
    assert not rules.allows(0, 3)
    assert not rules.allows(3, 1)
    assert rules.allows(0, 1)  # the explicit approval wins over the wider rejection
    assert rules.allows(2, 3)


def test_no_decisions_give_what_decisions_about_other_records_give() -> None:
    ids = [str(n) for n in range(7)]
    elsewhere = {frozenset({"x", "y"}): "approved", frozenset({"x", "z"}): "rejected"}
    none = constraints(ids, None)
    assert none == constraints(ids, elsewhere)
    assert none == constraints(ids, {})
    assert none.groups == tuple((n,) for n in range(7))
