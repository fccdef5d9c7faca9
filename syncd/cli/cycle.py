"""Commands of the cycle: ``plan``, ``run``, ``apply``, ``show``.

With several sources every source is tried: one that fails (or is busy) is reported and the
others still run; the summary on stderr says which failed. Exit 0 when every source is done,
3 when some are done and some not (or a push left operations failed), else the failures' own
code (1 failed, 2 configuration, 4 busy).

``--format json`` is one document on stdout: ``plan`` prints the plan; ``run`` and ``apply``
print, per source, the run id, the plan and what the push did (several sources: ``{"sources":
[...]}``). Everything for people goes to stderr.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, cast

import typer
from pydantic import ValidationError

from connectors.csv import CANONICAL_FIELDS
from model.changes import Change
from model.errors import ConfigError, SyncdError
from policies.registry import PoliciesSettings
from state.base import PlanInfo, StateStore
from syncd.cli.common import (
    ConfigOpt,
    Exit,
    FormatOpt,
    LimitOpt,
    MaxChangesOpt,
    OutOpt,
    PlanFormat,
    ReportFormat,
    SourceOpt,
    WaitOpt,
    app,
    check_output_template,
    configure_logging,
    emit,
    engine_for,
    error_exit,
    fail,
    guard,
    load,
    new_id,
    now,
    one_source,
    output_for,
    rows_limit,
    say,
    source_names,
    terminal_width,
    write_output,
)
from syncd.config import Config
from syncd.csv_mode import plan_csv
from syncd.engine import ApplyResult, Engine
from syncd.plan import Plan
from syncd.plan_csv import read_exclusions
from syncd.plans import stored_plan
from syncd.push import PushReport
from syncd.report import (
    Format,
    plan_to_json,
    push_to_json,
    render_push,
    rendered,
    summary_line,
)

KINDS = ("update", "merge", "review", "create_task", "archive", "flag")
_KIND_ALIASES = {"task": "create_task", "tasks": "create_task", "updates": "update"}


@dataclass
class Outcome:
    """What one source's command came to: ``done``, ``partial`` (some operations failed),
    or ``failed`` (with the exit code of its error)."""

    source: str
    status: str = "done"
    run_id: str | None = None
    plan: Plan | None = None
    pushes: list[PushReport] = field(default_factory=list)
    error: str | None = None
    code: int = Exit.DONE
    #: A sentence for people when nothing was pushed on purpose (a plan already fully applied).
    note: str | None = None

    def document(self) -> dict[str, object]:
        """The JSON document of this source's run."""
        return {
            "source": self.source,
            "status": self.status,
            "run_id": self.run_id,
            "plan": plan_to_json(self.plan) if self.plan is not None else None,
            "pushes": [push_to_json(p) for p in self.pushes],
            "error": self.error,
            "note": self.note,
        }


def exit_code(outcomes: list[Outcome]) -> int:
    """0 all done; 3 some done and some not, or a push partly done; else the failures' code."""
    done = [o for o in outcomes if o.status == "done"]
    if len(done) == len(outcomes):
        return Exit.DONE
    if any(o.status != "failed" for o in outcomes):
        return Exit.PARTIAL
    codes = {o.code for o in outcomes}
    return codes.pop() if len(codes) == 1 else Exit.FAILED


def _failure(source: str, exc: SyncdError, run_id: str | None = None) -> Outcome:
    message, code = error_exit(exc)
    return Outcome(source, "failed", run_id=run_id, error=message, code=code)


def _summary(outcomes: list[Outcome]) -> None:
    """One line per source on stderr when there are several, and always for failures."""
    for outcome in outcomes:
        if outcome.status == "failed":
            say(f"source {outcome.source}: {outcome.error}")
    if len(outcomes) > 1:
        parts = [
            f"{o.source} {o.status}" + (f" (run {o.run_id})" if o.run_id else "") for o in outcomes
        ]
        failed = [o.source for o in outcomes if o.status != "done"]
        tail = f"; not done: {', '.join(failed)}" if failed else ""
        say(f"{len(outcomes)} sources: " + ", ".join(parts) + tail)


