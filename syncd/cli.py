"""The command line: parse, load config, call the library. Nothing else lives here.

Exit codes: 0 done, 1 the run failed, 2 bad configuration or usage, 3 partly done, 4 busy (another
command holds the source; ``--wait SECONDS`` waits for it instead).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from model.errors import ConfigError, SourceBusyError, SyncdError
from sandbox.generator import generate
from sandbox.hubspot import HubSpotSandbox, SandboxState, serve_forever
from state.store import open_store
from syncd import logging as slog
from syncd.config import Config, load_config, unresolved_secrets
from syncd.csv_mode import plan_csv
from syncd.engine import Engine
from syncd.html_report import write_html_report
from syncd.plan import Plan
from syncd.report import render, render_audit, render_push, summary_line
from syncd.review import (
    ReviewError,
    decide,
    held_reverts,
    pending_reviews,
    release,
    render_reverts,
    render_reviews,
)
from syncd.sources import build_connector

T = TypeVar("T")
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="syncd keeps a CRM clean: pull, check, plan, push.",
)
sandbox_app = typer.Typer(no_args_is_help=True, help="Local emulators of the vendors' APIs.")
app.add_typer(sandbox_app, name="sandbox")

ConfigOpt = Annotated[Path, typer.Option("-c", "--config", help="Configuration file (TOML).")]
SourceOpt = Annotated[str | None, typer.Option("--source", help="Source name from the config.")]


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


FormatOpt = Annotated[ReportFormat, typer.Option("--format", "-f", help="Report format.")]
OutOpt = Annotated[Path | None, typer.Option("-o", "--output", help="Write the report here.")]
LimitOpt = Annotated[
    int | None,
    typer.Option("--limit", help="Rows per policy in table/markdown reports (default: all)."),
]
WaitOpt = Annotated[
    float,
    typer.Option(
        "--wait",
        min=0.0,
        metavar="SECONDS",
        help="When another command holds the source, wait up to this long for it "
        "(default: refuse at once with exit code 4).",
    ),
]


def _fail(message: str, code: int) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return uuid.uuid4().hex[:12]


def _load(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        raise _fail(f"configuration error in {path}:\n{exc}", 2) from None


@contextmanager
def _engine(config: Config, wait: float = 0.0) -> Iterator[Engine]:
    slog.configure(config.logging.level, config.logging.format)
    store = open_store(config.store_url())
    try:
        yield Engine(config, store, _now, _new_id, build_connector, wait_seconds=wait)
    finally:
        store.close()


def _emit(plan: Plan, fmt: ReportFormat, output: Path | None, limit: int | None) -> None:
    width = shutil.get_terminal_size((120, 40)).columns if sys.stdout.isatty() else 120
    text = render(plan, fmt.value, limit=limit, width=max(width, 80))
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"plan {plan.id} written to {output}: {summary_line(plan)}", err=True)


def _plan_sources(
    config: Config,
    names: list[str],
    fmt: ReportFormat,
    output: Path | None,
    limit: int | None,
    *,
    wait: float = 0.0,
) -> None:
    with _engine_or_exit(config, wait) as engine:
        for name in names:
            _emit(_guard(partial(engine.plan, name)), fmt, output, limit)


@app.command("check-config")
def check_config(config: ConfigOpt) -> None:
    """Validate a configuration file: exit 0 when good, 2 with every problem when not."""
    cfg = _load(config)
    for warning in unresolved_secrets(cfg):
        typer.secho(
            f"warning: {warning} (needed when the source runs)", err=True, fg=typer.colors.YELLOW
        )
    typer.echo(f"{config}: OK ({len(cfg.sources)} source(s): {', '.join(cfg.sources)})")


@app.command()
def plan(
    config: Annotated[
        Path | None, typer.Option("-c", "--config", help="Configuration file (TOML).")
    ] = None,
    source: SourceOpt = None,
    fmt: FormatOpt = ReportFormat.table,
    output: OutOpt = None,
    limit: LimitOpt = None,
    csv_file: Annotated[
        Path | None,
        typer.Option("--csv", help="Plan a CSV export instead: no configuration needed."),
    ] = None,
    object_type: Annotated[
        str, typer.Option("--object-type", help="With --csv: what the rows are.")
    ] = "contacts",
    id_column: Annotated[str, typer.Option("--id-column", help="With --csv.")] = "id",
    apply_csv: Annotated[
        bool,
        typer.Option(
            "--apply", help="With --csv: write the cleaned file, merge map and task list."
        ),
    ] = False,
    wait: WaitOpt = 0.0,
) -> None:
    """Pull a source, run the policies, save the plan and print it. Changes nothing in the CRM.

    With --csv FILE, plan a spreadsheet export with the default policies and a throw-away state
    store; --apply then writes FILE.cleaned.csv, FILE.merge-map.csv and FILE.tasks.csv beside it
    (the input is never modified).
    """
    if csv_file is not None:
        slog.configure("warning", "auto")
        try:
            result = plan_csv(
                csv_file,
                object_type,
                fmt=fmt.value,
                output=output,
                limit=limit,
                apply=apply_csv,
                now=_now,
                new_id=_new_id,
                id_column=id_column,
            )
        except ConfigError as exc:
            raise _fail(f"--csv {csv_file}: {exc}", 2) from None
        except SyncdError as exc:
            raise _fail(f"--csv {csv_file}: {exc}", 1) from None
        if output is not None:
            typer.echo(f"plan {result.id} written to {output}: {summary_line(result)}", err=True)
        return
    if config is None:
        raise _fail("plan: give -c CONFIG, or --csv FILE to plan a spreadsheet export", 2)
    cfg = _load(config)
    try:
        name, _ = cfg.source(source)
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None
    _plan_sources(cfg, [name], fmt, output, limit, wait=wait)


MaxChangesOpt = Annotated[
    int | None,
    typer.Option("--max-changes", help="Refuse to push a plan with more changes than this."),
]


@app.command()
def run(
    config: ConfigOpt,
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and report; change nothing in the CRM.")
    ] = False,
    source: SourceOpt = None,
    fmt: FormatOpt = ReportFormat.table,
    output: OutOpt = None,
    limit: LimitOpt = None,
    max_changes: MaxChangesOpt = None,
    wait: WaitOpt = 0.0,
) -> None:
    """Run sync cycles for every source (or one with --source): plan, then push unless --dry-run."""
    cfg = _load(config)
    if not once:
        raise _fail("the long-running scheduler is not available yet; use --once", 2)
    names = [_source_name(cfg, source)] if source else list(cfg.sources)
    if dry_run:
        _plan_sources(cfg, names, fmt, output, limit, wait=wait)
        return
    with _engine_or_exit(cfg, wait) as engine:
        failed = False
        for name in names:
            result = _guard(partial(engine.run_once, name, max_changes=max_changes))
            if result.plan is not None:
                _emit(result.plan, fmt, output, limit)
            for push in result.pushes:
                failed |= not push.complete
                typer.echo(render_push(push))
    if failed:
        raise typer.Exit(1)


@app.command()
def apply(
    plan_id: Annotated[str, typer.Argument(help="Id of a plan saved by syncd plan.")],
    config: ConfigOpt,
    max_changes: MaxChangesOpt = None,
    wait: WaitOpt = 0.0,
) -> None:
    """Push a saved plan to the CRM: exactly the reviewed changes, nothing recomputed.

    Run it again after an interruption to finish the plan (each change once); a plan with
    nothing left to send is reported as already applied (exit 0).
    """
    cfg = _load(config)
    with _engine_or_exit(cfg, wait) as engine:
        result = _guard(lambda: engine.apply(plan_id, max_changes=max_changes))
    if result.note:
        typer.echo(result.note)
    for push in result.pushes:
        typer.echo(render_push(push))
    if not all(p.complete for p in result.pushes):
        raise typer.Exit(1)


@app.command()
def audit(
    config: ConfigOpt,
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run.")] = None,
    record: Annotated[str | None, typer.Option("--record", help="Only this record id.")] = None,
    fmt: FormatOpt = ReportFormat.table,
    limit: Annotated[int | None, typer.Option(help="Newest N entries.")] = None,
) -> None:
    """Show what syncd changed in the CRM: before, after, when, which run and policy."""
    cfg = _load(config)
    with _engine_or_exit(cfg) as engine:
        entries = engine.store.audit(run_id=run_id, record_id=record, limit=limit)
    sys.stdout.write(render_audit(entries, fmt.value))


@app.command()
def undo(
    run_id: Annotated[str, typer.Argument(help="The run whose changes to revert.")],
    config: ConfigOpt,
    wait: WaitOpt = 0.0,
) -> None:
    """Revert a run's field updates, skipping fields a person changed since; say what cannot be."""
    cfg = _load(config)
    with _engine_or_exit(cfg, wait) as engine:
        report, cannot = _guard(lambda: engine.undo(run_id))
    if report is not None:
        typer.echo(render_push(report))
    else:
        typer.echo(f"run {run_id} applied no field updates that can still be undone")
    for line in cannot:
        typer.echo(f"not undone: {line}")
    if report is not None and not report.complete:
        raise typer.Exit(1)


