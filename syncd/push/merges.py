"""Sending merges, and what they came to.

One batch read of every participant before any merge (clusters are disjoint, so a merge never
changes another pair's records), then one merge call per absorbed record (per group of a
cluster's records where the writer's call takes several: ``Writer.max_merged_per_call``), each
op recorded at once. A cluster of several records is merged step by step, each step into the
survivor the step before answered (which may have a new id). A merge whose records a person
changed since the plan (:func:`~syncd.push.conflicts.match_changes`) is held for review; one
whose primary or absorbed record was deleted or merged elsewhere is skipped; one an interrupted
push sent (the absorbed id already resolves to the primary) is recorded with its audit entry.
After the merges, the survivors are read again with their associations and stored, the absorbed
records marked merged (:func:`refresh`), so the next plan sees what the merge did before any
pull.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from connectors.base import Writer
from model.records import Record
from model.writes import WriteResult
from state.base import OpOutcome, OutboxEntry, StoredPlan
from syncd.push.audit import Ledger, answer, failed
from syncd.push.batches import by_type
from syncd.push.conflicts import MATCH_FIELDS, match_changes, planned_values


def send_merges(
    ledger: Ledger, writer: Writer, plan: StoredPlan, entries: Sequence[OutboxEntry]
) -> None:
    """Check and send the ``merge`` ops ``entries`` of ``plan``.

    A cluster is merged step by step, each step into the survivor the step before answered
    (``heads``: plan-time primary -> its survivor so far; the outbox holds the steps an earlier
    push applied), since the survivor may be a new record with a new id. Where one call of the
    writer absorbs several records (:attr:`Writer.max_merged_per_call`), the ops of one cluster
    that passed their checks go out together, that many a call; an op held or skipped is not
    among them. Each op keeps its own outcome and audit entry.
    """
    heads = dict(Merged.of(ledger.outbox()).survivor)
    size = max(1, writer.max_merged_per_call)
    for object_type, group in by_type(entries).items():
        ids = sorted(
            {
                i
                for e in group
                for i in (
                    e.record_id,
                    heads.get((object_type, e.record_id), e.record_id),
                    str(e.payload["merged_id"]),
                )
            }
        )
        current = writer.read(object_type, ids, MATCH_FIELDS)
        ready: list[OutboxEntry] = []
        for entry in group:
            if ready and (ready[0].seq, ready[0].record_id) != (entry.seq, entry.record_id):
                _send(ledger, writer, object_type, ready, heads)  # another cluster begins
            head = (object_type, entry.record_id)
            into = heads.get(head, entry.record_id)
            checked = _check(ledger, plan, entry, current, into=into)
            if checked is None:
                ready.append(entry)
                if len(ready) >= size:
                    _send(ledger, writer, object_type, ready, heads)
                continue
            ledger.sending([entry.key])
            ledger.finish([checked])
            if checked.status == "applied":
                heads[head] = str(checked.result.get("survivor") or into)
        _send(ledger, writer, object_type, ready, heads)


def _send(
    ledger: Ledger,
    writer: Writer,
    object_type: str,
    ready: list[OutboxEntry],
    heads: dict[tuple[str, str], str],
) -> None:
    """Send the checked ops ``ready`` of one cluster in one merge call, record each op's
    outcome, move the cluster's head to the survivor, and empty ``ready``."""
    if not ready:
        return
    head = (object_type, ready[0].record_id)
    into = heads.get(head, ready[0].record_id)
    keys = [e.key for e in ready]
    ledger.sending(keys)
    results = writer.merge_group(
        object_type, into, [str(e.payload["merged_id"]) for e in ready], keys
    )
    by_key = {r.key: r for r in results}
    outcomes = [_landed(ledger, e, answer(by_key, e.key), into=into) for e in ready]
    ledger.finish(outcomes)
    for outcome in outcomes:
        if outcome.status == "applied":
            heads[head] = str(outcome.result.get("survivor") or into)
    ready.clear()


