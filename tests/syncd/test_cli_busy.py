"""Every command that pulls or pushes refuses a source another command holds: exit code 4."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from state.base import AuditRecord, OpOutcome, OutboxOp, SourceLease
from state.store import SqlStateStore, open_store
from syncd.cli import app

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HUBSPOT_TOKEN", "unused")
    path = tmp_path / "syncd.toml"
    path.write_text(
        '[store]\nurl = "sqlite:///state.db"\n[logging]\nlevel = "warning"\n'
        '[sources.hubspot]\nconnector = "hubspot"\nbase_url = "http://127.0.0.1:9"\n'
        'token = "${HUBSPOT_TOKEN}"\n'
    )
    return path


@pytest.fixture
def held(tmp_path: Path, cfg: Path) -> Iterator[tuple[SqlStateStore, SourceLease]]:
    """The source held by run ``holder`` of another command, after run ``r0`` saved plan
    ``p0`` and applied one audited field update (something to apply and to undo)."""
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    store.ensure_source("hubspot", "hubspot", NOW)
    lease = store.acquire_source("hubspot", "holder", NOW)
    store.start_run("r0", "hubspot", NOW, dry_run=False)
    store.save_plan("p0", "hubspot", "r0", NOW, {}, [])
    store.enqueue("p0", "r0", [OutboxOp("p0:0:0", 0, 0, "update", "contacts", "1", {})], NOW)
    update = AuditRecord(
        "r0", "p0", "p0:0:0", "hubspot", "normalize", "update", "contacts", "1", "email",
        "A@X.COM", "a@x.com", NOW, {},
    )  # fmt: skip
    store.record_results([OpOutcome("p0:0:0", "applied", audit=[update])], NOW, epoch=lease.epoch)
    store.finish_run("r0", NOW, "succeeded", {})
    yield store, lease
    store.close()


@pytest.mark.parametrize(
    "command",
    [
        ["plan"],
        ["run", "--once"],
        ["run", "--once", "--dry-run"],
        ["apply", "p0"],
        ["undo", "r0"],
    ],
)
def test_a_held_source_is_refused_with_exit_code_4(
    cfg: Path, held: tuple[SqlStateStore, SourceLease], command: list[str]
) -> None:
    store, lease = held
    result = CliRunner().invoke(app, [*command, "-c", str(cfg), "--wait", "0.3"])

    assert result.exit_code == 4, result.output
    assert "source 'hubspot' is busy (waited 0.3 s): run holder (pid" in result.output
    assert "--wait SECONDS" in result.output
    assert [r.id for r in store.list_runs("hubspot")] == ["r0"]  # nothing was recorded
    assert store.source_lease("hubspot") == lease
