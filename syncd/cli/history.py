"""Commands about what happened: ``runs``, ``plans``, ``audit``, ``undo``."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from model.errors import SyncdError
from state.base import PlanInfo, RunInfo, StateStore
from syncd.cli.common import (
    ConfigOpt,
    Exit,
    FormatOpt,
    ListFormat,
    ReportFormat,
    SourceOpt,
    WaitOpt,
    app,
    engine_for,
    fail,
    guard,
    load,
    say,
    source_names,
    terminal_width,
)
from syncd.engine import run_totals
from syncd.plans import UNDO_OF, kind_of
from syncd.report import cut, render_audit, render_push

ListFormatOpt = Annotated[
    ListFormat, typer.Option("--format", "-f", help="Output: table, or json (one document).")
]
NewestOpt = Annotated[int, typer.Option("--limit", min=1, help="Show the newest N.")]


def _when(info: RunInfo | PlanInfo) -> str:
    moment = info.started_at if isinstance(info, RunInfo) else info.created_at
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=terminal_width(), force_terminal=False, color_system=None)
    table = Table(title=title, title_justify="left", expand=False)
    for header in headers:
        table.add_column(header, overflow="fold", min_width=max(len(w) for w in header.split()))
    for row in rows:
        table.add_row(*(Text(cut(c)) for c in row))
    console.print(table)
    return buffer.getvalue()


def _counts_words(totals: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in totals.items())


@app.command()
def runs(
    config: ConfigOpt,
    source: SourceOpt = None,
    limit: NewestOpt = 20,
    fmt: ListFormatOpt = ListFormat.table,
) -> None:
    """List the latest runs: id, source, kind, when, counts, status (newest first)."""
    cfg = load(config)
    names = source_names(cfg, source) if source else None
    with engine_for(cfg) as engine:
        found = guard(lambda: engine.store.list_runs(names[0] if names else None, limit=limit))
    if fmt is ListFormat.json:
        docs = [
            {
                "run_id": r.id,
                "source": r.source,
                "kind": _run_kind(r),
                "started_at": r.started_at.isoformat(),
                "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                "status": r.status,
                "counts": run_totals(r.counts),
                "error": r.error,
            }
            for r in found
        ]
        sys.stdout.write(json.dumps(docs, indent=2, ensure_ascii=False) + "\n")
        return
    if not found:
        typer.echo("No runs yet.")
        return
    rows = [
        (
            r.id,
            r.source,
            _run_kind(r),
            _when(r),
            _took(r),
            r.status,
            _counts_words(run_totals(r.counts)),
            r.error or "",
        )
        for r in found
    ]
    headers = ("Run", "Source", "Kind", "Started (UTC)", "Took", "Status", "Counts", "Error")
    typer.echo(_table(f"Runs: {len(rows)} newest", headers, rows), nl=False)


def _run_kind(run: RunInfo) -> str:
    kind = run.counts.get("kind")
    if isinstance(kind, str):
        return kind
    return "plan" if run.dry_run else "push"  # recorded before runs said their kind


def _took(run: RunInfo) -> str:
    if run.finished_at is None:
        return ""
    return f"{(run.finished_at - run.started_at).total_seconds():.1f} s"


@app.command()
def plans(
    config: ConfigOpt,
    source: SourceOpt = None,
    limit: NewestOpt = 20,
    fmt: ListFormatOpt = ListFormat.table,
) -> None:
    """List the latest saved plans: id, source, kind, when, counts, status (newest first)."""
    cfg = load(config)
    names = source_names(cfg, source) if source else None
    with engine_for(cfg) as engine:
        found = guard(lambda: engine.store.list_plans(names[0] if names else None, limit=limit))
    if fmt is ListFormat.json:
        docs = [
            {
                "plan_id": p.id,
                "source": p.source,
                "kind": kind_of(p),
                "undo_of": p.baseline.get(UNDO_OF),
                "created_at": p.created_at.isoformat(),
                "run_id": p.run_id,
                "status": p.status,
                "changes": dict(p.kinds),
            }
            for p in found
        ]
        sys.stdout.write(json.dumps(docs, indent=2, ensure_ascii=False) + "\n")
        return
    if not found:
        typer.echo("No plans yet.")
        return
    rows = [
        (
            p.id,
            p.source,
            f"undo of run {p.baseline[UNDO_OF]}" if p.baseline.get(UNDO_OF) else kind_of(p),
            _when(p),
            p.run_id or "",
            p.status,
            f"{sum(p.kinds.values())}: " + ", ".join(f"{n} {k}" for k, n in sorted(p.kinds.items()))
            if p.kinds
            else "0",
        )
        for p in found
    ]
    headers = ("Plan", "Source", "Kind", "Made (UTC)", "Run", "Status", "Changes")
    typer.echo(_table(f"Plans: {len(rows)} newest", headers, rows), nl=False)


def _reasons(store: StateStore, plan_ids: set[str]) -> dict[str, str]:
    """The reason of each outbox operation of these plans, by key (the audit log's ``key``)."""
    reasons: dict[str, str] = {}
    for plan_id in sorted(plan_ids):
        try:
            entries = store.outbox(plan_id)
        except SyncdError:  # a plan deleted since: the audit log outlives it
            continue
        for entry in entries:
            reason = entry.payload.get("reason")
            if reason:
                reasons[entry.key] = str(reason)
    return reasons


def _page(text: str) -> None:
    """``text`` through the pager (``$PAGER``, else ``less``/``more``) on a terminal; plain
    otherwise."""
    if not sys.stdout.isatty():
        sys.stdout.write(text)
        return
    console = Console()
    with console.pager():
        console.print(Text(text), end="", soft_wrap=True)


@app.command()
def audit(
    config: ConfigOpt,
    run_id: Annotated[
        str | None, typer.Option("--run", help="Only the changes of this run.", metavar="RUN_ID")
    ] = None,
    record: Annotated[
        str | None, typer.Option("--record", help="Only this record id.", metavar="ID")
    ] = None,
    source: SourceOpt = None,
    fmt: FormatOpt = ReportFormat.table,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the newest N entries.")
    ] = None,
    pager: Annotated[
        bool,
        typer.Option(
            "--pager/--no-pager",
            help="Page the table on a terminal (default); --no-pager prints it all.",
        ),
    ] = True,
) -> None:
    """Show what syncd changed in the CRM: before, after, when, which run and policy, why, and
    what the CRM answered."""
    cfg = load(config)
    with engine_for(cfg) as engine:
        name = source_names(cfg, source)[0] if source else None
        entries = guard(
            lambda: engine.store.audit(source=name, run_id=run_id, record_id=record, limit=limit)
        )
        reasons = _reasons(engine.store, {e.plan_id for e in entries})
    text = render_audit(entries, fmt.value, reasons)
    if pager and fmt is ReportFormat.table:
        _page(text)
    else:
        sys.stdout.write(text)


