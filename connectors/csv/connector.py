"""A spreadsheet export as a CRM: pulled in full every run, written to new files on apply.

Reading: every run is a full snapshot of the file (the cursor is ignored and stays empty).
Each row becomes a record whose ``updated_at`` is the file's modification time and whose
``created_at`` is its ``created_at`` cell when that parses as an ISO date-time. Rows without an
id, with an id an earlier row already has, or with the wrong number of fields are listed in
``PullBatch.skipped`` with their row number and left out; the run goes on.

Writing (the :class:`Writer` half) changes rows in memory only, and :meth:`CsvConnector.close`
writes the results if anything changed, each file atomically (temporary file, ``os.replace``),
never the input itself:

- ``<stem>.cleaned.csv``: the input's columns in their order (plus, at the end, any canonical
  field a fix wrote that had no column), its rows in their order with fixed values; rows merged
  away or archived are left out; skipped rows are carried through as they were, so nothing is
  lost silently.
- ``<stem>.merge-map.csv``: ``merged_id,primary_id,differing_values`` for each row a merge
  removed, flattened so ``primary_id`` is always a row of the cleaned file. A merge carries the
  removed row's cells of the columns syncd does not model to the survivor where its cell is
  empty; where both hold different values the survivor's is kept and the removed row's is
  listed in ``differing_values`` (``Column: "value"``, ``; ``-separated), so nothing is lost.
- ``<stem>.tasks.csv``: the follow-up tasks as a to-do list
  (``task_id,record_id,subject,owner_id,due,body``; ``due`` is a date).

All three are written together (a file may hold only its header) so they always describe one
run, in the input's encoding and delimiter (with a UTF-8 byte-order mark only when the input had
one). ``archive`` drops the rows. Everything is deterministic: same input and calls, same bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import ClassVar

from connectors.base import Capability, Connector, Writer
from connectors.csv.headers import header_key
from connectors.csv.settings import CANONICAL_FIELDS, CsvSettings
from connectors.csv.table import Row, Table, read_table, write_atomic
from model.fields import FALSE, TASK_OPEN, TRUE
from model.records import Cursor, PullBatch, Record
from model.writes import FieldWrite, TaskWrite, WriteErrorKind, WriteResult

BATCH_SIZE = 1000
TASK_COLUMNS = ("task_id", "record_id", "subject", "owner_id", "due", "body")
MERGE_MAP_COLUMNS = ("merged_id", "primary_id", "differing_values")


@dataclass(frozen=True, slots=True)
class CsvTask:
    """A follow-up task recorded for the to-do list. ``key`` stays in memory (the marker)."""

    id: str
    key: str
    record_id: str
    subject: str
    owner_id: str | None
    due: datetime
    body: str


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


#: Mode of the files the connector writes: readable and writable by their owner only.
PRIVATE_MODE = 0o600


class CsvConnector(Connector, Writer):
    """One CSV file of one object type (see the module docstring for the contract)."""

    name: ClassVar[str] = "csv"
    object_types: ClassVar[tuple[str, ...]] = tuple(CANONICAL_FIELDS)
    #: A file read whole once per run, written to new files at close: no cursor, no deletions
    #: or merges to pull, no one editing it meanwhile, any text in a cell, no API limits.
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.WRITES, Capability.MERGES, Capability.TASKS}
    )
    mergeable_types: ClassVar[frozenset[str]] = frozenset(CANONICAL_FIELDS)

    def __init__(self, settings: CsvSettings) -> None:
        self.settings = settings
        self.calls: Counter[str] = Counter()
        self._loaded: Table | None = None
        self._live: dict[str, Row] = {}
        self._extra: dict[str, dict[str, str]] = {}
        self._added: list[str] = []
        self._merged_into: dict[str, str] = {}
        self._differing: dict[str, list[str]] = {}
        self._tasks: list[CsvTask] = []
        self._dirty = False
        self._plan_only = False
        self._let_go = False  # the rows were let go after a pull (plan_only): read again

    # -- the file ---------------------------------------------------------------------------

    @property
    def _table(self) -> Table:
        if self._loaded is None or self._let_go:
            self._loaded = read_table(self.settings)
            self._live = {r.record_id: r for r in self._loaded.rows if r.record_id is not None}
            self._let_go = False
        return self._loaded

    def _read(self) -> Table:
        """The file's layout and skipped rows: those of the rows read last, which outlive
        letting the rows go."""
        return self._loaded if self._loaded is not None else self._table

    def plan_only(self) -> None:
        """This run only plans: each pull lets the rows go once they are records (the store,
        or the engine, holds them then; a million-row file's cells take about a gigabyte).
        Whatever needs them later (another pull, a write) reads the file again."""
        self._plan_only = True

    def _rows(self) -> dict[str, Row]:
        """The live rows by id (reading the file on first use)."""
        _ = self._table
        return self._live

    def check(self) -> str:
        """See :meth:`Connector.check`: the file can be read and has its id column."""
        table = self._table
        return f"{self.settings.path} readable: {len(table.rows)} rows"

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """``(id or "row N", reason)`` for each row that is not a record."""
        return list(self._read().skipped)

    @property
    def unused_columns(self) -> tuple[str, ...]:
        """The headers of the columns no field is read from (carried through untouched)."""
        return self._read().layout.unused

    def _modified_at(self) -> datetime:
        return datetime.fromtimestamp(self.settings.path.stat().st_mtime, tz=UTC)

    def _properties(self, record_id: str) -> dict[str, str | None]:
        row = self._live[record_id]
        props: dict[str, str | None] = {
            name: row.cells[index] or None for index, name in self._table.layout.fields.items()
        }
        for name, value in self._extra.get(record_id, {}).items():
            props[name] = value or None
        return props

    def _decided(self, props: dict[str, str | None]) -> dict[str, str | None]:
        """The fields a connector decides, from the file's own values, unless a column holds
        them: ``lead_open`` from ``lead_status``, a deal's ``is_closed``/``is_won`` from its
        ``stage`` (:class:`CsvSettings` says which values count)."""
        s, decided = self.settings, dict(props)

        def flag(value: str | None, wanted: tuple[str, ...]) -> str:
            return TRUE if value and _is_one_of(value, wanted) else FALSE

        if s.object_type in ("contacts", "leads") and "lead_status" in props:
            decided.setdefault("lead_open", flag(props["lead_status"], s.open_lead_statuses))
        if s.object_type == "deals" and "stage" in props:
            decided.setdefault("is_closed", flag(props["stage"], s.closed_stages))
            decided.setdefault("is_won", flag(props["stage"], s.won_stages))
        return decided

    def _record(self, record_id: str, updated_at: datetime) -> Record:
        props = self._decided(self._properties(record_id))
        return Record(
            self.settings.object_type,
            record_id,
            props,
            updated_at,
            created_at=_parse_time(props.get("created_at")),
        )

    def _check_type(self, object_type: str) -> None:
        if object_type != self.settings.object_type:
            raise ValueError(
                f"{self.settings.path} holds {self.settings.object_type}, not {object_type}"
            )

    # -- Connector --------------------------------------------------------------------------

    def pull(
        self, object_type: str, cursor: Cursor, *, run_started_at: datetime
    ) -> Iterator[PullBatch]:
        """A full snapshot of the rows every time; ``cursor`` is ignored and stays empty."""
        del cursor, run_started_at
        self._check_type(object_type)
        table = self._table  # first: a missing or unreadable file is a SourceFatalError
        updated_at = self._modified_at()
        ids = list(self._live)
        self.calls["pull"] += 1
        try:
            for start in range(0, max(len(ids), 1), BATCH_SIZE):
                chunk = ids[start : start + BATCH_SIZE]
                records = tuple(self._record(i, updated_at) for i in chunk)
                if self._plan_only:  # a row's cells go once it is a record, not after them all
                    for record_id in chunk:
                        self._live[record_id].cells = []
                yield PullBatch(
                    object_type,
                    records,
                    Cursor(None),
                    tuple(table.skipped) if start == 0 else (),
                )
                del records
        finally:  # also when the pull stops early: rows whose cells went are read again
            if self._plan_only:
                table.rows.clear()
                self._live = {}
                self._let_go = True

    def close(self) -> None:
        """Write the cleaned file, merge map and to-do list if anything changed."""
        if not self._dirty or self._loaded is None:
            return
        table, settings = self._loaded, self.settings
        mode = PRIVATE_MODE  # the rows hold names, e-mails and phones
        header = [*table.layout.header, *self._added]
        rows: list[list[str]] = []
        for row in table.rows:
            if row.record_id is None:
                rows.append(row.cells)
            elif row.record_id in self._live:
                extra = self._extra.get(row.record_id, {})
                rows.append([*row.cells, *(extra.get(name, "") for name in self._added)])
        write_atomic(
            settings.cleaned_path,
            header,
            rows,
            encoding=table.encoding,
            delimiter=table.delimiter,
            mode=mode,
        )
        write_atomic(
            settings.merge_map_path,
            MERGE_MAP_COLUMNS,
            (
                [merged, primary, "; ".join(self._differing.get(merged, ()))]
                for merged, primary in self._merged_into.items()
            ),
            encoding=table.encoding,
            delimiter=table.delimiter,
            mode=mode,
        )
        write_atomic(
            settings.tasks_path,
            TASK_COLUMNS,
            (
                [t.id, t.record_id, t.subject, t.owner_id or "", t.due.date().isoformat(), t.body]
                for t in self._tasks
            ),
            encoding=table.encoding,
            delimiter=table.delimiter,
            mode=mode,
        )
        self._dirty = False

    # -- Writer -----------------------------------------------------------------------------

    def _resolve(self, record_id: str) -> str:
        while record_id in self._merged_into:
            record_id = self._merged_into[record_id]
        return record_id

    def read(
        self,
        object_type: str,
        ids: Sequence[str],
        properties: Sequence[str],
        associations: Sequence[str] = (),
    ) -> dict[str, Record | None]:
        """Rows as modified so far; a merged id answers with its survivor, a removed one None.

        A CSV file has no associations: records carry none.
        """
        del properties, associations
        self._check_type(object_type)
        self.calls["read"] += 1
        updated_at = self._modified_at()
        answer: dict[str, Record | None] = {}
        live = self._rows()
        for record_id in ids:
            current = self._resolve(record_id)
            answer[record_id] = self._record(current, updated_at) if current in live else None
        return answer

    def _set(self, record_id: str, name: str, value: str | None) -> bool:
        """Set one field of a live row; True when the value changed."""
        layout = self._table.layout
        text = value or ""
        index = next((i for i, f in layout.fields.items() if f == name), None)
        if index is not None:
            cells = self._live[record_id].cells
            changed = cells[index] != text
            cells[index] = text
            return changed
        if name not in self._added:
            self._added.append(name)
        extra = self._extra.setdefault(record_id, {})
        changed = extra.get(name, "") != text
        extra[name] = text
        return changed

    def update(self, object_type: str, writes: Sequence[FieldWrite]) -> list[WriteResult]:
        """Change fields of rows in memory; a row merged away or archived is refused."""
        self._check_type(object_type)
        self.calls["update"] += 1
        results = []
        live = self._rows()
        for write in writes:
            if write.record_id not in live:
                results.append(_missing(write.key, write.record_id))
                continue
            for name, value in write.properties.items():
                self._dirty |= self._set(write.record_id, name, value)
            results.append(
                WriteResult(write.key, ok=True, remote_id=write.record_id, response={"row": "set"})
            )
        return results

    def merge(self, object_type: str, primary_id: str, merged_id: str, key: str) -> WriteResult:
        """Remove ``merged_id``'s row and map it (and ids merged into it) to ``primary_id``."""
        self._check_type(object_type)
        self.calls["merge"] += 1
        live = self._rows()
        if self._resolve(merged_id) == primary_id and merged_id != primary_id:
            return WriteResult(
                key, ok=True, remote_id=primary_id, response={"already": True}, already=True
            )
        for record_id in (primary_id, merged_id):
            if record_id not in live:
                return _missing(key, record_id)
        if primary_id == merged_id:
            return WriteResult(
                key,
                ok=False,
                error="a row cannot be merged into itself",
                error_kind=WriteErrorKind.OTHER,
            )
        self._carry(live[merged_id], live[primary_id])
        del live[merged_id]
        for absorbed, survivor in list(self._merged_into.items()):
            if survivor == merged_id:
                self._merged_into[absorbed] = primary_id
        self._merged_into[merged_id] = primary_id
        self._dirty = True
        return WriteResult(key, ok=True, remote_id=primary_id, response={"merged": merged_id})

    def _carry(self, absorbed: Row, survivor: Row) -> None:
        """Give ``survivor`` the cells of ``absorbed`` in columns syncd does not model where its
        own are empty; list the absorbed row's values that differ from the survivor's."""
        layout = self._table.layout
        differing = self._differing.setdefault(str(absorbed.record_id), [])
        for index, header in enumerate(layout.header):
            if index in layout.fields or index == layout.id_index:
                continue
            mine, theirs = survivor.cells[index], absorbed.cells[index]
            if not theirs.strip() or theirs == mine:
                continue
            if mine.strip():
                differing.append(f'{header}: "{theirs}"')
            else:
                survivor.cells[index] = theirs

    def create_tasks(self, writes: Sequence[TaskWrite]) -> list[WriteResult]:
        """Record tasks for the to-do list (``<stem>.tasks.csv``); the rows are not changed."""
        self.calls["create_tasks"] += 1
        results = []
        live = self._rows()
        for write in writes:
            self._check_type(write.object_type)
            if write.record_id not in live:
                results.append(_missing(write.key, write.record_id))
                continue
            task = CsvTask(
                f"task-{len(self._tasks) + 1}",
                write.key,
                write.record_id,
                write.subject,
                write.owner_id,
                write.due,
                write.body,
            )
            self._tasks.append(task)
            self._dirty = True
            results.append(WriteResult(write.key, ok=True, remote_id=task.id))
        return results

    def is_task_of(self, task: Record, key: str) -> bool:
        """Whether ``task`` carries ``key``'s ``[syncd:KEY]`` marker in its body."""
        return _marker(key) in (task.properties.get("body") or "")

    def find_tasks(self, object_type: str, record_ids: Sequence[str]) -> dict[str, list[Record]]:
        """Tasks recorded so far, as open task records carrying their ``[syncd:KEY]`` marker."""
        self._check_type(object_type)
        self.calls["find_tasks"] += 1
        wanted = set(record_ids)
        found: dict[str, list[Record]] = {rid: [] for rid in record_ids}
        for task in self._tasks:
            if task.record_id in wanted:
                found[task.record_id].append(_task_record(object_type, task))
        return found

    def archive(
        self, object_type: str, ids: Sequence[str], keys: Sequence[str]
    ) -> list[WriteResult]:
        """Drop the rows from the cleaned file (a row already gone counts as archived)."""
        self._check_type(object_type)
        self.calls["archive"] += 1
        live = self._rows()
        results = []
        for record_id, key in zip(ids, keys, strict=True):
            gone = live.pop(record_id, None) is None
            self._dirty |= not gone
            results.append(
                WriteResult(key, ok=True, remote_id=record_id, response={"already": gone})
            )
        return results


def _missing(key: str, record_id: str) -> WriteResult:
    return WriteResult(
        key,
        ok=False,
        error=f"row {record_id} is not in the file (never there, merged away or archived)",
        response={"category": "OBJECT_NOT_FOUND"},
        error_kind=WriteErrorKind.NOT_FOUND,
    )


def _marker(key: str) -> str:
    return f"[syncd:{key}]"


def _task_record(object_type: str, task: CsvTask) -> Record:
    return Record(
        "tasks",
        task.id,
        {
            "subject": task.subject,
            "body": f"{task.body}\n\n{_marker(task.key)}",
            "status": TASK_OPEN,
            "owner_id": task.owner_id,
            "due": task.due.isoformat(),
        },
        task.due,
        associations={object_type: (task.record_id,)},
    )


@lru_cache(maxsize=1024)
def _is_one_of(value: str, wanted: tuple[str, ...]) -> bool:
    """Whether ``value`` is one of ``wanted`` as a header key: exports show labels ("In
    Progress", "Closed Won") where settings name values. A column holds a few distinct values
    over 100,000s of rows: each is compared once."""
    return header_key(value) in {header_key(w) for w in wanted}
