"""What each policy proposed and counted, per run: in the log, the run's counts, the plan."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

import pytest
from typer.testing import CliRunner

from policies.normalize import NormalizePolicy, NormalizeSettings
from policies.registry import PoliciesSettings
from syncd.cli import app
from syncd.csv_mode import plan_csv
from syncd.logging import configure

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def export(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "firstname", "lastname", "email", "phone"])
        writer.writerow(["1", " Ada", "Lovelace", "ADA@example.org", "(206) 413-5284"])
        writer.writerow(["2", "Alan", "Turing", "alan@example.org", "+12064135285"])
    return path


def test_each_policy_logs_its_changes_times_and_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def counted(self: NormalizePolicy) -> Mapping[str, int]:
        return {"candidates": 7}

    monkeypatch.setattr(NormalizePolicy, "counts", counted)
    numbers = count(1)
    stream = io.StringIO()
    configure("info", "json", stream=stream)  # whatever an earlier test set
    try:
        plan = plan_csv(
            export(tmp_path / "people.csv"),
            fmt="json",
            output=tmp_path / "plan.json",
            limit=None,
            now=lambda: NOW,
            new_id=lambda: f"id{next(numbers)}",
            policies=PoliciesSettings.model_validate({"dedupe": {"enabled": False}}),
        )
    finally:
        configure("warning", "json")
    logs = [json.loads(line) for line in stream.getvalue().splitlines()]
    lines = {e["policy"]: e for e in logs if e["event"] == "policy"}
    assert "dedupe" not in lines  # --skip dedupe: not run
    normalize = lines["normalize"]
    assert normalize["changes"] == 3  # firstname, email, phone
    assert normalize["candidates"] == 7
    assert normalize["cpu_seconds"] >= 0
    assert normalize["seconds"] >= 0
    stats = plan.stats["policies"]
    assert isinstance(stats, dict)
    assert stats["normalize"] == {"changes": 3, "candidates": 7}  # no times: reports stay exact
    written = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert written["stats"]["policies"]["normalize"]["candidates"] == 7
    stages = {e["event"] for e in logs if "cpu_seconds" in e}
    assert {"pulled", "snapshot", "policy", "plan saved", "plan rendered", "run finished"} <= stages


def test_a_policy_counts_nothing_unless_it_says() -> None:
    assert NormalizePolicy(NormalizeSettings()).counts() == {}


def test_cli_plan_csv_skip_leaves_policies_out(tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    skip = ["--skip", "dedupe,retire", "--skip", "tags"]
    sheet = str(export(tmp_path / "p.csv"))
    result = CliRunner().invoke(
        app, ["plan", "--csv", sheet, "-f", "json", "-o", str(plan_path), *skip]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(plan_path.read_text(encoding="utf-8"))
    assert set(document["stats"]["policies"]) == {"normalize", "follow_up", "required"}
    wrong = CliRunner().invoke(app, ["plan", "--csv", str(tmp_path / "p.csv"), "--skip", "dedup"])
    assert wrong.exit_code == 2
    assert "--skip dedup: no such policy" in wrong.output
