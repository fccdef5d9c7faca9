"""Push: apply a saved plan to the CRM exactly once, through the outbox.

1. **Expand** each plan change into outbox operations with idempotency keys
   (``<plan>:<seq>:<op>``) and write them all before anything is sent. A merge becomes a write
   of the survivor's chosen values to the primary (op 0), and one merge call per absorbed record.
2. **Order**: merges first, then field writes (updates and survivor values), then tasks, then
   archives. A value a record takes from its duplicate (the clean e-mail the duplicate holds)
   can only be written once the duplicate is merged: the CRM keeps some fields unique. A
   cluster of several records is merged one record at a time, each step into the survivor the
   step before gave (a CRM may give every merge's survivor a new id: HubSpot does for
   contacts and companies); its field writes and tasks then go to the last survivor. A
   merge's survivor values are written only when every merge of it applied (a merge held or
   skipped leaves them unwritten, with the reason; one that failed and may be retried leaves
   them failed too, so applying the plan again does both). After the merges the survivors are
   read again, with their associations, and the state store is refreshed (absorbed records
   marked merged), so the next plan sees what the merge did before any pull.
3. **Check** just before writing: one batch read of the records' current values. A field whose
   current value differs from the plan's baseline (``old``) was changed by a person meanwhile: a
   *conflict*, resolved by the strategy (``crm-wins`` skips the field, ``syncd-wins`` writes
   anyway, ``review`` holds it). On a record this plan merged, the absorbed records' values of
   when the plan was made are not a person's edit either (the CRM may carry them over in the
   merge); when the CRM gave the survivor a new id, the write goes to it. A record deleted or
   merged away since the plan otherwise is skipped. A field that already holds the new value
   counts as applied (a resumed push after a crash). A CRM that still refuses a value as a
   conflict (another record holds it) gets it skipped, with the reason, for a person.
4. **Send** in the vendor's batches; record every result, and the audit entry of every applied
   write, in one transaction per batch.

Every step reads the outbox first and skips what is final, so running a push again, after a crash
at any point, sends only what is left: updates are checked against the CRM, a task is looked up
by its marker and by the record's open tasks, a merge by whether the absorbed id already resolves
to the survivor. What an interrupted push wrote without recording it (an op left ``sending``
whose value, task or merge is found in the CRM) is recorded then, with its audit entry, once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time

from connectors.base import Writer
from model.changes import Archive, Change, CreateTask, Merge, Update
from model.fields import TASK_COMPLETED
from model.records import Record
from model.writes import FieldWrite, TaskWrite, WriteErrorKind, WriteResult
from state.base import AuditRecord, OpOutcome, OutboxEntry, OutboxOp, StateStore, StoredPlan
from syncd.config import ApplyConfig, ConflictStrategy
from syncd.logging import get_logger

log = get_logger(__name__)
Clock = Callable[[], datetime]

PENDING = ("pending", "sending")
#: Fields compared between the plan's baseline and the CRM before a merge: if a person changed
#: one of them on either record since the plan, the pair may no longer be the same person.
MATCH_FIELDS = ("firstname", "lastname", "email", "phone", "name", "domain")


@dataclass
class PushReport:
    """What one push did, by outbox status, plus the API calls it took."""

    plan_id: str
    statuses: dict[str, int] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when nothing failed and nothing is left to send."""
        return not self.failures and not any(self.statuses.get(s) for s in PENDING)


def expand(plan: StoredPlan) -> list[OutboxOp]:
    """The outbox operations of a plan, in order. Review pairs are held for a person.

    The survivor's chosen values of a merge are written with the primary's plan-time values
    (``Merge.field_baseline``) as ``old``, so a person's edit of the primary since the plan is a
    conflict like any other.
    """
    ops: list[OutboxOp] = []
    for seq, change in enumerate(plan.changes):
        ops.extend(_ops_of(plan.id, seq, change))
    return ops


def _key(plan_id: str, seq: int, op_index: int) -> str:
    return f"{plan_id}:{seq}:{op_index}"


