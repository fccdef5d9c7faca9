"""syncd never fights a person: a fix someone changed back is not proposed again until released.

End to end against the sandbox through the command line: syncd fixes phones, a person sets one
back in the HubSpot app, two more runs leave it alone and say who changed it, ``syncd review
release`` lets the next plan propose it again. ``syncd undo`` is not a person.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sandbox.generator import generate
from sandbox.hubspot import ChangeSource, HubSpotSandbox, SandboxState
from state.base import AuditEntry
from state.store import open_store
from syncd.cli import app


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    state = SandboxState.from_dataset(
        generate(records=150, seed=5, now=datetime.now(UTC)), clock=lambda: datetime.now(UTC)
    )
    state.rate_limit = None
    state.search_rate_limit = None
    state.record_exchanges = True
    with HubSpotSandbox(state, port=0) as running:
        yield running


@pytest.fixture
def cfg(tmp_path: Path, sandbox: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    path = tmp_path / "syncd.toml"
    path.write_text(
        '[store]\nurl = "sqlite:///state.db"\n[logging]\nlevel = "error"\n'
        f'[sources.hubspot]\nconnector = "hubspot"\nbase_url = "{sandbox.base_url}"\n'
        'token = "${HUBSPOT_TOKEN}"\n'
        "[sources.hubspot.apply.limits]\n"
        "updates = { share = 1.0 }\nmerges = { share = 1.0 }\ntasks = { share = 1.0 }\n"
    )
    return path


def syncd(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def plan_json(path: Path) -> dict[str, Any]:
    """The plan in a JSON file of ``plan`` (the plan) or ``run --once`` (the run's document)."""
    loaded = json.loads(path.read_text())
    assert isinstance(loaded, dict)
    plan = loaded if "changes" in loaded else loaded["plan"]
    assert isinstance(plan, dict)
    return plan


def proposes(plan: dict[str, Any], record_id: str, field: str) -> list[dict[str, Any]]:
    return [
        c
        for c in plan["changes"]
        if c["kind"] == "update" and c["record_id"] == record_id and c["field"] == field
    ]


def phone_now(state: SandboxState, record_id: str) -> str | None:
    record = state.get("contacts", record_id)
    return None if record is None else record.properties.get("phone")


def history_reads(state: SandboxState) -> int:
    return sum(
        1
        for x in state.request_log
        if x.path.endswith("/batch/read") and (x.request_json or {}).get("propertiesWithHistory")
    )


def phone_fix(tmp_path: Path, state: SandboxState) -> AuditEntry:
    """A phone syncd fixed on a contact that still holds the fix."""
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        fixes = [
            e
            for e in store.audit(source="hubspot")
            if e.kind == "update" and e.field == "phone" and e.object_type == "contacts"
        ]
    finally:
        store.close()
    for entry in fixes:
        record = state.get("contacts", entry.record_id)
        if record and record.id == entry.record_id and record.properties["phone"] == entry.after:
            return entry
    raise AssertionError("the first run fixed no phone")


def test_a_fix_a_person_set_back_is_left_alone_until_released(
    tmp_path: Path, cfg: Path, sandbox: HubSpotSandbox
) -> None:
    state = sandbox.state
    syncd("run", "-c", str(cfg), "--once", "--format", "json", "-o", str(tmp_path / "1.json"))
    fix = phone_fix(tmp_path, state)
    owner = state.owners[0]
    person = f"{owner['firstName']} {owner['lastName']} (user {owner['userId']})"
    state.update(  # a person sets the phone back in the HubSpot app
        "contacts",
        fix.record_id,
        {"phone": fix.before},
        source=ChangeSource.user(int(owner["userId"])),
    )

    for n in (2, 3):  # two more runs: neither proposes the fix again, neither writes it
        out = tmp_path / f"{n}.json"
        syncd("run", "-c", str(cfg), "--once", "--format", "json", "-o", str(out))
        plan = plan_json(out)
        assert proposes(plan, fix.record_id, "phone") == []
        [held] = [r for r in plan["stats"]["reverts"] if r["record_id"] == fix.record_id]
        assert (held["field"], held["value"], held["reverted_to"]) == (
            "phone",
            fix.after,
            fix.before,
        )
        assert (held["changed_by"], held["changed_via"]) == (person, "the HubSpot app")
        assert held["release"] == f"syncd review release {fix.record_id} --field phone"
        assert state.get("contacts", fix.record_id).properties["phone"] == fix.before
    assert history_reads(state) == 1  # who changed it is read once, when it is found

    table = syncd("plan", "-c", str(cfg))
    assert "Not proposed again: changed back after syncd wrote them" in table
    assert f"phone of contacts {fix.record_id}" in " ".join(table.split())

    syncd("report", "-c", str(cfg), "-o", str(tmp_path / "report.html"))
    page = html.unescape((tmp_path / "report.html").read_text())
    assert f"phone of contacts {fix.record_id}" in page
    assert f"by {person} through the HubSpot app" in page

    listed = " ".join(syncd("review", "-c", str(cfg)).split())
    assert f"changed back to {fix.before!r} by {person} through the HubSpot app" in listed
    released = syncd(
        "review", "-c", str(cfg), "release", fix.record_id, "--field", "phone", "--by", "ann"
    )
    assert released.startswith(f"released: phone of contacts {fix.record_id}")
    again = CliRunner().invoke(app, ["review", "-c", str(cfg), "release", fix.record_id])
    assert again.exit_code == 2  # nothing is held back for it any more

    syncd("plan", "-c", str(cfg), "--format", "json", "-o", str(tmp_path / "4.json"))
    plan = plan_json(tmp_path / "4.json")
    [proposed] = proposes(plan, fix.record_id, "phone")
    assert (proposed["old"], proposed["new"]) == (fix.before, fix.after)
    assert all(r["record_id"] != fix.record_id for r in plan["stats"]["reverts"])


def test_undo_is_not_a_person_changing_it_back(
    tmp_path: Path, cfg: Path, sandbox: HubSpotSandbox
) -> None:
    state = sandbox.state
    syncd("run", "-c", str(cfg), "--once", "--format", "json", "-o", str(tmp_path / "1.json"))
    first = plan_json(tmp_path / "1.json")
    fix = phone_fix(tmp_path, state)
    typed = f"{fix.before} "  # a person types the old number again, in their own way
    state.update("contacts", fix.record_id, {"phone": typed}, source=ChangeSource.user(9))
    # reverts the run's other fixes (HubSpot refuses a few old values: invalid e-mails)
    undo = CliRunner().invoke(app, ["undo", first["run_id"], "-c", str(cfg)])
    assert undo.exit_code in {0, 1}, undo.output
    assert "applied" in undo.output

    syncd("plan", "-c", str(cfg), "--format", "json", "-o", str(tmp_path / "2.json"))
    plan = plan_json(tmp_path / "2.json")
    held = {(r["record_id"], r["field"]) for r in plan["stats"]["reverts"]}
    assert held == {(fix.record_id, "phone")}  # the person's, not the undone ones
    assert proposes(plan, fix.record_id, "phone") == []
    assert state.get("contacts", fix.record_id).properties["phone"] == typed  # undo kept it
    undone = [
        c
        for c in first["changes"]
        if c["kind"] == "update"
        and c["object_type"] == "contacts"
        and c["field"] == "phone"
        and c["record_id"] != fix.record_id
        and phone_now(state, c["record_id"]) == c["old"]
    ]
    assert undone, "the undo restored phones"
    for change in undone:  # proposed again, as if never written (a merged record: on its
        # survivor, which has a new id)
        now_id = state.resolve("contacts", change["record_id"]) or change["record_id"]
        assert [p["new"] for p in proposes(plan, now_id, "phone")] == [change["new"]]


def test_a_hold_is_not_listed_while_the_field_holds_syncd_s_value_again(
    tmp_path: Path, cfg: Path, sandbox: HubSpotSandbox
) -> None:
    state = sandbox.state
    syncd("run", "-c", str(cfg), "--once", "--format", "json", "-o", str(tmp_path / "1.json"))
    fix = phone_fix(tmp_path, state)
    state.update("contacts", fix.record_id, {"phone": fix.before}, source=ChangeSource.user(5))
    syncd("plan", "-c", str(cfg), "--format", "json", "-o", str(tmp_path / "2.json"))
    listed = " ".join(syncd("review", "-c", str(cfg)).split())
    assert f"syncd review release {fix.record_id} --field phone" in listed

    state.update("contacts", fix.record_id, {"phone": fix.after}, source=ChangeSource.user(5))
    syncd("plan", "-c", str(cfg), "--format", "json", "-o", str(tmp_path / "3.json"))
    listed = " ".join(syncd("review", "-c", str(cfg)).split())
    assert f"phone of contacts {fix.record_id}" not in listed
    syncd("report", "-c", str(cfg), "-o", str(tmp_path / "report.html"))
    assert f"phone of contacts {fix.record_id}" not in (tmp_path / "report.html").read_text()
