"""The review queue behind ``syncd review``: list proposed merges, approve or reject them;
list the changes held back because someone changed syncd's value back, and release them.

The dedupe policy puts a pair or cluster whose confidence lies between its two thresholds in
the plan as a change of kind ``review`` (a :class:`~policies.base.Merge`). The queue of a
source is the review changes of its **latest plan** of the policies (newest ``created_at``; an
``undo`` plan does not count) that no one has decided on yet. A decision is stored with
:meth:`StateStore.record_review` and reaches the policies of the next plan through
``Snapshot.decisions``: a rejected group is never proposed again, an approved one is planned as
a merge.

A value syncd wrote that someone changed back is held out of every plan (:mod:`syncd.reverts`)
until released here (:func:`release`): the next plan proposes it again.

Nothing here writes to the CRM or changes a plan.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from rich.console import Console
from rich.table import Table
from rich.text import Text

from model.changes import Merge
from model.errors import SyncdError
from model.fields import record_label
from state.base import Revert, StateStore
from syncd.plans import latest_policy_plan, stored_records
from syncd.report import cut
from syncd.reverts import describe

DECISIONS = ("approved", "rejected")


class ReviewError(SyncdError):
    """A review command cannot be carried out (no plan, unknown group, bad decision)."""


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One proposed merge waiting for a person.

    ``ids`` is the group a decision is recorded on (primary and merged ids); ``names`` maps
    each of those ids to a label from the stored record (name, e-mail or company name; absent
    when the record is not stored).
    """

    plan_id: str
    object_type: str
    primary_id: str
    merged_ids: tuple[str, ...]
    confidence: float
    reason: str
    names: Mapping[str, str] = field(default_factory=dict)

    @property
    def ids(self) -> frozenset[str]:
        """The record ids of the group: primary and merged."""
        return frozenset((self.primary_id, *self.merged_ids))


def review_items(store: StateStore, source: str) -> list[ReviewItem]:
    """Every review change of ``source``'s latest plan, decided or not, in plan order.

    Empty when the source has no plan. Labels come from the stored records.
    """
    plan_id = latest_policy_plan(store, source)
    if plan_id is None:
        return []
    reviews = [
        c for c in store.load_plan(plan_id).changes if isinstance(c, Merge) and c.kind == "review"
    ]
    keys = [(c.object_type, i) for c in reviews for i in (c.primary_id, *c.merged_ids)]
    labels = {
        key: record_label(record.object_type, record.properties)
        for key, record in stored_records(store, source, keys).items()
    }
    return [
        ReviewItem(
            plan_id=plan_id,
            object_type=c.object_type,
            primary_id=c.primary_id,
            merged_ids=c.merged_ids,
            confidence=c.confidence,
            reason=c.reason,
            names={
                i: labels[(c.object_type, i)]
                for i in (c.primary_id, *c.merged_ids)
                if labels.get((c.object_type, i))
            },
        )
        for c in reviews
    ]


def pending_reviews(store: StateStore, source: str) -> list[ReviewItem]:
    """The review changes of ``source``'s latest plan on which no decision is recorded yet."""
    items = review_items(store, source)
    decided: dict[str, Mapping[frozenset[str], str]] = {}
    for object_type in sorted({i.object_type for i in items}):
        decided[object_type] = store.review_decisions(source, object_type)
    return [i for i in items if i.ids not in decided[i.object_type]]


