"""syncd never fights a person: a value it wrote that someone changed back is not proposed again.

Rules (:func:`hold_reverts`, pure; the engine reads the audit log and the stored reverts):

- A proposed update of a field to ``v`` is a *revert* when syncd's latest write of that field
  (applied and not undone) wrote ``v`` and the field holds something else now: someone (a
  person, a workflow, another integration) changed it after syncd. ``syncd undo`` is not
  someone: it marks the writes it reverts as undone and its own writes hold the old values, so
  a change that was undone is proposed again like any other.
- A revert is held out of the plan (like a rejected review) until a person releases it with
  ``syncd review release RECORD_ID --field FIELD``. A release is of syncd's write: the next plan
  proposes ``v`` again, and if syncd writes it and it is changed back again, that newer write is
  a new revert, held again.
- A suppression lasts until released; it does not lapse when the person's value changes again
  (while syncd's value is not there, proposing it would fight the same people). Only ``v`` is
  held back: a different fix of the same field (the person typed another value that normalizes
  to something else) is proposed as usual, since syncd never wrote it.
- Survivor values a merge writes are not held back: a merge happens once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from model.changes import Change, Update
from state.base import AuditEntry, Revert

#: A field of a record: (object type, record id, field).
FieldKey = tuple[str, str, str]


def _same(a: str | None, b: str | None) -> bool:
    return (a or "") == (b or "")


def is_revert(update: Update, write: AuditEntry | None) -> bool:
    """True when ``update`` proposes again the value syncd's ``write`` of its field wrote,
    and the field (``update.old``, its value now) no longer holds it."""
    return (
        write is not None
        and write.kind == "update"
        and write.field == update.field
        and _same(write.after, update.new)
        and not _same(update.old, update.new)
    )


def released(write: AuditEntry, known: Revert | None) -> bool:
    """True when a person released the revert of this very write."""
    return known is not None and known.audit_id == write.id and known.released_at is not None


def hold_reverts(
    changes: Sequence[Change],
    writes: Mapping[FieldKey, AuditEntry],
    known: Mapping[FieldKey, Revert],
) -> tuple[list[Change], list[tuple[Update, AuditEntry]]]:
    """Split a plan's changes into those kept and the reverts held out, each with syncd's write.

    ``writes`` maps each field to syncd's latest write of it not undone; ``known`` to its stored
    revert, if any. Order is kept.
    """
    kept: list[Change] = []
    held: list[tuple[Update, AuditEntry]] = []
    for change in changes:
        if isinstance(change, Update):
            key = (change.object_type, change.record_id, change.field)
            write = writes.get(key)
            if (
                write is not None
                and is_revert(change, write)
                and not released(write, known.get(key))
            ):
                held.append((change, write))
                continue
        kept.append(change)
    return kept, held


def needs_lookup(update: Update, write: AuditEntry, known: Revert | None) -> bool:
    """True when a held revert is new, its field changed since it was stored, or who changed
    it is not known yet: who is (re)read from the CRM and the stored revert replaced."""
    return (
        known is None
        or known.audit_id != write.id
        or not _same(known.reverted_to, update.old)
        or (known.changed_by is None and known.changed_via is None)
    )


def _show(value: str | None) -> str:
    return "∅" if value is None else repr(value)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def release_command(revert: Revert) -> str:
    """The command that releases ``revert``."""
    kind = "" if revert.object_type == "contacts" else f" --object-type {revert.object_type}"
    return f"syncd review release {revert.record_id} --field {revert.field}{kind}"


def describe(revert: Revert, label: str | None = None) -> str:
    """One sentence a person reads: what syncd set, who changed it back, how to release it."""
    record = f"{revert.object_type} {revert.record_id}" + (f" ({label})" if label else "")
    if revert.changed_by and revert.changed_via:
        who = f" by {revert.changed_by} through {revert.changed_via}"
    elif revert.changed_by or revert.changed_via:
        who = f" by {revert.changed_by or revert.changed_via}"
    else:
        who = " (the CRM does not say by whom)"
    when = f" on {_when(revert.changed_at)}" if revert.changed_at else ""
    return (
        f"{revert.field} of {record}: syncd set {_show(revert.value)} on "
        f"{_when(revert.written_at)}, changed back to {_show(revert.reverted_to)}{who}{when}; "
        f"release with `{release_command(revert)}`"
    )


def revert_to_dict(revert: Revert, label: str | None = None) -> dict[str, object]:
    """The JSON form of a held revert, as plan reports list it (with its sentence)."""
    return {
        "object_type": revert.object_type,
        "record_id": revert.record_id,
        "field": revert.field,
        "value": revert.value,
        "reverted_to": revert.reverted_to,
        "written_at": revert.written_at.isoformat(),
        "changed_by": revert.changed_by,
        "changed_via": revert.changed_via,
        "changed_at": None if revert.changed_at is None else revert.changed_at.isoformat(),
        "release": release_command(revert),
        "sentence": describe(revert, label),
    }
