"""Salesforce from the command line: a disabled source runs only when named, and the example
configuration plans the local Salesforce sandbox from any folder holding a copy of it."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox.generator import generate
from sandbox.salesforce import SalesforceSandbox, SalesforceState
from sandbox.salesforce.seed import seed_state
from syncd.cli.admin import SALESFORCE_TLS_DIR
from tests.syncd.cli_support import NOW, serving, syncd, write_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder of the test's own (the sandbox's CA lives under ~/.cache)."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    for name in ("SALESFORCE_USERNAME", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN"):
        monkeypatch.setenv(name, "sandbox")
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    return folder


@pytest.fixture
def salesforce(home: Path) -> Iterator[SalesforceSandbox]:
    """The Salesforce sandbox as `syncd sandbox salesforce` runs it: seeded, its CA written
    where the example configuration's ca_file looks."""
    state = SalesforceState(lambda: datetime.now(UTC), daily_limit=None)
    seed_state(state, generate(records=150, seed=5, now=NOW))
    with SalesforceSandbox(state, port=0) as sandbox:
        sandbox.ca_file(SALESFORCE_TLS_DIR.expanduser() / "ca.pem")
        yield sandbox


def test_a_disabled_source_runs_only_when_named(tmp_path: Path, home: Path) -> None:
    extra = (
        '[sources.off]\nconnector = "salesforce"\nenabled = false\n'
        'login_url = "https://127.0.0.1:9"\nusername = "${SALESFORCE_USERNAME}"\n'
        'password = "${SALESFORCE_PASSWORD}"\nsecurity_token = "${SALESFORCE_SECURITY_TOKEN}"\n'
        "[sources.off.retry]\nmax_attempts = 1\n"
    )
    with serving() as sandbox:
        config = write_config(tmp_path, {"on": sandbox.base_url}, extra=extra)
        every = syncd("run", "-c", config, "--once", "--dry-run", "--format", "json")
        only = syncd("plan", "-c", config, "--format", "json")
    named = syncd("plan", "-c", config, "--source", "off")
    checked = syncd("check-config", "-c", config, "--connect")

    assert every.exit_code == 0, every.output
    ran = json.loads(every.stdout)
    assert [s["source"] for s in ran.get("sources", [ran])] == ["on"]
    assert only.exit_code == 0, only.output
    assert json.loads(only.stdout)["source"] == "on", "the only enabled source"
    assert named.exit_code == 1, "named, it runs (and cannot reach port 9)"
    assert "Salesforce unreachable" in named.stderr
    assert "ok: source off: not tried: disabled (enabled = false)" in checked.stdout


def test_every_source_disabled_asks_for_one(tmp_path: Path, home: Path) -> None:
    config = write_config(tmp_path, {"a": "http://127.0.0.1:9"})
    text = config.read_text().replace(
        'connector = "hubspot"', 'connector = "hubspot"\nenabled = false'
    )
    config.write_text(text)

    result = syncd("run", "-c", config, "--once", "--dry-run")

    assert result.exit_code == 2
    assert "every source is disabled (enabled = false): name one with --source" in result.stderr


def test_the_example_config_plans_the_salesforce_sandbox_from_a_copy(
    tmp_path: Path, home: Path, salesforce: SalesforceSandbox
) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    copy = folder / "syncd.toml"
    shutil.copy(REPO / "config.example.toml", copy)
    port = salesforce.base_url.rsplit(":", 1)[1]  # the example says 8766; this test took any
    copy.write_text(re.sub(r"127\.0\.0\.1:8766", f"127.0.0.1:{port}", copy.read_text()))

    result = syncd("plan", "-c", copy, "--source", "salesforce", "--format", "json")

    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    kinds = Counter((c["kind"], c["object_type"]) for c in plan["changes"])
    assert kinds[("merge", "contacts")] > 0
    assert kinds[("update", "contacts")] > 0
    assert kinds[("update", "leads")] > 0
    assert kinds[("create_task", "deals")] > 0
    assert kinds[("create_task", "leads")] > 0, "open leads without a task"
    assert not any(c["kind"] == "merge" and c["object_type"] == "leads" for c in plan["changes"])
    assert any(
        c["kind"] == "flag" and c["object_type"] == "leads" and "duplicates contact" in c["reason"]
        for c in plan["changes"]
    ), "a lead that duplicates a contact is a finding"
    assert (folder / "syncd.db").exists(), "the store is beside the copy"