def _write_plan(plan: Plan, fmt: str, output: Path | None, limit: int | None) -> str | None:
    """The plan report to ``output`` (the problem when it cannot be) or stdout."""
    shape = cast(Format, fmt)
    parts = rendered(plan, shape, limit=rows_limit(limit, fmt, output), width=terminal_width())
    if output is None:
        sys.stdout.writelines(parts)
        return None
    problem = write_output(
        output,
        parts,
        f"plan {plan.id} is saved: make the folder, then syncd show {plan.id} -o {output}",
    )
    if problem is None:
        say(f"plan {plan.id} written to {output}: {summary_line(plan)}")
    return problem


def _run_line(outcome: Outcome) -> str:
    return (
        f"run {outcome.run_id} of source {outcome.source}: {outcome.status} "
        f"(syncd undo {outcome.run_id} reverts its field updates)"
    )


def _print_outcomes(
    outcomes: list[Outcome], fmt: ReportFormat, output: Path | None, limit: int | None
) -> list[Outcome]:
    """Reports of every outcome: JSON as one document, else the plan and the push per source.
    Returns the outcomes with output problems folded in (a source whose file could not be
    written is failed with exit code 2)."""
    result: list[Outcome] = []
    if fmt is ReportFormat.json:
        docs = [o.document() for o in outcomes]
        document: object = docs[0] if len(docs) == 1 else {"sources": docs}
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        target = output_for(output, outcomes[0].source) if len(outcomes) == 1 else output
        emit(text, target, "the runs are recorded: syncd runs lists them")
        return outcomes
    for outcome in outcomes:
        shown = outcome
        if outcome.plan is not None:
            target = output_for(output, outcome.source)
            problem = _write_plan(outcome.plan, fmt.value, target, limit)
            if problem is not None:
                shown = replace(outcome, status="failed", error=problem, code=Exit.USAGE)
        if outcome.note:
            typer.echo(outcome.note)
        for push in outcome.pushes:
            typer.echo(render_push(push))
        if outcome.pushes and outcome.run_id:
            typer.echo(_run_line(outcome))
        result.append(shown)
    return result


# -- plan -----------------------------------------------------------------------------------------


@app.command()
def plan(
    config: Annotated[
        Path | None,
        typer.Option("-c", "--config", help="Configuration file (TOML).", metavar="FILE"),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Source name from the config.", metavar="NAME"),
    ] = None,
    fmt: Annotated[
        PlanFormat,
        typer.Option("--format", "-f", help="Report format: table, json, markdown or csv."),
    ] = PlanFormat.table,
    output: OutOpt = None,
    limit: LimitOpt = None,
    csv_file: Annotated[
        Path | None,
        typer.Option(
            "--csv", help="Plan a CSV export instead: no configuration needed.", metavar="FILE"
        ),
    ] = None,
    object_type: Annotated[
        str,
        typer.Option(
            "--object-type", help="With --csv: what the rows are (contacts, companies...)."
        ),
    ] = "contacts",
    id_column: Annotated[
        str | None,
        typer.Option(
            "--id-column",
            help="With --csv: the column of unique record ids (default: id, Record ID, "
            "Contact ID...).",
            metavar="HEADER",
        ),
    ] = None,
    columns: Annotated[
        list[str] | None,
        typer.Option(
            "--columns",
            help="With --csv: HEADER=FIELD pairs for headers syncd does not recognise, "
            "comma-separated or repeated (e.g. 'Given=firstname,Surname=lastname').",
            metavar="HEADER=FIELD",
        ),
    ] = None,
    encoding: Annotated[
        str,
        typer.Option(
            "--encoding",
            help="With --csv: the file's encoding; UTF-8 with or without a BOM by default, "
            "cp1252 for Excel's CSV.",
        ),
    ] = "utf-8",
    default_region: Annotated[
        str,
        typer.Option(
            "--default-region",
            help="With --csv: the country of phone numbers written without one (US, GB, DE...).",
            metavar="REGION",
        ),
    ] = "US",
    apply_csv: Annotated[
        bool,
        typer.Option(
            "--apply", help="With --csv: write the cleaned file, merge map and task list."
        ),
    ] = False,
    skip: Annotated[
        list[str] | None,
        typer.Option(
            "--skip",
            help="With --csv: policies to leave out (normalize, tags, dedupe, follow_up, "
            "required, retire), comma-separated or repeated.",
            metavar="POLICY",
        ),
    ] = None,
    wait: WaitOpt = 0.0,
) -> None:
    """Pull a source, run the policies, save the plan and print it. Changes nothing in the CRM.

    With --csv FILE, plan a spreadsheet export with the default policies and a throw-away state
    store; --apply then writes FILE.cleaned.csv, FILE.merge-map.csv and FILE.tasks.csv beside it
    (the input is never modified). Headers of HubSpot, Salesforce, Excel and Google exports are
    recognised; the columns not used are said.
    """
    if csv_file is not None:
        sheet = _CsvOptions(
            object_type,
            id_column,
            _column_pairs(columns or []),
            encoding,
            default_region,
            _skipped_policies(skip or []),
        )
        _plan_csv(csv_file, sheet, fmt, output, limit, apply_csv)
        return
    if config is None:
        raise fail("plan: give -c CONFIG, or --csv FILE to plan a spreadsheet export", Exit.USAGE)
    cfg = load(config)
    name = one_source(cfg, source)
    with engine_for(cfg, wait) as engine:
        made = guard(lambda: engine.plan(name))
    problem = _write_plan(made, fmt.value, output, limit)
    if problem is not None:
        raise fail(problem, Exit.USAGE)


