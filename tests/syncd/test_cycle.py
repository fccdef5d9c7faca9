"""One dry-run cycle end to end: sandbox → connector → store → policies → plan → report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
from typer.testing import CliRunner

from model.changes import Update
from model.errors import SourceFatalError
from sandbox.generator import generate
from sandbox.hubspot import HubSpotSandbox, SandboxState
from state.store import open_store
from syncd.cli import app
from syncd.config import Config, parse_config
from syncd.engine import Engine
from syncd.sources import build_connector

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
WRITES = {"POST", "PATCH", "PUT", "DELETE"}


class Clock:
    """A clock that moves one second per reading."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> Clock:
    """One clock for the sandbox and the engine, so 'before' and 'after' agree."""
    return Clock(NOW)


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[HubSpotSandbox]:
    state = SandboxState.from_dataset(generate(records=300, seed=11, now=NOW), clock=clock)
    state.record_exchanges = True
    with HubSpotSandbox(state, port=0) as running:
        yield running


def write_config(tmp_path: Path, base_url: str, store_url: str | None = None) -> Path:
    path = tmp_path / "syncd.toml"
    path.write_text(
        f'[store]\nurl = "{store_url or "sqlite:///state.db"}"\n'
        '[logging]\nlevel = "warning"\nformat = "json"\n'
        f'[sources.hubspot]\nconnector = "hubspot"\nbase_url = "{base_url}"\n'
        'token = "${HUBSPOT_TOKEN}"\n'
    )
    return path


def engine_for(config: Config, clock: Clock) -> Engine:
    ids = count(1)
    return Engine(
        config, open_store(config.store_url()), clock, lambda: f"id{next(ids)}", build_connector
    )


def data_writes(state: SandboxState) -> list[str]:
    """Requests that would change data: searches and batch reads are POSTs that read."""
    reads = ("/search", "/batch/read")
    return [
        f"{x.method} {x.path}"
        for x in state.request_log
        if x.method in WRITES and not x.path.endswith(reads)
    ]


