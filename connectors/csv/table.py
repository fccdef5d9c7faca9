"""A CSV file as rows with ids: reading (encoding, sniffing, header mapping, row checks) and
writing.

Row numbers are the file's line numbers where a row starts (the header is row 1), which is the
row a spreadsheet shows when no cell spans lines. Blank lines are ignored.

- **Encoding**: UTF-8 with or without a byte-order mark by default (:func:`decode`); the
  results are written with a mark only when the input had one. A file that is not UTF-8 is
  refused with the row and byte where it stops being UTF-8, and the encoding that reads it
  (Excel saves CSV in Windows-1252: ``cp1252``).
- **Delimiter**: sniffed among ``,``, ``;``, tab and ``|`` (:func:`sniff`) unless set.
- **Header**: mapped to canonical fields (:func:`resolve_layout`, :mod:`connectors.csv.headers`);
  the columns it does not use are said (:attr:`Layout.unused`).
- **Rows**: cells of any size. A row without an id, with an id an earlier row has, or with the
  wrong number of fields is skipped with its number, and so is a row whose quote is never
  closed (the rows after it are read again from the next line, not swallowed into its cell).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from connectors.csv.headers import ID_HEADERS, field_for, header_key
from connectors.csv.settings import CsvSettings
from model.errors import ConfigError, SourceFatalError

SNIFF_BYTES: Final = 64 * 1024
SNIFF_DELIMITERS: Final = ",;\t|"
#: Cells of any size: the csv module's own limit (128 KiB) would refuse a long note.
FIELD_SIZE_LIMIT: Final = 2**31 - 1
_UTF8: Final = frozenset({"utf-8", "utf-8-sig"})


@dataclass(slots=True)
class Row:
    """One data row: where it starts, its cells, and its id (``None`` when it was skipped)."""

    number: int
    cells: list[str]
    record_id: str | None


@dataclass(frozen=True, slots=True)
class Layout:
    """What the header means: canonical field per column index, the id column, and the
    headers of the columns no field is read from (the id column aside)."""

    header: tuple[str, ...]
    fields: Mapping[int, str]
    id_index: int
    unused: tuple[str, ...] = ()


@dataclass
class Table:
    """A parsed file. ``skipped`` holds ``(id or "row N", reason)`` per row that is no record;
    ``encoding`` is what the results are written in (``utf-8-sig`` when the input had a
    byte-order mark)."""

    layout: Layout
    delimiter: str
    encoding: str = "utf-8"
    rows: list[Row] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _find(header: Sequence[str], name: str) -> int | None:
    if name in header:
        return header.index(name)
    keys = [header_key(h) for h in header]
    return keys.index(header_key(name)) if header_key(name) in keys else None


def _id_index(header: Sequence[str], settings: CsvSettings) -> int:
    names = (
        (settings.id_column,)
        if settings.id_column is not None
        else ID_HEADERS[settings.object_type]
    )
    for name in names:
        index = _find(header, name)
        if index is not None:
            return index
    expected = (
        "give the column of unique record ids (id_column, --id-column)"
        if settings.id_column is not None
        else f"expected a column of unique record ids named {', '.join(names[1:])} "
        "or given as id_column (--id-column)"
    )
    raise ConfigError(
        f"{settings.path}: no id column {names[0]!r} in the header {list(header)}; {expected}"
    )


def resolve_layout(header: Sequence[str], settings: CsvSettings) -> Layout:
    """Map header cells to canonical fields: ``columns`` first, then headers that name a field
    (:func:`~connectors.csv.headers.field_for`), each field once, the leftmost column first.
    ``ConfigError`` if the id column or a column ``columns`` names is missing."""
    id_index = _id_index(header, settings)
    fields: dict[int, str] = {}
    for column, target in settings.columns.items():
        index = _find(header, column)
        if index is None:
            raise ConfigError(
                f"{settings.path}: columns maps {column!r}, which is not in the header "
                f"{list(header)}"
            )
        fields[index] = target
    taken = set(fields.values())
    for index, name in enumerate(header):
        found = field_for(settings.object_type, name)
        if index not in fields and found is not None and found not in taken:
            fields[index] = found
            taken.add(found)
    unused = tuple(h for i, h in enumerate(header) if i not in fields and i != id_index)
    return Layout(tuple(header), fields, id_index, unused)


def sniff(text: str) -> str:
    """The delimiter of ``text`` among :data:`SNIFF_DELIMITERS`: the csv module's sniffer over
    the first 64 KiB; when it cannot tell, the one that splits the header into most cells
    (``,`` on a tie)."""
    try:
        return csv.Sniffer().sniff(text[:SNIFF_BYTES], delimiters=SNIFF_DELIMITERS).delimiter
    except csv.Error:
        first = text.split("\n", 1)[0]
        return max(SNIFF_DELIMITERS, key=lambda d: (first.count(d), d == ","))


def decode(data: bytes, settings: CsvSettings) -> tuple[str, str]:
    """The text of the file and the encoding its results are written in.

    UTF-8 (the default) is read with or without a byte-order mark and written back the same
    way. ``SourceFatalError`` when the bytes are not in the encoding: the row and byte where
    they stop, and what reads them.
    """
    encoding = codecs.lookup(settings.encoding).name
    if encoding in _UTF8:
        bom = data.startswith(codecs.BOM_UTF8)
        encoding = "utf-8-sig" if bom else "utf-8"
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError as exc:
        row = data.count(b"\n", 0, exc.start) + 1
        found = data[exc.start : exc.start + 1].hex().upper()
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            hint = "it is UTF-16 (Excel's Unicode text): --encoding utf-16 reads it"
        elif encoding in _UTF8:
            hint = (
                "Excel saves CSV files in Windows-1252: --encoding cp1252 reads them "
                '(encoding = "cp1252" in a configured source)'
            )
        else:
            hint = "give the encoding the file was saved in (--encoding, encoding)"
        raise SourceFatalError(
            f"{settings.path}: not {settings.encoding} at row {row}, byte {exc.start} "
            f"(0x{found}); {hint}"
        ) from None


def read_table(settings: CsvSettings) -> Table:
    """Parse the file; bad rows are skipped with their number (see the module docstring)."""
    try:
        data = settings.path.read_bytes()
    except OSError as exc:
        raise SourceFatalError(f"{settings.path}: cannot read it ({exc.strerror})") from exc
    text, encoding = decode(data, settings)
    del data  # a large export is held once at a time: bytes, then text, then lines, then rows
    delimiter = settings.delimiter or sniff(text)
    lines = io.StringIO(text, newline="").readlines()
    del text
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, FIELD_SIZE_LIMIT))
    try:
        rows = _records(lines, delimiter)
    finally:
        csv.field_size_limit(limit)
    del lines
    if not rows:
        raise SourceFatalError(f"{settings.path}: the file is empty; expected a header row")
    table = Table(resolve_layout(rows[0][1], settings), delimiter, encoding)
    seen: set[str] = set()
    for number, cells, spans in rows[1:]:
        table.rows.append(_check(table, cells, number, spans, seen))
    return table


def _records(lines: Sequence[str], delimiter: str) -> list[tuple[int, list[str], int]]:
    """``(row number, cells, lines it spans)`` of each non-blank row of ``lines``, the header
    first.

    A row that spans lines and has another number of cells than the header is taken for a
    quote left open: it is kept as it was read, and reading starts again at the line after its
    first, so that one stray quote does not swallow the rest of the file.
    """
    found: list[tuple[int, list[str], int]] = []
    start = 0
    while start < len(lines):
        reader = csv.reader(iter(lines[start:]), delimiter=delimiter)
        row_start = 0
        for cells in reader:
            number, row_start = start + row_start + 1, reader.line_num
            spans = start + reader.line_num - number + 1
            if not cells:
                continue
            found.append((number, cells, spans))
            if spans > 1 and len(cells) != len(found[0][1]):
                start = number  # the line after the row's first
                break
        else:
            break
    return found


def _check(table: Table, cells: list[str], number: int, spans: int, seen: set[str]) -> Row:
    width = len(table.layout.header)
    if len(cells) != width:
        why = f"row {number}: {len(cells)} fields, expected {width}"
        if spans > 1:
            why += (
                f" (over {spans} lines: a quote left open?); the lines after its first are "
                "read as rows of their own"
            )
        table.skipped.append((f"row {number}", why))
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