@dataclass(frozen=True)
class _CsvOptions:
    """How to read the file of ``plan --csv``."""

    object_type: str
    id_column: str | None
    columns: dict[str, str]
    encoding: str
    default_region: str
    skip: frozenset[str] = frozenset()


def _skipped_policies(values: list[str]) -> frozenset[str]:
    """``--skip`` as policy names; a usage error for a name that is no policy."""
    names = frozenset(v.strip() for value in values for v in value.split(",") if v.strip())
    unknown = sorted(names - set(PoliciesSettings.model_fields))
    if unknown:
        raise fail(
            f"--skip {', '.join(unknown)}: no such policy; expected any of "
            f"{', '.join(PoliciesSettings.model_fields)}",
            Exit.USAGE,
        )
    return names


def _column_pairs(values: list[str]) -> dict[str, str]:
    """``--columns`` as header → field; a usage error for a pair that is not HEADER=FIELD."""
    pairs: dict[str, str] = {}
    for value in values:
        for pair in value.split(","):
            header, sep, name = pair.partition("=")
            if not sep or not header.strip() or not name.strip():
                raise fail(
                    f"--columns {pair!r}: expected HEADER=FIELD, e.g. 'Given=firstname'",
                    Exit.USAGE,
                )
            pairs[header.strip()] = name.strip()
    return pairs


def _option_errors(exc: ValidationError) -> str:
    """A rejected ``--csv`` option per line, named as on the command line."""
    lines = []
    for error in exc.errors():
        option = "--" + str(error["loc"][0]).replace("_", "-") if error["loc"] else "--csv"
        why = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"{option} {error.get('input')!r}: {why}")
    return "\n".join(lines)


