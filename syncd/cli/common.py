"""What every command shares: the app, global options, exit codes, errors as one line, the
engine, output files.

Exit codes: 0 done, 1 the run failed, 2 configuration or usage, 3 partly done (some sources or
operations failed), 4 busy (another command holds the source; ``--wait SECONDS`` waits).
Messages for people go to stderr; stdout carries only what the command produces (a report, a
JSON document), so it can be piped.
"""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Annotated, Final, Literal, TypeVar

import typer

from model.errors import ConfigError, SourceBusyError, SyncdError
from state.errors import StoreSetupError
from state.store import open_store
from syncd import logging as slog
from syncd.config import Config, LoggingConfig, load_config
from syncd.engine import Engine
from syncd.files import write_private
from syncd.plan_csv import ExclusionError
from syncd.review import ReviewError
from syncd.sources import build_connector

T = TypeVar("T")

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: flags without a type, errors on one line
    help="syncd keeps a CRM clean: pull, check, plan, push.",
)

#: Rows per policy a table shows on a terminal unless --limit says otherwise.
TERMINAL_ROWS: Final = 20


class Exit(IntEnum):
    """The exit codes every command uses (README: "Exit codes")."""

    DONE = 0
    FAILED = 1
    USAGE = 2
    PARTIAL = 3
    BUSY = 4


LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["auto", "console", "json"]


@dataclass
class Globals:
    """The global options of this invocation (``syncd --log-level debug plan ...``)."""

    log_level: LogLevel | None = None
    log_format: LogFormat | None = None


GLOBALS = Globals()


def configure_logging(
    config: LoggingConfig | None = None, quiet: bool = False, secrets: Iterable[str] = ()
) -> None:
    """Logs as the global options say, else as the config says (``quiet``: warnings only);
    ``secrets`` never show in them."""
    level: LogLevel = config.level if config else ("warning" if quiet else "info")
    fmt: LogFormat = config.format if config else "auto"
    slog.configure(GLOBALS.log_level or level, GLOBALS.log_format or fmt, secrets=secrets)


# -- options shared by several commands ---------------------------------------------------------

ConfigOpt = Annotated[
    Path, typer.Option("-c", "--config", help="Configuration file (TOML).", metavar="FILE")
]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source", help="Source name from the config (default: every source).", metavar="NAME"
    ),
]


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


class PlanFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"


class ListFormat(StrEnum):
    table = "table"
    json = "json"


