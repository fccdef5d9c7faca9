"""One store, one portal: a store pointed at a second sandbox refuses to pull its records into
the first one's, naming both ids and the way out; ``syncd reset-source`` forgets on purpose.
And the other answers of a live portal, as a person meets them on the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sandbox.hubspot.store import portal_id_for
from state.store import open_store
from tests.syncd.cli_support import serving, syncd, write_config


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")


def plan(config: Path, out: Path) -> tuple[int, str]:
    result = syncd("plan", "-c", config, "--format", "json", "-o", out)
    return result.exit_code, result.stderr


def test_a_store_pointed_at_a_second_portal_refuses_until_reset(tmp_path: Path) -> None:
    first, second = str(portal_id_for(5)), str(portal_id_for(6))
    with serving(records=40, seed=5) as one, serving(records=40, seed=6) as two:
        config = write_config(tmp_path, {"hubspot": one.base_url})
        code, said = plan(config, tmp_path / "1.json")
        assert code == 0, said
        store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
        try:
            assert store.source_account("hubspot") == first
            before = store.baseline_summary("hubspot")
        finally:
            store.close()

        config = write_config(tmp_path, {"hubspot": two.base_url})
        code, said = plan(config, tmp_path / "2.json")
        assert code == 1
        line = said.strip().splitlines()[-1]  # after the log lines: the one line of the error
        assert line.startswith("run failed: ")
        assert f"reaches CRM account {second}" in line
        assert f"holds the records of account {first}" in line
        assert "syncd reset-source hubspot --yes" in line
        store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
        try:
            assert store.baseline_summary("hubspot") == before, "nothing of the second pulled"
        finally:
            store.close()

        asked = syncd("reset-source", "-c", config, "hubspot")
        assert asked.exit_code == 2
        assert "--yes" in asked.stderr
        assert f"(account {first})" in asked.stderr

        reset = syncd("reset-source", "-c", config, "hubspot", "--yes")
        assert reset.exit_code == 0, reset.output
        assert "source 'hubspot' reset: forgot" in reset.stderr

        code, said = plan(config, tmp_path / "3.json")
        assert code == 0, said
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        assert store.source_account("hubspot") == second
    finally:
        store.close()
    assert json.loads((tmp_path / "3.json").read_text())["changes"]


def test_a_token_without_a_scope_stops_the_run_naming_it(tmp_path: Path) -> None:
    with serving(records=20, seed=5) as sandbox:
        sandbox.app.scopes = {"sandbox": frozenset({"crm.objects.contacts.read"})}
        config = write_config(tmp_path, {"hubspot": sandbox.base_url})
        code, said = plan(config, tmp_path / "plan.json")
    assert code == 1
    line = said.strip().splitlines()[-1]
    assert line.startswith("run failed: ")
    assert "403" in line
    # contacts pass; companies, deals and tasks need scopes the token lacks, pulled side by
    # side (requests_in_flight): the first refusal met stops the run and is the one named
    lacking = r"the token lacks the scope\(s\) crm\.objects\.(companies|deals|tasks)\.read"
    assert re.search(lacking, line)
    assert "correlationId=" in line