def _plan_csv(
    csv_file: Path,
    sheet: _CsvOptions,
    fmt: PlanFormat,
    output: Path | None,
    limit: int | None,
    apply_csv: bool,
) -> None:
    if not csv_file.is_file():
        why = "is a folder" if csv_file.is_dir() else "does not exist"
        raise fail(f"--csv {csv_file}: the file {why}; give the path of a CSV export", Exit.USAGE)
    if output is not None and not output.parent.is_dir():
        raise fail(f"-o {output}: the folder {output.parent} does not exist", Exit.USAGE)
    known = CANONICAL_FIELDS.get(sheet.object_type, ())
    for header, name in sheet.columns.items():
        if known and name not in known:
            raise fail(
                f"--columns {header}={name}: {name!r} is no field of {sheet.object_type}; "
                f"expected one of {', '.join(known)}",
                Exit.USAGE,
            )
    configure_logging(quiet=True)
    try:
        result = plan_csv(
            csv_file,
            sheet.object_type,
            fmt=fmt.value,
            output=output,
            limit=rows_limit(limit, fmt.value, output),
            apply=apply_csv,
            now=now,
            new_id=new_id,
            id_column=sheet.id_column,
            columns=sheet.columns,
            default_region=sheet.default_region,
            encoding=sheet.encoding,
            policies=PoliciesSettings.model_validate(
                {name: {"enabled": False} for name in sheet.skip}
            ),
        )
    except ValidationError as exc:
        raise fail(_option_errors(exc), Exit.USAGE) from None
    except ConfigError as exc:
        raise fail(f"--csv {csv_file}: {exc}", Exit.USAGE) from None
    except SyncdError as exc:
        raise fail(f"--csv {csv_file}: {exc}", Exit.FAILED) from None
    except OSError as exc:
        raise fail(f"--csv {csv_file}: {exc.strerror or exc}", Exit.FAILED) from None
    unused = result.stats.get("unused_columns")
    if isinstance(unused, list) and unused:
        shown = ", ".join(str(u) for u in unused)
        say(f"columns not used (carried through unchanged): {shown}; map one with --columns")
    if output is not None:
        say(f"plan {result.id} written to {output}: {summary_line(result)}")


# -- run ------------------------------------------------------------------------------------------


def _run_source(engine: Engine, name: str, dry_run: bool, max_changes: int | None) -> Outcome:
    try:
        if dry_run:
            made = engine.plan(name)
            return Outcome(name, run_id=made.run_id, plan=made)
        result: ApplyResult = engine.run_once(name, max_changes=max_changes)
    except SyncdError as exc:
        return _failure(name, exc)
    complete = all(p.complete for p in result.pushes)
    return Outcome(
        name,
        "done" if complete else "partial",
        run_id=result.run_id,
        plan=result.plan,
        pushes=result.pushes,
    )


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
    """Run a sync cycle for every source (or one with --source): plan, then push unless
    --dry-run. Prints the run id that syncd undo takes. On a schedule: syncd serve."""
    cfg = load(config)
    if not once:
        raise fail(
            "syncd run runs one cycle: give --once; to run on a schedule, use "
            f"syncd serve -c {config}",
            Exit.USAGE,
        )
    names = source_names(cfg, source)
    check_output_template(output, names)
    with engine_for(cfg, wait) as engine:
        outcomes = [_run_source(engine, name, dry_run, max_changes) for name in names]
    outcomes = _print_outcomes(outcomes, fmt, output, limit)
    _summary(outcomes)
    raise typer.Exit(exit_code(outcomes))


# -- apply ----------------------------------------------------------------------------------------


def plan_header(store: StateStore, plan_id: str) -> PlanInfo:
    """The saved plan ``plan_id``; exit 2 saying what the id is when it is not a plan's."""
    try:
        return store.plan_info(plan_id)
    except SyncdError:
        pass
    try:
        made = store.get_run(plan_id)
    except SyncdError:
        raise fail(f"{plan_id} is not a plan id (syncd plans lists them)", Exit.USAGE) from None
    plans = [p.id for p in store.list_plans(made.source, limit=200) if p.run_id == plan_id]
    hint = f": it made plan {', '.join(plans)}" if plans else ""
    raise fail(f"{plan_id} is a run id, not a plan id{hint} (syncd plans lists plans)", Exit.USAGE)


