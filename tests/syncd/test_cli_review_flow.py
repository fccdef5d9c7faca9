"""Plans and runs you can find and review: list them, show a plan as a spreadsheet, apply what
the reviewer kept, undo by the run id the push printed; machine output is one JSON document."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from state.store import open_store
from tests.syncd.cli_support import on_a_terminal, serving, syncd, write_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")


def test_review_a_plan_in_a_spreadsheet_then_apply_what_was_kept(tmp_path: Path) -> None:
    with serving() as sandbox:
        config = write_config(tmp_path, {"hubspot": sandbox.base_url})
        plan = json.loads(syncd("plan", "-c", config, "-f", "json").stdout)
        plan_id = plan["plan_id"]

        listed = json.loads(syncd("plans", "-c", config, "-f", "json").stdout)
        assert [(p["plan_id"], p["kind"], p["status"]) for p in listed] == [
            (plan_id, "policies", "planned")
        ]
        assert sum(listed[0]["changes"].values()) == len(plan["changes"])

        review = tmp_path / "review.csv"
        shown = syncd("show", plan_id, "-c", config, "-f", "csv", "-o", review)
        assert shown.exit_code == 0, shown.output
        rows = list(csv.DictReader(review.open(newline="")))
        assert [int(r["change"]) for r in rows] == list(range(len(plan["changes"])))
        assert {r["plan"] for r in rows} == {plan_id}
        assert [r["kind"] for r in rows] == [c["kind"] for c in plan["changes"]]

        # the reviewer keeps only field updates and strikes out the first two of them
        updates = [r for r in rows if r["kind"] == "update"]
        struck = {int(updates[0]["change"]), int(updates[1]["change"])}
        for row in updates[:2]:
            row["exclude"] = "x"
        with review.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        pushed = syncd("apply", plan_id, "-c", config, "--only", "update", "--exclude", review,
                       "-f", "json")  # fmt: skip
        assert pushed.exit_code == 0, pushed.output
        doc = json.loads(pushed.stdout)  # the only thing on stdout: one document

        store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
        sent = {e.seq for e in store.outbox(plan_id)}
        runs = store.list_runs("hubspot")
        plans_after = store.list_plans("hubspot")
        store.close()
        assert sent == {int(r["change"]) for r in updates} - struck
        assert doc["run_id"] == runs[0].id
        assert doc["plan"]["plan_id"] == doc["pushes"][0]["plan_id"] == plan_id
        assert doc["pushes"][0]["statuses"]["applied"] > 0
        assert [p.id for p in plans_after] == [plan_id]  # show made no plan
        assert f"{len(sent)} of {len(rows)} changes selected" in pushed.stderr

        listed_runs = json.loads(syncd("runs", "-c", config, "-f", "json").stdout)
        assert [(r["kind"], r["status"]) for r in listed_runs] == [
            ("apply", "succeeded"),
            ("plan", "succeeded"),
        ]
        assert listed_runs[0]["counts"]["applied"] == doc["pushes"][0]["statuses"]["applied"]

        undone = syncd("undo", doc["run_id"], "-c", config)
        assert undone.exit_code == 0, undone.output
        assert f"undid run {doc['run_id']}" in undone.stdout


def test_exclude_refuses_a_file_of_another_plan_or_unknown_changes(tmp_path: Path) -> None:
    with serving() as sandbox:
        config = write_config(tmp_path, {"hubspot": sandbox.base_url})
        plan_id = json.loads(syncd("plan", "-c", config, "-f", "json").stdout)["plan_id"]
        other = tmp_path / "other.csv"
        other.write_text("change,exclude,plan\n0,x,abc123\n")
        result = syncd("apply", plan_id, "-c", config, "--exclude", other)
        assert result.exit_code == 2
        assert f"row 2 is a change of plan abc123, not of {plan_id}" in result.stderr
        unknown = tmp_path / "unknown.csv"
        unknown.write_text("change\n99999\n")
        result = syncd("apply", plan_id, "-c", config, "--exclude", unknown)
        assert result.exit_code == 2
        assert f"'99999' is not a change of plan {plan_id}" in result.stderr
        result = syncd("apply", plan_id, "-c", config, "--only", "normalise")
        assert result.exit_code == 2
        assert "--only: normalise is neither a policy of plan" in result.stderr
        store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
        assert store.outbox(plan_id) == []  # nothing was pushed
        store.close()


def test_run_once_json_is_one_document_and_logs_go_to_stderr(tmp_path: Path) -> None:
    with serving() as sandbox:
        config = write_config(tmp_path, {"hubspot": sandbox.base_url}, level="info")
        result = syncd("--log-format", "json", "run", "-c", config, "--once", "-f", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"source", "status", "run_id", "plan", "pushes", "error", "note"}
    assert doc["plan"]["run_id"] == doc["run_id"]
    assert doc["pushes"][-1]["plan_id"] == doc["plan"]["plan_id"]
    events = [json.loads(line)["event"] for line in result.stderr.splitlines()]
    assert {"run started", "pulled", "push batch", "run finished"} <= set(events)


def test_the_review_queue_survives_an_undo(tmp_path: Path) -> None:
    with serving(records=300, seed=1) as sandbox:  # seed 1 has pairs in the review band
        config = write_config(tmp_path, {"hubspot": sandbox.base_url})
        ran = json.loads(syncd("run", "-c", config, "--once", "-f", "json").stdout)
        before = syncd("review", "-c", config)
        assert "Reviews pending:" in before.stdout
        assert syncd("undo", ran["run_id"], "-c", config).exit_code == 0
        after = syncd("review", "-c", config)
    assert after.stdout == before.stdout


def test_undo_explains_refused_old_values_once_and_finishes(tmp_path: Path) -> None:
    with serving(records=300, seed=1) as sandbox:
        config = write_config(tmp_path, {"hubspot": sandbox.base_url})
        ran = json.loads(syncd("run", "-c", config, "--once", "-f", "json").stdout)
        first = syncd("undo", ran["run_id"], "-c", config)
        second = syncd("undo", ran["run_id"], "-c", config)
    assert first.exit_code == 0, first.output
    refused = [line for line in first.stdout.splitlines() if "' refused, '" in line]
    assert refused  # the dataset has e-mails with stray spaces, which HubSpot refuses
    explained = [line for line in first.stdout.splitlines() if "refuses to take back" in line]
    assert len(explained) == 1
    assert "INVALID_EMAIL" in explained[0]
    assert "failed" not in first.stdout
    assert second.exit_code == 0, second.output
    assert "Pushed plan" not in second.stdout  # nothing is sent again
    assert f"{len(refused)} field value(s) an earlier undo of run {ran['run_id']}" in second.stdout


def test_audit_shows_why_and_what_the_crm_answered(tmp_path: Path) -> None:
    with serving() as sandbox:
        config = write_config(tmp_path, {"hubspot": sandbox.base_url})
        plan = json.loads(syncd("plan", "-c", config, "-f", "json").stdout)
        assert syncd("apply", plan["plan_id"], "-c", config, "--only", "update").exit_code == 0
        table = syncd("audit", "-c", config, "--limit", "5")
        rows = json.loads(syncd("audit", "-c", config, "-f", "json").stdout)
    assert table.exit_code == 0
    assert "Why" in table.stdout
    assert "CRM answer" in table.stdout
    assert "status 200" in table.stdout
    first = rows[0]
    change = next(
        c
        for c in plan["changes"]
        if c["kind"] == "update"
        and c["record_id"] == first["record_id"]
        and c["field"] == first["field"]
    )
    assert first["reason"] == change["reason"]
    assert first["response"]["status"] == 200


def test_audit_pages_on_a_terminal(tmp_path: Path) -> None:
    with serving() as sandbox:
        config = write_config(tmp_path, {"hubspot": sandbox.base_url})
        plan = json.loads(syncd("plan", "-c", config, "-f", "json").stdout)
        assert syncd("apply", plan["plan_id"], "-c", config, "--only", "update").exit_code == 0
    paged = tmp_path / "paged.txt"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PAGER": f"cat > {paged}",
        "TERM": "xterm",
        "COLUMNS": "200",
    }
    command = [sys.executable, "-m", "syncd", "audit", "-c", str(config), "--limit", "3"]
    shown = on_a_terminal(command, env)
    assert paged.exists(), shown
    assert "Audit log: 3 entries" in paged.read_text()
    assert "Audit log" not in shown  # it went to the pager, not straight to the terminal
    piped = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert "Audit log: 3 entries" in piped.stdout  # not a terminal: printed, never paged
