"""Spreadsheets as they come: exports of HubSpot, Salesforce, Excel and Google Sheets.

The files in ``tests/data/exports`` are written as those tools export them: HubSpot's contacts
export (UTF-8, no byte-order mark, ``,``), a Salesforce contacts report (UTF-8 with a
byte-order mark, every cell quoted, CRLF), Excel's "CSV" in a European locale (Windows-1252,
``;``, CRLF, decimal commas) and a Google Sheets download (UTF-8, no mark).
"""

from __future__ import annotations

import csv
import io
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.csv import CsvConnector, CsvSettings
from connectors.csv.headers import ALIASES, ID_HEADERS, field_for, header_key
from connectors.csv.settings import CANONICAL_FIELDS
from connectors.csv.table import read_table
from model.errors import ConfigError, SourceFatalError
from model.records import Cursor, Record
from model.writes import FieldWrite

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
EXPORTS = Path(__file__).parent.parent.parent / "data" / "exports"


def export(tmp_path: Path, name: str) -> Path:
    return Path(shutil.copy(EXPORTS / name, tmp_path / name))


def records(connector: CsvConnector, object_type: str = "contacts") -> dict[str, Record]:
    batches = connector.pull(object_type, Cursor(), run_started_at=NOW)
    return {r.id: r for b in batches for r in b.records}


def test_hubspot_export_headers_are_recognised(tmp_path: Path) -> None:
    conn = CsvConnector(CsvSettings(path=export(tmp_path, "hubspot_contacts.csv")))
    found = records(conn)
    assert list(found) == ["51", "52", "53", "54", "55"]  # Record ID is the id
    assert found["53"].properties == {
        "firstname": "Robert",
        "lastname": "Kowalski",
        "email": "robert.kowalski@brightline.io",
        "phone": "(312) 555-0142",
        "mobilephone": "312.555.0143",
        "company": "Brightline Inc.",
        "jobtitle": "VP Operations",
        "address": "200 W Madison St",
        "city": "Chicago",
        "state": "IL",
        "zip": "60606",
        "country": "United States",
        "website": "https://brightline.io",
        "owner_id": "Sam Lee",
        "lead_status": "New",
        "lifecycle_stage": "Lead",
        "created_at": "2023-11-02 09:15",
        "lead_open": "true",
    }
    assert conn.unused_columns == ("Original Source", "Marketing contact status")
    # HubSpot exports show the status labels: "In Progress" is the IN_PROGRESS of the settings
    assert {r.id: r.properties["lead_open"] for r in found.values()} == {
        "51": "true",
        "52": "false",  # no status
        "53": "true",
        "54": "true",
        "55": "true",  # "Attempted to contact"
    }


def test_salesforce_report_with_a_bom_and_every_cell_quoted(tmp_path: Path) -> None:
    path = export(tmp_path, "salesforce_contacts.csv")
    conn = CsvConnector(CsvSettings(path=path))
    found = records(conn)
    assert list(found) == ["0035g00000KxQ1AAAV", "0035g00000KxQ2AAAV", "0035g00000KxQ3AAAV"]
    ann = found["0035g00000KxQ1AAAV"].properties
    assert (ann["firstname"], ann["jobtitle"], ann["company"]) == ("Ann", "VP, Sales", "Acme Corp")
    assert (ann["address"], ann["state"], ann["zip"]) == ("1 Main St", "NY", "10001")
    assert (ann["country"], ann["owner_id"]) == ("USA", "Dana Fox")
    assert found["0035g00000KxQ2AAAV"].properties["mobilephone"] == "917-555-0188"
    assert conn.unused_columns == ("Lead Source", "Account ID")  # not the contact's id
    fix = FieldWrite("k", "0035g00000KxQ1AAAV", {"email": "ann.lee@acme.com"})
    assert [r.ok for r in conn.update("contacts", [fix])] == [True]
    conn.close()
    cleaned = conn.settings.cleaned_path.read_bytes()
    assert cleaned.startswith(b"\xef\xbb\xbf")  # the input had a byte-order mark: so do results
    assert conn.settings.merge_map_path.read_bytes().startswith(b"\xef\xbb\xbf")


