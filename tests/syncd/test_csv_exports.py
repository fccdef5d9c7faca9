"""``syncd plan --csv`` on spreadsheets as they come: HubSpot, Salesforce, Excel and Google
exports (``tests/data/exports``), with ``--columns``, ``--encoding`` and ``--default-region``."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from tests.syncd.cli_support import one_line, syncd

EXPORTS = Path(__file__).parent.parent / "data" / "exports"


def export(tmp_path: Path, name: str) -> Path:
    return Path(shutil.copy(EXPORTS / name, tmp_path / name))


def rows(path: Path, encoding: str = "utf-8", delimiter: str = ",") -> list[dict[str, str]]:
    text = path.read_bytes().decode(encoding)
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def test_a_hubspot_export_is_cleaned_as_it_comes(tmp_path: Path) -> None:
    path = export(tmp_path, "hubspot_contacts.csv")
    result = syncd("plan", "--csv", path, "--apply", "-f", "json", "-o", tmp_path / "plan.json")
    assert result.exit_code == 0, result.stderr
    assert (
        "columns not used (carried through unchanged): Original Source, Marketing contact "
        "status; map one with --columns"
    ) in result.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["stats"]["unused_columns"] == ["Original Source", "Marketing contact status"]
    fixes = {(c["record_id"], c["field"]): c["new"] for c in plan["changes"] if "field" in c}
    assert fixes[("53", "mobilephone")] == "+13125550143"  # "Mobile Phone Number"
    assert fixes[("51", "phone")] == "+16175550199"  # "Phone Number"
    (merge,) = [c for c in plan["changes"] if c["kind"] == "merge"]
    assert (merge["primary_id"], merge["merged_ids"]) == ("51", ["52"])
    tasks = {c["record_id"] for c in plan["changes"] if c["kind"] == "create_task"}
    assert tasks == {"51", "53", "54", "55"}  # "In Progress", "New", "Open", "Attempted to..."

    cleaned = {r["Record ID"]: r for r in rows(tmp_path / "hubspot_contacts.cleaned.csv")}
    assert list(cleaned) == ["51", "53", "54", "55"]
    assert cleaned["51"]["Original Source"] == "Offline Sources"  # carried from 52
    assert cleaned["51"]["Marketing contact status"] == "Marketing contact"  # its own, kept
    assert rows(tmp_path / "hubspot_contacts.merge-map.csv") == [
        {
            "merged_id": "52",
            "primary_id": "51",
            "differing_values": 'Marketing contact status: "Non-marketing contact"',
        }
    ]
    for name in ("cleaned", "merge-map", "tasks"):
        assert not (tmp_path / f"hubspot_contacts.{name}.csv").read_bytes().startswith(b"\xef")


def test_excel_csv_needs_its_encoding_and_says_so(tmp_path: Path) -> None:
    path = export(tmp_path, "excel_contacts_cp1252.csv")
    refused = syncd("plan", "--csv", path, "-f", "json")
    assert refused.exit_code == 1
    said = refused.stderr.strip().splitlines()[-1]
    assert said.startswith(f"--csv {path}: {path}: not utf-8 at row 2, byte ")
    assert said.endswith(
        "(0xFC); Excel saves CSV files in Windows-1252: --encoding cp1252 reads them "
        '(encoding = "cp1252" in a configured source)'
    )
    assert refused.stdout == ""

    result = syncd(
        "plan", "--csv", path, "--encoding", "cp1252", "--default-region", "DE", "--apply",
        "-f", "json", "-o", tmp_path / "plan.json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    cleaned = rows(tmp_path / "excel_contacts_cp1252.cleaned.csv", "cp1252", ";")
    assert [(r["Last Name"], r["Phone Number"], r["Umsatz"]) for r in cleaned] == [
        ("Groß", "+49301234567", "1.234,56"),
        ("Lefèvre", "+33142142000", "99,50"),
        ("Muñoz", "+34912345678", "12,00"),
    ]


def test_google_sheet_with_a_default_region_and_a_column_named_on_the_command_line(
    tmp_path: Path,
) -> None:
    path = export(tmp_path, "google_sheets_leads.csv")
    result = syncd(
        "plan", "--csv", path, "--default-region", "GB", "--columns", "Lead source=lead_status",
        "--apply", "-f", "json", "-o", tmp_path / "plan.json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "columns not used (carried through unchanged): Notes;" in result.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    fixes = {(c["record_id"], c["field"]): c["new"] for c in plan["changes"] if "field" in c}
    assert fixes[("g-1", "phone")] == "+442079460958"
    assert fixes[("g-2", "phone")] == "+447911123456"
    assert rows(tmp_path / "google_sheets_leads.merge-map.csv") == [
        {
            "merged_id": "g-3",
            "primary_id": "g-1",
            "differing_values": 'Notes: "Met at the London fair"',
        }
    ]


def test_a_salesforce_report_keeps_its_byte_order_mark(tmp_path: Path) -> None:
    path = export(tmp_path, "salesforce_contacts.csv")
    result = syncd("plan", "--csv", path, "--apply", "-f", "json", "-o", tmp_path / "plan.json")
    assert result.exit_code == 0, result.stderr
    assert "columns not used (carried through unchanged): Lead Source, Account ID" in (
        result.stderr
    )
    cleaned = tmp_path / "salesforce_contacts.cleaned.csv"
    assert cleaned.read_bytes().startswith(b"\xef\xbb\xbfContact ID,First Name")
    ann = rows(cleaned, "utf-8-sig")[0]
    assert (ann["Email"], ann["Phone"], ann["Title"]) == (
        "ann.lee@acme.com",
        "+12125550101",
        "VP, Sales",
    )


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (
            ["--object-type", "owners"],
            "--object-type 'owners': Input should be 'contacts', 'leads', 'companies', "
            "'deals' or 'tasks'",
        ),
        (
            ["--encoding", "utf-99"],
            "--encoding 'utf-99': expected a Python codec name such as utf-8 or cp1252",
        ),
        (
            ["--default-region", "XX"],
            "--default-region 'XX': expected a two-letter region code such as US, GB, DE",
        ),
        (
            ["--columns", "Umsatz"],
            "--columns 'Umsatz': expected HEADER=FIELD, e.g. 'Given=firstname'",
        ),
        (
            ["--columns", "Umsatz=revenue"],
            "--columns Umsatz=revenue: 'revenue' is no field of contacts; expected one of "
            "firstname, lastname,",
        ),
    ],
)
def test_bad_options_are_one_line_each(tmp_path: Path, options: list[str], said: str) -> None:
    path = export(tmp_path, "hubspot_contacts.csv")
    result = syncd("plan", "--csv", path, *options)
    assert result.exit_code == 2
    assert one_line(result.stderr).startswith(said)
