"""What the engine tells an observer after each run (the service's metrics and alerts).

The engine calls ``observer(summary)`` once a run is recorded, whatever its outcome; an
observer that raises is logged and changes nothing of the run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from connectors.base import ApiUsage
from syncd.fence import RunInterruptedError

#: Push statuses that count as an operation attempted (for the failed share).
ATTEMPTED = ("applied", "failed", "skipped", "conflict")


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One finished run, in the terms metrics and alerts need.

    ``status`` is the run's recorded one (``succeeded``, ``partial`` or ``failed``); ``error``
    what stopped a failed run. ``planned`` and ``applied`` count changes by ``(policy, kind)``:
    put in the run's plan, and accepted by the CRM (one per outbox operation applied).
    ``operations`` counts the operations its pushes attempted, ``failed_operations`` those that
    failed.
    """

    run_id: str
    source: str
    kind: str
    dry_run: bool
    status: str
    started: datetime
    finished: datetime
    vendor: str
    error: BaseException | None = None
    pulled: Mapping[str, int] = field(default_factory=dict)
    planned: Mapping[tuple[str, str], int] = field(default_factory=dict)
    applied: Mapping[tuple[str, str], int] = field(default_factory=dict)
    operations: int = 0
    failed_operations: int = 0
    usage: ApiUsage = field(default_factory=ApiUsage)

    @property
    def interrupted(self) -> bool:
        """The service stopped the run (not a failure of the source)."""
        return isinstance(self.error, RunInterruptedError)

    @property
    def seconds(self) -> float:
        return (self.finished - self.started).total_seconds()


Observer = Callable[[RunSummary], None]


def operations(counts: Mapping[str, object]) -> tuple[int, int]:
    """(attempted, failed) operations of a run's recorded ``pushed`` counts."""
    attempted = failed = 0
    pushed = counts.get("pushed")
    for push in pushed if isinstance(pushed, list) else []:
        statuses = push.get("statuses") if isinstance(push, Mapping) else None
        if not isinstance(statuses, Mapping):
            continue
        attempted += sum(int(str(statuses.get(s, 0))) for s in ATTEMPTED)
        failed += int(str(statuses.get("failed", 0)))
    return attempted, failed
