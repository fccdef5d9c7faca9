"""syncd review from the command line: list pending pairs, reject one, it is not proposed again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from model.changes import Merge
from sandbox.generator import generate
from sandbox.hubspot import HubSpotSandbox, SandboxState
from state.store import open_store
from syncd.cli import app
from syncd.plans import latest_policy_plan

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    ticks = iter(range(10**9))
    state = SandboxState.from_dataset(
        generate(records=300, seed=1, now=NOW),  # seed 1 has pairs in the review band
        clock=lambda: NOW + timedelta(milliseconds=next(ticks)),
    )
    with HubSpotSandbox(state, port=0) as running:
        yield running


def test_reject_a_pending_pair_and_it_is_not_proposed_again(
    sandbox: HubSpotSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    cfg = tmp_path / "syncd.toml"
    cfg.write_text(
        '[store]\nurl = "sqlite:///state.db"\n[logging]\nlevel = "error"\n'
        f'[sources.hubspot]\nconnector = "hubspot"\nbase_url = "{sandbox.base_url}"\n'
        'token = "${HUBSPOT_TOKEN}"\n'
    )
    runner = CliRunner()
    assert runner.invoke(app, ["plan", "-c", str(cfg), "--format", "json"]).exit_code == 0

    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    plan_id = latest_policy_plan(store, "hubspot")
    assert plan_id is not None
    reviews = [
        c for c in store.load_plan(plan_id).changes if isinstance(c, Merge) and c.kind == "review"
    ]
    store.close()
    assert reviews, "the dataset has a pair in the review band"
    pair = reviews[0]

    listed = runner.invoke(app, ["review", "-c", str(cfg)])
    assert listed.exit_code == 0, listed.output
    assert pair.primary_id in listed.output

    ids = [pair.primary_id, *pair.merged_ids]
    rejected = runner.invoke(app, ["review", "-c", str(cfg), "reject", *ids, "--by", "ann"])
    assert rejected.exit_code == 0, rejected.output
    assert rejected.output.startswith("rejected: contacts")

    again = runner.invoke(app, ["plan", "-c", str(cfg), "--format", "json"])
    assert again.exit_code == 0
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    new_plan = latest_policy_plan(store, "hubspot")
    assert new_plan is not None
    assert new_plan != plan_id
    proposed = [
        {c.primary_id, *c.merged_ids}
        for c in store.load_plan(new_plan).changes
        if isinstance(c, Merge)
    ]
    store.close()
    assert not any(set(ids) <= group for group in proposed)

    bad = runner.invoke(app, ["review", "-c", str(cfg), "approve", "1"])
    assert bad.exit_code == 2
    assert "two or more" in bad.output
