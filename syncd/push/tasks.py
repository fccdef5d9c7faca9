"""Sending follow-up tasks: each created once, even across a lost answer or a crash.

Per object type, one read of the records first: a task goes to its record as the CRM has it at push
time (the survivor of a merge, this plan's or one made since, which may have a new id); a record
deleted since gets none. Then one look-up of those records' tasks. A task carrying the op's marker
was created by an interrupted push: the op is applied with its audit entry, nothing sent. A record
that has an open task already (a person's, or one this push creates for another op) gets none. The
rest go out in one batch create.
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.base import Writer
from model.fields import TASK_COMPLETED
from model.writes import TaskWrite, WriteResult
from state.base import AuditRecord, OpOutcome, OutboxEntry
from syncd.push.audit import Ledger, answer, failed
from syncd.push.batches import by_type
from syncd.push.outbox import task_write


def send_tasks(ledger: Ledger, writer: Writer, entries: Sequence[OutboxEntry]) -> None:
    """Check and send the ``create_task`` ops ``entries``, recording every outcome."""
    for object_type, group in by_type(entries).items():
        # a task goes to its record as the CRM has it now: the survivor of a merge (this
        # plan's or one made since), which may have a new id; a record deleted since gets none
        live = writer.read(object_type, sorted({e.record_id for e in group}), ())
        outcomes: list[OpOutcome] = [
            OpOutcome(
                e.key,
                "skipped",
                reason="record was deleted in the CRM since the plan was made",
            )
            for e in group
            if live.get(e.record_id) is None
        ]
        targets = {e.key: found.id for e in group if (found := live.get(e.record_id)) is not None}
        existing = writer.find_tasks(object_type, sorted(set(targets.values())))
        writes: list[TaskWrite] = []
        planned: dict[str, OutboxEntry] = {}
        for entry in (e for e in group if e.key in targets):
            target = targets[entry.key]
            tasks = existing.get(target, [])
            mine = [t for t in tasks if writer.is_task_of(t, entry.key)]
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
                        audit=[_audit(ledger, entry, landed, target, mine[0].id)],
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
                writes.append(task_write(entry, target))
        ledger.finish(outcomes)
        if not writes:
            continue
        ledger.sending([w.key for w in writes])
        results = {r.key: r for r in writer.create_tasks(writes)}
        done = []
        for write in writes:
            entry = planned[write.record_id]
            result = answer(results, write.key)
            if not result.ok:
                done.append(failed(entry, result))
                continue
            done.append(
                OpOutcome(
                    entry.key,
                    "applied",
                    result={"task_id": result.remote_id},
                    audit=[_audit(ledger, entry, result, write.record_id, result.remote_id)],
                )
            )
        ledger.finish(done)


def _audit(
    ledger: Ledger, entry: OutboxEntry, result: WriteResult, record_id: str, task_id: str | None
) -> AuditRecord:
    return ledger.audit(entry, result, kind="create_task", record_id=record_id, after=task_id)
