"""What a push did, read from the plan's outbox, and the status the plan moves to."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from state.base import OUTBOX_UNFINISHED, OutboxEntry


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
        return not self.failures and not any(self.statuses.get(s) for s in OUTBOX_UNFINISHED)

    @property
    def plan_status(self) -> str:
        """``applied`` when complete (pairs held for review included), else ``partial``."""
        return "applied" if self.complete else "partial"


def summarize(plan_id: str, outbox: Sequence[OutboxEntry], calls: object = None) -> PushReport:
    """The report of a plan's ``outbox``: counts per status, a line per op that is not applied
    (``object_type record_id (kind): reason``), and the writer's ``calls`` when it counts them
    (a mapping of endpoint to count)."""
    report = PushReport(plan_id)
    lines = {
        "conflict": report.conflicts,
        "failed": report.failures,
        "held": report.held,
        "skipped": report.skipped,
    }
    for entry in outbox:
        report.statuses[entry.status] = report.statuses.get(entry.status, 0) + 1
        if entry.status in lines:
            where = f"{entry.object_type} {entry.record_id} ({entry.kind})"
            lines[entry.status].append(f"{where}: {entry.reason}")
    if isinstance(calls, Mapping):
        report.calls = {str(k): int(v) for k, v in calls.items()}
    return report
