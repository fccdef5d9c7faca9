"""A plan as a spreadsheet for review, and the reviewer's strikes read back.

``syncd show PLAN_ID --format csv`` writes one row per change (:func:`plan_to_csv`). Its first
columns are the contract that comes back:

* ``change``: the change's position in its plan (0, 1, 2...), stable for as long as the plan
  exists: the id ``syncd apply PLAN_ID --exclude FILE`` reads;
* ``exclude``: empty; a reviewer marks a change to strike out (``x``, ``yes``, anything but
  ``no``, ``false`` or ``0``);
* ``plan``: the plan's id, so a file of another plan is refused.

The other columns (policy, kind, record, field, old, new...) are for the reviewer; rows may be
sorted, filtered or deleted (a deleted row is not excluded). A file without an ``exclude``
column lists the changes to exclude, one per row. Cells that a spreadsheet would run as a
formula (starting with ``=``, ``+``, ``-``, ``@``) are written with a leading ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from model.changes import Archive, Change, CreateTask, Flag, Merge, Update
from model.errors import SyncdError
from syncd.plan import Plan

COLUMNS: Final = (
    "change",
    "exclude",
    "plan",
    "policy",
    "kind",
    "object_type",
    "record_id",
    "record",
    "field",
    "old",
    "new",
    "merged_ids",
    "confidence",
    "owner_id",
    "due",
    "reason",
)
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_NOT_EXCLUDED: Final = frozenset({"", "no", "n", "false", "0"})


class ExclusionError(SyncdError):
    """A file of changes to exclude cannot be used with this plan (usage error)."""


def _cells(plan: Plan, seq: int, change: Change) -> list[str]:
    """One change's row, in the order of :data:`COLUMNS`, a cell a spreadsheet would run as a
    formula quoted (a plan holds 100,000s of rows: one list each, no dict)."""
    record_id = change.primary_id if isinstance(change, Merge) else change.record_id
    field = old = new = merged = confidence = owner = due = None
    if isinstance(change, Merge):
        merged = ";".join(change.merged_ids)
        confidence = f"{change.confidence:.2f}"
        new = "; ".join(f"{k}={v}" for k, v in change.field_values.items()) or None
    elif isinstance(change, Update):
        field, old, new = change.field, change.old, change.new
    elif isinstance(change, Flag):
        field, old = change.field, change.value
    elif isinstance(change, CreateTask):
        new, owner, due = change.subject, change.owner_id, change.due.isoformat()
    elif isinstance(change, Archive):
        new = "archived"
    label = plan.labels.get((change.object_type, record_id or ""))
    shown = (change.policy, change.kind, change.object_type, record_id, label, field, old, new)
    rest = (merged, confidence, owner, due, change.reason)
    return [
        str(seq),
        "",
        plan.id,
        *[("'" + v if v.startswith(_FORMULA_START) else v) if v else "" for v in shown + rest],
    ]


CSV_ROWS = 10_000
"""Rows of :func:`plan_csv_parts` per part."""


def plan_to_csv(plan: Plan) -> str:
    """Every change of ``plan`` as one CSV row (see the module docstring), with a header."""
    return "".join(plan_csv_parts(plan))


def plan_csv_parts(plan: Plan) -> Iterator[str]:
    """:func:`plan_to_csv` in parts of :data:`CSV_ROWS` rows, to write as they come: the whole
    text of a million changes is hundreds of megabytes, held twice while it is built."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for start in range(0, len(plan.changes), CSV_ROWS):
        part = plan.changes[start : start + CSV_ROWS]
        writer.writerows(_cells(plan, seq, change) for seq, change in enumerate(part, start))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # no changes: the header alone
        yield buffer.getvalue()


def _read(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")  # Excel's own "CSV" on Windows


def read_exclusions(path: Path, plan_id: str, changes: int) -> set[int]:
    """The positions of the changes ``path`` strikes out of plan ``plan_id`` (of ``changes``).

    ``ExclusionError`` when the file cannot be read, has no ``change`` column, belongs to
    another plan, or names a change the plan does not have.
    """
    try:
        text = _read(path)
    except OSError as exc:
        raise ExclusionError(f"--exclude {path}: cannot read it ({exc.strerror})") from exc
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], ",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.DictReader(io.StringIO(text, newline=""), dialect=dialect))
    header = {name.strip().lower(): name for name in (rows[0].keys() if rows else ())}
    if rows and "change" not in header:
        raise ExclusionError(
            f"--exclude {path}: no 'change' column; expected the file syncd show {plan_id} "
            "--format csv writes"
        )
    excluded: set[int] = set()
    for line, row in enumerate(rows, start=2):
        other = (row.get(header.get("plan", ""), "") or "").strip()
        if other and other != plan_id:
            raise ExclusionError(
                f"--exclude {path}: row {line} is a change of plan {other}, not of {plan_id}"
            )
        if "exclude" in header:
            mark = (row.get(header["exclude"]) or "").strip().lower()
            if mark in _NOT_EXCLUDED:
                continue
        raw = (row.get(header["change"]) or "").strip()
        if not raw.isdigit() or int(raw) >= changes:
            raise ExclusionError(
                f"--exclude {path}: row {line}: {raw!r} is not a change of plan {plan_id} "
                f"(it has changes 0 to {changes - 1})"
            )
        excluded.add(int(raw))
    return excluded
