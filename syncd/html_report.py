"""One self-contained HTML page per report: each source's latest plan and its data quality.

``write_html_report(store, source_names, path, now=...)`` writes a page a RevOps lead can
forward (created 0600: it holds names and e-mails): no external URL, no script; inline CSS and
inline SVG charts drawn here. Per source: the latest plan of the policies
(:func:`syncd.plans.latest_policy_plan`) as a readable diff grouped by
policy (the cells of :mod:`syncd.report`, old value struck out and new value underlined), the
health figures of the latest run per object type, "what changed since the last run" (the last
two points of :meth:`~state.base.StateStore.health_history`), and charts over the runs of
duplicate share, invalid e-mails and phones, records missing required fields, open records
without a next action and the health score, every point labelled with its value.

Every value from the CRM or the store is escaped (:func:`html.escape`): it is CRM data.
"""

from __future__ import annotations

import html
import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import Final

from model.changes import Change, Update
from model.errors import StateError
from state.base import AuditEntry, HealthPoint, StateStore
from syncd.files import write_private
from syncd.plan import Plan
from syncd.plans import latest_policy_plan, stored_plan
from syncd.quality import ALL
from syncd.report import POLICY_TITLES, REVERTS_TITLE, cells, summary_line
from syncd.reverts import describe
from syncd.review import held_reverts

ROWS_PER_POLICY: Final = 200
HISTORY_RUNS: Final = 50
_BLUE, _ORANGE, _GREEN, _RED, _PURPLE = "#2563eb", "#ea580c", "#16a34a", "#dc2626", "#7c3aed"


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def _num(value: float) -> str:
    return f"{value:,.0f}"


def _score(value: float) -> str:
    return f"{value:.1f}"


@dataclass(frozen=True, slots=True)
class _Chart:
    """A chart over runs: title, then (label, metric, colour) per series, value format, and the
    most the metric can be (the axis never goes past it: a score stops at 100)."""

    title: str
    series: tuple[tuple[str, str, str], ...]
    fmt: Callable[[float], str]
    ceiling: float | None = None