def _check(
    ledger: Ledger,
    plan: StoredPlan,
    entry: OutboxEntry,
    current: Mapping[str, Record | None],
    *,
    into: str,
) -> OpOutcome | None:
    """The outcome of a merge of the op's ``merged_id`` into ``into`` that is not to be sent
    (merged already, skipped, held), or ``None`` when it passed its checks. ``into`` is the
    plan's primary, or (a later step of a cluster) the survivor of its earlier merges, which
    ``current`` may not hold (made by this push, after the read)."""
    primary_id, merged_id = entry.record_id, str(entry.payload["merged_id"])
    stepping = into != primary_id
    primary, absorbed = current.get(into), current.get(merged_id)
    if absorbed is not None and (
        absorbed.id == into or (primary is not None and absorbed.id == primary.id)
    ):
        # both ids stand for one record: an interrupted push of ours merged them (it left the
        # op sending), or someone else did; audit it when it was ours
        landed = WriteResult(entry.key, ok=True, response={"recovered": True})
        return OpOutcome(
            entry.key,
            "applied",
            result={"already": True, "survivor": absorbed.id},
            reason=f"{merged_id} already merged into {absorbed.id}",
            audit=[
                ledger.audit(
                    entry,
                    landed,
                    kind="merge",
                    record_id=primary_id,
                    before=merged_id,
                    after=absorbed.id,
                )
            ]
            if entry.status == "sending"
            else [],
        )
    if (primary is None and not stepping) or (primary is not None and primary.id != into):
        return OpOutcome(
            entry.key,
            "skipped",
            reason=f"primary {into} was deleted or merged in the CRM since the plan was made",
        )
    if absorbed is None or absorbed.id != merged_id:
        return OpOutcome(
            entry.key,
            "skipped",
            reason=f"{merged_id} was deleted or merged in the CRM since the plan was made",
        )
    # a later step's primary is the survivor syncd made: only the plan's own records compare
    compared: dict[str, Record] = {}
    if not stepping and primary is not None:
        compared[primary_id] = primary
    compared[merged_id] = absorbed
    changed = match_changes(
        entry.object_type,
        compared,
        ledger.baselines(entry.object_type, [primary_id, merged_id]),
        planned_values(plan),
    )
    if changed:
        return OpOutcome(
            entry.key,
            "held",
            result={"changed": changed},
            reason="matching fields changed in the CRM since the plan ("
            + ", ".join(changed)
            + "); held for review",
        )
    return None


def _landed(ledger: Ledger, entry: OutboxEntry, result: WriteResult, *, into: str) -> OpOutcome:
    """The outcome of a merge op sent into ``into``, from the writer's ``result`` for it."""
    primary_id, merged_id = entry.record_id, str(entry.payload["merged_id"])
    if not result.ok:
        return failed(entry, result)
    survivor = result.remote_id or into
    if result.already:  # merged by someone else meanwhile: done, but no change of ours
        return OpOutcome(
            entry.key,
            "applied",
            result={"already": True, "survivor": survivor},
            reason=f"{merged_id} was already merged into {survivor} "
            "when the merge was sent (by someone else, or by an attempt whose answer was "
            "lost): not in the audit log as a merge of syncd's",
        )
    # the audit keeps the old ids and the new one: the plan's primary (record_id), the id
    # merged (before) and the survivor the CRM answered (after)
    audit = [
        ledger.audit(
            entry,
            result,
            kind="merge",
            record_id=primary_id,
            before=merged_id,
            after=survivor,
        )
    ]
    return OpOutcome(entry.key, "applied", result={"survivor": survivor}, audit=audit)


