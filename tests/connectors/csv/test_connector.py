"""The CSV connector: reading an export, skipping bad rows, writing results beside it."""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.csv import CsvConnector, CsvSettings
from model.errors import ConfigError
from model.records import Cursor, PullBatch
from model.writes import FieldWrite, TaskWrite

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
MTIME = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

EXPORT = (
    "id, First Name ,EMAIL,Phone,Notes,created_at\n"
    "1,Ann,ann@example.com,(555) 010-0001,keep me,2024-05-01T10:00:00Z\n"
    "2,Bob,bob@example.com,555-010-0002,,\n"
    '3,Cy,cy@example.com,,"two\nlines",\n'
)


def write(tmp_path: Path, text: str, name: str = "export.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding, newline="")
    os.utime(path, (MTIME.timestamp(), MTIME.timestamp()))
    return path


def pull(connector: CsvConnector, object_type: str = "contacts") -> list[PullBatch]:
    return list(connector.pull(object_type, Cursor(), run_started_at=NOW))


def connector(path: Path, **kwargs: object) -> CsvConnector:
    return CsvConnector(CsvSettings(path=path, **kwargs))  # type: ignore[arg-type]


def test_pull_maps_canonical_headers_and_hides_unknown_columns(tmp_path: Path) -> None:
    path = write(tmp_path, EXPORT)
    batches = pull(connector(path, columns={"First Name": "firstname"}))
    records = {r.id: r for b in batches for r in b.records}
    assert list(records) == ["1", "2", "3"]
    ann = records["1"]
    assert ann.properties == {
        "firstname": "Ann",
        "email": "ann@example.com",
        "phone": "(555) 010-0001",
        "created_at": "2024-05-01T10:00:00Z",
    }
    assert ann.updated_at == MTIME
    assert ann.created_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert records["2"].properties["created_at"] is None
    assert records["2"].created_at is None
    assert all(b.cursor == Cursor(None) for b in batches)


def test_case_insensitive_default_match_without_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "ID;FirstName;Email\n7;Ann;a@x.com\n")
    (batch,) = pull(connector(path))
    (record,) = batch.records
    assert record.id == "7"
    assert record.properties == {"firstname": "Ann", "email": "a@x.com"}


def test_delimiter_is_sniffed_or_given(tmp_path: Path) -> None:
    path = write(tmp_path, "id\tfirstname\tcity\n1\tAnn\tSan Jose, CA\n")
    (batch,) = pull(connector(path))
    assert batch.records[0].properties["city"] == "San Jose, CA"
    forced = connector(path, delimiter=",")
    with pytest.raises(ConfigError, match="no id column"):
        pull(forced)


def test_bad_rows_are_skipped_with_row_numbers_and_the_run_goes_on(tmp_path: Path) -> None:
    text = (
        "id,firstname,email\n"
        "1,Ann,a@x.com\n"
        ",NoId,n@x.com\n"
        "\n"
        "1,Again,dup@x.com\n"
        "2,Short\n"
        '3,"Multi\nline",m@x.com\n'
        "4,Too,many,fields\n"
        "5,Eve,e@x.com\n"
    )
    path = write(tmp_path, text)
    (batch,) = pull(connector(path))
    assert [r.id for r in batch.records] == ["1", "3", "5"]
    assert batch.records[1].properties["firstname"] == "Multi\nline"
    assert list(batch.skipped) == [
        ("row 3", "row 3: no id"),
        ("1", "row 5: id 1 repeats an earlier row"),
        ("row 6", "row 6: 2 fields, expected 3"),
        ("row 9", "row 9: 4 fields, expected 3"),
    ]


