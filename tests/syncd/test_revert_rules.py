"""The rules of syncd.reverts as pure functions: what is a revert, what is held, the sentence."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from model.changes import CreateTask, Flag, Update
from state.base import AuditEntry, Revert
from syncd.reverts import describe, hold_reverts, is_revert, needs_lookup

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)


def fix(record_id: str, old: str | None, new: str | None, field: str = "phone") -> Update:
    return Update("hs", "contacts", "normalize", "E.164", record_id, field, old, new)


def wrote(record_id: str, after: str | None, field: str = "phone", audit_id: int = 1) -> AuditEntry:
    return AuditEntry(
        run_id="r1",
        plan_id="p1",
        key="p1:0:0",
        source="hs",
        policy="normalize",
        kind="update",
        object_type="contacts",
        record_id=record_id,
        field=field,
        before="555 0100",
        after=after,
        applied_at=T0,
        response={},
        id=audit_id,
    )


def revert_of(write: AuditEntry, reverted_to: str | None, **changes: object) -> Revert:
    base = Revert(
        source="hs",
        object_type=write.object_type,
        record_id=write.record_id,
        field=str(write.field),
        value=write.after,
        reverted_to=reverted_to,
        audit_id=write.id,
        written_at=write.applied_at,
        found_at=T1,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_proposing_again_what_syncd_wrote_and_someone_replaced_is_a_revert() -> None:
    write = wrote("1", "+15550100")
    assert is_revert(fix("1", "555 0100", "+15550100"), write)  # set back to the old value
    assert is_revert(fix("1", "555-0100", "+15550100"), write)  # or changed to another
    assert not is_revert(fix("1", "555 0199", "+15550199"), write)  # another fix: never written
    assert not is_revert(fix("1", "+15550100", "+15550100"), write)  # still there: no change
    assert not is_revert(fix("1", "555 0100", "+15550100"), None)  # syncd never wrote it
    assert not is_revert(fix("1", "555 0100", "+15550100"), replace(write, kind="merge"))
    # an undo's own write holds the old value: the fix is not what it wrote
    undo = replace(write, policy="undo", before="+15550100", after="555 0100")
    assert not is_revert(fix("1", "555 0100", "+15550100"), undo)


def test_reverts_are_held_out_until_that_write_is_released() -> None:
    task = CreateTask(
        "hs", "contacts", "follow_up", "none open", "1", "Call", None, date(2026, 12, 1)
    )
    flag = Flag("hs", "contacts", "normalize", "invalid", "3", "email", "x@")
    changes = [
        fix("1", "555 0100", "+15550100"),
        task,
        fix("2", "555 0200", "+15550200"),
        fix("2", "paris", "Paris", field="city"),
        flag,
    ]
    writes = {
        ("contacts", "1", "phone"): wrote("1", "+15550100", audit_id=1),
        ("contacts", "2", "phone"): wrote("2", "+15550200", audit_id=2),
        ("contacts", "2", "city"): wrote("2", "Paris, France", field="city", audit_id=3),
    }
    kept, held = hold_reverts(changes, writes, {})
    assert kept == [task, changes[3], flag]
    assert held == [
        (changes[0], writes[("contacts", "1", "phone")]),
        (changes[2], writes[("contacts", "2", "phone")]),
    ]

    released = revert_of(writes[("contacts", "1", "phone")], "555 0100", released_at=T1)
    unreleased = revert_of(writes[("contacts", "2", "phone")], "555 0200")
    known = {("contacts", "1", "phone"): released, ("contacts", "2", "phone"): unreleased}
    kept, held = hold_reverts(changes, writes, known)
    assert kept == [changes[0], task, changes[3], flag]  # released: proposed again
    assert [u for u, _ in held] == [changes[2]]

    # written again after the release and changed back again: a new revert, held again
    newer = {**writes, ("contacts", "1", "phone"): wrote("1", "+15550100", audit_id=9)}
    kept, held = hold_reverts(changes, newer, known)
    assert [u.record_id for u, _ in held] == ["1", "2"]


def test_who_is_read_again_only_when_something_changed() -> None:
    write = wrote("1", "+15550100")
    update = fix("1", "555 0100", "+15550100")
    known = revert_of(write, "555 0100", changed_by="Ann Lee (user 41)")
    assert needs_lookup(update, write, None)
    assert not needs_lookup(update, write, known)
    assert needs_lookup(update, replace(write, id=2), known)  # a newer write changed back
    assert needs_lookup(fix("1", "555-0100", "+15550100"), write, known)  # changed again
    assert needs_lookup(update, write, replace(known, changed_by=None))  # not known yet


def test_the_sentence_says_what_who_when_and_how_to_release() -> None:
    write = wrote("1", "+15550100")
    revert = revert_of(
        write,
        "555 0100",
        changed_by="Ann Lee (user 41)",
        changed_via="the HubSpot app",
        changed_at=T1,
    )
    assert describe(revert, "Jo Park") == (
        "phone of contacts 1 (Jo Park): syncd set '+15550100' on 2026-11-24 09:00 UTC, changed "
        "back to '555 0100' by Ann Lee (user 41) through the HubSpot app on 2026-11-25 14:30 "
        "UTC; release with `syncd review release 1 --field phone`"
    )
    workflow = replace(revert, changed_by=None, changed_via="a workflow", object_type="deals")
    assert "changed back to '555 0100' by a workflow on 2026-11-25" in describe(workflow)
    assert describe(workflow).endswith("--field phone --object-type deals`")
    unknown = replace(revert, changed_by=None, changed_via=None, changed_at=None, reverted_to=None)
    assert "changed back to ∅ (the CRM does not say by whom);" in describe(unknown)
