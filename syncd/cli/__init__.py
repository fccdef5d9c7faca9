"""The command line: parse, load config, call the library. Nothing else lives here.

Commands by area: :mod:`syncd.cli.cycle` (plan, run, apply, show), :mod:`syncd.cli.history`
(runs, plans, audit, undo), :mod:`syncd.cli.admin` (check-config, doctor, review, report, demo,
sandbox), :mod:`syncd.cli.service` (serve, status, alerts test). :mod:`syncd.cli.common` holds
the app, the global options and the exit codes: 0 done,
1 the run failed, 2 configuration or usage, 3 partly done, 4 busy.
"""

from __future__ import annotations

from importlib import metadata
from typing import Annotated

import typer

from syncd.cli import admin, cycle, history, service
from syncd.cli.common import GLOBALS, LogFormat, LogLevel, app
from syncd.heap import collector_paused, skip_collection_at_exit

__all__ = ["admin", "app", "cycle", "history", "main", "service"]


def _version() -> str:
    try:
        return metadata.version("syncd")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"syncd {_version()}")
        raise typer.Exit(0)


#: Commands that build a run's millions of objects once and end: the cyclic collector stays off
#: to their end (:func:`syncd.heap.collector_paused`), not only while the run plans. Turned on
#: after the run, its first pass went over everything the run left (1.1 s of ``plan --csv`` at
#: 100,000 contacts, in counting the plan's summary), and again while the plan was rendered.
#: Long-running commands (``serve``, the sandboxes) collect as usual.
ONE_OFF = frozenset(("plan", "run", "apply", "undo", "demo", "report"))


@app.callback()
def _global_options(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print syncd's version and exit.",
        ),
    ] = False,
    log_level: Annotated[
        LogLevel | None,
        typer.Option(
            "--log-level",
            help="debug, info, warning or error (debug adds each request); overrides the "
            "config's [logging] level.",
        ),
    ] = None,
    log_format: Annotated[
        LogFormat | None,
        typer.Option(
            "--log-format",
            help="auto (console lines on a terminal, JSON lines otherwise), console or json; "
            "overrides the config's [logging] format.",
        ),
    ] = None,
) -> None:
    """syncd keeps a CRM clean: pull, check, plan, push.

    Exit codes: 0 done, 1 the run failed, 2 configuration or usage, 3 partly done (some
    sources or operations failed), 4 busy (another command holds the source).
    """
    del version
    if ctx.invoked_subcommand in ONE_OFF:
        ctx.with_resource(collector_paused())
    GLOBALS.log_level = log_level
    GLOBALS.log_format = log_format


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    finally:
        skip_collection_at_exit()
