"""The HTML report's figures: the health axis stops at 100, and record counts leave out the
tasks syncd created itself."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from state.base import AuditRecord, OpOutcome, OutboxOp
from state.store import open_store
from syncd.html_report import render_html_report

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def task_created(op: OutboxOp) -> AuditRecord:
    return AuditRecord(
        "r2", "p2", op.key, "hs", "follow_up", "create_task", "contacts", op.record_id, None,
        None, f"task-{op.record_id}", T0 + timedelta(hours=1), {"status": 201},
    )  # fmt: skip


def test_health_axis_stops_at_100_and_created_tasks_are_not_counted(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    store.ensure_source("hs", "hubspot", T0)
    lease = store.acquire_source("hs", "r1", T0)
    store.start_run("r1", "hs", T0, dry_run=True)
    store.save_health(
        "r1", "hs", T0, {"all": {"records": 10, "score": 96.0}, "tasks": {"records": 4}}
    )
    # run r2 creates two follow-up tasks, which the next pull reads back as task records
    store.start_run("r2", "hs", T0 + timedelta(hours=1), dry_run=False)
    store.save_plan("p2", "hs", "r2", T0, {}, [])
    ops = [OutboxOp(f"p2:{i}:0", i, 0, "create_task", "contacts", str(i), {}) for i in (1, 2)]
    store.enqueue("p2", "r2", ops, T0 + timedelta(hours=1))
    created = [OpOutcome(op.key, "applied", audit=[task_created(op)]) for op in ops]
    store.record_results(created, T0 + timedelta(hours=1), epoch=lease.epoch)
    store.start_run("r3", "hs", T0 + timedelta(hours=2), dry_run=True)
    store.save_health(
        "r3",
        "hs",
        T0 + timedelta(hours=2),
        {"all": {"records": 12, "score": 97.0}, "tasks": {"records": 6}},
    )
    page = render_html_report(store, ["hs"], now=T0 + timedelta(hours=3))
    store.close()

    score_chart = page[page.index('aria-label="Health score (0-100)"') :]
    score_chart = score_chart[: score_chart.index("</svg>")]
    ticks = re.findall(r'text-anchor="end" fill="#6b7280">([^<]+)</text>', score_chart)
    assert ticks == ["0.0", "50.0", "100.0"]
    changed = page[page.index("What changed since the last run") :]
    changed = changed[: changed.index("</ul>")]
    assert "Records:" not in changed  # 10 records both times: the 2 new tasks are syncd's
    assert "Health score: 96.0 → 97.0" in changed
    latest = page[page.index("Latest run, per object type") :]
    assert re.search(r"<td>tasks</td><td class=\"num\">4</td>", latest)
    assert re.search(r"<td>all</td><td class=\"num\">10</td>", latest)
