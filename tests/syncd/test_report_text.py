"""What reports take from the CRM is shown, never run: no markup, no HTML, no formula; long values
are cut in tables and headers stay whole; a plan round-trips through a reviewer's spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from model.changes import CreateTask, Merge, Update
from syncd import plan_csv
from syncd.plan import Plan
from syncd.plan_csv import ExclusionError, read_exclusions
from syncd.report import CELL_MAX, render, rendered
from syncd.review import ReviewItem, render_reviews

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
HOSTILE = "<img src=x onerror=alert(1)>\x00[/bold]*x*|`y`"


def plan_of(
    *changes: Update | Merge | CreateTask, labels: dict[tuple[str, str], str] | None = None
) -> Plan:
    return Plan("p1", "hs", NOW, tuple(changes), labels=labels or {})


def update(record_id: str, old: str | None, new: str | None, field: str = "email") -> Update:
    return Update("hs", "contacts", "normalize", "because", record_id, field, old, new)


def test_markdown_escapes_html_nul_bytes_and_markdown() -> None:
    text = render(plan_of(update("1", HOSTILE, "a@x.com")), "markdown")
    row = next(line for line in text.splitlines() if line.startswith("| contacts 1"))
    assert "<img" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in row
    assert "\x00" not in text
    assert "\\\\x00" in row  # shown, as \x00 (its backslash escaped for Markdown)
    assert "\\[/bold\\]\\*x\\*\\|\\`y\\`" in row
    assert row.count(" | ") == 3  # the value's | did not add a column


def test_table_shows_crm_text_as_typed_and_cuts_long_values() -> None:
    long = "x" * 1000
    plan = plan_of(
        update("1", "[bold red]Jane[/]", "Jane"),
        update("2", "[/nope]", None),  # not even valid markup: must not raise
        update("3", long, "short"),
        labels={("contacts", "1"): "[link=http://evil]Ann[/link]"},
    )
    text = render(plan, "table", width=200)
    assert "[bold red]Jane[/]" in text
    assert "[/nope]" in text
    assert "[link=http://evil]Ann[/link]" in text
    assert CELL_MAX - 10 < text.count("x") < CELL_MAX  # of the 1,000, cut with "…"
    assert "…" in text


@pytest.mark.parametrize("width", [80, 100])
def test_headers_never_break_inside_a_word(width: int) -> None:
    wordy = "a very long reason that goes on " * 10
    plan = plan_of(*(update(str(i), wordy, wordy + "!") for i in range(3)))
    table = render(plan, "table", width=width)
    header = next(line for line in table.splitlines() if "Record" in line)
    for word in ("Record", "What", "Why"):
        assert word in header, table
    item = ReviewItem("p1", "contacts", "1", ("2",), 0.8, wordy, {"1": wordy, "2": wordy})
    reviews = render_reviews([item], width=width)
    assert "Confidence" in reviews, reviews


def test_csv_has_a_stable_change_id_and_defuses_formulas() -> None:
    due = date(2026, 11, 26)
    task = CreateTask("hs", "contacts", "follow_up", "open lead", "2", "Call", "7", due)
    merge = Merge("hs", "contacts", "dedupe", "same person", "3", ("4", "5"), 0.97)
    plan = plan_of(update("1", '=HYPERLINK("http://evil")', "+15551234567"), task, merge)
    rows = list(csv.DictReader(io.StringIO(render(plan, "csv"))))
    assert [r["change"] for r in rows] == ["0", "1", "2"]
    assert [r["kind"] for r in rows] == ["update", "create_task", "merge"]
    assert rows[0]["old"] == '\'=HYPERLINK("http://evil")'
    assert rows[0]["new"] == "'+15551234567"
    assert (rows[1]["new"], rows[1]["owner_id"], rows[1]["due"]) == ("Call", "7", "2026-11-26")
    assert (rows[2]["record_id"], rows[2]["merged_ids"]) == ("3", "4;5")
    assert {r["exclude"] for r in rows} == {""}
    assert {r["plan"] for r in rows} == {"p1"}


@pytest.mark.parametrize("changes", [0, 1, 3, 7])
def test_csv_written_in_parts_is_the_csv_of_every_row_at_once(
    changes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a plan of a million changes is written a few thousand rows at a time, not built whole
    plan = plan_of(*(update(str(i), f"a\n{i}", f'"{i}",') for i in range(changes)))
    whole = io.StringIO(newline="")
    writer = csv.writer(whole)
    writer.writerow(plan_csv.COLUMNS)
    writer.writerows(plan_csv._cells(plan, seq, c) for seq, c in enumerate(plan.changes))
    monkeypatch.setattr(plan_csv, "CSV_ROWS", 3)
    parts = list(rendered(plan, "csv"))
    assert len(parts) == max(1, -(-changes // 3))
    assert "".join(parts) == whole.getvalue() == render(plan, "csv")
    assert len(list(csv.DictReader(io.StringIO("".join(parts))))) == changes


def test_exclusions_read_back_from_a_spreadsheet(tmp_path: Path) -> None:
    marked = tmp_path / "marked.csv"
    marked.write_text("change;exclude;plan\n0;x;p1\n1;;p1\n2;no;p1\n3;YES;p1\n", encoding="cp1252")
    assert read_exclusions(marked, "p1", 4) == {0, 3}
    listed = tmp_path / "listed.csv"
    listed.write_text("\ufeffChange,note\n2,dup\n")
    assert read_exclusions(listed, "p1", 4) == {2}
    bare = tmp_path / "bare.csv"
    bare.write_text("id,note\n1,x\n")
    with pytest.raises(ExclusionError, match="no 'change' column"):
        read_exclusions(bare, "p1", 4)