FormatOpt = Annotated[
    ReportFormat,
    typer.Option("--format", "-f", help="Report format: table, json or markdown."),
]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        "-o",
        "--output",
        help="Write the report to this file (created 0600); with several sources the name "
        "needs {source}, e.g. plan-{source}.json.",
        metavar="FILE",
    ),
]
LimitOpt = Annotated[
    int | None,
    typer.Option(
        "--limit",
        min=0,
        help=f"Rows per policy in table and markdown reports; 0 shows all (default: "
        f"{TERMINAL_ROWS} on a terminal, all otherwise).",
    ),
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
MaxChangesOpt = Annotated[
    int | None,
    typer.Option("--max-changes", help="Refuse to push a plan with more changes than this."),
]


# -- errors ---------------------------------------------------------------------------------------


def fail(message: str, code: int) -> typer.Exit:
    """Say ``message`` on stderr; the exception that exits with ``code`` (``raise fail(...)``)."""
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def say(message: str) -> None:
    """A message for people: stderr."""
    typer.echo(message, err=True)


def error_exit(exc: SyncdError) -> tuple[str, int]:
    """The one line and the exit code of an error that stopped a command."""
    if isinstance(exc, SourceBusyError):
        return f"not run: {exc}", Exit.BUSY
    if isinstance(exc, ConfigError):
        return f"configuration error:\n{exc}", Exit.USAGE
    if isinstance(exc, StoreSetupError | ExclusionError | ReviewError):
        return str(exc), Exit.USAGE
    return f"run failed: {exc}", Exit.FAILED


def guard(call: Callable[[], T]) -> T:
    """``call()``, with a syncd error turned into its one line and exit code."""
    try:
        return call()
    except SyncdError as exc:
        message, code = error_exit(exc)
        raise fail(message, code) from None


def load(path: Path) -> Config:
    """The configuration at ``path``, or exit 2 with every problem in it."""
    try:
        return load_config(path)
    except ConfigError as exc:
        raise fail(f"configuration error in {path}:\n{exc}", Exit.USAGE) from None


def source_names(cfg: Config, source: str | None) -> list[str]:
    """The one source asked for (enabled or not), or every enabled source of the config."""
    if source is None:
        enabled = cfg.enabled_sources()
        if not enabled:
            raise fail(
                f"every source is disabled (enabled = false): name one with --source, one of "
                f"{sorted(cfg.sources)}",
                Exit.USAGE,
            )
        return enabled
    try:
        return [cfg.source(source)[0]]
    except ConfigError as exc:
        raise fail(str(exc), Exit.USAGE) from None


def one_source(cfg: Config, source: str | None) -> str:
    """The source asked for, or the config's only enabled one."""
    try:
        return cfg.source(source)[0]
    except ConfigError as exc:
        raise fail(str(exc), Exit.USAGE) from None


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex[:12]


@contextmanager
def engine_for(config: Config, wait: float = 0.0) -> Iterator[Engine]:
    """An engine on the configured store (exit with one line when it cannot be opened)."""
    configure_logging(config.logging)
    store = guard(lambda: open_store(config.store_url()))
    try:
        yield Engine(config, store, now, new_id, build_connector, wait_seconds=wait)
    finally:
        store.close()


# -- output ---------------------------------------------------------------------------------------


def terminal_width() -> int:
    """The terminal's width (at least 80), or 120 when stdout is not a terminal."""
    width = shutil.get_terminal_size((120, 40)).columns if sys.stdout.isatty() else 120
    return max(width, 80)


def rows_limit(limit: int | None, fmt: str, output: Path | None) -> int | None:
    """Rows per policy: ``--limit`` (0: all), else a few on a terminal, else all."""
    if limit is not None:
        return limit or None
    if fmt == "table" and output is None and sys.stdout.isatty():
        return TERMINAL_ROWS
    return None


def check_output_template(output: Path | None, names: list[str]) -> None:
    """With several sources, ``-o`` must name a file per source through ``{source}``."""
    if output is not None and len(names) > 1 and "{source}" not in str(output):
        raise fail(
            f"-o {output}: {len(names)} sources ({', '.join(names)}) would write one file; put "
            "{source} in the name (e.g. plan-{source}.json), or choose one with --source",
            Exit.USAGE,
        )


def output_for(output: Path | None, source: str) -> Path | None:
    """``-o`` for one source (``{source}`` replaced)."""
    return None if output is None else Path(str(output).replace("{source}", source))


def write_output(path: Path, text: str | Iterable[str], what: str) -> str | None:
    """Write ``text`` to ``path`` (0600); the problem in words when it cannot be written.

    ``what`` says what is lost and how to get it back (``plan P is saved: syncd show P ...``).
    """
    try:
        write_private(path, text)
    except OSError as exc:
        problem = (
            f"the folder {path.parent} does not exist"
            if not path.parent.is_dir()
            else exc.strerror or str(exc)
        )
        return f"cannot write {path} ({problem}); {what}"
    return None


def emit(text: str | Iterable[str], output: Path | None, what: str) -> None:
    """``text`` (or its parts) to ``output`` or stdout; exit 2 when the file cannot be written."""
    if output is None:
        sys.stdout.writelines([text] if isinstance(text, str) else text)
        return
    problem = write_output(output, text, what)
    if problem is not None:
        raise fail(problem, Exit.USAGE)