def test_plan_json_against_the_sandbox(
    sandbox: HubSpotSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    config = write_config(tmp_path, sandbox.base_url)
    result = CliRunner().invoke(
        app,
        [
            "plan",
            "-c",
            str(config),
            "--source",
            "hubspot",
            "--format",
            "json",
            "-o",
            str(tmp_path / "plan.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "plan.json").read_text())
    assert isinstance(doc["plan_id"], str)
    assert datetime.fromisoformat(doc["created_at"]).tzinfo is not None
    kinds = {c["kind"] for c in doc["changes"]}
    assert {"update", "merge", "create_task"} <= kinds
    required = {
        "update": {"record_id", "field", "old", "new"},
        "merge": {"primary_id", "merged_ids", "confidence"},
        "review": {"primary_id", "merged_ids", "confidence"},
        "create_task": {"record_id", "subject", "owner_id", "due"},
        "flag": {"record_id", "field", "value"},
        "archive": {"record_id"},
    }
    for change in doc["changes"]:
        assert {"kind", "source", "object_type", "policy", "reason"} <= change.keys()
        assert change["object_type"] in {"contacts", "companies", "deals", "tasks"}
        assert change["source"] == "hubspot"
        assert change["reason"]
        assert required[change["kind"]] <= change.keys()
        record_id = change.get("record_id") or change["primary_id"]
        assert sandbox.state.resolve(change["object_type"], record_id) == record_id
    rare = doc["stats"]["rare_labels"]
    assert rare, "the sandbox's picklists have options few or no records use"
    for usage in rare:
        assert {"object_type", "field", "value", "label", "hidden", "records"} <= usage.keys()
        assert usage["records"] <= 3
    assert data_writes(sandbox.state) == []


def test_second_cycle_is_incremental_and_sees_a_person_edit(
    sandbox: HubSpotSandbox, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    config = parse_config(
        {
            "store": {"url": "sqlite:///s.db"},
            "sources": {
                "hubspot": {
                    "connector": "hubspot",
                    "base_url": sandbox.base_url,
                    "token": "${HUBSPOT_TOKEN}",
                    "lookback_seconds": 0,
                }
            },
        },
        tmp_path,
    )
    engine = engine_for(config, clock)
    first = engine.plan("hubspot")
    contact = next(iter(engine.store.snapshot("hubspot", clock()).of("contacts")))
    sandbox.state.update("contacts", contact.id, {"email": "  NEW.Address@Example.COM "})
    sandbox.state.request_log.clear()
    second = engine.plan("hubspot")

    paths = [x.path for x in sandbox.state.request_log]
    assert any(p.endswith("/contacts/search") for p in paths)
    live_listings = [
        x
        for x in sandbox.state.request_log
        if x.path == "/crm/v3/objects/contacts"
        and x.method == "GET"
        and [v.lower() for v in x.query.get("archived", [])] != ["true"]
    ]
    assert live_listings == []  # incremental: search, plus the archived listing only
    fix = [
        (c.old, c.new)
        for c in second.changes
        if isinstance(c, Update) and c.record_id == contact.id and c.field == "email"
    ]
    assert fix == [("  NEW.Address@Example.COM ", "new.address@example.com")]
    first_counts = engine.store.get_run(first.run_id or "").counts
    second_counts = engine.store.get_run(second.run_id or "").counts
    assert first_counts["pulled"] == first.stats.get("pulled", first_counts["pulled"])
    assert first_counts["pulled"]["contacts"] >= 300  # type: ignore[index]
    assert second_counts["pulled"]["contacts"] == 1  # type: ignore[index]
    assert engine.store.load_plan(second.id).changes == list(second.changes)
    assert data_writes(sandbox.state) == []


def test_run_once_dry_run_prints_the_report_and_changes_nothing(
    sandbox: HubSpotSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    config = write_config(tmp_path, sandbox.base_url)
    result = CliRunner().invoke(
        app, ["run", "-c", str(config), "--once", "--dry-run", "--limit", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "Duplicates (dedupe)" in result.output
    assert "Missing follow-up tasks (follow_up)" in result.output
    assert "Summary:" in result.output
    assert data_writes(sandbox.state) == []


def test_bad_token_fails_the_run_and_records_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "wrong")
    state = SandboxState(clock=Clock(NOW))
    with HubSpotSandbox(state, port=0, tokens={"right"}) as running:
        config = parse_config(
            {
                "store": {"url": "sqlite:///s.db"},
                "sources": {
                    "hubspot": {
                        "connector": "hubspot",
                        "base_url": running.base_url,
                        "token": "${HUBSPOT_TOKEN}",
                    }
                },
            },
            tmp_path,
        )
        engine = engine_for(config, Clock(NOW))
        with pytest.raises(SourceFatalError):
            engine.plan("hubspot")
        [run] = engine.store.list_runs("hubspot")
        assert run.status == "failed"
        assert run.error is not None
        assert "401" in run.error or "authentic" in run.error.lower()
        result = CliRunner().invoke(
            app, ["plan", "-c", str(write_config(tmp_path, running.base_url))]
        )
        assert result.exit_code == 1
        assert "run failed" in result.output


def test_a_plan_from_the_records_as_pulled_is_the_plan_from_the_store(
    sandbox: HubSpotSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Engine.keep_run`` off (a dry run over a throw-away store) plans from the records
    as pulled: every object type, owners, associations and all, the same plan as the one made
    from the store, which is left without a record."""
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    plans = []
    for stored in (True, False):
        data = {
            "store": {"url": f"sqlite:///{stored}.db"},
            "sources": {
                "hubspot": {
                    "connector": "hubspot",
                    "base_url": sandbox.base_url,
                    "token": "${HUBSPOT_TOKEN}",
                }
            },
        }
        engine = engine_for(parse_config(data, tmp_path), Clock(NOW))
        engine.keep_run = stored
        plans.append(engine.plan("hubspot"))
        live = engine.store.baseline_summary("hubspot")
        assert bool(live) is stored
    from_store, as_pulled = plans
    assert {c.kind for c in as_pulled.changes} >= {"update", "merge", "create_task"}
    assert as_pulled.changes == from_store.changes
    assert as_pulled.baseline == from_store.baseline
    assert {"contacts", "companies", "deals", "owners"} <= as_pulled.baseline.keys()
