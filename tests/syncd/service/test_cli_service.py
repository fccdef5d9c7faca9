"""The service's commands in-process: ``status``, ``alerts test``, ``run`` without ``--once``,
``serve`` refusing a store migrated by a newer syncd; and the settings they read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from model.errors import ConfigError
from state.base import StoredIncident
from state.store import open_store
from syncd.config import load_config, parse_config
from tests.syncd.cli_support import serving, syncd, write_config
from tests.syncd.service.servers import Receiver

WEBHOOK = """
[alerts.retry]
max_attempts = 1
[[alerts.channels]]
kind = "webhook"
name = "ops"
url = "${SYNCD_ALERT_WEBHOOK_URL:-}"
"""


def test_status_shows_runs_next_run_backlog_and_incidents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    with serving(records=40) as sandbox:
        cfg = write_config(tmp_path, {"crm": sandbox.base_url})
        assert syncd("run", "-c", cfg, "--once", "--dry-run").exit_code == 0
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        now = datetime.now(UTC)
        store.set_next_run("crm", now + timedelta(minutes=15), now)
        store.save_incident(StoredIncident("crm", "auth", now, now, 2, "HubSpot answered 401", now))
        (run,) = store.list_runs("crm")
    finally:
        store.close()

    shown = syncd("status", "-c", cfg)
    assert shown.exit_code == 0, shown.stderr
    text = shown.stdout
    assert "Source crm (hubspot, applies its plans)" in text
    assert f"  next run:      {(now + timedelta(minutes=15)):%Y-%m-%d %H:%M:%S} UTC" in text
    assert "  backlog:       0 operations waiting in the outbox" in text
    assert "    auth since" in text
    assert "(2 times): HubSpot answered 401" in text
    assert f"    {run.id}  " in text
    assert "succeeded" in text

    as_json = syncd("status", "-c", cfg, "--format", "json")
    document = json.loads(as_json.stdout)
    assert document["source"] == "crm"
    assert document["backlog"] == 0
    assert [i["cause"] for i in document["open_incidents"]] == ["auth"]
    assert document["runs"][0]["run_id"] == run.id


def test_alerts_test_sends_to_every_channel_and_says_which_failed(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write_config(tmp_path, {"crm": "http://127.0.0.1:9"}, extra=WEBHOOK)
    monkeypatch.delenv("SYNCD_ALERT_WEBHOOK_URL", raising=False)
    off = syncd("alerts", "test", "-c", cfg)
    assert off.exit_code == 2
    assert "no alert channel is on" in off.stderr

    monkeypatch.setenv("SYNCD_ALERT_WEBHOOK_URL", receiver.url("/hook"))
    sent = syncd("alerts", "test", "-c", cfg)
    assert sent.exit_code == 0, sent.stderr
    assert sent.stdout == "ops: sent\n"
    (request,) = receiver.requests
    body = request.json()
    assert (body["kind"], body["source"]) == ("test", "syncd")
    assert body["command"] == f"syncd status -c {cfg.resolve()}"

    receiver.statuses.append(500)
    failed = syncd("alerts", "test", "-c", cfg)
    assert failed.exit_code == 1
    assert failed.stdout == "ops: NOT sent (HTTP 500)\n"
    assert "1 of 1 channels did not get the test alert" in failed.stderr


def test_run_without_once_points_to_serve(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {"crm": "http://127.0.0.1:9"})
    result = syncd("run", "-c", cfg)
    assert result.exit_code == 2
    assert f"to run on a schedule, use syncd serve -c {cfg}" in result.stderr


def test_serve_refuses_a_store_migrated_by_a_newer_syncd(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, {"crm": "http://127.0.0.1:9"})
    open_store(f"sqlite:///{tmp_path / 'state.db'}").close()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    result = syncd("serve", "-c", cfg, "--http-port", "0")
    assert result.exit_code == 1
    assert "9999_future" in result.stderr
    assert "upgrade syncd instead of using this older version" in result.stderr


def test_the_service_settings_are_checked_with_their_keys(tmp_path: Path) -> None:
    source = {"connector": "hubspot", "token": "${HUBSPOT_TOKEN}"}
    good = parse_config(
        {
            "sources": {
                "crm": {
                    **source,
                    "mode": "plan",
                    "schedule": {"cron": "*/10 * * * *", "timezone": "Europe/Paris"},
                    "completeness": {"sample_size": 5},
                }
            },
            "service": {"lease_ttl_seconds": 30, "retention": {"audit_days": 0}},
            "alerts": {"reminder_hours": 1},
        },
        tmp_path,
    )
    crm = good.sources["crm"]
    assert (crm.mode, crm.schedule.cron, crm.completeness.sample_size) == (
        "plan",
        "*/10 * * * *",
        5,
    )
    assert good.service.retention.retention(__import__("datetime").datetime.now()).audit is None
    with pytest.raises(ConfigError) as bad:
        parse_config(
            {
                "sources": {
                    "crm": {
                        **source,
                        "mode": "write",
                        "schedule": {"every_seconds": 60, "cron": "* * * * *"},
                    }
                },
                "service": {"lease_ttl_seconds": 1},
                "alerts": {"channels": [{"kind": "webhook", "url": "https://hooks.example/x"}]},
            },
            tmp_path,
        )
    message = str(bad.value)
    assert "sources.crm.mode: found 'write'; expected 'apply' or 'plan'" in message
    assert "sources.crm.schedule: " in message
    assert "either every_seconds or cron" in message
    assert "service.lease_ttl_seconds: found 1" in message
    assert (
        "alerts.channels[0].url: found a value (not shown: it is a secret); expected secrets are "
        "refused in the config file" in message
    )
    assert "hooks.example" not in message


def test_the_example_config_has_a_webhook_that_is_off_without_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    example = load_config(Path(__file__).resolve().parents[3] / "config.example.toml")
    monkeypatch.delenv("SYNCD_ALERT_WEBHOOK_URL", raising=False)
    assert example.alerts.build_channels(example.base_dir) == []
    monkeypatch.setenv("SYNCD_ALERT_WEBHOOK_URL", "https://hooks.example/syncd")
    (channel,) = example.alerts.build_channels(example.base_dir)
    assert channel.name == "webhook"