def test_a_plan_only_pull_lets_the_rows_go_and_reads_again_what_needs_them(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "id,firstname,email\n1,Ann,a@x.com\n,NoId,n@x.com\n2,Bob,b@x.com\n")
    conn = connector(path)
    conn.plan_only()
    (first,) = pull(conn)
    assert conn._live == {}  # the cells went once the records were made
    # what the run reports afterwards needs no second read
    assert conn.skipped == [("row 3", "row 3: no id")]
    assert conn.unused_columns == ()
    assert conn._live == {}
    # another pull, or a write, reads the file again: nothing vanishes
    (again,) = pull(conn)
    assert again.records == first.records
    assert [r.id for r in again.records] == ["1", "2"]
    (done,) = conn.update("contacts", [FieldWrite("k", "2", {"email": "bob@x.com"})])
    assert done.ok


def test_a_plan_only_pull_stopped_early_reads_the_rows_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("connectors.csv.connector.BATCH_SIZE", 1)
    path = write(tmp_path, "id,firstname\n1,Ann\n2,Bob\n")
    conn = connector(path)
    conn.plan_only()
    batches = conn.pull("contacts", Cursor(), run_started_at=NOW)
    first = next(batches)  # row 1's cells went with its record
    batches.close()  # the engine stops (a batch it could not store)
    (whole,) = [r for b in pull(conn) for r in b.records if r.id == "1"]
    assert whole.properties["firstname"] == "Ann" == first.records[0].properties["firstname"]
    assert [r.id for b in pull(conn) for r in b.records] == ["1", "2"]


def test_missing_columns_are_configuration_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "key,firstname\n1,Ann\n")
    with pytest.raises(ConfigError, match="no id column 'id'"):
        pull(connector(path))
    (batch,) = pull(connector(path, id_column="KEY"))
    assert batch.records[0].id == "1"
    with pytest.raises(ConfigError, match="'Surname', which is not in the header"):
        pull(connector(path, id_column="key", columns={"Surname": "lastname"}))


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="object_type"):
        CsvSettings(path=Path("x.csv"), object_type="owners")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one canonical field"):
        CsvSettings(path=Path("x.csv"), columns={"A": "email", "B": "email"})
    settings = CsvSettings(path=Path("/data/export.csv"), output_dir=Path("/out"))
    assert settings.cleaned_path == Path("/out/export.cleaned.csv")
    assert settings.merge_map_path == Path("/out/export.merge-map.csv")
    assert CsvSettings(path=Path("/data/e.csv")).tasks_path == Path("/data/e.tasks.csv")


def test_encoding_setting(tmp_path: Path) -> None:
    path = write(tmp_path, "id,firstname\n1,José\n", encoding="cp1252")
    (batch,) = pull(connector(path, encoding="cp1252"))
    assert batch.records[0].properties["firstname"] == "José"


def apply_some_changes(conn: CsvConnector) -> None:
    pull(conn)
    results = conn.update(
        "contacts",
        [
            FieldWrite("k1", "1", {"phone": "+15550100001", "lastname": "Smith"}),
            FieldWrite("k2", "9", {"phone": "+1"}),
        ],
    )
    assert [r.ok for r in results] == [True, False]
    assert conn.merge("contacts", "1", "2", "k3").ok
    due = datetime(2026, 11, 26, 15, tzinfo=UTC)
    (task,) = conn.create_tasks([TaskWrite("k4", "contacts", "1", "Call Ann", "body", "75", due)])
    assert task.ok
    assert task.remote_id == "task-1"


