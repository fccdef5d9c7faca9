"""What a push records: the outbox statuses of its operations and the audit entry of every
applied write, under the run's lease on the source.

:class:`Ledger` is the push's one way into the state store. Its writes (:meth:`Ledger.sending`
before a write goes out, :meth:`Ledger.finish` with outcomes and their audit entries after) carry
the lease's epoch, so the store refuses them once another command took the source over.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from model.records import Record
from model.writes import WriteErrorKind, WriteResult
from state.base import AuditRecord, OpOutcome, OutboxEntry, OutboxOp, StateStore
from syncd.logging import get_logger

log = get_logger(__name__)
Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Ledger:
    """The state store as one push of one plan sees it."""

    store: StateStore
    clock: Clock
    source: str
    run_id: str
    plan_id: str
    epoch: int  # of the run's lease on the source: the store refuses writes once it is lost

    def enqueue(self, ops: Sequence[OutboxOp]) -> None:
        """Add the plan's operations to the outbox (what is there already stays as it is)."""
        self.store.enqueue(self.plan_id, self.run_id, ops, self.clock())

    def outbox(self, statuses: Sequence[str] | None = None) -> list[OutboxEntry]:
        """The plan's operations in plan order, optionally only those with ``statuses``."""
        return self.store.outbox(self.plan_id, statuses=statuses)

    def set_status(self, status: str) -> None:
        """Move the plan to ``status``."""
        self.store.set_plan_status(self.plan_id, status)

    def baselines(self, object_type: str, ids: Iterable[str]) -> dict[str, Record]:
        """The stored records (as last pulled) of ``ids``; unknown ids absent."""
        return self.store.get_records(self.source, object_type, ids)

    def refresh(self, records: Sequence[Record]) -> None:
        """Store records as the push left them in the CRM (see ``refresh_records``)."""
        self.store.refresh_records(self.source, records)

    def sending(self, keys: Sequence[str]) -> None:
        """Mark operations ``sending``, just before their write goes out."""
        self.store.mark_sending(keys, self.clock(), epoch=self.epoch)

    def finish(self, outcomes: Sequence[OpOutcome]) -> None:
        """Record outcomes with their audit entries in one transaction, and log them."""
        if outcomes:
            self.store.record_results(outcomes, self.clock(), epoch=self.epoch)
            _log_outcomes(outcomes)

    def audit(
        self,
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
            self.plan_id,
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


def failed(entry: OutboxEntry, result: WriteResult) -> OpOutcome:
    """The outcome of a write the CRM refused.

    An update of a record the CRM merged away since the plan is skipped (its survivor's values
    are not the plan's baseline). A value the CRM refuses as a duplicate (a normalized e-mail
    another record holds) is skipped: nothing to retry, nothing lost, the two records likely
    duplicates for a person.
    Anything else failed; a retriable failure that outlived its tries stays failed for this run,
    and applying the same plan again retries it.
    """
    kind = None if result.error_kind is None else str(result.error_kind)
    if result.error_kind is WriteErrorKind.MERGED and entry.kind == "update":
        # the CRM did not apply a write to a record merged away (HubSpot answers it with
        # silence); its survivor's values are not the plan's baseline: skip, say so
        return OpOutcome(
            entry.key,
            "skipped",
            result={"response": dict(result.response), "error_kind": kind},
            reason=f"record was merged into {result.remote_id or 'another'} in the CRM "
            f"since the plan was made; not applied ({result.error})",
        )
    if result.error_kind is WriteErrorKind.NOT_MERGEABLE:
        return OpOutcome(
            entry.key,
            "skipped",
            result={"response": dict(result.response), "error_kind": kind},
            reason=f"the CRM does not merge these records: {result.error}",
        )
    if result.error_kind is WriteErrorKind.DUPLICATE_VALUE:
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


def answer(results: Mapping[str, WriteResult], key: str) -> WriteResult:
    """The CRM's answer to the write keyed ``key`` of a batch, a failure when it gave none."""
    return results.get(key) or WriteResult(key, ok=False, error="no answer for this input")


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
