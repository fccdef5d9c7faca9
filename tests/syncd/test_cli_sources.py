"""Every source, every time: one failing or busy source is reported and the others still run."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from state.store import open_store
from tests.syncd.cli_support import serving, syncd, write_config

UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")


def test_a_failing_source_does_not_stop_the_others(tmp_path: Path) -> None:
    with serving() as sandbox:
        config = write_config(tmp_path, {"broken": UNREACHABLE, "good": sandbox.base_url})
        result = syncd("run", "-c", config, "--once", "--dry-run", "--format", "json")
    assert result.exit_code == 3, result.output
    doc = json.loads(result.stdout)
    broken, good = doc["sources"]
    assert (broken["source"], broken["status"]) == ("broken", "failed")
    assert "HubSpot unreachable" in broken["error"]
    assert (good["source"], good["status"]) == ("good", "done")
    assert good["plan"]["changes"]
    assert good["run_id"] == good["plan"]["run_id"]
    assert "2 sources: broken failed, good done (run " in result.stderr
    assert result.stderr.rstrip().endswith("not done: broken")


def test_a_busy_source_is_reported_and_the_other_pushed(tmp_path: Path) -> None:
    with serving() as sandbox:
        config = write_config(tmp_path, {"held": sandbox.base_url, "free": sandbox.base_url})
        store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
        now = datetime.now(UTC)
        store.ensure_source("held", "hubspot", now)
        store.acquire_source("held", "other-command", now)
        try:
            result = syncd("run", "-c", config, "--once")
        finally:
            store.close()
    assert result.exit_code == 3, result.output
    assert "source held: not run: source 'held' is busy" in result.stderr
    assert "Pushed plan" in result.stdout
    assert "2 sources: held failed, free done (run " in result.stderr


def test_only_failures_exit_with_their_own_code(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"a": UNREACHABLE, "b": UNREACHABLE})
    result = syncd("run", "-c", config, "--once", "--dry-run")
    assert result.exit_code == 1
    assert result.stderr.count("run failed: HubSpot unreachable") == 2


def test_output_with_several_sources_needs_a_source_placeholder(tmp_path: Path) -> None:
    with serving() as sandbox:
        config = write_config(tmp_path, {"one": sandbox.base_url, "two": sandbox.base_url})
        refused = syncd("run", "-c", config, "--once", "--dry-run", "-o", tmp_path / "plan.md")
        assert refused.exit_code == 2
        assert "put {source} in the name (e.g. plan-{source}.json)" in refused.stderr
        assert not (tmp_path / "state.db").exists()  # refused before anything ran

        result = syncd(
            "run", "-c", config, "--once", "--dry-run", "-f", "markdown",
            "-o", tmp_path / "plan-{source}.md",
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in ("one", "two"):
        written = tmp_path / f"plan-{name}.md"
        assert written.read_text().startswith("# Plan ")
        assert stat.S_IMODE(written.stat().st_mode) == 0o600
