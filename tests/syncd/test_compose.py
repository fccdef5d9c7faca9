"""Composition around merges: survivor values written once, unique values, the post-merge view."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from connectors.hubspot.settings import UNIQUE_FIELDS
from model.changes import Change, CreateTask, Flag, Merge, Snapshot, Update
from model.records import Record
from policies.follow_up import FollowUpPolicy, FollowUpSettings
from syncd.plan import after_merges, compose

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
UNIQUE = {"contacts": {"email": ("email", "additional_emails")}}


def contact(
    record_id: str, assoc: Mapping[str, tuple[str, ...]] | None = None, **props: str | None
) -> Record:
    return Record("contacts", record_id, props, NOW, associations=dict(assoc or {}))


def snapshot(*records: Record, decisions: Mapping[frozenset[str], str] | None = None) -> Snapshot:
    by_type: dict[str, list[Record]] = {}
    for r in records:
        by_type.setdefault(r.object_type, []).append(r)
    return Snapshot(
        "hs", NOW, by_type, decisions={"contacts": dict(decisions or {})} if decisions else {}
    )


def upd(
    record_id: str, field: str, old: str | None, new: str | None, policy: str = "normalize"
) -> Update:
    return Update("hs", "contacts", policy, f"{field} fix", record_id, field, old, new)


def merge(
    primary: str,
    *merged: str,
    values: Mapping[str, str | None] | None = None,
    kind: str = "merge",
) -> Merge:
    return Merge(
        "hs",
        "contacts",
        "dedupe",
        "duplicates",
        primary,
        merged,
        0.97,
        {"email": 1.0},
        dict(values or {}),
        kind="merge" if kind == "merge" else "review",
    )


def test_hubspot_declares_the_contact_email_unique() -> None:
    assert UNIQUE_FIELDS == UNIQUE


# -- one write per field ----------------------------------------------------------------------


def test_an_update_of_a_survivor_value_refines_it_and_is_written_once() -> None:
    changes = [
        upd("1", "phone", "(555) 123-4567", "+15551234567"),
        merge("1", "2", values={"phone": "(555) 123-4567"}),
    ]
    [survivor] = compose(changes)
    assert isinstance(survivor, Merge)
    assert survivor.field_values == {"phone": "+15551234567"}


def test_an_update_of_a_survivor_value_made_from_another_view_is_dropped() -> None:
    changes = [
        upd("1", "phone", "555 000", "+1555000"),  # the primary's own value, not the survivor's
        merge("1", "2", values={"phone": "(555) 123-4567"}),
    ]
    assert compose(changes) == [merge("1", "2", values={"phone": "(555) 123-4567"})]


# -- unique values ----------------------------------------------------------------------------


def test_an_email_another_record_holds_becomes_a_finding_naming_it() -> None:
    records = snapshot(
        contact("1", email=" Jane@Acme.com ", firstname="Jane"),
        contact("3", email="JANE@acme.com", firstname="Janet", lastname="Doe"),
    )
    fix = upd("1", "email", " Jane@Acme.com ", "jane@acme.com")
    [flag] = compose([fix, upd("1", "phone", "1", "+1")], records, UNIQUE)[1:]
    assert isinstance(flag, Flag)
    assert (flag.policy, flag.record_id, flag.field, flag.value) == (
        "dedupe",
        "1",
        "email",
        "jane@acme.com",
    )
    assert "normalize would set email to 'jane@acme.com'" in flag.reason
    assert "contacts 3 (Janet Doe) already holds it" in flag.reason
    assert flag.reason.endswith("they may be duplicates: see review")


def test_additional_emails_count_and_the_record_itself_does_not() -> None:
    records = snapshot(
        contact("1", email="Bob@x.io", additional_emails="bob@x.io;b@x.io"),
        contact("2", email="ann@y.io", additional_emails="old@y.io; ANN2@y.io"),
    )
    changes = [upd("1", "email", "Bob@x.io", "bob@x.io"), upd("1", "phone", "1", "+1")]
    assert compose(changes, records, UNIQUE) == changes
    clash = upd("1", "email", "Bob@x.io", "ann2@y.io")
    [flag] = compose([clash], records, UNIQUE)
    assert isinstance(flag, Flag)
    assert "contacts 2" in flag.reason


def test_records_of_one_merge_never_clash() -> None:
    records = snapshot(
        contact("1", email=" Jane@Acme.com "),
        contact("2", email="jane@acme.com"),
        contact("3", email="jim@acme.com"),
    )
    changes = [upd("1", "email", " Jane@Acme.com ", "jane@acme.com"), merge("1", "2")]
    assert compose(changes, records, UNIQUE) == changes
    without_1 = snapshot(*records.of("contacts")[1:])
    survivor_value = [merge("3", "2", values={"email": "jane@acme.com"})]
    assert compose(survivor_value, without_1, UNIQUE) == survivor_value


def test_two_updates_to_one_value_clash_the_later_one_is_a_finding() -> None:
    records = snapshot(contact("1", email="<a@x.io>"), contact("2", email="a@x.io."))
    first, second = upd("1", "email", "<a@x.io>", "a@x.io"), upd("2", "email", "a@x.io.", "a@x.io")
    out = compose([first, second], records, UNIQUE)
    assert out[0] == first
    assert isinstance(out[1], Flag)
    assert out[1].record_id == "2"
    assert "but contacts 1 (<a@x.io>) already holds it" in out[1].reason  # this plan gives it


def test_a_survivor_value_that_clashes_is_taken_out_of_the_merge() -> None:
    records = snapshot(contact("1"), contact("2", email="x@y.io"), contact("3", email="X@Y.io"))
    changes: list[Change] = [merge("1", "2", values={"email": "x@y.io", "city": "Oslo"})]
    out = compose(changes, records, UNIQUE)
    assert out[0] == merge("1", "2", values={"city": "Oslo"})
    assert isinstance(out[1], Flag)
    assert "dedupe would set email to 'x@y.io', but contacts 3" in out[1].reason


def test_pairs_in_review_or_rejected_are_named_as_such() -> None:
    fix = upd("1", "email", "J@a.io ", "j@a.io")
    records = [contact("1", email="J@a.io "), contact("2", email="j@a.io")]
    [review, flag] = compose([fix, merge("1", "2", kind="review")], snapshot(*records), UNIQUE)
    assert isinstance(review, Merge)
    assert isinstance(flag, Flag)
    assert "they are proposed as possible duplicates: merge them in syncd review" in flag.reason
    rejected = snapshot(*records, decisions={frozenset({"1", "2"}): "rejected"})
    [flag] = compose([fix], rejected, UNIQUE)
    assert isinstance(flag, Flag)
    assert "a person judged them different records" in flag.reason


def test_findings_follow_the_dedupe_changes() -> None:
    records = snapshot(contact("1", email="J@a.io "), contact("2", email="j@a.io"))
    task = CreateTask("hs", "contacts", "follow_up", "open lead", "1", "Call", None, NOW.date())
    out = compose([upd("1", "email", "J@a.io ", "j@a.io"), merge("5", "6"), task], records, UNIQUE)
    assert [c.kind for c in out] == ["merge", "flag", "create_task"]
    assert [c.policy for c in out] == ["dedupe", "dedupe", "follow_up"]


# -- the records after the merges -------------------------------------------------------------


def test_after_merges_the_survivor_carries_its_duplicates() -> None:
    records = snapshot(
        contact("1", {"companies": ("c1",)}, email="a@x.io", lead_open="true"),
        contact("2", {"companies": ("c2", "c1")}, email="A@x.io", city="Oslo"),
        contact("3", {"companies": ("c3",)}),
        Record("tasks", "t1", {"status": "open"}, NOW, associations={"contacts": ("2",)}),
        Record("tasks", "t2", {}, NOW, associations={"contacts": ("3", "9")}),
    )
    view = after_merges(
        records, [merge("1", "2", values={"city": "Oslo"}), merge("3", "4", kind="review")]
    )
    [survivor, other] = view.of("contacts")
    assert survivor.id == "1"
    assert survivor.properties == {"email": "a@x.io", "lead_open": "true", "city": "Oslo"}
    assert survivor.associations == {"companies": ("c1", "c2")}
    assert survivor.merged_ids == ("2",)
    assert other == records.of("contacts")[2]
    t1, t2 = view.of("tasks")
    assert t1.associations == {"contacts": ("1",)}
    assert t2 is records.of("tasks")[1]


@given(st.sets(st.integers(1, 60), min_size=2, max_size=12), st.data())
def test_after_merges_the_records_stay_in_id_order(numbers: set[int], data: st.DataObject) -> None:
    """The store's snapshot is in id order and says so; the view of it after the merges keeps
    the order and says so too, so that no policy after the merges sorts every record again."""
    ids = sorted(map(str, numbers), key=int)
    records = replace(snapshot(*(contact(i) for i in ids)), ordered=True)
    primary, *absorbed = data.draw(st.lists(st.sampled_from(ids), min_size=2, unique=True))
    view = after_merges(records, [merge(primary, *absorbed)])
    assert view.ordered
    assert [r.id for r in view.in_id_order("contacts")] == [i for i in ids if i not in absorbed]


def test_after_merges_a_merge_the_crm_made_already_counts_too() -> None:
    """An incremental pull re-read the survivor, not the task still naming the absorbed id."""
    records = snapshot(
        contact("1", lead_open="true"),
        Record("contacts", "5", {"lead_open": "true"}, NOW, merged_ids=("2",)),
        Record("tasks", "t1", {"status": "open"}, NOW, associations={"contacts": ("2",)}),
    )
    view = after_merges(records, [])
    assert view.of("tasks")[0].associations == {"contacts": ("5",)}
    tasks = FollowUpPolicy(FollowUpSettings())(view)
    assert [c.record_id for c in tasks if isinstance(c, CreateTask)] == ["1"]
    assert after_merges(snapshot(contact("1")), []) == snapshot(contact("1"))


def test_no_follow_up_for_a_survivor_whose_duplicate_has_an_open_task() -> None:
    records = snapshot(
        contact("1", lead_open="true"),
        contact("2", lead_open="true"),
        contact("3", {"tasks": ("t2",)}, lead_open="true"),
        contact("4", lead_open="true"),
        Record("tasks", "t1", {"status": "open"}, NOW, associations={"contacts": ("2",)}),
        Record("tasks", "t2", {"status": "open"}, NOW),
    )
    merges = [merge("1", "2"), merge("4", "3")]
    policy = FollowUpPolicy(FollowUpSettings())
    assert {c.record_id for c in policy(records) if isinstance(c, CreateTask)} == {"1", "4"}
    assert policy(after_merges(records, merges)) == []


# -- properties -------------------------------------------------------------------------------

EMAILS = ["a@x.io", "A@x.io ", "b@x.io", "c@x.io", None]
FIELDS = ["email", "phone", "city"]
IDS = [str(i) for i in range(1, 7)]


@st.composite
def plans(draw: st.DrawFn) -> tuple[Snapshot, list[Change]]:
    records = [
        contact(
            i,
            email=draw(st.sampled_from(EMAILS)),
            additional_emails=draw(st.sampled_from([None, "c@x.io", "d@x.io;a@x.io"])),
            phone=draw(st.sampled_from(["1", "2", None])),
        )
        for i in IDS
    ]
    by_id = {r.id: r for r in records}
    order = draw(st.permutations(IDS))
    cuts = sorted(draw(st.sets(st.integers(1, len(IDS) - 1), max_size=3)))
    groups = [order[a:b] for a, b in zip([0, *cuts], [*cuts, len(IDS)], strict=True)]
    changes: list[Change] = []
    for group in groups:
        if len(group) < 2 or not draw(st.booleans()):
            continue
        fields = draw(st.sets(st.sampled_from(FIELDS), max_size=2))
        values = {f: draw(st.sampled_from(EMAILS)) for f in fields}
        kind = draw(st.sampled_from(["merge", "merge", "review"]))
        changes.append(merge(group[0], *group[1:], values=values, kind=kind))
    updates = draw(
        st.lists(
            st.tuples(st.sampled_from(IDS), st.sampled_from(FIELDS), st.sampled_from(EMAILS)),
            max_size=8,
        )
    )
    for record_id, name, new in updates:
        old = by_id[record_id].properties.get(name)
        survivor = next(
            (m for m in changes if isinstance(m, Merge) and m.primary_id == record_id), None
        )
        if survivor is not None and name in survivor.field_values and draw(st.booleans()):
            old = survivor.field_values[name]  # proposed from the records after the merges
        if old != new:
            policy = draw(st.sampled_from(["normalize", "tags"]))
            changes.insert(
                draw(st.integers(0, len(changes))), upd(record_id, name, old, new, policy)
            )
    return snapshot(*records), changes


def writes(changes: Sequence[Change]) -> Counter[tuple[str, str]]:
    counted: Counter[tuple[str, str]] = Counter()
    for c in changes:
        if isinstance(c, Update):
            counted[(c.record_id, c.field)] += 1
        elif isinstance(c, Merge) and c.kind == "merge":
            counted.update((c.primary_id, name) for name in c.field_values)
    return counted


def check_written_once(out: Sequence[Change]) -> list[Merge]:
    merges = [c for c in out if isinstance(c, Merge) and c.kind == "merge"]
    absorbed = {i for m in merges for i in m.merged_ids}
    assert not [c for c in out if isinstance(c, Update) and c.record_id in absorbed]
    assert all(n == 1 for n in writes(out).values()), writes(out)
    return merges


@given(plans())
def test_composed_plans_write_each_field_once_and_nothing_on_absorbed_records(
    drawn: tuple[Snapshot, list[Change]],
) -> None:
    check_written_once(compose(drawn[1]))


@given(plans())
def test_composed_plans_give_no_record_a_unique_value_another_record_keeps(
    drawn: tuple[Snapshot, list[Change]],
) -> None:
    records, changes = drawn
    out = compose(changes, records, UNIQUE)
    merges = check_written_once(out)
    cluster = {i: m.primary_id for m in merges for i in (m.primary_id, *m.merged_ids)}
    holders: dict[str, set[str]] = {}
    for r in records.of("contacts"):
        for name in ("email", "additional_emails"):
            for value in (r.properties.get(name) or "").split(";"):
                if value.strip():
                    holders.setdefault(value.strip().casefold(), set()).add(cluster.get(r.id, r.id))
    for c in out:
        given_email = (
            [(c.record_id, c.new)]
            if isinstance(c, Update) and c.field == "email"
            else [(c.primary_id, c.field_values["email"])]
            if isinstance(c, Merge) and c.kind == "merge" and "email" in c.field_values
            else []
        )
        for record_id, value in given_email:
            key = (value or "").strip().casefold()
            if key:
                mine = cluster.get(record_id, record_id)
                assert holders.get(key, set()) <= {mine}, (c, holders[key])
                holders.setdefault(key, set()).add(mine)