@dataclass(frozen=True, slots=True)
class Merged:
    """What the merges of one plan came to, read from its outbox after the merge step.

    ``changes`` maps a merge change's ``seq`` to its merge operations; ``absorbed`` maps
    (object type, primary id) to the ids merged into it that applied; ``survivor`` maps the
    primary to the id the CRM answered for the merged record.
    """

    changes: Mapping[int, Sequence[OutboxEntry]]
    absorbed: Mapping[tuple[str, str], Sequence[str]]
    survivor: Mapping[tuple[str, str], str]

    @classmethod
    def of(cls, outbox: Sequence[OutboxEntry]) -> Merged:
        """What the ``merge`` ops of a plan's ``outbox`` came to."""
        changes: dict[int, list[OutboxEntry]] = defaultdict(list)
        absorbed: dict[tuple[str, str], list[str]] = defaultdict(list)
        survivor: dict[tuple[str, str], str] = {}
        for entry in outbox:
            if entry.kind != "merge":
                continue
            changes[entry.seq].append(entry)
            if entry.status == "applied":
                primary = (entry.object_type, entry.record_id)
                absorbed[primary].append(str(entry.payload["merged_id"]))
                survivor[primary] = str(entry.result.get("survivor") or entry.record_id)
        return cls(changes, absorbed, survivor)

    def waiting(self, entry: OutboxEntry) -> OpOutcome | None:
        """The outcome of a merge's survivor-values write whose merges did not all apply
        (``None`` when they did, and for every other update)."""
        merges = self.changes.get(entry.seq, ())
        if entry.kind != "update" or not merges:
            return None
        if all(m.status == "applied" for m in merges):
            return None
        first = next(m for m in merges if m.status != "applied")
        why = (
            f"the survivor's values were not written: the merge of {first.payload['merged_id']} "
            f"into {first.record_id} is {first.status}"
            + (f" ({first.reason})" if first.reason else "")
        )
        if first.status == "failed" and first.result.get("retriable"):
            return OpOutcome(
                entry.key,
                "failed",
                attempts_increment=0,
                result={"retriable": True},
                reason=why + "; applying the plan again retries both",
            )
        return OpOutcome(entry.key, "skipped", attempts_increment=0, reason=why)

    def carried(self, ledger: Ledger, object_type: str) -> dict[str, dict[str, list[str | None]]]:
        """Per primary id of ``object_type`` and field, the values its absorbed records had
        when the plan was made (their stored baselines)."""
        clusters = {p: ids for (t, p), ids in self.absorbed.items() if t == object_type}
        if not clusters:
            return {}
        stored = ledger.baselines(object_type, [i for ids in clusters.values() for i in ids])
        found: dict[str, dict[str, list[str | None]]] = {}
        for primary_id, ids in clusters.items():
            values: dict[str, list[str | None]] = defaultdict(list)
            for record in (stored[i] for i in ids if i in stored):
                for name, value in record.properties.items():
                    values[name].append(value)
            found[primary_id] = values
        return found


def refresh(ledger: Ledger, writer: Writer, merged: Merged) -> None:
    """Read the survivors of the merges this plan applied again, with their associations,
    and store them; mark the records they absorbed merged into them.

    The properties and associations read are those the store holds for the records, so a
    refreshed survivor looks like a pulled one. Repeated on every push of the plan: storing
    the same record again changes nothing.
    """
    clusters_by_type: dict[str, dict[str, Sequence[str]]] = defaultdict(dict)
    for (object_type, primary_id), absorbed in merged.absorbed.items():
        clusters_by_type[object_type][primary_id] = absorbed
    for object_type, clusters in clusters_by_type.items():
        ids = [i for primary, gone in clusters.items() for i in (primary, *gone)]
        stored = ledger.baselines(object_type, ids)
        current = writer.read(
            object_type,
            sorted(clusters),
            sorted({k for r in stored.values() for k in r.properties}),
            sorted({k for r in stored.values() for k in r.associations}),
        )
        records: list[Record] = []
        for primary_id, absorbed in clusters.items():
            survivor = current.get(primary_id)
            if survivor is None:
                continue
            records.append(survivor)
            for gone in (*absorbed, primary_id):
                before = stored.get(gone)
                if before is not None and gone != survivor.id:
                    moment = max(before.updated_at, survivor.updated_at)
                    records.append(replace(before, merged_into=survivor.id, updated_at=moment))
        ledger.refresh(records)