def test_excel_csv_in_cp1252_is_refused_with_row_and_byte_then_read_with_the_encoding(
    tmp_path: Path,
) -> None:
    path = export(tmp_path, "excel_contacts_cp1252.csv")
    with pytest.raises(SourceFatalError) as refused:
        read_table(CsvSettings(path=path))
    data = path.read_bytes()
    offset = data.index("ü".encode("cp1252"))
    assert str(refused.value) == (
        f"{path}: not utf-8 at row 2, byte {offset} (0xFC); Excel saves CSV files in "
        'Windows-1252: --encoding cp1252 reads them (encoding = "cp1252" in a configured source)'
    )
    conn = CsvConnector(CsvSettings(path=path, encoding="cp1252"))
    found = records(conn)
    assert conn._table.delimiter == ";"
    assert found["701"].properties["lastname"] == "Groß"
    assert found["702"].properties["company"] == "Société Générale"
    assert conn.unused_columns == ("Umsatz", "Notiz")
    fix = FieldWrite("k", "703", {"phone": "+34912345678"})
    assert [r.ok for r in conn.update("contacts", [fix])] == [True]
    conn.close()
    cleaned = conn.settings.cleaned_path.read_bytes()
    assert not cleaned.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(cleaned.decode("cp1252"), newline=""), delimiter=";"))
    assert rows[0] == data.decode("cp1252").splitlines()[0].split(";")
    assert rows[3] == [
        "703",
        "José",
        "Muñoz",
        "jose.munoz@munoz-cia.es",
        "+34912345678",
        "Muñoz y Cía",
        "Madrid",
        "Spain",
        "12,00",
        "Preis 20 €",
    ]


def test_google_sheets_without_a_bom_stays_without(tmp_path: Path) -> None:
    path = export(tmp_path, "google_sheets_leads.csv")
    conn = CsvConnector(CsvSettings(path=path))
    found = records(conn)
    assert found["g-1"].properties["email"] == "omar@haddad-trading.co.uk"
    assert found["g-1"].properties["phone"] == "020 7946 0958"
    assert conn.unused_columns == ("Lead source", "Notes")
    assert conn.merge("contacts", "g-1", "g-3", "k").ok
    conn.close()
    for written in (conn.settings.cleaned_path, conn.settings.merge_map_path):
        assert written.read_bytes()[:3] not in (b"\xef\xbb\xbf", b"")