class Decision(StrEnum):
    approve = "approve"
    reject = "reject"
    release = "release"


@app.command()
def review(
    config: ConfigOpt,
    source: SourceOpt = None,
    decision: Annotated[
        Decision | None,
        typer.Argument(help="approve, reject or release; omit to list what waits for a person."),
    ] = None,
    ids: Annotated[
        list[str] | None,
        typer.Argument(help="Ids of the pair or cluster (two or more); for release, records."),
    ] = None,
    object_type: Annotated[str, typer.Option("--object-type")] = "contacts",
    field_name: Annotated[
        str | None, typer.Option("--field", help="With release: only this field.")
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who decided (kept with it).")] = None,
    note: Annotated[str | None, typer.Option("--note")] = None,
) -> None:
    """List what waits for a person, approve or reject a duplicate pair, release a change.

    An approved pair is merged by the next run; a rejected one is never proposed again. A value
    syncd wrote that someone changed back is not proposed again until released:
    `syncd review release RECORD_ID --field FIELD` lets the next plan propose it again.
    """
    cfg = _load(config)
    name = _source_name(cfg, source)
    with _engine_or_exit(cfg) as engine:
        if decision is None:
            typer.echo(render_reviews(pending_reviews(engine.store, name)))
            held = render_reverts(held_reverts(engine.store, name))
            if held:
                typer.echo(held)
            return
        if decision is Decision.release:
            if not ids:
                raise _fail("review release: give the id of the record (one or more)", 2)
            try:
                released = release(engine.store, name, object_type, ids, field_name, _now(), by=by)
            except ReviewError as exc:
                raise _fail(f"review: {exc}", 2) from None
            for revert in released:
                typer.echo(
                    f"released: {revert.field} of {revert.object_type} {revert.record_id}; "
                    f"the next plan may propose {revert.value!r} again"
                )
            return
        if not ids or len(ids) < 2:
            raise _fail("review: give the ids of the pair (two or more)", 2)
        verdict = "approved" if decision is Decision.approve else "rejected"
        try:
            item = decide(engine.store, name, object_type, ids, verdict, _now(), by=by, note=note)
        except ReviewError as exc:
            raise _fail(f"review: {exc}", 2) from None
    typer.echo(f"{verdict}: {object_type} {', '.join(sorted(item.ids))}")


@app.command()
def report(
    config: ConfigOpt,
    output: Annotated[Path, typer.Option("-o", "--output", help="HTML file to write.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="Only 'html'.")] = "html",
    source: SourceOpt = None,
) -> None:
    """Write the data-quality report: the latest plan and health over runs, one HTML page."""
    if fmt != "html":
        raise _fail(f"--format: {fmt!r} is not supported; expected html", 2)
    cfg = _load(config)
    names = [_source_name(cfg, source)] if source else list(cfg.sources)
    with _engine_or_exit(cfg) as engine:
        _guard(partial(write_html_report, engine.store, names, output, now=_now()))
    typer.echo(f"report written to {output}", err=True)


def _source_name(cfg: Config, source: str | None) -> str:
    try:
        return cfg.source(source)[0]
    except ConfigError as exc:
        raise _fail(str(exc), 2) from None


@contextmanager
def _engine_or_exit(config: Config, wait: float = 0.0) -> Iterator[Engine]:
    try:
        with _engine(config, wait) as engine:
            yield engine
    except ConfigError as exc:
        raise _fail(f"configuration error:\n{exc}", 2) from None


def _guard(call: Callable[[], T]) -> T:
    try:
        return call()
    except ConfigError as exc:
        raise _fail(f"configuration error:\n{exc}", 2) from None
    except SourceBusyError as exc:
        raise _fail(f"not run: {exc}", 4) from None
    except SyncdError as exc:
        raise _fail(f"run failed: {exc}", 1) from None


@sandbox_app.command("hubspot")
def sandbox_hubspot(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 8765,
    records: Annotated[int, typer.Option(help="Contacts to seed.")] = 2000,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 7,
    fault_rate: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Share of requests answered 429 or 5xx."),
    ] = 0.0,
    drop_rate: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of connections closed unanswered (half of them after the write).",
        ),
    ] = 0.0,
    latency_ms: Annotated[int, typer.Option(min=0, help="Delay added to every answer.")] = 0,
    fault_seed: Annotated[int, typer.Option(min=0, help="Seed of the injected faults.")] = 0,
    rate_limit: Annotated[
        int,
        typer.Option(min=0, help="Requests per rolling 10 s (0: not enforced)."),
    ] = 190,
    token: Annotated[
        str,
        typer.Option(help="The only bearer token accepted; others get HubSpot's 401."),
    ] = "sandbox",
) -> None:
    """Serve the HubSpot emulator, seeded with a messy CRM, until interrupted.

    Faults, stats and the accepted token can be changed and read while it runs:
    /_sandbox/faults, /_sandbox/stats, /_sandbox/auth.
    """
    try:
        serve_forever(
            port=port,
            records=records,
            seed=seed,
            fault_rate=fault_rate,
            drop_rate=drop_rate,
            latency_ms=latency_ms,
            fault_seed=fault_seed,
            rate_limit=rate_limit or None,
            tokens=(token,),
        )
    except ValueError as exc:
        raise _fail(f"bad sandbox settings: {exc}", 2) from None