@app.command()
def undo(
    run_id: Annotated[
        str, typer.Argument(help="The run whose changes to revert (syncd runs lists them).")
    ],
    config: ConfigOpt,
    wait: WaitOpt = 0.0,
) -> None:
    """Revert a run's field updates, skipping fields a person changed since; say what cannot be
    undone (merges, created tasks, old values the CRM refuses to take back)."""
    cfg = load(config)
    with engine_for(cfg, wait) as engine:
        _require_run(engine.store, run_id)
        report, cannot = guard(lambda: engine.undo(run_id))
        undo_run = engine.store.plan_info(report.plan_id).run_id if report is not None else None
    if report is not None:
        typer.echo(render_push(report))
        typer.echo(f"run {undo_run} undid run {run_id}")
    else:
        typer.echo(f"run {run_id} applied no field updates that can still be undone")
    for line in cannot:
        typer.echo(f"not undone: {line}")
    if report is not None and not report.complete:
        say(f"some changes failed; syncd undo {run_id} again retries them")
        raise typer.Exit(Exit.PARTIAL)


def _pushed(run: RunInfo, plan_id: str) -> bool:
    """Whether ``run`` pushed plan ``plan_id``."""
    pushes = run.counts.get("pushed")
    return isinstance(pushes, list) and any(
        isinstance(p, Mapping) and p.get("plan_id") == plan_id for p in pushes
    )


def _require_run(store: StateStore, run_id: str) -> None:
    """Exit 2 saying what ``run_id`` is when it is not a run's id (a plan's, say)."""
    try:
        store.get_run(run_id)
        return
    except SyncdError:  # unknown run: find what the id is instead
        pass
    try:
        info = store.plan_info(run_id)
    except SyncdError:
        raise fail(f"{run_id} is not a run id (syncd runs lists them)", Exit.USAGE) from None
    pushed = [r.id for r in store.list_runs(info.source, limit=200) if _pushed(r, run_id)]
    hint = (
        f"; run {', '.join(pushed)} pushed it: syncd undo {pushed[0]}"
        if pushed
        else "; no run has pushed it"
    )
    raise fail(f"{run_id} is a plan id, not a run id: undo takes the id of a run{hint}", Exit.USAGE)
