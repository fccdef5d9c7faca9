"""``syncd plan --csv``: a spreadsheet export planned and cleaned with no configuration file."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import phonenumbers
import pytest

from bench.dataset import EXPORT_COLUMNS, export_rows
from connectors.csv import CsvConnector
from model.changes import Update
from model.errors import ConfigError
from model.records import PullBatch
from sandbox.generator import generate
from state.store import SqlStateStore
from syncd import csv_mode
from syncd.config import parse_config
from syncd.csv_mode import plan_csv
from syncd.logging import configure
from syncd.sources import build_connector

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
FIELDS = tuple(EXPORT_COLUMNS.values())


@pytest.fixture(autouse=True)
def logs_to_stderr() -> None:
    """As the CLI does: logs on standard error, so standard output holds only the plan."""
    configure("warning", "json")


def ids() -> Callable[[], str]:
    numbers = count(1)
    return lambda: f"id{next(numbers)}"


def generated_export(path: Path, records: int = 300) -> Path:
    """The generator's messy contacts as a spreadsheet export with an ``id`` column."""
    dataset = generate(records=records, seed=11, now=NOW)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", *FIELDS, "Source sheet"])
        writer.writerows([*row, "import-2026"] for row in export_rows(dataset))
    return path


def read_rows(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def run(path: Path, tmp_path: Path, *, apply: bool, **kwargs: object) -> dict[str, object]:
    out = tmp_path / "plan.json"
    plan_csv(
        path,
        fmt="json",
        output=out,
        limit=None,
        apply=apply,
        now=lambda: NOW,
        new_id=ids(),
        **kwargs,  # type: ignore[arg-type]
    )
    document: dict[str, object] = json.loads(out.read_text(encoding="utf-8"))
    return document


def changes(document: dict[str, object], kind: str) -> list[dict[str, object]]:
    listed = document["changes"]
    assert isinstance(listed, list)
    return [c for c in listed if c["kind"] == kind]


def test_plan_only_reports_merges_updates_and_tasks_and_writes_nothing(tmp_path: Path) -> None:
    export = generated_export(tmp_path / "export.csv")
    document = run(export, tmp_path, apply=False)
    assert document["source"] == "csv"
    assert len(changes(document, "merge")) >= 5
    assert len(changes(document, "update")) >= 100
    assert len(changes(document, "create_task")) >= 20
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv", "plan.json"]


def test_a_dry_run_plans_from_the_rows_as_the_store_would_give_them_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows of a dry run are never written into its throw-away store, and its plan is the
    one planning from the store gives."""
    export = generated_export(tmp_path / "export.csv")
    stored: list[int] = []
    store_batch = SqlStateStore.store_batch

    def counted(self: SqlStateStore, *args: Any, **kwargs: Any) -> int:
        written = store_batch(self, *args, **kwargs)
        stored.append(written)
        return written

    monkeypatch.setattr(SqlStateStore, "store_batch", counted)
    unstored = run(export, tmp_path, apply=False)
    assert stored == []
    engine = csv_mode.Engine

    def storing(*args: Any, **kwargs: Any) -> csv_mode.Engine:
        return engine(*args, **{**kwargs, "keep_run": True})

    monkeypatch.setattr(csv_mode, "Engine", storing)
    through_the_store = run(export, tmp_path, apply=False)
    assert sum(stored) == 300
    assert unstored == through_the_store
    assert len(changes(unstored, "merge")) >= 5


def test_a_dry_run_keeps_one_version_of_a_record_pulled_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where a source gives a record twice (an edit between two pages), the newer version is
    the one planned, as the store's upsert keeps."""
    export = tmp_path / "export.csv"
    export.write_text("id,firstname,email\n1,Ann,ANN@x.com\n2,Bob,bob@x.com\n", encoding="utf-8")
    pull = CsvConnector.pull

    def again(self: CsvConnector, *args: Any, **kwargs: Any) -> Iterator[PullBatch]:
        batches = list(pull(self, *args, **kwargs))
        yield from batches
        first = batches[0].records[0]
        stale = replace(first, properties={**first.properties, "email": "OLD@x.com"},
                        updated_at=first.updated_at - timedelta(days=1))  # fmt: skip
        yield PullBatch(first.object_type, (stale,), batches[0].cursor)

    monkeypatch.setattr(CsvConnector, "pull", again)
    plan = plan_csv(
        export, fmt="json", output=tmp_path / "plan.json", limit=None, now=lambda: NOW, new_id=ids()
    )
    assert plan.baseline["contacts"] == {
        "count": 2,
        "live": 2,
        "max_updated_at": datetime.fromtimestamp(export.stat().st_mtime, UTC).isoformat(),
    }
    emails = [(c.record_id, c.old) for c in plan.changes if isinstance(c, Update)]
    assert ("1", "ANN@x.com") in emails
    assert all(old != "OLD@x.com" for _, old in emails)


def test_apply_writes_cleaned_file_and_merge_map_and_leaves_the_input(tmp_path: Path) -> None:
    export = generated_export(tmp_path / "export.csv")
    before = export.read_bytes()
    document = run(export, tmp_path, apply=True)
    assert export.read_bytes() == before

    stats = document["stats"]
    assert isinstance(stats, dict)
    assert set(stats["pushed"]) == {"applied"}
    cleaned = {row["id"]: row for row in read_rows(tmp_path / "export.cleaned.csv")}
    original = read_rows(export)
    assert list(read_rows(tmp_path / "export.cleaned.csv")[0]) == list(original[0])

    merge_map = read_rows(tmp_path / "export.merge-map.csv")
    merged = {row["merged_id"] for row in merge_map}
    planned = {m for c in changes(document, "merge") for m in c["merged_ids"]}  # type: ignore[attr-defined]
    assert merged == planned
    assert merged.isdisjoint(cleaned)
    assert {row["primary_id"] for row in merge_map} <= set(cleaned)
    assert len(cleaned) == len(original) - len(merged)

    phone_fixes = [c for c in changes(document, "update") if c["field"] == "phone"]
    assert len(phone_fixes) >= 50
    for fix in phone_fixes:
        assert cleaned[str(fix["record_id"])]["phone"] == (fix["new"] or "")
    valid = 0
    for row in cleaned.values():
        number = row["phone"].split(";ext=")[0]
        try:
            parsed = phonenumbers.parse(number, "US")
        except phonenumbers.NumberParseException:
            continue  # "n/a" and the like: flagged in the plan, left as they were
        if phonenumbers.is_valid_number(parsed):
            valid += 1
            assert number == phonenumbers.format_number(
                phonenumbers.parse(number), phonenumbers.PhoneNumberFormat.E164
            )
    assert valid >= 100
    assert {row["Source sheet"] for row in cleaned.values()} == {"import-2026"}

    tasks = read_rows(tmp_path / "export.tasks.csv")
    assert [t["record_id"] for t in tasks] == [
        c["record_id"] for c in changes(document, "create_task")
    ]
    assert all(t["record_id"] in cleaned and t["subject"] and t["due"] for t in tasks)


def test_apply_is_deterministic(tmp_path: Path) -> None:
    outputs = []
    for name in ("one", "two"):
        folder = tmp_path / name
        folder.mkdir()
        run(generated_export(folder / "export.csv", records=120), folder, apply=True)
        outputs.append({p.name: p.read_bytes() for p in folder.iterdir() if p.suffix == ".csv"})
    assert len(outputs[0]) == 4
    assert outputs[0] == outputs[1]


def test_malformed_rows_are_skipped_and_reported(tmp_path: Path) -> None:
    export = generated_export(tmp_path / "export.csv", records=60)
    lines = export.read_text(encoding="utf-8").splitlines()
    first_id = lines[1].split(",")[0]
    lines[3:3] = ["only,three,fields", f"{first_id},Copy,Cat" + "," * (len(FIELDS) - 1)]
    lines.append("," * (len(FIELDS) + 1))  # a row with every cell empty: no id
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")

    document = run(export, tmp_path, apply=True)
    stats = document["stats"]
    assert isinstance(stats, dict)
    assert stats["skipped_rows"] == [
        {"row": "row 4", "reason": f"row 4: 3 fields, expected {len(FIELDS) + 2}"},
        {"row": first_id, "reason": f"row 5: id {first_id} repeats an earlier row"},
        {"row": f"row {len(lines)}", "reason": f"row {len(lines)}: no id"},
    ]
    cleaned = (tmp_path / "export.cleaned.csv").read_text(encoding="utf-8-sig")
    assert "only,three,fields" in cleaned  # carried through, not lost


def test_custom_column_mapping(tmp_path: Path) -> None:
    export = tmp_path / "people.csv"
    export.write_text(
        "Contact ID;First Name;Last Name;E-mail;Phone Number;Town\n"
        "10;jane;DOE;Jane.Doe@Example.com;(415) 555-0134;san francisco\n"
        "11;Jane;Doe;jane.doe@example.com;415.555.0134;San Francisco\n"
        "12;Omar;Haddad;omar@example.org;+44 20 7946 0958;London\n",
        encoding="utf-8",
    )
    mapping = {
        "First Name": "firstname",
        "Last Name": "lastname",
        "E-mail": "email",
        "Phone Number": "phone",
        "Town": "city",
    }
    document = run(export, tmp_path, apply=True, id_column="Contact ID", columns=mapping)
    fixes = {(c["record_id"], c["field"]): c["new"] for c in changes(document, "update")}
    assert fixes[("12", "phone")] == "+442079460958"
    (merge,) = changes(document, "merge")
    assert {merge["primary_id"], *merge["merged_ids"]} == {"10", "11"}  # type: ignore[misc]
    cleaned = read_rows(tmp_path / "people.cleaned.csv", ";")
    assert list(cleaned[0]) == [
        "Contact ID",
        "First Name",
        "Last Name",
        "E-mail",
        "Phone Number",
        "Town",
    ]
    omar = next(r for r in cleaned if r["Contact ID"] == "12")
    assert omar["Phone Number"] == "+442079460958"
    assert len(cleaned) == 2


def test_canonical_columns_and_no_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("contacts.csv").write_text(
        "id,firstname,lastname,email,phone,lead_status,owner_id\n"
        "1,Ann,Lee,ANN@EXAMPLE.COM ,(212) 555-0101,NEW,75\n"
        "2,Bo,Park,bo@example.com,2125550102,,\n",
        encoding="utf-8",
    )
    plan = plan_csv(
        Path("contacts.csv"), fmt="json", output=None, limit=None, now=lambda: NOW, new_id=ids()
    )
    document = json.loads(capsys.readouterr().out)
    assert document["plan_id"] == plan.id
    fixes = {(c["record_id"], c["field"]): c["new"] for c in changes(document, "update")}
    assert fixes[("1", "email")] == "ann@example.com"
    assert fixes[("2", "phone")] == "+12125550102"
    (task,) = changes(document, "create_task")
    assert task["record_id"] == "1"
    assert task["owner_id"] == "75"
    assert document["stats"]["skipped_rows"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.csv"]


def test_table_and_markdown_render(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = tmp_path / "c.csv"
    export.write_text("id,email\n1,A@B.COM\n", encoding="utf-8")
    plan_csv(export, fmt="markdown", output=None, limit=5, now=lambda: NOW, new_id=ids())
    assert "a@b.com" in capsys.readouterr().out


def test_source_config_model(tmp_path: Path) -> None:
    source = {"connector": "csv", "path": "in/export.csv", "output_dir": "out", "delimiter": ";"}
    config = parse_config({"sources": {"sheet": source}}, tmp_path)
    assert config.sources["sheet"].object_types == ("contacts",)
    connector = build_connector(config, "sheet", config.sources["sheet"])
    assert isinstance(connector, CsvConnector)
    assert connector.settings.path == tmp_path / "in/export.csv"
    assert connector.settings.cleaned_path == tmp_path / "out/export.cleaned.csv"
    for bad in (
        {"encoding": "utf-99"},
        {"default_region": "XX"},
        {"delimiter": ";;"},
        {"object_type": "owners"},
        {"columns": {"A": "email", "B": "email"}},
        {"sheet": "1"},
    ):
        with pytest.raises(ConfigError) as caught:
            parse_config({"sources": {"s": {"connector": "csv", "path": "x.csv", **bad}}}, tmp_path)
        assert f"sources.s.{next(iter(bad))}" in str(caught.value)


def test_cli_plan_csv_json_with_no_configuration(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from syncd.cli import app

    export = generated_export(tmp_path / "export.csv", records=200)
    plan_path = tmp_path / "plan.json"
    result = CliRunner().invoke(
        app, ["plan", "--csv", str(export), "--format", "json", "-o", str(plan_path)]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(plan_path.read_text())
    kinds = {c["kind"] for c in document["changes"]}
    assert {"update", "merge", "create_task"} <= kinds
    assert all(c["object_type"] == "contacts" for c in document["changes"])
    applied = CliRunner().invoke(app, ["plan", "--csv", str(export), "--apply", "-f", "json"])
    assert applied.exit_code == 0, applied.output
    assert (tmp_path / "export.cleaned.csv").exists()
    assert (tmp_path / "export.merge-map.csv").exists()
    missing = CliRunner().invoke(app, ["plan"])
    assert missing.exit_code == 2
    assert "--csv FILE" in missing.output


@pytest.mark.parametrize("apply", [False, True], ids=["plan", "apply"])
def test_a_dry_run_keeps_its_changes_out_of_the_store_it_throws_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, apply: bool
) -> None:
    """Its store is deleted with its temporary folder: writing the plan's changes into it
    was some 5-8 % of a 100,000-row plan's time. ``--apply`` pushes from the stored plan: kept."""
    stored: list[int] = []
    save_plan = SqlStateStore.save_plan

    def counted(self: SqlStateStore, *args: object, **kwargs: object) -> object:
        stored.append(len(args[5]))  # type: ignore[arg-type]
        return save_plan(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SqlStateStore, "save_plan", counted)
    document = run(generated_export(tmp_path / "export.csv"), tmp_path, apply=apply)
    planned = document["changes"]
    assert isinstance(planned, list)
    assert len(planned) > 100
    assert stored == [len(planned) if apply else 0]
