"""Render a plan as a diff report: a terminal table, JSON, or Markdown.

The JSON form is the machine contract (``plan_id``, ``created_at``, ``source``, ``summary``,
``changes`` with each change in ``policies.base.change_to_dict`` form). The table and Markdown
forms are for people: grouped by policy and record, old → new, with the reason, and a summary.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from itertools import groupby
from typing import Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from policies.base import Change, CreateTask, Merge, Update, change_to_dict
from syncd.plan import Plan

Format = Literal["table", "json", "markdown"]
POLICY_TITLES = {
    "normalize": "Field fixes",
    "dedupe": "Duplicates",
    "follow_up": "Missing follow-up tasks",
}


def plan_to_json(plan: Plan) -> dict[str, object]:
    """The JSON document of a plan."""
    return {
        "plan_id": plan.id,
        "created_at": plan.created_at.isoformat(),
        "source": plan.source,
        "run_id": plan.run_id,
        "summary": plan.summary(),
        "stats": dict(plan.stats),
        "changes": [change_to_dict(c) for c in plan.changes],
    }


def render(plan: Plan, fmt: Format, *, limit: int | None = None, width: int = 120) -> str:
    """The plan in ``fmt``. ``limit`` caps the rows shown per policy in table/markdown."""
    if fmt == "json":
        return json.dumps(plan_to_json(plan), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return _markdown(plan, limit)
    return _table(plan, limit, width)


def summary_line(plan: Plan) -> str:
    """One line of counts."""
    s = plan.summary()
    return (
        f"{s['updates']} field updates on {s['records_updated']} records · "
        f"{s['merges']} merges absorbing {s['records_merged_away']} records · "
        f"{s['reviews']} pairs for review · {s['tasks']} follow-up tasks"
    )


def _by_policy(plan: Plan) -> Iterable[tuple[str, list[Change]]]:
    for policy, group in groupby(plan.changes, key=lambda c: c.policy):
        yield policy, list(group)


def _who(plan: Plan, object_type: str, record_id: str) -> str:
    label = plan.labels.get((object_type, record_id))
    return f"{object_type} {record_id}" + (f" ({label})" if label else "")


def _show(value: str | None) -> str:
    return "∅" if value is None else repr(value)


def _cells(plan: Plan, change: Change) -> tuple[str, str, str, str]:
    """Record, what, old → new, why: the four columns every report shows."""
    if isinstance(change, Update):
        return (
            _who(plan, change.object_type, change.record_id),
            change.field,
            f"{_show(change.old)} → {_show(change.new)}",
            change.reason,
        )
    if isinstance(change, Merge):
        merged = ", ".join(_who(plan, change.object_type, m) for m in change.merged_ids)
        what = "merge" if change.kind == "merge" else "review"
        carried = "; ".join(f"{k}={v!r}" for k, v in change.field_values.items())
        return (
            f"keep {_who(plan, change.object_type, change.primary_id)}",
            f"{what} ({change.confidence:.2f})",
            f"absorbs {merged}" + (f"; takes {carried}" if carried else ""),
            change.reason,
        )
    assert isinstance(change, CreateTask)
    owner = change.owner_id or "no owner"
    return (
        _who(plan, change.object_type, change.record_id),
        "new task",
        f"{change.subject!r} · owner {owner} · due {change.due.isoformat()}",
        change.reason,
    )


def _table(plan: Plan, limit: int | None, width: int) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    console.print(
        Text(
            f"Plan {plan.id} · source {plan.source} · {plan.created_at:%Y-%m-%d %H:%M UTC}",
            style="bold",
        )
    )
    for policy, changes in _by_policy(plan):
        title = f"{POLICY_TITLES.get(policy, policy)} ({policy}): {len(changes)} changes"
        table = Table(title=title, title_justify="left", show_lines=False, expand=True)
        for column, ratio in (("Record", 3), ("What", 2), ("Old → new", 4), ("Why", 4)):
            table.add_column(column, ratio=ratio, overflow="fold")
        shown = changes if limit is None else changes[:limit]
        for change in shown:
            table.add_row(*_cells(plan, change))
        console.print(table)
        if len(shown) < len(changes):
            console.print(
                f"  … and {len(changes) - len(shown)} more {policy} changes "
                "(--format json or markdown -o FILE lists them all)"
            )
    if not plan.changes:
        console.print("Nothing to change: the records pass every enabled policy.")
    console.print(Text(f"Summary: {summary_line(plan)}", style="bold"))
    return buffer.getvalue()


def _md_escape(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _markdown(plan: Plan, limit: int | None) -> str:
    lines = [
        f"# Plan {plan.id}",
        "",
        f"Source **{plan.source}**, made {plan.created_at.isoformat()}.",
        "",
        f"**Summary:** {summary_line(plan)}",
        "",
    ]
    for policy, changes in _by_policy(plan):
        lines += [
            f"## {POLICY_TITLES.get(policy, policy)} ({policy}): {len(changes)}",
            "",
            "| Record | What | Old → new | Why |",
            "|---|---|---|---|",
        ]
        shown = changes if limit is None else changes[:limit]
        lines += ["| " + " | ".join(_md_escape(c) for c in _cells(plan, ch)) + " |" for ch in shown]
        if len(shown) < len(changes):
            lines.append(f"\n… and {len(changes) - len(shown)} more.")
        lines.append("")
    return "\n".join(lines)