def select(changes: list[Change], only: list[str], excluded: set[int], plan_id: str) -> list[int]:
    """Positions of the changes ``--only`` keeps (policies and kinds; within each, any of
    them), less ``excluded``."""
    wanted = [_KIND_ALIASES.get(v.strip(), v.strip()) for o in only for v in o.split(",") if v]
    policies = {c.policy for c in changes}
    unknown = [v for v in wanted if v not in policies and v not in KINDS]
    if unknown:
        raise fail(
            f"--only: {', '.join(unknown)} is neither a policy of plan {plan_id} nor a kind of "
            f"change; expected some of {', '.join(sorted(policies))} or {', '.join(KINDS)}",
            Exit.USAGE,
        )
    by_policy = {v for v in wanted if v in policies}
    by_kind = {v for v in wanted if v in KINDS and v not in policies}
    return [
        seq
        for seq, change in enumerate(changes)
        if (not by_policy or change.policy in by_policy)
        and (not by_kind or change.kind in by_kind)
        and seq not in excluded
    ]


@app.command()
def apply(
    plan_id: Annotated[
        str, typer.Argument(help="Id of a plan saved by syncd plan (syncd plans lists them).")
    ],
    config: ConfigOpt,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="Push only these policies or kinds of change (normalize, dedupe, update, "
            "merge, create_task...); repeat or separate with commas.",
            metavar="NAMES",
        ),
    ] = None,
    exclude: Annotated[
        Path | None,
        typer.Option(
            "--exclude",
            help="A CSV from syncd show PLAN_ID --format csv: rows marked in its exclude column "
            "are not pushed.",
            metavar="FILE",
        ),
    ] = None,
    fmt: Annotated[
        ReportFormat,
        typer.Option("--format", "-f", help="Output: table, or json (one document)."),
    ] = ReportFormat.table,
    max_changes: MaxChangesOpt = None,
    wait: WaitOpt = 0.0,
) -> None:
    """Push a saved plan to the CRM: exactly the reviewed changes, nothing recomputed. Prints
    the run id that syncd undo takes."""
    cfg = load(config)
    with engine_for(cfg, wait) as engine:
        header = plan_header(engine.store, plan_id)
        seqs = None
        if only or exclude is not None:
            changes = engine.store.load_plan(plan_id).changes
            excluded = (
                guard(lambda: read_exclusions(exclude, plan_id, len(changes)))
                if exclude is not None
                else set()
            )
            seqs = select(changes, only or [], excluded, plan_id)
            say(f"plan {plan_id}: {len(seqs)} of {len(changes)} changes selected")
            if not seqs:
                say("nothing to push")
                raise typer.Exit(Exit.DONE)
        try:
            result = engine.apply(plan_id, max_changes=max_changes, seqs=seqs)
            complete = all(p.complete for p in result.pushes)
            outcome = Outcome(
                header.source,
                "done" if complete else "partial",
                run_id=result.run_id,
                plan=stored_plan(engine.store, plan_id) if fmt is ReportFormat.json else None,
                pushes=result.pushes,
                note=result.note,
            )
        except SyncdError as exc:
            outcome = _failure(header.source, exc)
    outcomes = _print_outcomes([outcome], fmt, None, None)
    _summary(outcomes)
    raise typer.Exit(exit_code(outcomes))


# -- show -----------------------------------------------------------------------------------------


@app.command()
def show(
    plan_id: Annotated[str, typer.Argument(help="Id of a saved plan (syncd plans lists them).")],
    config: ConfigOpt,
    fmt: Annotated[
        PlanFormat,
        typer.Option(
            "--format",
            "-f",
            help="table, json, markdown, or csv (one row per change, for review in a "
            "spreadsheet; syncd apply --exclude reads it back).",
        ),
    ] = PlanFormat.table,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="Write it to this file (created 0600).", metavar="FILE"
        ),
    ] = None,
    limit: LimitOpt = None,
) -> None:
    """Render a saved plan again, in any format, without making a new one."""
    cfg: Config = load(config)
    with engine_for(cfg) as engine:
        plan_header(engine.store, plan_id)
        saved = guard(lambda: stored_plan(engine.store, plan_id))
    shape: Format = fmt.value
    parts = rendered(saved, shape, limit=rows_limit(limit, shape, output), width=terminal_width())
    emit(parts, output, "nothing was changed")
    if output is not None:
        say(f"plan {saved.id} written to {output}: {summary_line(saved)}")
