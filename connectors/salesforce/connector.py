"""Salesforce as a stream of canonical records: SOQL by ``SystemModstamp``, the delete log, the
recycle bin, Bulk API 2.0 for big first pulls.

* **Full pull** (empty cursor): first the recycle bin (``queryAll ... WHERE IsDeleted = true``):
  deleted records come ``archived``, merged ones ``merged_into`` their ``MasterRecordId``, and
  the masters learn whom they absorbed (``merged_ids``). Then the live records: below
  ``bulk_threshold`` records (``SELECT COUNT()``), a REST query ``ORDER BY SystemModstamp, Id``
  paged by ``nextRecordsUrl``, each batch carrying the newest ``SystemModstamp`` read (capped at
  the run start); at or above it, a Bulk API 2.0 query job (CSV pages, unordered: no batch
  moves the cursor). The recycle bin comes first so that a crash after the cursor moved never
  skips deletions.
* **Incremental pull**: the window starts ``lookback_seconds`` before the cursor (a record whose
  transaction committed late carries a ``SystemModstamp`` earlier than records already read; the
  re-read catches it and de-duplication drops what repeats). Deletions and merges first: the
  ``deleted`` resource for the window, then ``queryAll`` of those ids for ``MasterRecordId``
  (an id the recycle bin no longer holds comes ``archived`` with no properties). When the window
  starts further back than the delete log's 15 days (a source down that long), a ``queryAll``
  of the recycle bin since the window's start reconciles instead, and since the bin is purged
  after 15 days, a batch then lists every live id (``SELECT Id``; ``PullBatch.live_ids``): a
  record the store holds that is not among them was deleted and purged. Then ``SELECT ... WHERE
  SystemModstamp >= {start} ORDER BY SystemModstamp, Id``, page by page; for mergeable objects
  each page asks the recycle bin which records its records absorbed.
* **Owners**: every standard user, each time (inactive ones ``archived``).

Ids are de-duplicated within one pull (a record passes again only with a newer ``updated_at``
or another fate). A record the connector cannot read is reported in its batch's ``skipped``.
"""

from __future__ import annotations

import csv
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import structlog
from simple_salesforce.exceptions import SalesforceMalformedRequest

from connectors.base import AllowanceReading, ApiUsage, Capability, Connector, UniqueFields
from connectors.pulls import Seen, finish
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.cursor import Deletions, advance, deletions, read_from
from connectors.salesforce.errors import error_code
from connectors.salesforce.ids import soql_ids
from connectors.salesforce.mapping import (
    BUSINESS_SCOPE,
    FieldMap,
    MalformedRecordError,
    csv_row,
    field_map,
    parse_datetime,
    person_map,
    record_of,
    soql_datetime,
)
from connectors.salesforce.settings import (
    DELETED_LOG_DAYS,
    MERGEABLE,
    OBJECT_TYPES,
    SOBJECTS,
    UNIQUE_FIELDS,
    Credentials,
    SalesforceSettings,
)
from connectors.salesforce.writer import READ_CHUNK, SalesforceWriter, chunks
from model.errors import ConfigError, RetriableError, SyncdError
from model.records import Cursor, PropertyDef, PullBatch, Record

log = structlog.get_logger(__name__)
Skipped = tuple[str, str]
_ENUMS = frozenset({"picklist", "multipicklist"})
_TYPES = {
    "boolean": "bool",
    "double": "number",
    "currency": "number",
    "percent": "number",
    "int": "number",
    "date": "datetime",
    "datetime": "datetime",
}


