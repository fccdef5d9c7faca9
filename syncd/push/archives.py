"""Sending archives: one batch read, then one batch archive of the records still live (a record
already archived or deleted in the CRM counts as archived)."""

from __future__ import annotations

from collections.abc import Sequence

from connectors.base import Writer
from state.base import OpOutcome, OutboxEntry
from syncd.push.audit import Ledger, failed
from syncd.push.batches import by_type


def send_archives(ledger: Ledger, writer: Writer, entries: Sequence[OutboxEntry]) -> None:
    """Check and send the ``archive`` ops ``entries``, recording every outcome."""
    for object_type, group in by_type(entries).items():
        current = writer.read(object_type, [e.record_id for e in group], ())
        gone = [e for e in group if current.get(e.record_id) is None]
        ledger.finish(
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
        ledger.sending([e.key for e in live])
        results = writer.archive(object_type, [e.record_id for e in live], [e.key for e in live])
        outcomes = []
        for entry, result in zip(live, results, strict=True):
            if not result.ok:
                outcomes.append(failed(entry, result))
                continue
            audit = ledger.audit(entry, result, kind="archive", record_id=entry.record_id)
            outcomes.append(OpOutcome(entry.key, "applied", audit=[audit]))
        ledger.finish(outcomes)