CHARTS: Final = (
    _Chart(
        "Duplicate share",
        (("records in merges or review", "duplicate_share", _BLUE),),
        _pct,
        ceiling=1.0,
    ),
    _Chart(
        "Invalid e-mails and phones",
        (("e-mails", "invalid_emails", _ORANGE), ("phones", "invalid_phones", _PURPLE)),
        _num,
    ),
    _Chart("Records missing required fields", (("records", "missing_required", _RED),), _num),
    _Chart(
        "Open records without a next action",
        (("records", "open_without_next_action", _GREEN),),
        _num,
    ),
    _Chart("Health score (0-100)", (("mean score", "score", _BLUE),), _score, ceiling=100.0),
)
#: What "what changed" compares: (label, metric, format, lower is better).
_DELTAS: Final = (
    ("Records", "records", _num, None),
    ("Health score", "score", _score, False),
    ("Duplicate share", "duplicate_share", _pct, True),
    ("Invalid e-mails", "invalid_emails", _num, True),
    ("Invalid phones", "invalid_phones", _num, True),
    ("Records missing required fields", "missing_required", _num, True),
    ("Open records without a next action", "open_without_next_action", _num, True),
    ("Stale records", "stale", _num, True),
)
_CSS: Final = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;
margin:0;background:#f3f4f6}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:20px;margin:32px 0 8px;border-bottom:2px solid
#d1d5db;padding-bottom:4px}h3{font-size:16px;margin:20px 0 6px}
.muted{color:#6b7280}.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;
padding:12px 16px;margin:10px 0}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:12px}
.charts svg{width:100%;height:auto;background:#fff;border:1px solid #e5e7eb;border-radius:8px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border:1px solid #e5e7eb;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f9fafb}td.num{text-align:right;font-variant-numeric:tabular-nums}
del{background:#fee2e2;color:#991b1b}ins{background:#dcfce7;color:#166534;text-decoration:none}
.better{color:#166534}.worse{color:#991b1b}
"""


def write_html_report(
    store: StateStore,
    source_names: Sequence[str],
    path: Path,
    *,
    now: datetime,
    limit: int | None = ROWS_PER_POLICY,
) -> str:
    """Write the report of ``source_names`` to ``path`` (UTF-8) and return its text.

    ``now`` is printed as the time the report was made; ``limit`` caps the rows shown per
    policy (``None``: all). A source the store does not know yet gets a "no run yet" note.
    """
    text = render_html_report(store, source_names, now=now, limit=limit)
    write_private(path, text)
    return text


def render_html_report(
    store: StateStore,
    source_names: Sequence[str],
    *,
    now: datetime,
    limit: int | None = ROWS_PER_POLICY,
) -> str:
    """The report page as text (see :func:`write_html_report`)."""
    e = html.escape
    body = [
        "<h1>syncd data-quality report</h1>",
        f'<p class="muted">Made {e(now.strftime("%Y-%m-%d %H:%M %Z").strip())} for '
        f"{len(source_names)} source{'s' if len(source_names) != 1 else ''}: "
        f"{e(', '.join(source_names))}.</p>",
    ]
    for name in source_names:
        body.append(_source_section(store, name, limit))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>syncd report: {e(', '.join(source_names))}</title>"
        f"<style>{_CSS}</style></head>\n<body><main>\n"
        + "\n".join(body)
        + "\n</main></body></html>\n"
    )


def _source_section(store: StateStore, source: str, limit: int | None) -> str:
    e = html.escape
    try:
        history = store.health_history(source, limit=HISTORY_RUNS)
    except StateError:  # a configured source that never ran: not registered in the store yet
        return (
            f"<section><h2>Source {e(source)}</h2>"
            '<p class="muted">No run yet: run syncd plan first.</p></section>'
        )
    history = _without_created_tasks(history, store.audit(source=source))
    plan_id = latest_policy_plan(store, source)
    plan = stored_plan(store, plan_id) if plan_id is not None else None
    parts = [f'<section id="source-{e(source, quote=True)}">', f"<h2>Source {e(source)}</h2>"]
    parts.append("<h3>What changed since the last run</h3>")
    parts.append(_what_changed(history, plan))
    if history:
        parts.append("<h3>Data quality over runs</h3>")
        parts.append(
            '<div class="charts">' + "".join(_chart(c, history) for c in CHARTS) + "</div>"
        )
        parts.append(_latest_table(history[-1]))
    parts.append("<h3>Latest plan</h3>")
    parts.append(_plan_html(plan, limit) if plan else '<p class="muted">No plan yet.</p>')
    parts.append(_reverts_html(store, source))
    parts.append("</section>")
    return "\n".join(parts)


def _without_created_tasks(
    history: Sequence[HealthPoint], audit: Sequence[AuditEntry]
) -> list[HealthPoint]:
    """``history`` with the tasks syncd had created by each point taken out of its record
    counts (``tasks`` and ``all``): they are syncd's own work, not records of the CRM's."""
    created = sorted(e.applied_at for e in audit if e.kind == "create_task")
    if not created:
        return list(history)
    points = []
    for point in history:
        mine = float(bisect_right(created, point.measured_at))
        metrics = {t: dict(m) for t, m in point.metrics.items()}
        for object_type in ("tasks", ALL):
            if object_type in metrics and "records" in metrics[object_type]:
                records = metrics[object_type]["records"]
                metrics[object_type]["records"] = max(0.0, records - mine)
        points.append(replace(point, metrics=metrics))
    return points


# -- plan -----------------------------------------------------------------------------------------


def _diff_cell(plan: Plan, change: Change) -> str:
    """The old → new column: struck-out old value, underlined new value for field updates."""
    e = html.escape
    if isinstance(change, Update):
        old = "∅" if change.old is None else repr(change.old)
        new = "∅" if change.new is None else repr(change.new)
        return f"<del>{e(old)}</del> → <ins>{e(new)}</ins>"
    return e(cells(plan, change)[2])


def _plan_html(plan: Plan, limit: int | None) -> str:
    e = html.escape
    out = [
        '<div class="card">',
        f"<p>Plan <code>{e(plan.id)}</code>, made {e(plan.created_at.isoformat())}: "
        f"<strong>{e(summary_line(plan))}</strong></p>",
    ]
    if not plan.changes:
        out.append("<p>Nothing to change: the records pass every enabled policy.</p>")
    for policy, group in groupby(plan.changes, key=lambda c: c.policy):
        changes = list(group)
        title = POLICY_TITLES.get(policy, policy)
        out.append(f"<h4>{e(title)} ({e(policy)}): {len(changes)}</h4>")
        out.append(
            '<table class="plan"><thead><tr><th>Record</th><th>What</th><th>Old → new</th>'
            "<th>Why</th></tr></thead><tbody>"
        )
        shown = changes if limit is None else changes[:limit]
        for change in shown:
            record, what, _, why = cells(plan, change)
            out.append(
                f'<tr data-kind="{e(change.kind, quote=True)}"><td>{e(record)}</td>'
                f"<td>{e(what)}</td><td>{_diff_cell(plan, change)}</td><td>{e(why)}</td></tr>"
            )
        out.append("</tbody></table>")
        if len(shown) < len(changes):
            out.append(
                f'<p class="muted">… and {len(changes) - len(shown)} more {e(policy)} changes '
                "(syncd plan --format json lists them all).</p>"
            )
    out.append("</div>")
    return "\n".join(out)


def _reverts_html(store: StateStore, source: str) -> str:
    """The changes syncd does not propose again because someone changed them back."""
    e = html.escape
    held = held_reverts(store, source)
    if not held:
        return ""
    items = "".join(f"<li>{e(describe(r, label or None))}</li>" for r, label in held)
    return (
        f"<h3>{e(REVERTS_TITLE)}: {len(held)}</h3>"
        '<p class="muted">syncd wrote these values and someone changed them back; it will not '
        "propose them again until released with <code>syncd review release</code>.</p>"
        f'<ul class="reverts">{items}</ul>'
    )


# -- health ---------------------------------------------------------------------------------------


def _what_changed(history: Sequence[HealthPoint], plan: Plan | None) -> str:
    if not history:
        return (
            '<p class="muted">No data-quality figures yet: they are measured on every '
            "syncd plan or run.</p>"
        )
    latest = history[-1].metrics.get(ALL, {})
    when = history[-1].measured_at.strftime("%Y-%m-%d %H:%M")
    if len(history) == 1:
        return (
            f"<p>First measured run ({html.escape(when)}): "
            f"{_num(latest.get('records', 0))} records, health score "
            f"{_score(latest.get('score', 100))}.</p>"
        )
    before = history[-2].metrics.get(ALL, {})
    items = []
    for label, metric, fmt, lower_is_better in _DELTAS:
        old, new = before.get(metric, 0.0), latest.get(metric, 0.0)
        if old == new:
            continue
        delta = new - old
        shown = f"{'+' if delta > 0 else '−'}{fmt(abs(delta)).replace(' %', ' pts')}"
        css = ""
        if lower_is_better is not None:
            css = "better" if (delta < 0) == lower_is_better else "worse"
        items.append(
            f'<li class="{css}">{html.escape(label)}: {fmt(old)} → {fmt(new)} ({shown})</li>'
        )
    previous = history[-2].measured_at.strftime("%Y-%m-%d %H:%M")
    head = f"<p>Run of {html.escape(when)} against the run of {html.escape(previous)}:</p>"
    if not items:
        return head + "<p>No figure changed.</p>"
    return head + "<ul>" + "".join(items) + "</ul>"


def _latest_table(point: HealthPoint) -> str:
    types = [t for t in point.metrics if t != ALL] + ([ALL] if ALL in point.metrics else [])
    columns = (
        ("Records", "records", _num),
        ("Score", "score", _score),
        ("Duplicate share", "duplicate_share", _pct),
        ("Invalid e-mails", "invalid_emails", _num),
        ("Invalid phones", "invalid_phones", _num),
        ("Missing required", "missing_required", _num),
        ("No next action", "open_without_next_action", _num),
        ("Stale", "stale", _num),
    )
    rows = [
        "<table><thead><tr><th>Object type</th>"
        + "".join(f"<th>{c[0]}</th>" for c in columns)
        + "</tr></thead><tbody>"
    ]
    for object_type in types:
        values = point.metrics[object_type]
        rows.append(
            f"<tr><td>{html.escape(object_type)}</td>"
            + "".join(f'<td class="num">{fmt(values.get(m, 0.0))}</td>' for _, m, fmt in columns)
            + "</tr>"
        )
    rows.append("</tbody></table>")
    return '<div class="card"><p>Latest run, per object type:</p>' + "".join(rows) + "</div>"


def _nice_top(peak: float) -> float:
    """The top of a y axis: the least 1, 2 or 5 times a power of ten above ``peak``
    with some headroom (1 for an all-zero series)."""
    if peak <= 0:
        return 1.0
    target = peak * 1.1
    scale = 10.0 ** math.floor(math.log10(target))
    return next(m * scale for m in (1, 2, 5, 10) if m * scale >= target)


def _tick(fmt: Callable[[float], str], value: float) -> str:
    """An axis label: the chart's format, with a decimal where a count is fractional."""
    if fmt is _num and value != int(value):
        return f"{value:,.1f}"
    return fmt(value)


def _chart(chart: _Chart, history: Sequence[HealthPoint]) -> str:
    """An inline SVG line chart of ``chart``'s series over the runs of ``history``."""
    width, height, left, right, top, bottom = 420, 230, 52, 36, 34, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    series = [
        (label, [p.metrics.get(ALL, {}).get(metric, 0.0) for p in history], colour)
        for label, metric, colour in chart.series
    ]
    peak = max((v for _, values, _ in series for v in values), default=0.0)
    top_value = _nice_top(peak)
    if chart.ceiling is not None:
        top_value = min(top_value, chart.ceiling)
    n = len(history)

    def x(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y(v: float) -> float:
        return top + plot_h * (1 - v / top_value)

    e = html.escape
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'class="chart" aria-label="{e(chart.title, quote=True)}">',
        f"<title>{e(chart.title)}</title>",
        f'<text x="{left}" y="20" font-size="14" font-weight="600" fill="#111827">'
        f"{e(chart.title)}</text>",
    ]
    for fraction in (0.0, 0.5, 1.0):
        value = top_value * fraction
        gy = y(value)
        out.append(
            f'<line x1="{left}" y1="{gy:.1f}" x2="{width - right}" y2="{gy:.1f}" '
            'stroke="#e5e7eb"/>'
            f'<text x="{left - 6}" y="{gy + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="#6b7280">{e(_tick(chart.fmt, value))}</text>'
        )
    step = max(1, -(-n // 6))
    for i, point in enumerate(history):
        if i % step == 0 or i == n - 1:
            out.append(
                f'<text x="{x(i):.1f}" y="{height - bottom + 16}" font-size="10" '
                f'text-anchor="middle" fill="#6b7280">'
                f"{e(point.measured_at.strftime('%m-%d %H:%M'))}</text>"
            )
    for index, (label, values, colour) in enumerate(series):
        coords = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, v in enumerate(values):
            if n > 12 and i not in {0, n - 1} and i % step:
                continue
            dy = -8 if index == 0 else 14
            out.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>'
                f'<text class="value" x="{x(i):.1f}" y="{y(v) + dy:.1f}" font-size="10" '
                f'text-anchor="middle" fill="{colour}">{e(chart.fmt(v))}</text>'
            )
        lx = left + 130 * index
        out.append(
            f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{lx + 14}" y="{height - 5}" font-size="11" fill="#374151">'
            f"{e(label)}</text>"
        )
    out.append("</svg>")
    return "".join(out)