def _ops_of(plan_id: str, seq: int, change: Change) -> Iterable[OutboxOp]:
    def op(index: int, kind: str, record_id: str, payload: Mapping[str, object]) -> OutboxOp:
        common = {"policy": change.policy, "reason": change.reason}
        return OutboxOp(
            _key(plan_id, seq, index),
            seq,
            index,
            kind,
            change.object_type,
            record_id,
            {**common, **payload},
        )

    if isinstance(change, Update):
        yield op(
            0,
            "update",
            change.record_id,
            {"fields": {change.field: {"old": change.old, "new": change.new}}},
        )
    elif isinstance(change, Merge):
        if change.kind == "review":
            yield op(
                0,
                "review",
                change.primary_id,
                {"merged_ids": list(change.merged_ids), "confidence": change.confidence},
            )
            return
        if change.field_values:
            fields = {
                k: {"old": change.field_baseline.get(k), "new": v}
                for k, v in change.field_values.items()
            }
            yield op(0, "update", change.primary_id, {"fields": fields})
        for index, merged_id in enumerate(change.merged_ids, start=1):
            yield op(index, "merge", change.primary_id, {"merged_id": merged_id})
    elif isinstance(change, Archive):
        yield op(0, "archive", change.record_id, {})
    elif isinstance(change, CreateTask):
        yield op(
            0,
            "create_task",
            change.record_id,
            {
                "subject": change.subject,
                "body": change.body,
                "owner_id": change.owner_id,
                "due": change.due.isoformat(),
            },
        )


def _same(a: str | None, b: str | None) -> bool:
    return (a or "") == (b or "")