@app.command()
def demo(
    config: ConfigOpt = Path("config.example.toml"),
    records: Annotated[int, typer.Option(help="Contacts to seed the sandbox with.")] = 3000,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 7,
    limit: Annotated[int, typer.Option(help="Rows per policy in the report.")] = 12,
) -> None:
    """Start the HubSpot sandbox in-process, run one dry-run cycle against it, print the report."""
    cfg = _load(config)
    name = "hubspot" if "hubspot" in cfg.sources else next(iter(cfg.sources))
    os.environ.setdefault("HUBSPOT_TOKEN", "sandbox")
    typer.echo(
        f"Seeding the HubSpot sandbox with {records} messy contacts (seed {seed})…", err=True
    )
    state = SandboxState.from_dataset(generate(records=records, seed=seed, now=_now()), clock=_now)
    with (
        tempfile.TemporaryDirectory(prefix="syncd-demo-") as tmp,
        HubSpotSandbox(state, port=0) as sandbox,
    ):
        chosen = cfg.sources[name]
        settings = chosen.settings.model_copy(
            update={"base_url": sandbox.base_url, "token": "${HUBSPOT_TOKEN}"}
        )
        source = chosen.model_copy(update={"settings": settings})
        demo_cfg = cfg.model_copy(
            update={
                "sources": {name: source},
                "store": cfg.store.model_copy(update={"url": f"sqlite:///{tmp}/demo.db"}),
                "logging": cfg.logging.model_copy(update={"level": "warning"}),
            }
        )
        typer.echo(
            f"Sandbox at {sandbox.base_url}; dry run of source {name!r} "
            f"(state store {tmp}/demo.db)…",
            err=True,
        )
        _plan_sources(demo_cfg, [name], ReportFormat.table, None, limit)


def main() -> None:
    """Console-script entry point."""
    app()
