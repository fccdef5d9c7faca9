"""Render a plan as a diff report: a terminal table, JSON, Markdown or CSV.

The JSON form is the machine contract (``plan_id``, ``created_at``, ``source``, ``summary``,
``changes`` with each change in ``model.changes.change_to_dict`` form; ``stats.reverts`` lists
the changes left out because someone changed syncd's value back, :mod:`syncd.reverts`). The
table and Markdown forms are for people: grouped by policy and record, old → new, with the
reason, and a summary, then the changes left out. The CSV form (:mod:`syncd.plan_csv`) is one
row per change, for review in a spreadsheet.

Everything shown comes from the CRM, so nothing of it is read as markup: table cells are plain
text (a ``[bold]`` in a name is printed as typed), Markdown cells escape HTML, Markdown syntax
and control characters (a NUL byte shows as ``\x00``), and long values are cut in the table
(:data:`CELL_MAX`; JSON and CSV keep them whole).
"""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import groupby
from typing import Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from model.changes import Archive, Change, Flag, Merge, Update, change_to_dict
from state.base import AuditEntry
from syncd.plan import Plan
from syncd.push import PushReport

Format = Literal["table", "json", "markdown", "csv"]
SKIPPED_SHOWN = 20
#: The title of the changes a plan left out because someone changed syncd's value back.
REVERTS_TITLE = "Not proposed again: changed back after syncd wrote them"
#: Characters of one value a table cell shows before it is cut with "…".
CELL_MAX = 160
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
POLICY_TITLES = {
    "normalize": "Field fixes",
    "dedupe": "Duplicates",
    "follow_up": "Missing follow-up tasks",
    "tags": "Tags and picklist values",
    "required": "Missing required fields",
    "retire": "Stale records",
    "undo": "Undo",
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


def rendered(
    plan: Plan, fmt: Format, *, limit: int | None = None, width: int = 120
) -> Iterator[str]:
    """:func:`render` in parts to write one after the other (CSV: some thousand rows each)."""
    if fmt == "csv":
        from syncd.plan_csv import plan_csv_parts  # noqa: PLC0415  (it imports this module)

        yield from plan_csv_parts(plan)
    else:
        yield render(plan, fmt, limit=limit, width=width)


def render(plan: Plan, fmt: Format, *, limit: int | None = None, width: int = 120) -> str:
    """The plan in ``fmt``. ``limit`` caps the rows shown per policy in table/markdown."""
    if fmt == "json":
        return json.dumps(plan_to_json(plan), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return _markdown(plan, limit)
    if fmt == "csv":
        from syncd.plan_csv import plan_to_csv  # noqa: PLC0415  (it imports this module)

        return plan_to_csv(plan)
    return _table(plan, limit, width)


def visible(value: str) -> str:
    """``value`` with control characters (a NUL byte, an escape) shown as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)


def cut(value: str, most: int = CELL_MAX) -> str:
    """``value`` made visible and cut to ``most`` characters with "…" (for table cells)."""
    shown = visible(value)
    return shown if len(shown) <= most else shown[: most - 1] + "…"


def _column(table: Table, header: str) -> None:
    """A column whose header never breaks inside a word: at least its longest word wide (rich
    honours ``min_width`` only for columns sized by their content, not by a ratio)."""
    table.add_column(header, overflow="fold", min_width=max(len(w) for w in header.split()))


def summary_line(plan: Plan) -> str:
    """One line of counts."""
    s = plan.summary()
    line = (
        f"{s['updates']} field updates on {s['records_updated']} records · "
        f"{s['merges']} merges absorbing {s['records_merged_away']} records · "
        f"{s['reviews']} pairs for review · {s['tasks']} follow-up tasks"
    )
    if s["archives"]:
        line += f" · {s['archives']} archives"
    if s["flags"]:
        line += f" · {s['flags']} findings for a person"
    return line


def _by_policy(plan: Plan) -> Iterable[tuple[str, list[Change]]]:
    for policy, group in groupby(plan.changes, key=lambda c: c.policy):
        yield policy, list(group)


def _who(plan: Plan, object_type: str, record_id: str) -> str:
    label = plan.labels.get((object_type, record_id))
    return f"{object_type} {record_id}" + (f" ({label})" if label else "")


def _show(value: str | None) -> str:
    return "∅" if value is None else repr(value)


def cells(plan: Plan, change: Change) -> tuple[str, str, str, str]:
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
    if isinstance(change, Flag):
        return (
            _who(plan, change.object_type, change.record_id),
            f"flag {change.field}" if change.field else "flag",
            _show(change.value),
            change.reason,
        )
    if isinstance(change, Archive):
        return (_who(plan, change.object_type, change.record_id), "archive", "", change.reason)
    owner = "no owner"
    if change.owner_id:
        name = plan.labels.get(("owners", change.owner_id))
        owner = f"owner {name} ({change.owner_id})" if name else f"owner {change.owner_id}"
    return (
        _who(plan, change.object_type, change.record_id),
        "new task",
        f"{change.subject!r} · {owner} · due {change.due.isoformat()}",
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
        table = Table(title=Text(title), title_justify="left", show_lines=False, expand=True)
        for column in ("Record", "What", "Old → new", "Why"):
            _column(table, column)
        shown = changes if limit is None else changes[:limit]
        for change in shown:
            table.add_row(*(Text(cut(c)) for c in cells(plan, change)))
        console.print(table)
        if len(shown) < len(changes):
            console.print(
                Text(
                    f"  … and {len(changes) - len(shown)} more {policy} changes: "
                    f"--limit 0 shows them all; syncd show {plan.id} --format csv -o FILE "
                    "gives every change in a spreadsheet"
                )
            )
    if not plan.changes:
        console.print("Nothing to change: the records pass every enabled policy.")
    rare = _rare_labels(plan)
    if rare:
        console.print(
            Text(
                f"Picklist options no record or only a few use ({len(rare)}): "
                + "; ".join(rare[:limit] if limit else rare)
                + ("; …" if limit and len(rare) > limit else "")
            )
        )
    held = _held_reverts(plan)
    if held:
        console.print(Text(f"{REVERTS_TITLE} ({len(held)}):", style="bold"))
        listed = held if limit is None else held[:limit]
        for sentence in listed:
            console.print(Text(f"  - {sentence}"))
        if len(listed) < len(held):
            console.print(f"  … and {len(held) - len(listed)} more (syncd review lists them all)")
    console.print(Text(f"Summary: {summary_line(plan)}", style="bold"), soft_wrap=True)
    return buffer.getvalue()


def _held_reverts(plan: Plan) -> list[str]:
    """The sentences of the changes this plan left out because someone changed them back."""
    found = plan.stats.get("reverts")
    if not isinstance(found, list):
        return []
    return [str(r["sentence"]) for r in found if isinstance(r, dict) and "sentence" in r]


def _rare_labels(plan: Plan) -> list[str]:
    """``object_type.field = value (label): N records`` for options seldom or never used."""
    found = plan.stats.get("rare_labels")
    if not isinstance(found, list):
        return []
    return [
        f"{u['object_type']}.{u['field']} = {u['value']!r}"
        + (f" ({u['label']})" if u["label"] != u["value"] else "")
        + (" [hidden]" if u["hidden"] else "")
        + f": {u['records']} records"
        for u in found
        if isinstance(u, dict)
    ]


def md_escape(value: str) -> str:
    """``value`` as inert Markdown text on one line: HTML escaped, Markdown syntax
    backslash-escaped, line breaks as spaces, other control characters shown as ``\\xNN``."""
    one_line = value.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return _MD_SPECIAL.sub(r"\\\1", html.escape(visible(one_line), quote=False))


def _markdown(plan: Plan, limit: int | None) -> str:
    lines = [
        f"# Plan {md_escape(plan.id)}",
        "",
        f"Source **{md_escape(plan.source)}**, made {plan.created_at.isoformat()}.",
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
        lines += ["| " + " | ".join(md_escape(c) for c in cells(plan, ch)) + " |" for ch in shown]
        if len(shown) < len(changes):
            lines.append(f"\n… and {len(changes) - len(shown)} more.")
        lines.append("")
    rare = _rare_labels(plan)
    if rare:
        lines += ["## Picklist options no record or only a few use", ""]
        lines += [f"- {md_escape(r)}" for r in rare]
        lines.append("")
    held = _held_reverts(plan)
    if held:
        lines += [f"## {REVERTS_TITLE}: {len(held)}", ""]
        lines += [f"- {md_escape(r)}" for r in held]
        lines.append("")
    return "\n".join(lines)


def render_push(report: PushReport) -> str:
    """What a push did: counts by outcome, the API calls, then each conflict and failure."""
    order = ("applied", "conflict", "held", "skipped", "failed", "pending", "sending")
    counts = ", ".join(f"{report.statuses[s]} {s}" for s in order if report.statuses.get(s))
    calls = ", ".join(f"{n} {op}" for op, n in sorted(report.calls.items()))
    lines = [f"Pushed plan {report.plan_id}: {counts or 'nothing to do'}"]
    if calls:
        lines.append(f"  API calls: {calls}")
    lines += [f"  conflict: {c}" for c in report.conflicts]
    lines += [f"  failed: {f}" for f in report.failures]
    lines += [f"  held for a person: {h}" for h in report.held]
    shown = report.skipped[:SKIPPED_SHOWN]
    lines += [f"  skipped: {s}" for s in shown]
    if len(report.skipped) > len(shown):
        lines.append(f"  … and {len(report.skipped) - len(shown)} more skipped")
    return "\n".join(lines)


def push_to_json(report: PushReport) -> dict[str, object]:
    """The JSON form of a push: outcome counts, API calls, and each non-applied operation."""
    return {
        "plan_id": report.plan_id,
        "complete": report.complete,
        "statuses": dict(report.statuses),
        "calls": dict(report.calls),
        "conflicts": list(report.conflicts),
        "failures": list(report.failures),
        "held": list(report.held),
        "skipped": list(report.skipped),
    }


def response_words(response: Mapping[str, object]) -> str:
    """The CRM's stored answer to a write in a few words: status, category, correlation id."""
    parts = [f"{k} {response[k]}" for k in ("status", "category") if response.get(k) is not None]
    correlation = response.get("correlationId")
    if correlation:
        parts.append(f"correlation {correlation}")
    shown = {"status", "category", "correlationId"}
    parts += [f"{k} {v}" for k, v in sorted(response.items()) if k not in shown and v]
    return ", ".join(parts)


def render_audit(
    entries: Sequence[AuditEntry], fmt: str, reasons: Mapping[str, str] | None = None
) -> str:
    """The audit log as a table (default), JSON or Markdown: when, run, policy, record, field,
    before → after, the reason of the change (``reasons`` by outbox key), the CRM's answer and
    the run that undid it."""
    reasons = reasons or {}
    rows = [
        {
            "applied_at": e.applied_at.isoformat(),
            "run_id": e.run_id,
            "plan_id": e.plan_id,
            "key": e.key,
            "policy": e.policy,
            "kind": e.kind,
            "object_type": e.object_type,
            "record_id": e.record_id,
            "field": e.field,
            "before": e.before,
            "after": e.after,
            "reason": reasons.get(e.key),
            "response": dict(e.response),
            "undone_by_run": e.undone_by_run,
        }
        for e in entries
    ]
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    headers = (
        "When", "Run", "Policy", "Record", "Field", "Before → after", "Why", "CRM answer",
        "Undone by",
    )  # fmt: skip

    def audit_cells(row: Mapping[str, object]) -> tuple[str, ...]:
        when = str(row["applied_at"])[:19].replace("T", " ")
        change = f"{_show(row['before'])} → {_show(row['after'])}"  # type: ignore[arg-type]
        response = row["response"]
        return (
            when,
            str(row["run_id"]),
            str(row["policy"]),
            f"{row['object_type']} {row['record_id']}",
            str(row["field"] or row["kind"]),
            change,
            str(row["reason"] or ""),
            response_words(response) if isinstance(response, Mapping) else "",
            str(row["undone_by_run"] or ""),
        )

    if fmt == "markdown":
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(md_escape(c) for c in audit_cells(r)) + " |" for r in rows]
        return "\n".join(lines) + "\n"
    buffer = io.StringIO()
    console = Console(file=buffer, width=160, force_terminal=False, color_system=None)
    table = Table(title=f"Audit log: {len(rows)} entries", title_justify="left", expand=True)
    for header in headers:
        _column(table, header)
    for row in rows:
        table.add_row(*(Text(cut(c)) for c in audit_cells(row)))
    console.print(table)
    return buffer.getvalue()