class SalesforceConnector(SalesforceWriter, Connector):
    """Pulls leads, contacts, accounts, opportunities, tasks and users through
    ``simple-salesforce``, and writes back through it
    (:class:`~connectors.salesforce.writer.SalesforceWriter`).

    ``calls`` counts HTTP answers per kind of call (``query``, ``query_more``, ``describe``,
    ``deleted``, ``collections``, ``soap``, ``bulk``, ``limits``, ``login``...).
    """

    name: ClassVar[str] = "salesforce"
    object_types: ClassVar[tuple[str, ...]] = OBJECT_TYPES
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.INCREMENTAL,
            Capability.DELETIONS,
            Capability.MERGED_RECORDS,
            Capability.WRITES,
            Capability.MERGES,
            Capability.TASKS,
            Capability.LIVE,
            Capability.REFUSED_VALUES,
            Capability.AUTH,
            Capability.FIELD_HISTORY,
        }
    )
    unique_fields: ClassVar[UniqueFields] = UNIQUE_FIELDS
    mergeable_types: ClassVar[frozenset[str]] = MERGEABLE

    def __init__(
        self,
        settings: SalesforceSettings,
        credentials: Credentials,
        *,
        ca_file: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._client = SalesforceClient(settings, credentials, ca_file=ca_file, sleep=sleep)
        self._fields: dict[str, FieldMap] = {}
        self._described: dict[str, Mapping[str, Any]] = {}
        self._person_maps: list[FieldMap | None] = []
        SalesforceWriter.__init__(
            self,
            self._client,
            self.field_map,
            retry=settings.retry.settings(),
            sleep=sleep,
            people=self.person_map,
        )

    @property
    def settings(self) -> SalesforceSettings:
        return self._settings

    @property
    def client(self) -> SalesforceClient:
        return self._client

    @property
    def calls(self) -> Counter[str]:
        return self._client.calls

    def close(self) -> None:
        self._client.close()

    def _describe(self, sobject: str) -> Mapping[str, Any]:
        if sobject not in self._described:
            self._described[sobject] = self._client.describe(sobject)
        return self._described[sobject]

    def person_map(self) -> FieldMap | None:
        """The map of person accounts read as contacts; ``None`` when the org has no Person
        Accounts (the Account's ``describe`` lists no ``IsPersonAccount``)."""
        if not self._person_maps:
            self._person_maps.append(person_map(self._describe("Account")))
        return self._person_maps[0]

    def field_map(self, object_type: str) -> FieldMap:
        """The field map of ``object_type``, from the object's ``describe`` (read once). In an
        org with Person Accounts, contacts and companies are the business ones."""
        if object_type not in self._fields:
            sobject = SOBJECTS[object_type]
            described = self._describe(sobject)
            # an org with Person Accounts lists IsPersonAccount on Contact and Account
            person = object_type in ("contacts", "companies") and any(
                f.get("name") == "IsPersonAccount" for f in described.get("fields") or ()
            )
            scope = BUSINESS_SCOPE if person else ""
            built = field_map(object_type, self._settings, described, scope=scope)
            if built.missing:
                log.warning(
                    "fields unknown to syncd's user",
                    sobject=sobject,
                    fields=list(built.missing),
                    hint="not in describe: absent from the object or hidden by field-level "
                    "security; their canonical fields stay unknown",
                )
            self._fields[object_type] = built
        return self._fields[object_type]

    def usage(self) -> ApiUsage:
        """See :meth:`Connector.usage`: every HTTP answer (retries and logins included), those
        saying ``REQUEST_LIMIT_EXCEEDED``, and the latest ``Sforce-Limit-Info`` reading."""
        return ApiUsage(
            sum(self._client.calls.values()), self._client.rate_limited, self._reading()
        )

    def allowance(self) -> AllowanceReading | None:
        """See :meth:`Connector.allowance`: one ``limits/`` read (``DailyApiRequests``)."""
        self._client.probe()
        return self._reading()

    def _reading(self) -> AllowanceReading | None:
        allowance = self._client.allowance
        last = allowance.last
        if last is None:
            return None
        return AllowanceReading(last.used, last.limit, allowance.ceiling(last))

    def check(self) -> str:
        """See :meth:`Connector.check`: a login and one ``limits/`` read."""
        usage = self._client.limits()
        where = self._client.sf.sf_instance
        left = f"; {usage.remaining} of {usage.limit} daily API requests left" if usage else ""
        return f"logged in to Salesforce at {where}{left}"

    def properties(self, object_type: str) -> list[PropertyDef]:
        """See :meth:`Connector.properties`: from ``describe``, the fields this connector maps;
        picklists with their values (inactive ones hidden)."""
        if object_type == "owners":
            return []
        if object_type not in SOBJECTS:
            raise ConfigError(f"object type {object_type!r} is not a Salesforce object type")
        fields = self.field_map(object_type)
        found: list[PropertyDef] = []
        for vendor, canonical in fields.pairs:
            if "." in vendor:  # a parent's field (the account's name): read, never written
                found.append(PropertyDef(canonical, vendor, "string", writable=False))
                continue
            described = fields.described[vendor]
            enum = described.type in _ENUMS
            found.append(
                PropertyDef(
                    name=canonical,
                    label=described.label,
                    type="enumeration" if enum else _TYPES.get(described.type, "string"),
                    options=tuple((v, label) for v, label, _ in described.picklist),
                    multi=described.type == "multipicklist",
                    hidden_options=frozenset(
                        v for v, _, active in described.picklist if not active
                    ),
                )
            )
        return found

    # ------------------------------------------------------------------ completeness

    def count(
        self, object_type: str, modified_from: datetime, modified_before: datetime
    ) -> int | None:
        """Live records of ``object_type`` whose ``SystemModstamp`` is in
        [``modified_from``, ``modified_before``): one ``SELECT COUNT()`` (converted leads, which
        a pull delivers archived, are left out). For the service's completeness audit."""
        if object_type == "owners" or object_type not in SOBJECTS:
            return None
        where = (
            f"SystemModstamp >= {soql_datetime(modified_from)} "
            f"AND SystemModstamp < {soql_datetime(modified_before)}"
        )
        if object_type == "leads":
            where += " AND IsConverted = false"
        own = self.field_map(object_type)
        people = self.person_map() if object_type == "contacts" and own.scope else None
        maps = [own, *([people] if people is not None else [])]
        return sum(
            self._client.count(f"SELECT COUNT() FROM {m.sobject} WHERE {m.where(where)}")
            for m in maps
        )

    def archived_ids(self, object_type: str, archived_before: datetime) -> set[str] | None:
        """Ids of ``object_type`` records the recycle bin holds as deleted before
        ``archived_before`` (``queryAll``; Salesforce empties the bin after 15 days, so older
        deletions are not listed). For the service's completeness audit."""
        if object_type == "owners" or object_type not in SOBJECTS:
            return None
        soql = (
            f"SELECT Id FROM {SOBJECTS[object_type]} WHERE IsDeleted = true "
            f"AND SystemModstamp < {soql_datetime(archived_before)}"
        )
        pages = self._client.query_pages(soql, include_deleted=True)
        return {str(raw["Id"]) for page in pages for raw in page if raw.get("Id")}

    # ------------------------------------------------------------------ pulls

    def pull(
        self, object_type: str, cursor: Cursor, *, run_started_at: datetime
    ) -> Iterator[PullBatch]:
        """See :meth:`Connector.pull` and this module's docstring."""
        if object_type not in self._settings.object_types:
            raise ConfigError(f"object type {object_type!r} is not configured for this source")
        if run_started_at.tzinfo is None:
            raise ValueError("run_started_at must be timezone-aware")
        final = Cursor(advance(cursor.updated_at, run_started_at, run_started_at))
        seen = Seen()
        if object_type == "owners":
            batches = self._owners(cursor, seen)
        else:
            batches = self._records_of(object_type, cursor, run_started_at, seen)
        return finish(batches, object_type, final)

    def _records_of(
        self, object_type: str, cursor: Cursor, run_started_at: datetime, seen: Seen
    ) -> Iterator[PullBatch]:
        """The pull of ``object_type``; contacts in an org with Person Accounts read the person
        accounts first (their batches keep the cursor where it was: the contacts' move it)."""
        own = self.field_map(object_type)
        people = self.person_map() if object_type == "contacts" and own.scope else None
        maps = [(people, False)] if people is not None else []
        for fields, moves in [*maps, (own, True)]:
            if cursor.updated_at is None:
                yield from self._full(
                    object_type, cursor, run_started_at, seen, fields=fields, moves=moves
                )
            else:
                yield from self._incremental(
                    object_type, cursor.updated_at, run_started_at, seen, fields=fields, moves=moves
                )

    def _parse(
        self, object_type: str, raws: Iterable[Mapping[str, Any]], fields: FieldMap
    ) -> tuple[list[Record], list[Skipped]]:
        records: list[Record] = []
        skipped: list[Skipped] = []
        for raw in raws:
            try:
                records.append(record_of(object_type, raw, fields))
            except MalformedRecordError as bad:
                skipped.append((bad.record_id, bad.reason))
        return records, skipped

    def _soql(self, fields: FieldMap, where: str = "", *, extra: Iterable[str] = ()) -> str:
        names = list(dict.fromkeys([*fields.vendor_names, *extra]))
        condition = fields.where(where)
        tail = f" WHERE {condition}" if condition else ""
        return f"SELECT {', '.join(names)} FROM {fields.sobject}{tail} ORDER BY SystemModstamp, Id"

    @staticmethod
    def _deleted_fields(object_type: str) -> tuple[str, ...]:
        return ("IsDeleted", "MasterRecordId") if object_type in MERGEABLE else ("IsDeleted",)

    def _owners(self, cursor: Cursor, seen: Seen) -> Iterator[PullBatch]:
        fields = self.field_map("owners")
        soql = self._soql(fields, "UserType = 'Standard'")
        for page in self._client.query_pages(soql):
            records, skipped = self._parse("owners", page, fields)
            yield PullBatch("owners", seen.fresh(records), cursor, tuple(skipped))

    @staticmethod
    def _with_merged(records: Iterable[Record], masters: Mapping[str, list[str]]) -> list[Record]:
        return [
            replace(r, merged_ids=tuple(dict.fromkeys([*r.merged_ids, *masters[r.id]])))
            if r.id in masters
            else r
            for r in records
        ]

    def _gone(
        self, object_type: str, records: Iterable[Record], masters: dict[str, list[str]]
    ) -> list[Record]:
        """``records`` of the recycle bin, noting in ``masters`` whom each master absorbed."""
        found = list(records)
        for record in found:
            if record.merged_into is not None:
                masters.setdefault(record.merged_into, []).append(record.id)
        return found

    def _full(
        self,
        object_type: str,
        cursor: Cursor,
        run_started_at: datetime,
        seen: Seen,
        *,
        fields: FieldMap,
        moves: bool,
    ) -> Iterator[PullBatch]:
        masters: dict[str, list[str]] = {}
        soql = self._soql(fields, "IsDeleted = true", extra=self._deleted_fields(object_type))
        for page in self._client.query_pages(soql, include_deleted=True):
            records, skipped = self._parse(object_type, page, fields)
            gone = self._gone(object_type, records, masters)
            yield PullBatch(object_type, seen.fresh(gone), cursor, tuple(skipped))
        scope = fields.where()
        total = self._client.count(
            f"SELECT COUNT() FROM {fields.sobject}" + (f" WHERE {scope}" if scope else "")
        )
        if total >= self._settings.bulk_threshold > 0:
            log.info("full pull through Bulk API 2.0", sobject=fields.sobject, records=total)
            for records, skipped in self._bulk(object_type, fields):
                fresh = seen.fresh(self._with_merged(records, masters))
                yield PullBatch(object_type, fresh, cursor, tuple(skipped))
            return
        current = cursor.updated_at
        for page in self._client.query_pages(self._soql(fields)):
            records, skipped = self._parse(object_type, page, fields)
            if records:
                current = advance(current, max(r.updated_at for r in records), run_started_at)
            fresh = seen.fresh(self._with_merged(records, masters))
            yield PullBatch(
                object_type, fresh, Cursor(current) if moves else cursor, tuple(skipped)
            )

    def _bulk(
        self, object_type: str, fields: FieldMap
    ) -> Iterator[tuple[list[Record], list[Skipped]]]:
        scope = fields.where()
        soql = f"SELECT {', '.join(fields.vendor_names)} FROM {fields.sobject}" + (
            f" WHERE {scope}" if scope else ""
        )
        with tempfile.TemporaryDirectory(prefix="syncd-bulk-") as folder:
            for path in self._client.bulk_download(fields.sobject, soql, Path(folder)):
                with path.open(encoding="utf-8", newline="") as handle:
                    rows = [csv_row(row) for row in csv.DictReader(handle)]
                path.unlink()
                for start in range(0, len(rows), self._settings.query_batch_size):
                    part = rows[start : start + self._settings.query_batch_size]
                    yield self._parse(object_type, part, fields)

    def _incremental(
        self,
        object_type: str,
        cursor: datetime,
        run_started_at: datetime,
        seen: Seen,
        *,
        fields: FieldMap,
        moves: bool,
    ) -> Iterator[PullBatch]:
        since = read_from(cursor, self._settings.lookback)
        masters: dict[str, list[str]] = {}
        for part in self._deletions(object_type, fields, since, run_started_at):
            if isinstance(part, frozenset):
                yield PullBatch(object_type, (), Cursor(cursor), live_ids=part)
                continue
            records, skipped = part
            gone = self._gone(object_type, records, masters)
            yield PullBatch(object_type, seen.fresh(gone), Cursor(cursor), tuple(skipped))
        current: datetime | None = cursor
        soql = self._soql(fields, f"SystemModstamp >= {soql_datetime(since)}")
        for page in self._client.query_pages(soql):
            records, skipped = self._parse(object_type, page, fields)
            if object_type in MERGEABLE and records:
                masters.update(self._absorbed(fields.sobject, [r.id for r in records], masters))
            if records:
                current = advance(current, max(r.updated_at for r in records), run_started_at)
            fresh = seen.fresh(self._with_merged(records, masters))
            yield PullBatch(
                object_type, fresh, Cursor(current if moves else cursor), tuple(skipped)
            )

    def _absorbed(
        self, sobject: str, ids: list[str], known: Mapping[str, list[str]]
    ) -> dict[str, list[str]]:
        """Whom each of ``ids`` absorbed, as the recycle bin still tells (``MasterRecordId``)."""
        found: dict[str, list[str]] = {k: list(v) for k, v in known.items() if k in ids}
        for chunk in chunks(ids, READ_CHUNK):
            soql = (
                f"SELECT Id, MasterRecordId FROM {sobject} "
                f"WHERE IsDeleted = true AND MasterRecordId IN {soql_ids(chunk)}"
            )
            for page in self._client.query_pages(soql, include_deleted=True):
                for raw in page:
                    master = str(raw.get("MasterRecordId") or "")
                    if master and raw.get("Id") not in found.get(master, []):
                        found.setdefault(master, []).append(str(raw["Id"]))
        return found

    def _deletions(
        self, object_type: str, fields: FieldMap, since: datetime, run_started_at: datetime
    ) -> Iterator[tuple[list[Record], list[Skipped]] | frozenset[str]]:
        """Records deleted or merged in [``since``, run start), from the delete log, or from the
        recycle bin when the log does not reach back that far, then every live id (see the
        module docstring)."""
        how = deletions(since, run_started_at, DELETED_LOG_DAYS)
        if how is Deletions.NONE:
            return
        extra = self._deleted_fields(object_type)
        if how is Deletions.LOG:
            try:
                answer = self._client.deleted(fields.sobject, since, run_started_at)
            except RetriableError:
                raise
            except SyncdError as exc:  # the log refuses the window: reconcile instead
                cause = exc.__cause__ if exc.__cause__ is not None else exc
                if not (
                    isinstance(cause, SalesforceMalformedRequest)
                    and error_code(cause) == "INVALID_REPLICATION_DATE"
                ):
                    raise
                log.warning("delete log refused the window; reconciling", error=str(exc))
                how = Deletions.RECONCILE
            else:
                yield from self._logged(object_type, fields, answer, extra)
                return
        log.info(
            "reconciling deletions through queryAll",
            sobject=fields.sobject,
            since=since.isoformat(),
        )
        where = f"IsDeleted = true AND SystemModstamp >= {soql_datetime(since)}"
        for page in self._client.query_pages(
            self._soql(fields, where, extra=extra), include_deleted=True
        ):
            yield self._parse(object_type, page, fields)
        # after the bin (whose records come with their fate): what the bin no longer holds
        pages = self._client.query_pages(f"SELECT Id FROM {fields.sobject}")
        yield frozenset(str(raw["Id"]) for page in pages for raw in page if raw.get("Id"))

    def _logged(
        self,
        object_type: str,
        fields: FieldMap,
        answer: Mapping[str, Any],
        extra: tuple[str, ...],
    ) -> Iterator[tuple[list[Record], list[Skipped]]]:
        logged: dict[str, datetime] = {}
        for item in answer.get("deletedRecords") or ():
            try:
                logged[str(item["id"])] = parse_datetime(item.get("deletedDate"))
            except (KeyError, ValueError):
                continue
        if not logged:
            return
        names = list(dict.fromkeys([*fields.vendor_names, *extra]))
        for chunk in chunks(sorted(logged), READ_CHUNK):
            where = fields.where(f"Id IN {soql_ids(chunk)}")
            soql = f"SELECT {', '.join(names)} FROM {fields.sobject} WHERE {where}"
            rows = [
                r for page in self._client.query_pages(soql, include_deleted=True) for r in page
            ]
            records, skipped = self._parse(object_type, rows, fields)
            read = {r.id for r in records}
            # an id the recycle bin no longer holds is gone for good; where the object holds
            # two kinds (person and business accounts) the bin alone can tell which it was
            purged = [
                Record(object_type, record_id, {}, logged[record_id], archived=True)
                for record_id in chunk
                if record_id not in read and not fields.scope
            ]
            # a record restored from the recycle bin since is live again: not gone
            yield [r for r in records if r.archived or r.merged_into] + purged, skipped