@dataclass
class Pusher:
    """Pushes one plan for one source through a connector's :class:`Writer`."""

    store: StateStore
    writer: Writer
    settings: ApplyConfig
    clock: Clock
    source: str
    run_id: str
    epoch: int  # of the run's lease on the source: the store refuses writes once it is lost
    #: (object type, planned id) -> the id a merge of this plan gave the record (a new one)
    _targets: dict[tuple[str, str], str] = field(default_factory=dict, init=False)

    def push(self, plan: StoredPlan, *, seqs: Collection[int] | None = None) -> PushReport:
        """Apply ``plan``: enqueue (idempotent), check, send, record. Safe to call again.

        ``seqs`` enqueues only the changes at those positions of the plan (a reviewer's
        selection); what an earlier push enqueued is finished either way.
        """
        ops = expand(plan)
        if seqs is not None:
            chosen = frozenset(seqs)
            ops = [op for op in ops if op.seq in chosen]
        self.store.enqueue(plan.id, self.run_id, ops, self.clock())
        self.store.set_plan_status(plan.id, "applying")
        # applying a plan again retries what failed transiently before (429, 5xx, timeouts)
        retry = [
            OpOutcome(
                e.key,
                "pending",
                attempts_increment=0,
                result=e.result,
                reason="retried after a transient failure",
            )
            for e in self.store.outbox(plan.id, statuses=["failed"])
            if e.result.get("retriable")
        ]
        self._finish(retry)
        entries = self.store.outbox(plan.id, statuses=PENDING)
        by_kind: dict[str, list[OutboxEntry]] = defaultdict(list)
        for entry in entries:
            by_kind[entry.kind].append(entry)
        if by_kind["review"]:
            self._finish(
                [
                    OpOutcome(
                        e.key,
                        "held",
                        result={},
                        reason="pair needs a person's review (syncd review)",
                    )
                    for e in by_kind["review"]
                ]
            )
        self._merges(plan, by_kind["merge"])
        merged = _Merged.of(self.store.outbox(plan.id))
        self._updates(plan, by_kind["update"], merged)
        self._refresh(merged)
        self._tasks(plan, by_kind["create_task"])
        self._archives(plan, by_kind["archive"])
        return self._report(plan.id)

    def report(self, plan_id: str) -> PushReport:
        """What the outbox holds for ``plan_id`` now, as a report (the plan's status follows)."""
        return self._report(plan_id)

    # -- updates ----------------------------------------------------------------------------

    def _strategy(self, policy: str) -> ConflictStrategy:
        return self.settings.conflict_by_policy.get(policy, self.settings.conflict_strategy)

    def _updates(self, plan: StoredPlan, entries: Sequence[OutboxEntry], merged: _Merged) -> None:
        waiting = [o for e in entries if (o := merged.waiting(e)) is not None]
        self._finish(waiting)
        done = {o.key for o in waiting}
        by_type = _by_type([e for e in entries if e.key not in done])
        for object_type, group in by_type.items():
            fields = sorted({f for e in group for f in _fields(e)})
            current = self.writer.read(object_type, sorted({e.record_id for e in group}), fields)
            carried = merged.carried(self.store, self.source, object_type)
            outcomes: list[OpOutcome] = []
            to_send: list[tuple[OutboxEntry, dict[str, str | None], list[str]]] = []
            for entry in group:
                record = current.get(entry.record_id)
                survivor = merged.survivor.get((object_type, entry.record_id))
                if record is not None and record.id == survivor:
                    self._targets[(object_type, entry.record_id)] = survivor
                outcome, writes, notes = self._check_update(
                    plan, entry, record, carried.get(entry.record_id, {}), survivor
                )
                if outcome is not None:
                    outcomes.append(outcome)
                if writes:
                    to_send.append((entry, writes, notes))
            self._finish(outcomes)
            self._send_updates(plan, object_type, to_send)

    def _target(self, entry: OutboxEntry) -> str:
        """The id to write ``entry`` to: its record, or the new id a merge of this plan gave it."""
        return self._targets.get((entry.object_type, entry.record_id), entry.record_id)

    def _check_update(
        self,
        plan: StoredPlan,
        entry: OutboxEntry,
        record: Record | None,
        carried: Mapping[str, Sequence[str | None]],
        survivor: str | None,
    ) -> tuple[OpOutcome | None, dict[str, str | None], list[str]]:
        """Decide what of one update op to write: (final outcome or None, fields, notes).

        ``carried`` holds, per field, the values of the records this plan merged into the
        record (the CRM may carry them over); ``survivor`` the record's id after those merges.
        An op left ``sending`` by an interrupted push whose values the CRM holds was written
        by that push: it is applied with its audit entries (written again, with the record's
        other fields, when part of it is still missing).
        """
        if record is None:
            return (
                OpOutcome(
                    entry.key,
                    "skipped",
                    reason="record was deleted in the CRM since the plan was made",
                ),
                {},
                [],
            )
        if record.id not in (entry.record_id, survivor):
            return (
                OpOutcome(
                    entry.key,
                    "skipped",
                    reason=f"record was merged into {record.id} in the CRM since the plan was made",
                ),
                {},
                [],
            )
        strategy = self._strategy(str(entry.payload.get("policy", "")))
        writes: dict[str, str | None] = {}
        notes: list[str] = []
        held: list[str] = []
        landed: dict[str, str | None] = {}
        for name, values in _fields(entry).items():
            now_value = record.properties.get(name)
            if _same(now_value, values["new"]):
                if entry.status == "sending":
                    landed[name] = values["new"]
                continue  # already there: a resumed push, or a person made the same fix
            if any(_same(now_value, v) for v in (values["old"], *carried.get(name, ()))):
                writes[name] = values["new"]
                continue
            note = f"{name}: changed in the CRM since the plan ({values['old']!r} → {now_value!r})"
            if strategy == "syncd-wins":
                writes[name] = values["new"]
                notes.append(note + "; written anyway (syncd-wins)")
            elif strategy == "review":
                held.append(note)
            else:
                notes.append(note + "; kept the CRM's value (crm-wins)")
        if writes:
            return None, {**landed, **writes}, notes
        if held:
            return (
                OpOutcome(
                    entry.key,
                    "held",
                    result={"conflicts": held},
                    reason="; ".join(held) + "; held for review",
                ),
                {},
                [],
            )
        if notes and not landed:
            return (
                OpOutcome(
                    entry.key, "conflict", result={"conflicts": notes}, reason="; ".join(notes)
                ),
                {},
                [],
            )
        recovered = WriteResult(entry.key, ok=True, response={"recovered": True})
        return (
            OpOutcome(
                entry.key,
                "applied",
                result={"already": True, "conflicts": notes},
                reason="; ".join(notes) or "the CRM already holds the new value",
                audit=[
                    self._audit(
                        plan,
                        entry,
                        recovered,
                        kind="update",
                        record_id=entry.record_id,
                        field_name=name,
                        before=_fields(entry)[name]["old"],
                        after=value,
                    )
                    for name, value in landed.items()
                ],
            ),
            {},
            [],
        )

    def _send_updates(
        self,
        plan: StoredPlan,
        object_type: str,
        to_send: Sequence[tuple[OutboxEntry, dict[str, str | None], list[str]]],
    ) -> None:
        if not to_send:
            return
        # one write per record: HubSpot refuses a batch that names the same id twice
        per_record: dict[str, list[tuple[OutboxEntry, dict[str, str | None], list[str]]]] = (
            defaultdict(list)
        )
        for item in to_send:
            per_record[self._target(item[0])].append(item)
        writes = []
        for record_id, items in per_record.items():
            merged: dict[str, str | None] = {}
            for _, fields, _ in items:
                merged.update(fields)
            writes.append(FieldWrite(items[0][0].key, record_id, merged))
        self.store.mark_sending([e.key for e, _, _ in to_send], self.clock(), epoch=self.epoch)
        results = {r.key: r for r in self.writer.update(object_type, writes)}
        outcomes: list[OpOutcome] = []
        refused: list[list[tuple[OutboxEntry, dict[str, str | None], list[str]]]] = []
        for write in writes:
            result = results.get(write.key) or WriteResult(
                write.key, ok=False, error="no answer for this input"
            )
            items = per_record[write.record_id]
            if not result.ok and not result.retriable and len(items) > 1:
                refused.append(items)  # one bad value must not sink the record's other fields
                continue
            outcomes.extend(self._update_outcome(plan, e, f, n, result) for e, f, n in items)
        self._finish(outcomes)
        self._resend_refused(plan, object_type, refused, results)

    def _resend_refused(
        self,
        plan: StoredPlan,
        object_type: str,
        refused: Sequence[Sequence[tuple[OutboxEntry, dict[str, str | None], list[str]]]],
        results: Mapping[str, WriteResult],
    ) -> None:
        """Write refused records again without the values the CRM refused.

        When the CRM names the refused properties, the record's other operations go again in
        one write (one more batch call for up to 100 refused records); when it does not, each
        operation goes alone, one round per operation.
        """
        rounds: list[list[tuple[OutboxEntry, dict[str, str | None], list[str]]]] = []
        outcomes: list[OpOutcome] = []
        for items in refused:
            first = items[0][0].key
            result = results.get(first) or WriteResult(first, ok=False, error="no answer")
            culprits = _culprits(result)
            if culprits is None:
                for index, item in enumerate(items):
                    if index == len(rounds):
                        rounds.append([])
                    rounds[index].append(item)
                continue
            bad = [item for item in items if culprits & item[1].keys()]
            good = [item for item in items if not culprits & item[1].keys()]
            outcomes.extend(self._update_outcome(plan, e, f, n, result) for e, f, n in bad)
            if good:
                if not rounds:
                    rounds.append([])
                rounds[0].extend(good)
        self._finish(outcomes)
        for batch in rounds:
            writes: dict[str, dict[str, str | None]] = defaultdict(dict)
            keys: dict[str, str] = {}
            for entry, fields, _ in batch:
                writes[self._target(entry)].update(fields)
                keys.setdefault(self._target(entry), entry.key)
            answers = {
                r.key: r
                for r in self.writer.update(
                    object_type, [FieldWrite(keys[rid], rid, f) for rid, f in writes.items()]
                )
            }
            self._finish(
                [
                    self._update_outcome(
                        plan,
                        e,
                        f,
                        n,
                        answers.get(keys[self._target(e)])
                        or WriteResult(e.key, ok=False, error="no answer for this input"),
                    )
                    for e, f, n in batch
                ]
            )

    def _update_outcome(
        self,
        plan: StoredPlan,
        entry: OutboxEntry,
        fields: Mapping[str, str | None],
        notes: Sequence[str],
        result: WriteResult,
    ) -> OpOutcome:
        if not result.ok:
            return self._failed(entry, result)
        planned = _fields(entry)
        audit = [
            self._audit(
                plan,
                entry,
                result,
                kind="update",
                record_id=self._target(entry),
                field_name=name,
                before=planned[name]["old"],
                after=value,
            )
            for name, value in fields.items()
        ]
        return OpOutcome(
            entry.key,
            "applied",
            result={"response": dict(result.response), "conflicts": list(notes)},
            reason="; ".join(notes) or None,
            audit=audit,
        )

    def _failed(self, entry: OutboxEntry, result: WriteResult) -> OpOutcome:
        # a retriable failure that outlived its tries stays failed for this run; applying the
        # same plan again (syncd apply PLAN_ID) retries it, see push()
        kind = None if result.error_kind is None else str(result.error_kind)
        if result.error_kind is WriteErrorKind.MERGED and entry.kind == "update":
            # hs10: the CRM did not apply a write to a record merged away (HubSpot answers it
            # with silence); its survivor's values are not the plan's baseline: skip, say so
            return OpOutcome(
                entry.key,
                "skipped",
                result={"response": dict(result.response), "error_kind": kind},
                reason=f"record was merged into {result.remote_id or 'another'} in the CRM "
                f"since the plan was made; not applied ({result.error})",
            )
        if result.error_kind is WriteErrorKind.DUPLICATE_VALUE:
            # e.g. a normalized e-mail that another record already holds: nothing to retry,
            # nothing lost; the two records are likely duplicates for a person to look at
            return OpOutcome(
                entry.key,
                "skipped",
                result={"response": dict(result.response), "error_kind": kind},
                reason=f"the CRM refused it as a duplicate value: {result.error} "
                "(likely a duplicate record; review it)",
            )
        return OpOutcome(
            entry.key,
            "failed",
            result={
                "response": dict(result.response),
                "retriable": result.retriable,
                "error_kind": kind,
            },
            reason=result.error or "the CRM refused the write",
        )

    # -- merges -----------------------------------------------------------------------------

    def _merges(self, plan: StoredPlan, entries: Sequence[OutboxEntry]) -> None:
        # one batch read (per 100 records) of every participant before any merge: clusters are
        # disjoint, so a merge never changes another pair's records.
        # hs10: a cluster is merged step by step, each step into the survivor the step before
        # answered (``heads``: plan-time primary -> its survivor so far; the outbox holds the
        # steps an earlier push applied), since the survivor may be a new record with a new id.
        heads = dict(_Merged.of(self.store.outbox(plan.id)).survivor)
        by_type = _by_type(entries)
        for object_type, group in by_type.items():
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
            current = self.writer.read(object_type, ids, MATCH_FIELDS)
            for entry in group:
                merged_id = str(entry.payload["merged_id"])
                head = (object_type, entry.record_id)
                into = heads.get(head, entry.record_id)
                self.store.mark_sending([entry.key], self.clock(), epoch=self.epoch)
                outcome = self._merge_one(plan, entry, merged_id, current, into=into)
                self._finish([outcome])
                if outcome.status == "applied":
                    heads[head] = str(outcome.result.get("survivor") or into)

    def _merge_one(
        self,
        plan: StoredPlan,
        entry: OutboxEntry,
        merged_id: str,
        current: Mapping[str, Record | None],
        *,
        into: str,
    ) -> OpOutcome:
        """One merge of ``merged_id`` into ``into``: the plan's primary, or (a later step of a
        cluster) the survivor of its earlier merges, which ``current`` may not hold (made by
        this push, after the read)."""
        primary_id = entry.record_id
        stepping = into != primary_id
        primary, absorbed = current.get(into), current.get(merged_id)
        if absorbed is not None and (
            absorbed.id == into or (primary is not None and absorbed.id == primary.id)
        ):
            # both ids stand for one record: an interrupted push of ours merged them (it left
            # the op sending), or someone else did; audit it when it was ours
            landed = WriteResult(entry.key, ok=True, response={"recovered": True})
            return OpOutcome(
                entry.key,
                "applied",
                result={"already": True, "survivor": absorbed.id},
                reason=f"{merged_id} already merged into {absorbed.id}",
                audit=[
                    self._audit(
                        plan,
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
        baseline = self.store.get_records(self.source, entry.object_type, [primary_id, merged_id])
        planned = _planned_values(plan)
        # a later step's primary is the survivor syncd made: only the plan's own records compare
        compared = [(merged_id, absorbed)]
        if not stepping and primary is not None:
            compared.insert(0, (primary_id, primary))
        changed = [
            f"{rid}.{name}"
            for rid, record in compared
            if rid in baseline
            for name in MATCH_FIELDS
            if name in record.properties
            and not any(
                _same(record.properties.get(name), expected)
                for expected in (
                    baseline[rid].properties.get(name),
                    *planned.get((entry.object_type, rid, name), ()),
                )
            )
        ]
        if changed:
            return OpOutcome(
                entry.key,
                "held",
                result={"changed": changed},
                reason="matching fields changed in the CRM since the plan ("
                + ", ".join(changed)
                + "); held for review",
            )
        result = self.writer.merge(entry.object_type, into, merged_id, entry.key)
        if not result.ok:
            return self._failed(entry, result)
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
            self._audit(
                plan,
                entry,
                result,
                kind="merge",
                record_id=primary_id,
                before=merged_id,
                after=survivor,
            )
        ]
        return OpOutcome(entry.key, "applied", result={"survivor": survivor}, audit=audit)

    def _refresh(self, merged: _Merged) -> None:
        """Read the survivors of the merges this plan applied again, with their associations,
        and store them; mark the records they absorbed merged into them.

        The properties and associations read are those the store holds for the records, so a
        refreshed survivor looks like a pulled one. Repeated on every push of the plan: storing
        the same record again changes nothing.
        """
        by_type: dict[str, dict[str, Sequence[str]]] = defaultdict(dict)
        for (object_type, primary_id), absorbed in merged.absorbed.items():
            by_type[object_type][primary_id] = absorbed
        for object_type, clusters in by_type.items():
            ids = [i for primary, gone in clusters.items() for i in (primary, *gone)]
            stored = self.store.get_records(self.source, object_type, ids)
            current = self.writer.read(
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
            self.store.refresh_records(self.source, records)

    # -- tasks ------------------------------------------------------------------------------

    def _tasks(self, plan: StoredPlan, entries: Sequence[OutboxEntry]) -> None:
        by_type = _by_type(entries)
        for object_type, group in by_type.items():
            # hs10: a task goes to its record as the CRM has it now: the survivor of a merge
            # (this plan's or one made since), which may have a new id; a record deleted since
            # gets none
            live = self.writer.read(object_type, sorted({e.record_id for e in group}), ())
            outcomes: list[OpOutcome] = [
                OpOutcome(
                    e.key,
                    "skipped",
                    reason="record was deleted in the CRM since the plan was made",
                )
                for e in group
                if live.get(e.record_id) is None
            ]
            targets = {
                e.key: found.id for e in group if (found := live.get(e.record_id)) is not None
            }
            existing = self.writer.find_tasks(object_type, sorted(set(targets.values())))
            writes: list[TaskWrite] = []
            planned: dict[str, OutboxEntry] = {}
            for entry in (e for e in group if e.key in targets):
                target = targets[entry.key]
                tasks = existing.get(target, [])
                mine = [t for t in tasks if self.writer.is_task_of(t, entry.key)]
                open_ = [t for t in tasks if t.properties.get("status") != TASK_COMPLETED]
                if mine:  # created by an interrupted push: its marker proves it, audit it now
                    landed = WriteResult(
                        entry.key, ok=True, remote_id=mine[0].id, response={"recovered": True}
                    )
                    outcomes.append(
                        OpOutcome(
                            entry.key,
                            "applied",
                            result={"task_id": mine[0].id, "already": True},
                            reason="task already created by an earlier attempt",
                            audit=[
                                self._audit(
                                    plan,
                                    entry,
                                    landed,
                                    kind="create_task",
                                    record_id=target,
                                    after=mine[0].id,
                                )
                            ],
                        )
                    )
                elif open_ or target in planned:
                    outcomes.append(
                        OpOutcome(
                            entry.key,
                            "skipped",
                            reason="the record already "
                            "has an open task" + (f" ({open_[0].id})" if open_ else ""),
                        )
                    )
                else:
                    planned[target] = entry
                    writes.append(_task_write(entry, target))
            self._finish(outcomes)
            if not writes:
                continue
            self.store.mark_sending([w.key for w in writes], self.clock(), epoch=self.epoch)
            results = {r.key: r for r in self.writer.create_tasks(writes)}
            done = []
            for write in writes:
                entry = planned[write.record_id]
                result = results.get(write.key) or WriteResult(
                    write.key, ok=False, error="no answer for this input"
                )
                if not result.ok:
                    done.append(self._failed(entry, result))
                    continue
                audit = [
                    self._audit(
                        plan,
                        entry,
                        result,
                        kind="create_task",
                        record_id=write.record_id,
                        after=result.remote_id,
                    )
                ]
                done.append(
                    OpOutcome(
                        entry.key, "applied", result={"task_id": result.remote_id}, audit=audit
                    )
                )
            self._finish(done)

    # -- archives ---------------------------------------------------------------------------

    def _archives(self, plan: StoredPlan, entries: Sequence[OutboxEntry]) -> None:
        by_type = _by_type(entries)
        for object_type, group in by_type.items():
            current = self.writer.read(object_type, [e.record_id for e in group], ())
            gone = [e for e in group if current.get(e.record_id) is None]
            self._finish(
                [
                    OpOutcome(
                        e.key,
                        "applied",
                        result={"already": True},
                        reason="already archived or deleted in the CRM",
                    )
                    for e in gone
                ]
            )
            live = [e for e in group if current.get(e.record_id) is not None]
            if not live:
                continue
            self.store.mark_sending([e.key for e in live], self.clock(), epoch=self.epoch)
            results = self.writer.archive(
                object_type, [e.record_id for e in live], [e.key for e in live]
            )
            outcomes = []
            for entry, result in zip(live, results, strict=True):
                if not result.ok:
                    outcomes.append(self._failed(entry, result))
                    continue
                audit = [
                    self._audit(
                        plan,
                        entry,
                        result,
                        kind="archive",
                        record_id=entry.record_id,
                        field_name=None,
                        before=None,
                        after=None,
                    )
                ]
                outcomes.append(OpOutcome(entry.key, "applied", audit=audit))
            self._finish(outcomes)

    # -- bookkeeping ------------------------------------------------------------------------

    def _audit(
        self,
        plan: StoredPlan,
        entry: OutboxEntry,
        result: WriteResult,
        *,
        kind: str,
        record_id: str,
        field_name: str | None = None,
        before: str | None = None,
        after: str | None = None,
    ) -> AuditRecord:
        """The audit entry of one applied operation, with the CRM's answer; when the write went
        to another record than the plan named (a merge's survivor), the answer keeps the
        planned id too (``planned_record_id``): the audit keeps old and new ids."""
        response = dict(result.response)
        if record_id != entry.record_id:
            response["planned_record_id"] = entry.record_id
        return AuditRecord(
            self.run_id,
            plan.id,
            entry.key,
            self.source,
            str(entry.payload.get("policy", "")),
            kind,
            entry.object_type,
            record_id,
            field_name,
            before,
            after,
            self.clock(),
            response,
        )

    def _finish(self, outcomes: Sequence[OpOutcome]) -> None:
        if outcomes:
            self.store.record_results(outcomes, self.clock(), epoch=self.epoch)
            _log_outcomes(outcomes)

    def _report(self, plan_id: str) -> PushReport:
        report = PushReport(plan_id)
        for entry in self.store.outbox(plan_id):
            report.statuses[entry.status] = report.statuses.get(entry.status, 0) + 1
            where = f"{entry.object_type} {entry.record_id} ({entry.kind})"
            if entry.status == "conflict":
                report.conflicts.append(f"{where}: {entry.reason}")
            elif entry.status == "failed":
                report.failures.append(f"{where}: {entry.reason}")
            elif entry.status == "held":
                report.held.append(f"{where}: {entry.reason}")
            elif entry.status == "skipped":
                report.skipped.append(f"{where}: {entry.reason}")
        status = "applied" if report.complete else "partial"
        if report.statuses.get("held") and report.complete:
            status = "applied"
        self.store.set_plan_status(plan_id, status)
        calls = getattr(self.writer, "calls", None)
        if isinstance(calls, Mapping):
            report.calls = {str(k): int(v) for k, v in calls.items()}
        return report


def _log_outcomes(outcomes: Sequence[OpOutcome]) -> None:
    """One line per batch of outcomes with its counts, and one per conflict, skip, hold or
    failure with its reason (the key names plan, change and operation)."""
    counts: dict[str, int] = defaultdict(int)
    for outcome in outcomes:
        counts[outcome.status] += 1
        if outcome.status == "applied":
            continue
        log.info(outcome.status, key=outcome.key, reason=outcome.reason)
    log.info("recorded", **counts)


def _culprits(result: WriteResult) -> set[str] | None:
    """The canonical fields the CRM refused in a failed write, when the connector says which
    (an invalid or duplicate value); else None."""
    return set(result.fields) or None


def _by_type(entries: Sequence[OutboxEntry]) -> dict[str, list[OutboxEntry]]:
    by_type: dict[str, list[OutboxEntry]] = defaultdict(list)
    for entry in entries:
        by_type[entry.object_type].append(entry)
    return by_type


def _planned_values(plan: StoredPlan) -> dict[tuple[str, str, str], list[str | None]]:
    """Values this plan itself writes, per (object type, record, field): not a person's edit."""
    values: dict[tuple[str, str, str], list[str | None]] = defaultdict(list)
    for change in plan.changes:
        if isinstance(change, Update):
            values[(change.object_type, change.record_id, change.field)].append(change.new)
        elif isinstance(change, Merge) and change.kind == "merge":
            for name, value in change.field_values.items():
                values[(change.object_type, change.primary_id, name)].append(value)
    return values


def _fields(entry: OutboxEntry) -> dict[str, dict[str, str | None]]:
    raw = entry.payload.get("fields")
    assert isinstance(raw, dict)
    return {str(k): {"old": v.get("old"), "new": v.get("new")} for k, v in raw.items()}


def _task_write(entry: OutboxEntry, record_id: str) -> TaskWrite:
    due = datetime.fromisoformat(str(entry.payload["due"]))
    if due.tzinfo is None:
        due = datetime.combine(due.date(), time(15, 0), tzinfo=UTC)
    owner = entry.payload.get("owner_id")
    return TaskWrite(
        entry.key,
        entry.object_type,
        record_id,
        str(entry.payload.get("subject", "")),
        str(entry.payload.get("body") or ""),
        None if owner is None else str(owner),
        due,
    )


@dataclass(frozen=True, slots=True)
class _Merged:
    """What the merges of one plan came to, read from its outbox after the merge step.

    ``changes`` maps a merge change's ``seq`` to its merge operations; ``absorbed`` maps
    (object type, primary id) to the ids merged into it that applied; ``survivor`` maps the
    primary to the id the CRM answered for the merged record.
    """

    changes: Mapping[int, Sequence[OutboxEntry]]
    absorbed: Mapping[tuple[str, str], Sequence[str]]
    survivor: Mapping[tuple[str, str], str]

    @classmethod
    def of(cls, outbox: Sequence[OutboxEntry]) -> _Merged:
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

    def carried(
        self, store: StateStore, source: str, object_type: str
    ) -> dict[str, dict[str, list[str | None]]]:
        """Per primary id of ``object_type`` and field, the values its absorbed records had
        when the plan was made (their stored baselines)."""
        clusters = {p: ids for (t, p), ids in self.absorbed.items() if t == object_type}
        if not clusters:
            return {}
        stored = store.get_records(
            source, object_type, [i for ids in clusters.values() for i in ids]
        )
        found: dict[str, dict[str, list[str | None]]] = {}
        for primary_id, ids in clusters.items():
            values: dict[str, list[str | None]] = defaultdict(list)
            for record in (stored[i] for i in ids if i in stored):
                for name, value in record.properties.items():
                    values[name].append(value)
            found[primary_id] = values
        return found
