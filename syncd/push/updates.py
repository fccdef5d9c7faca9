"""Sending field updates: the plan's updates and the survivor values of its merges.

Per object type: one batch read of the records' current values, the conflict decision per op
(:mod:`syncd.push.conflicts`), one write per record (:mod:`syncd.push.batches`), and the
records the CRM refused for a value written again without it. A record deleted or merged away
since the plan is skipped; one this plan merged is written under the id the CRM gave the
survivor. A merge's survivor values wait for its merges: they are written only when every merge
of it applied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from connectors.base import Writer
from model.records import Record
from model.writes import WriteResult
from state.base import AuditRecord, OpOutcome, OutboxEntry
from syncd.config import ApplyConfig, ConflictStrategy
from syncd.push.audit import Ledger, answer, failed
from syncd.push.batches import ToWrite, by_type, per_record, split_refused
from syncd.push.conflicts import decide
from syncd.push.merges import Merged
from syncd.push.outbox import fields_of


@dataclass
class Updates:
    """Sends the ``update`` ops of one push."""

    ledger: Ledger
    writer: Writer
    settings: ApplyConfig
    merged: Merged
    #: (object type, planned id) -> the id a merge of this plan gave the record (a new one)
    _targets: dict[tuple[str, str], str] = field(default_factory=dict, init=False)

    def send(self, entries: Sequence[OutboxEntry]) -> None:
        """Check and send ``entries``, recording every outcome."""
        waiting = [o for e in entries if (o := self.merged.waiting(e)) is not None]
        self.ledger.finish(waiting)
        done = {o.key for o in waiting}
        for object_type, group in by_type([e for e in entries if e.key not in done]).items():
            fields = sorted({f for e in group for f in fields_of(e)})
            current = self.writer.read(object_type, sorted({e.record_id for e in group}), fields)
            carried = self.merged.carried(self.ledger, object_type)
            outcomes: list[OpOutcome] = []
            to_send: list[ToWrite] = []
            for entry in group:
                record = current.get(entry.record_id)
                survivor = self.merged.survivor.get((object_type, entry.record_id))
                if record is not None and record.id == survivor:
                    self._targets[(object_type, entry.record_id)] = survivor
                checked = self._check(entry, record, carried.get(entry.record_id, {}), survivor)
                if isinstance(checked, ToWrite):
                    to_send.append(checked)
                else:
                    outcomes.append(checked)
            self.ledger.finish(outcomes)
            self._write(object_type, to_send)

    def _strategy(self, policy: str) -> ConflictStrategy:
        return self.settings.conflict_by_policy.get(policy, self.settings.conflict_strategy)

    def _target(self, entry: OutboxEntry) -> str:
        """The id to write ``entry`` to: its record, or the new id a merge of this plan gave it."""
        return self._targets.get((entry.object_type, entry.record_id), entry.record_id)

    def _check(
        self,
        entry: OutboxEntry,
        record: Record | None,
        carried: Mapping[str, Sequence[str | None]],
        survivor: str | None,
    ) -> ToWrite | OpOutcome:
        """What to write of one op, or its final outcome when nothing is to be written.

        ``carried`` holds, per field, the values of the records this plan merged into the
        record (the CRM may carry them over); ``survivor`` the record's id after those merges.
        An op left ``sending`` by an interrupted push whose values the CRM holds was written
        by that push: it is applied with its audit entries (written again, with the record's
        other fields, when part of it is still missing).
        """
        if record is None:
            return OpOutcome(
                entry.key, "skipped", reason="record was deleted in the CRM since the plan was made"
            )
        if record.id not in (entry.record_id, survivor):
            return OpOutcome(
                entry.key,
                "skipped",
                reason=f"record was merged into {record.id} in the CRM since the plan was made",
            )
        decision = decide(
            fields_of(entry),
            record.properties,
            carried,
            self._strategy(str(entry.payload.get("policy", ""))),
            resumed=entry.status == "sending",
        )
        notes = decision.notes
        if decision.writes:
            return ToWrite(entry, {**decision.landed, **decision.writes}, notes)
        if decision.held:
            return OpOutcome(
                entry.key,
                "held",
                result={"conflicts": decision.held},
                reason="; ".join(decision.held) + "; held for review",
            )
        if notes and not decision.landed:
            return OpOutcome(
                entry.key, "conflict", result={"conflicts": notes}, reason="; ".join(notes)
            )
        recovered = WriteResult(entry.key, ok=True, response={"recovered": True})
        return OpOutcome(
            entry.key,
            "applied",
            result={"already": True, "conflicts": notes},
            reason="; ".join(notes) or "the CRM already holds the new value",
            audit=self._audits(entry, decision.landed, recovered, record_id=entry.record_id),
        )

    def _write(self, object_type: str, to_send: Sequence[ToWrite]) -> None:
        if not to_send:
            return
        grouped, writes = per_record(to_send, self._target)
        self.ledger.sending([item.entry.key for item in to_send])
        results = {r.key: r for r in self.writer.update(object_type, writes)}
        outcomes: list[OpOutcome] = []
        refused: list[tuple[list[ToWrite], WriteResult]] = []
        for write in writes:
            result = answer(results, write.key)
            items = grouped[write.record_id]
            if not result.ok and not result.retriable and len(items) > 1:
                refused.append((items, result))  # one bad value must not sink the record's others
                continue
            outcomes.extend(self._outcome(item, result) for item in items)
        self.ledger.finish(outcomes)
        self._write_refused(object_type, refused)

    def _write_refused(
        self, object_type: str, refused: Sequence[tuple[list[ToWrite], WriteResult]]
    ) -> None:
        """Write refused records again without the values the CRM refused, in the rounds of
        :func:`~syncd.push.batches.split_refused` (one more batch call per round)."""
        bad, rounds = split_refused(refused)
        self.ledger.finish([self._outcome(item, result) for item, result in bad])
        for batch in rounds:
            grouped, writes = per_record(batch, self._target)
            answers = {r.key: r for r in self.writer.update(object_type, writes)}
            first = {record_id: group[0].entry.key for record_id, group in grouped.items()}
            self.ledger.finish(
                [
                    self._outcome(item, answer(answers, first[self._target(item.entry)]))
                    for item in batch
                ]
            )

    def _outcome(self, item: ToWrite, result: WriteResult) -> OpOutcome:
        if not result.ok:
            return failed(item.entry, result)
        return OpOutcome(
            item.entry.key,
            "applied",
            result={"response": dict(result.response), "conflicts": list(item.notes)},
            reason="; ".join(item.notes) or None,
            audit=self._audits(item.entry, item.fields, result, record_id=self._target(item.entry)),
        )

    def _audits(
        self,
        entry: OutboxEntry,
        written: Mapping[str, str | None],
        result: WriteResult,
        *,
        record_id: str,
    ) -> list[AuditRecord]:
        """The audit entries of the fields ``written`` by one op, before as planned."""
        planned = fields_of(entry)
        return [
            self.ledger.audit(
                entry,
                result,
                kind="update",
                record_id=record_id,
                field_name=name,
                before=planned[name]["old"],
                after=value,
            )
            for name, value in written.items()
        ]
