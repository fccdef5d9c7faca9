"""The service's settings: ``[service]`` (HTTP, stopping, leases, retention) and each source's
``[sources.NAME.completeness]``.

A source's ``schedule`` is :class:`~syncd.service.scheduler.ScheduleSettings`; ``[alerts]`` is
:class:`~syncd.service.alerts.AlertsSettings`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from state.base import Retention
from syncd.service.http import HttpSettings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CompletenessSettings(_Strict):
    """``[sources.NAME.completeness]``: the audit that finds what incremental syncing missed.

    Per object type, every ``every_hours``: the CRM's counts of live records per last-modified
    bucket below the cursor against the store's, and ``sample_size`` random records read again
    and compared; every ``archived_every_hours``: the CRM's archived ids against the store's
    live records. More than ``max_drift_share`` found wrong (and at least ``min_drift_records``
    records) is an incident.
    """

    enabled: bool = True
    every_hours: float = Field(default=6.0, gt=0)
    archived_every_hours: float = Field(default=24.0, gt=0)
    sample_size: int = Field(default=20, ge=0, le=500)
    max_drift_share: float = Field(
        default=0.01, ge=0.0, le=1.0, description="Share of records found wrong that alerts."
    )
    min_drift_records: int = Field(
        default=2, ge=1, description="Fewer records found wrong than this never alert."
    )
    settle_minutes: float = Field(
        default=10.0,
        ge=0,
        description="Records modified this close to the cursor are left out: the CRM's search "
        "shows changes a little late.",
    )


class RetentionSettings(_Strict):
    """``[service.retention]``: how long the store keeps what (in days; 0 keeps it forever).

    The defaults keep what undo needs (the audit log a year, and the plans and runs its entries
    name), the report's history (runs 90 days), and every unfinished push.
    """

    plans_days: float = Field(default=30.0, ge=0)
    runs_days: float = Field(default=90.0, ge=0)
    audit_days: float = Field(default=365.0, ge=0)
    outbox_days: float = Field(default=30.0, ge=0)
    incidents_days: float = Field(
        default=90.0, ge=0, description="Resolved incidents and completeness checks."
    )
    every_hours: float = Field(default=24.0, gt=0, description="How often the service prunes.")

    def retention(self, now: datetime) -> Retention:
        """What may go as of ``now``."""

        def before(days: float) -> datetime | None:
            return now - timedelta(days=days) if days else None

        return Retention(
            plans=before(self.plans_days),
            runs=before(self.runs_days),
            audit=before(self.audit_days),
            outbox=before(self.outbox_days),
            incidents=before(self.incidents_days),
        )


class ServiceSettings(_Strict):
    """``[service]``: what ``syncd serve`` needs beyond the sources."""

    http: HttpSettings = HttpSettings()
    grace_seconds: float = Field(
        default=30.0,
        gt=0,
        description="After SIGTERM, how long the runs in flight get to reach the end of a batch.",
    )
    lease_ttl_seconds: float = Field(
        default=60.0,
        ge=3,
        description="A replica that stops renewing a source's lease loses it after this long.",
    )
    staleness_check_seconds: float = Field(
        default=60.0, gt=0, description="How often sources are checked for staleness."
    )
    pause_probe_minutes: float = Field(
        default=60.0,
        gt=0,
        description="While a source is paused (its CRM's daily API allowance spent, or at the "
        "reserve), how often its allowance is probed; a connector that cannot probe tries a "
        "run this often instead.",
    )
    retention: RetentionSettings = RetentionSettings()
