"""A CSV file as rows with ids: reading (sniffing, header mapping, row checks) and writing.

Row numbers are the file's line numbers where a row starts (the header is row 1), which is the
row a spreadsheet shows when no cell spans lines. Blank lines are ignored.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from connectors.csv.settings import CANONICAL_FIELDS, CsvSettings
from model.errors import ConfigError, SourceFatalError

SNIFF_BYTES = 64 * 1024
SNIFF_DELIMITERS = ",;\t|"


@dataclass
class Row:
    """One data row: where it starts, its cells, and its id (``None`` when it was skipped)."""

    number: int
    cells: list[str]
    record_id: str | None


@dataclass(frozen=True, slots=True)
class Layout:
    """What the header means: canonical field per column index, and the id column."""

    header: tuple[str, ...]
    fields: Mapping[int, str]
    id_index: int


@dataclass
class Table:
    """A parsed file. ``skipped`` holds ``(id or "row N", reason)`` per row that is no record."""

    layout: Layout
    delimiter: str
    rows: list[Row] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _key(name: str) -> str:
    return name.strip().casefold()


def _find(header: Sequence[str], name: str) -> int | None:
    if name in header:
        return header.index(name)
    keys = [_key(h) for h in header]
    return keys.index(_key(name)) if _key(name) in keys else None


def resolve_layout(header: Sequence[str], settings: CsvSettings) -> Layout:
    """Map header cells to canonical fields; ``ConfigError`` if a named column is missing."""
    id_index = _find(header, settings.id_column)
    if id_index is None:
        raise ConfigError(
            f"{settings.path}: no id column {settings.id_column!r} in the header "
            f"{list(header)}; expected a column of unique record ids (id_column)"
        )
    fields: dict[int, str] = {}
    for column, target in settings.columns.items():
        index = _find(header, column)
        if index is None:
            raise ConfigError(
                f"{settings.path}: columns maps {column!r}, which is not in the header "
                f"{list(header)}"
            )
        fields[index] = target
    known = {_key(f): f for f in CANONICAL_FIELDS[settings.object_type]}
    taken = set(fields.values())
    for index, name in enumerate(header):
        found = known.get(_key(name))
        if index not in fields and found is not None and found not in taken:
            fields[index] = found
            taken.add(found)
    return Layout(tuple(header), fields, id_index)


def _sniff(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:SNIFF_BYTES], delimiters=SNIFF_DELIMITERS).delimiter
    except csv.Error:
        return ","


def read_table(settings: CsvSettings) -> Table:
    """Parse the file; rows without an id, with a repeated id or the wrong width are skipped."""
    try:
        text = settings.path.read_text(encoding=settings.encoding)
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceFatalError(
            f"{settings.path}: cannot read it as {settings.encoding} ({exc})"
        ) from exc
    delimiter = settings.delimiter or _sniff(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        raise SourceFatalError(f"{settings.path}: the file is empty; expected a header row")
    table = Table(resolve_layout(header, settings), delimiter)
    seen: set[str] = set()
    start = reader.line_num + 1
    for cells in reader:
        number, start = start, reader.line_num + 1
        if not cells:
            continue
        table.rows.append(_check(table, cells, number, seen))
    return table


def _check(table: Table, cells: list[str], number: int, seen: set[str]) -> Row:
    width = len(table.layout.header)
    if len(cells) != width:
        table.skipped.append(
            (f"row {number}", f"row {number}: {len(cells)} fields, expected {width}")
        )
        return Row(number, cells, None)
    record_id = cells[table.layout.id_index].strip()
    if not record_id:
        table.skipped.append((f"row {number}", f"row {number}: no id"))
        return Row(number, cells, None)
    if record_id in seen:
        table.skipped.append((record_id, f"row {number}: id {record_id} repeats an earlier row"))
        return Row(number, cells, None)
    seen.add(record_id)
    return Row(number, cells, record_id)


def write_atomic(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    encoding: str,
    delimiter: str,
    mode: int,
) -> None:
    """Write a CSV to a temporary file beside ``path``, then move it into place in one step.

    ``mode`` is the file's permission bits, set before anything is written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding=encoding, newline="") as out:
            writer = csv.writer(out, delimiter=delimiter)
            writer.writerow(header)
            writer.writerows(rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
