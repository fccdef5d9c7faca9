"""The push of one plan, step by step (see :mod:`syncd.push` for the rules)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from connectors.base import Writer
from state.base import OUTBOX_UNFINISHED, OpOutcome, OutboxEntry, StateStore, StoredPlan
from syncd.config import ApplyConfig
from syncd.push.archives import send_archives
from syncd.push.audit import Clock, Ledger
from syncd.push.merges import Merged, refresh, send_merges
from syncd.push.outbox import expand
from syncd.push.report import PushReport, summarize
from syncd.push.tasks import send_tasks
from syncd.push.updates import Updates


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

    def push(self, plan: StoredPlan, *, seqs: Collection[int] | None = None) -> PushReport:
        """Apply ``plan``: enqueue (idempotent), check, send, record. Safe to call again.

        ``seqs`` enqueues only the changes at those positions of the plan (a reviewer's
        selection); what an earlier push enqueued is finished either way.
        """
        ledger = self._ledger(plan.id)
        ops = expand(plan)
        if seqs is not None:
            chosen = frozenset(seqs)
            ops = [op for op in ops if op.seq in chosen]
        ledger.enqueue(ops)
        ledger.set_status("applying")
        # applying a plan again retries what failed transiently before (429, 5xx, timeouts)
        retry = [
            OpOutcome(
                e.key,
                "pending",
                attempts_increment=0,
                result=e.result,
                reason="retried after a transient failure",
            )
            for e in ledger.outbox(statuses=["failed"])
            if e.result.get("retriable")
        ]
        ledger.finish(retry)
        by_kind: dict[str, list[OutboxEntry]] = defaultdict(list)
        for entry in ledger.outbox(statuses=OUTBOX_UNFINISHED):
            by_kind[entry.kind].append(entry)
        ledger.finish(
            [
                OpOutcome(
                    e.key, "held", result={}, reason="pair needs a person's review (syncd review)"
                )
                for e in by_kind["review"]
            ]
        )
        send_merges(ledger, self.writer, plan, by_kind["merge"])
        merged = Merged.of(ledger.outbox())
        Updates(ledger, self.writer, self.settings, merged).send(by_kind["update"])
        refresh(ledger, self.writer, merged)
        send_tasks(ledger, self.writer, by_kind["create_task"])
        send_archives(ledger, self.writer, by_kind["archive"])
        return self.report(plan.id)

    def report(self, plan_id: str) -> PushReport:
        """What the outbox holds for ``plan_id`` now, as a report (the plan's status follows)."""
        ledger = self._ledger(plan_id)
        report = summarize(plan_id, ledger.outbox(), getattr(self.writer, "calls", None))
        ledger.set_status(report.plan_status)
        return report

    def _ledger(self, plan_id: str) -> Ledger:
        return Ledger(self.store, self.clock, self.source, self.run_id, plan_id, self.epoch)