def decide(  # noqa: PLR0917  (mirrors StateStore.record_review)
    store: StateStore,
    source: str,
    object_type: str,
    ids: Iterable[str],
    decision: str,
    now: datetime,
    by: str | None = None,
    note: str | None = None,
) -> ReviewItem:
    """Record ``decision`` (``approved`` or ``rejected``) on the group ``ids`` and return the
    review item it belongs to.

    ``ids`` must be at least two ids of one review change of ``object_type`` in the source's
    latest plan (all of its ids, or some of them: rejecting a pair out of a larger group keeps
    just those two apart). An item decided before may be decided again; the later decision
    replaces the earlier. ``ReviewError`` when the decision is not one of :data:`DECISIONS`,
    the source has no plan, or no review item holds all of ``ids``.
    """
    group = frozenset(i.strip() for i in ids)
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {', '.join(DECISIONS)}; found {decision!r}")
    if len(group) < 2:
        raise ReviewError("a decision needs at least two record ids")
    items = review_items(store, source)
    if not items and latest_policy_plan(store, source) is None:
        raise ReviewError(f"source {source!r} has no plan to review")
    for item in items:
        if item.object_type == object_type and group <= item.ids:
            store.record_review(source, object_type, sorted(group), decision, now, by, note)
            return item
    shown = ", ".join(sorted(group))
    raise ReviewError(
        f"no pending review of {object_type} in the latest plan of {source!r} holds {shown}"
    )


def _who(item: ReviewItem, record_id: str) -> str:
    name = item.names.get(record_id)
    return f"{record_id} ({name})" if name else record_id


def render_reviews(items: Sequence[ReviewItem], width: int = 140) -> str:
    """The queue as a plain-text rich table: type, primary, merged, confidence, reason."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    if not items:
        console.print("No reviews pending.")
        return buffer.getvalue()
    table = Table(title=f"Reviews pending: {len(items)}", title_justify="left", expand=True)
    for column in ("Type", "Primary", "Merged", "Confidence", "Why"):
        # sized by content: rich ignores min_width on ratio columns, and a header must not break
        table.add_column(column, overflow="fold", min_width=len(column))
    for item in items:
        cells = (
            item.object_type,
            _who(item, item.primary_id),
            ", ".join(_who(item, i) for i in item.merged_ids),
            f"{item.confidence:.2f}",
            item.reason,
        )
        table.add_row(*(Text(cut(c)) for c in cells))  # CRM values: never read as markup
    console.print(table)
    return buffer.getvalue()


def held_reverts(store: StateStore, source: str) -> list[tuple[Revert, str]]:
    """The changes held back because someone changed syncd's value back (not released), each
    with its record's label (empty when the record is not stored). A field that holds syncd's
    value again, as last pulled, is left out: there is nothing to hold back for now."""
    held = store.reverts(source, released=False)
    records = stored_records(store, source, [(r.object_type, r.record_id) for r in held])
    found = []
    for revert in held:
        record = records.get((revert.object_type, revert.record_id))
        if record is not None and (record.properties.get(revert.field) or "") == (
            revert.value or ""
        ):
            continue
        label = "" if record is None else record_label(record.object_type, record.properties)
        found.append((revert, label))
    return found


def release(  # noqa: PLR0917  (mirrors StateStore.release_reverts)
    store: StateStore,
    source: str,
    object_type: str,
    ids: Iterable[str],
    field_name: str | None,
    now: datetime,
    by: str | None = None,
) -> list[Revert]:
    """Release the held-back changes of ``ids`` (only of ``field_name`` when given): the next
    plan proposes them again. ``ReviewError`` when none of them is held back."""
    wanted = sorted({i.strip() for i in ids if i.strip()})
    if not wanted:
        raise ReviewError("a release needs at least one record id")
    released = store.release_reverts(source, object_type, wanted, field_name, now, by)
    if not released:
        which = f"{field_name} of " if field_name else ""
        raise ReviewError(
            f"nothing held back for {which}{object_type} {', '.join(wanted)} in {source!r} "
            "(syncd review lists what is)"
        )
    return released


def render_reverts(items: Sequence[tuple[Revert, str]], width: int = 140) -> str:
    """The held-back changes as plain text, one sentence each (empty when there are none)."""
    if not items:
        return ""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    console.print(f"Held back, changed back after syncd wrote them: {len(items)}")
    for revert, label in items:
        console.print(f"  - {describe(revert, label or None)}")
    return buffer.getvalue()