def test_a_merge_carries_unmodelled_cells_and_lists_the_ones_that_differ(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(
        "id,email,Lead source,Notes,Region\n"
        "1,a@x.com,,first note,EMEA\n"
        "2,a@x.com,Webinar,second note,EMEA\n"
        "3,a@x.com,Fair,,APAC\n",
        encoding="utf-8",
    )
    conn = CsvConnector(CsvSettings(path=path))
    records(conn)
    assert conn.merge("contacts", "1", "2", "k1").ok
    assert conn.merge("contacts", "1", "3", "k2").ok
    conn.close()
    cleaned = list(csv.reader(io.StringIO(conn.settings.cleaned_path.read_text(), newline="")))
    assert cleaned == [
        ["id", "email", "Lead source", "Notes", "Region"],
        ["1", "a@x.com", "Webinar", "first note", "EMEA"],  # the source it had none of
    ]
    merge_map = conn.settings.merge_map_path.read_text()
    assert list(csv.reader(io.StringIO(merge_map, newline=""))) == [
        ["merged_id", "primary_id", "differing_values"],
        ["2", "1", 'Notes: "second note"'],
        ["3", "1", 'Lead source: "Fair"; Region: "APAC"'],
    ]


def test_delimiters_are_sniffed(tmp_path: Path) -> None:
    for delimiter in (",", ";", "\t"):
        path = tmp_path / "sniffed.csv"
        rows = [["Record ID", "First Name", "City"], ["1", "Ann", "San Jose, CA; USA"]]
        with path.open("w", encoding="utf-8", newline="") as out:
            csv.writer(out, delimiter=delimiter).writerows(rows)
        table = read_table(CsvSettings(path=path))
        assert table.delimiter == delimiter
        assert table.rows[0].cells == rows[1]


def test_cells_of_any_size_are_read(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    note = "call back; " * 50_000  # 550 kB in one cell: the csv module alone stops at 128 kB
    path.write_text(f'id,email,Notes\n1,a@x.com,"{note}"\n2,b@x.com,short\n', encoding="utf-8")
    found = records(CsvConnector(CsvSettings(path=path)))
    assert list(found) == ["1", "2"]
    assert csv.field_size_limit() == 131072  # as it was: the limit is lifted while reading only
    assert read_table(CsvSettings(path=path)).rows[0].cells[2] == note


def test_a_quote_left_open_costs_its_row_not_the_rest_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "open_quote.csv"
    path.write_text(
        'id,firstname,email\n1,Ann,a@x.com\n2,"Bob,b@x.com\n3,Cy,c@x.com\n4,Di,d@x.com\n',
        encoding="utf-8",
    )
    conn = CsvConnector(CsvSettings(path=path))
    assert list(records(conn)) == ["1", "3", "4"]
    assert conn.skipped == [
        (
            "row 3",
            "row 3: 2 fields, expected 3 (over 3 lines: a quote left open?); the lines after "
            "its first are read as rows of their own",
        )
    ]


def test_an_id_column_is_found_by_its_export_names_or_named(tmp_path: Path) -> None:
    path = tmp_path / "companies.csv"
    path.write_text("Account ID,Account Name,Billing City\n001A,Acme,Oslo\n", encoding="utf-8")
    conn = CsvConnector(CsvSettings(path=path, object_type="companies"))
    assert records(conn, "companies")["001A"].properties == {"name": "Acme", "city": "Oslo"}
    path.write_text("Key,Name\n1,Acme\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"no id column 'id'.*named Record ID, Company ID"):
        read_table(CsvSettings(path=path, object_type="companies"))
    named = read_table(CsvSettings(path=path, object_type="companies", id_column="key"))
    assert named.rows[0].record_id == "1"


def test_headers_match_ignoring_case_spaces_and_underscores() -> None:
    assert header_key(" First_Name ") == header_key("FIRSTNAME") == "firstname"
    assert field_for("contacts", "first_name") == "firstname"
    assert field_for("contacts", "LEAD STATUS") == "lead_status"
    assert field_for("contacts", "Mailing Zip/Postal Code") == "zip"
    assert field_for("companies", "Company Name") == "name"
    assert field_for("contacts", "Company Name") == "company"
    assert field_for("deals", "Opportunity Name") == "dealname"
    assert field_for("contacts", "Favourite colour") is None


def test_record_linkage_data_sets_headers_are_recognised() -> None:
    # FEBRL (given_name, surname, address_1, suburb, postcode, date_of_birth) and
    # splink_datasets (first_name, surname, dob, city, email)
    febrl = ("given_name", "surname", "address_1", "suburb", "postcode", "date_of_birth")
    assert [field_for("contacts", h) for h in febrl] == [
        "firstname", "lastname", "address", "city", "zip", "birthdate",
    ]  # fmt: skip
    splink = ("first_name", "surname", "dob", "city", "email")
    assert [field_for("contacts", h) for h in splink] == [
        "firstname", "lastname", "birthdate", "city", "email",
    ]  # fmt: skip
    assert field_for("contacts", "Forename") == "firstname"
    assert field_for("contacts", "Locality") == "city"


def test_a_record_linkage_files_id_column_is_found(tmp_path: Path) -> None:
    path = tmp_path / "febrl.csv"
    path.write_text(
        "rec_id,given_name,surname,suburb\nrec-1-org,lachlan,berry,bittern\n", encoding="utf-8"
    )
    found = records(CsvConnector(CsvSettings(path=path)))
    assert found["rec-1-org"].properties == {
        "firstname": "lachlan", "lastname": "berry", "city": "bittern",
    }  # fmt: skip


def test_every_alias_names_a_canonical_field_of_its_type() -> None:
    for object_type, aliases in ALIASES.items():
        own = {header_key(n): n for n in CANONICAL_FIELDS[object_type]}
        for key, name in aliases.items():
            assert name in CANONICAL_FIELDS[object_type], (object_type, key)
            assert own.get(key, name) == name, (object_type, key)  # never shadowed
        assert ID_HEADERS[object_type][0] == "id"


def test_exported_stage_labels_count_as_the_settings_values(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_text(
        "Record ID,Deal Name,Deal Stage,Amount,Close Date,Deal owner\n"
        "9,Big one,Closed Won,1000,2024-05-01,Sam Lee\n"
        "10,Small one,Appointment Scheduled,10,,\n",
        encoding="utf-8",
    )
    found = records(CsvConnector(CsvSettings(path=path, object_type="deals")), "deals")
    won = found["9"].properties
    assert (won["dealname"], won["stage"], won["owner_id"]) == ("Big one", "Closed Won", "Sam Lee")
    assert (won["is_closed"], won["is_won"]) == ("true", "true")
    assert (found["10"].properties["is_closed"], found["10"].properties["is_won"]) == (
        "false",
        "false",
    )