def test_writer_works_in_memory_and_close_writes_results(tmp_path: Path) -> None:
    path = write(tmp_path, EXPORT)
    before = path.read_bytes()
    conn = connector(path, columns={"First Name": "firstname"})
    apply_some_changes(conn)

    current = conn.read("contacts", ["1", "2", "3", "404"], ["phone"])
    one, two = current["1"], current["2"]
    assert one is not None
    assert two is not None
    assert one.properties["phone"] == "+15550100001"
    assert one.properties["lastname"] == "Smith"
    assert two.id == "1"  # merged: answers with the survivor
    assert current["404"] is None
    found = conn.find_tasks("contacts", ["1", "3"])
    assert found["3"] == []
    (task,) = found["1"]
    assert "[syncd:k4]" in (task.properties["body"] or "")
    assert task.properties["status"] == "open"
    assert conn.is_task_of(task, "k4")
    assert not conn.is_task_of(task, "k1")
    assert not conn.settings.cleaned_path.exists()  # nothing written before close

    conn.close()
    assert path.read_bytes() == before
    cleaned = conn.settings.cleaned_path.read_bytes().decode("utf-8-sig")
    assert cleaned == (
        "id, First Name ,EMAIL,Phone,Notes,created_at,lastname\r\n"
        "1,Ann,ann@example.com,+15550100001,keep me,2024-05-01T10:00:00Z,Smith\r\n"
        '3,Cy,cy@example.com,,"two\nlines",,\r\n'
    )
    assert conn.settings.merge_map_path.read_bytes().decode("utf-8-sig") == (
        "merged_id,primary_id,differing_values\r\n2,1,\r\n"
    )
    assert conn.settings.tasks_path.read_bytes().decode("utf-8-sig") == (
        "task_id,record_id,subject,owner_id,due,body\r\ntask-1,1,Call Ann,75,2026-11-26,body\r\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "export.cleaned.csv",
        "export.csv",
        "export.merge-map.csv",
        "export.tasks.csv",
    ]  # no temporary files left behind


def test_results_are_deterministic(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        conn = connector(write(folder, EXPORT))
        apply_some_changes(conn)
        conn.close()
        outputs.append([p.read_bytes() for p in sorted(folder.iterdir())])
    assert outputs[0] == outputs[1]


def test_nothing_is_written_without_a_change(tmp_path: Path) -> None:
    path = write(tmp_path, EXPORT)
    conn = connector(path)
    pull(conn)
    assert conn.update("contacts", [FieldWrite("k", "2", {"email": "bob@example.com"})])[0].ok
    assert conn.archive("contacts", ["404"], ["k2"])[0].ok
    conn.close()
    assert [p.name for p in tmp_path.iterdir()] == ["export.csv"]


def test_merges_flatten_and_refuse_missing_rows(tmp_path: Path) -> None:
    conn = connector(write(tmp_path, EXPORT))
    assert conn.merge("contacts", "2", "3", "a").ok
    assert conn.merge("contacts", "1", "2", "b").ok
    again = conn.merge("contacts", "1", "3", "c")
    assert again.ok
    assert again.already
    assert again.response == {"already": True}
    assert not conn.merge("contacts", "1", "404", "d").ok
    assert not conn.merge("contacts", "1", "1", "e").ok
    current = conn.read("contacts", ["3"], [])["3"]
    assert current is not None
    assert current.id == "1"
    conn.close()
    text = conn.settings.merge_map_path.read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    # 3's note went to 2 (which had none), then differed from 1's: listed, not lost
    assert rows == [
        ["merged_id", "primary_id", "differing_values"],
        ["3", "1", ""],
        ["2", "1", 'Notes: "two\nlines"'],
    ]


def test_archive_drops_rows_and_skipped_rows_are_carried_through(tmp_path: Path) -> None:
    path = write(tmp_path, "id,firstname\n1,Ann\n2,Bob\n,NoId\n")
    conn = connector(path)
    pull(conn)
    (result,) = conn.archive("contacts", ["2"], ["k"])
    assert result.ok
    assert conn.read("contacts", ["2"], [])["2"] is None
    assert not conn.update("contacts", [FieldWrite("k2", "2", {"firstname": "B"})])[0].ok
    conn.close()
    assert conn.settings.cleaned_path.read_bytes().decode("utf-8-sig").splitlines() == [
        "id,firstname",
        "1,Ann",
        ",NoId",
    ]


def test_other_object_types_are_refused(tmp_path: Path) -> None:
    conn = connector(write(tmp_path, EXPORT))
    with pytest.raises(ValueError, match="holds contacts, not deals"):
        pull(conn, "deals")
