"""SQL of the data-quality (health) table, inside a caller's transaction.

:class:`state.store.SqlStateStore` opens one transaction per store method and calls one of these
functions in it; the contracts are those of the matching :class:`~state.base.StateStore` methods.
Datetimes arrive already checked to be UTC.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection

from model.errors import StateError
from state.base import HealthPoint
from state.models import health_t, runs_t


def _clean(metrics: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """The metrics as plain floats; ``StateError`` on a value that is not a finite number."""
    clean: dict[str, dict[str, float]] = {}
    for object_type, values in metrics.items():
        row: dict[str, float] = {}
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise StateError(f"health metric {object_type}.{name} is not a number: {value!r}")
            if not math.isfinite(value):
                raise StateError(f"health metric {object_type}.{name} is not finite: {value!r}")
            row[str(name)] = float(value)
        clean[str(object_type)] = row
    return clean


def save_health(
    conn: Connection,
    *,
    run_id: str,
    source: str,
    measured_at: datetime,
    metrics: Mapping[str, Mapping[str, float]],
) -> None:
    """See :meth:`state.base.StateStore.save_health`."""
    clean = _clean(metrics)
    run_source = conn.execute(
        sa.select(runs_t.c.source).where(runs_t.c.id == run_id)
    ).scalar_one_or_none()
    if run_source is None:
        raise StateError(f"unknown run {run_id!r}")
    if run_source != source:
        raise StateError(f"run {run_id!r} is a run of {run_source!r}, not of {source!r}")
    conn.execute(sa.delete(health_t).where(health_t.c.run_id == run_id))
    if clean:
        conn.execute(
            sa.insert(health_t),
            [
                {
                    "run_id": run_id,
                    "object_type": object_type,
                    "source": source,
                    "measured_at": measured_at,
                    "metrics": values,
                }
                for object_type, values in sorted(clean.items())
            ],
        )


def health_history(conn: Connection, source: str, limit: int) -> list[HealthPoint]:
    """See :meth:`state.base.StateStore.health_history`."""
    if limit <= 0:
        return []
    runs = conn.execute(
        sa.select(health_t.c.run_id, health_t.c.measured_at)
        .where(health_t.c.source == source)
        .group_by(health_t.c.run_id, health_t.c.measured_at)
        .order_by(health_t.c.measured_at.desc(), health_t.c.run_id.desc())
        .limit(limit)
    ).all()
    wanted: list[tuple[str, datetime]] = []
    for run_id, measured_at in reversed(runs):
        assert isinstance(measured_at, datetime)
        wanted.append((str(run_id), measured_at))
    if not wanted:
        return []
    by_run: dict[str, dict[str, dict[str, float]]] = {run_id: {} for run_id, _ in wanted}
    rows = conn.execute(
        sa.select(health_t.c.run_id, health_t.c.object_type, health_t.c.metrics).where(
            health_t.c.run_id.in_(list(by_run))
        )
    ).all()
    for run_id, object_type, values in rows:
        assert isinstance(values, dict)
        by_run[str(run_id)][str(object_type)] = {str(k): float(v) for k, v in values.items()}
    return [
        HealthPoint(
            run_id=run_id,
            source=source,
            measured_at=measured_at,
            metrics={t: by_run[run_id][t] for t in sorted(by_run[run_id])},
        )
        for run_id, measured_at in wanted
    ]
