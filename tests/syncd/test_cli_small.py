"""Small things, each visible: --version, help, a limited table on a terminal, private files,
the demo from any folder."""

from __future__ import annotations

import csv
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from syncd.cli import app
from tests.syncd.cli_support import on_a_terminal, serving, syncd, write_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: files made with a plain open() would be world-readable."""
    old = os.umask(0)
    yield
    os.umask(old)


def test_version() -> None:
    result = syncd("--version")
    assert result.exit_code == 0
    assert result.stdout == "syncd 0.1.0\n"


def _commands(group: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every command under ``group`` (typer's own click objects), with its full name."""
    ctx = typer.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield f"{prefix}{name}", command
        if hasattr(command, "list_commands"):
            yield from _commands(command, f"{prefix}{name} ")


def test_every_option_has_help_and_flags_show_no_type() -> None:
    root = typer.main.get_command(app)
    undocumented = [
        f"{name} {param.name}"
        for name, command in [("syncd", root), *_commands(root)]
        for param in command.params
        if param.param_type_name == "option" and not (param.help or "").strip()
    ]
    assert undocumented == []
    for name in ("run", "plan", "check-config", "audit"):
        shown = syncd(*name.split(), "--help").stdout
        assert "<bool>" not in shown
        assert "BOOLEAN" not in shown
    assert "  --dry-run  " in syncd("run", "--help").stdout.replace("\n", " ")


def test_plan_on_a_terminal_shows_a_limited_table_and_how_to_see_all(tmp_path: Path) -> None:
    with serving() as sandbox:
        config = write_config(tmp_path, {"hubspot": sandbox.base_url})
        env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "160", "TERM": "xterm"}
        shown = on_a_terminal([sys.executable, "-m", "syncd", "plan", "-c", str(config)], env)
        full = syncd("plan", "-c", config).stdout  # not a terminal: every row
    assert "more normalize changes: --limit 0 shows them all; syncd show " in shown
    assert "--format csv -o FILE gives every change in a spreadsheet" in shown
    assert "more normalize changes" not in full
    assert len(full.splitlines()) > len(shown.splitlines())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
def test_files_with_personal_data_are_private(tmp_path: Path) -> None:
    with serving() as sandbox:
        config = write_config(tmp_path, {"hubspot": sandbox.base_url})
        plan_json = tmp_path / "plan.json"
        assert syncd("plan", "-c", config, "-f", "json", "-o", plan_json).exit_code == 0
        report = tmp_path / "quality.html"
        assert syncd("report", "-c", config, "-o", report).exit_code == 0
        plan_csv = tmp_path / "review.csv"
        plan_id = syncd("plans", "-c", config, "-f", "json").stdout.split('"plan_id": "')[1][:12]
        assert syncd("show", plan_id, "-c", config, "-f", "csv", "-o", plan_csv).exit_code == 0
    export = tmp_path / "contacts.csv"
    with export.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "firstname", "lastname", "email", "phone"])
        writer.writerow(["1", "ANN", "LEE", "Ann@Example.com ", "(555) 123-4567"])
        writer.writerow(["2", "Ann", "Lee", "ann@example.com", "555 123 4567"])
    export.chmod(0o644)
    cleaned = syncd("plan", "--csv", export, "--apply", "-f", "json", "-o", tmp_path / "p.json")
    assert cleaned.exit_code == 0, cleaned.output
    written = [
        tmp_path / "state.db",
        plan_json,
        report,
        plan_csv,
        tmp_path / "p.json",
        tmp_path / "contacts.cleaned.csv",
        tmp_path / "contacts.merge-map.csv",
        tmp_path / "contacts.tasks.csv",
    ]
    assert {p.name: _mode(p) for p in written} == {p.name: 0o600 for p in written}


def test_demo_runs_from_any_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = syncd("demo", "--records", "150")
    assert result.exit_code == 0, result.output
    assert "Summary:" in result.stdout
    assert list(tmp_path.iterdir()) == []  # nothing left behind
