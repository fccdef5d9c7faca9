"""The write half of the Salesforce connector (:class:`connectors.base.Writer`).

Every method takes and gives canonical names and values; the source's field maps
(:mod:`connectors.salesforce.mapping`, built from ``describe``) turn them into Salesforce's.

* ``read``: SOQL ``WHERE Id IN (...)``, 200 ids a query. An id no live record has is looked up
  in the recycle bin (``queryAll``): merged away, it reads back as its master (``MasterRecordId``,
  followed to the live survivor); deleted, it is ``None``.
* ``update``: sObject Collections ``PATCH composite/sobjects``, 200 records a call, ``allOrNone``
  false, one result per record (an id at most once per call). A write naming a field the
  connector decides, one ``describe`` does not list, or one syncd's user may not update fails
  alone, unsent. A record answered ``UNABLE_TO_LOCK_ROW`` is sent again after a backoff; a
  duplicate rule that blocks the save (``DUPLICATES_DETECTED``) is the typed result
  ``DUPLICATE_VALUE`` naming the fields the rule matches on, never retried.
* ``create_tasks``: ``POST composite/sobjects`` of Tasks with ``WhoId`` (contacts, leads) or
  ``WhatId`` (accounts, opportunities), ``ActivityDate``, the owner unless it is a queue (a queue
  may own a lead, never a task: the task goes to syncd's user, Salesforce's default), and the
  marker in ``Description``. An owner Salesforce refuses (inactive) falls back the same way.
  Before a resend after an attempt that may have landed, the records' tasks are read and those
  whose marker is there are settled as created.
* ``merge`` / ``merge_group``: the SOAP ``merge()``, one request of a master and up to two
  records (``max_merged_per_call`` 2); when it fails, each merged id is read with the master,
  and if both resolve to one record that merge had happened already (ok, ``already``). Merges
  cannot be undone: the result says so (``response["undoable"]`` false).
* ``archive``: ``DELETE composite/sobjects?ids=...``; a record deleted already is ok.
* ``field_changes``: the objects' field history (:mod:`connectors.salesforce.history`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import structlog

from connectors.base import Writer
from connectors.retry import RetrySettings
from connectors.salesforce import history
from connectors.salesforce import merge as soap_merge
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.errors import audit, record_error
from connectors.salesforce.ids import full_id, soql_ids
from connectors.salesforce.mapping import (
    FieldMap,
    MalformedRecordError,
    WriteRefusedError,
    record_of,
)
from connectors.salesforce.settings import COLLECTION_MAX, MERGEABLE, SOBJECTS, UNIQUE_FIELDS
from connectors.salesforce.tasks import (
    RELATION,
    TASK_FIELDS,
    canonical_values,
    has_marker,
    key_of,
    task_record,
)
from model.errors import ConfigError, RetriableError, SourceFatalError, SyncdError
from model.records import Record
from model.writes import FieldChange, FieldWrite, TaskWrite, WriteErrorKind, WriteResult

T = TypeVar("T")
log = structlog.get_logger(__name__)
READ_CHUNK = 200
"""Ids per ``IN`` list: 200 18-character ids keep a query's URL well under limits."""
ACCOUNT_PREFIX = "001"
"""Key prefix of an Account id: a contact with one is a person account."""
MAX_HOPS = 5
"""How many ``MasterRecordId`` links a read follows (a master merged again since)."""


def chunks(items: Sequence[T], size: int = COLLECTION_MAX) -> list[list[T]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _unique_id_chunks(writes: Sequence[FieldWrite]) -> list[list[FieldWrite]]:
    """Consecutive chunks of at most 200 writes in which no record id repeats (a collection
    naming an id twice is refused); order is kept."""
    groups: list[list[FieldWrite]] = []
    current: list[FieldWrite] = []
    seen: set[str] = set()
    for write in writes:
        if len(current) == COLLECTION_MAX or write.record_id in seen:
            groups.append(current)
            current, seen = [], set()
        current.append(write)
        seen.add(write.record_id)
    if current:
        groups.append(current)
    return groups


def _failed(key: str, exc: SyncdError) -> WriteResult:
    retriable = isinstance(exc, RetriableError)
    kind = WriteErrorKind.UNAVAILABLE if retriable else WriteErrorKind.OTHER
    return WriteResult(
        key, ok=False, error=str(exc), retriable=retriable, error_kind=kind, response=audit(None)
    )


class SalesforceWriter(Writer):
    """:class:`~connectors.base.Writer` over a :class:`SalesforceClient` (see the module doc).

    ``maps`` gives the field map of an object type (built from ``describe`` on first use).
    """

    def __init__(
        self,
        client: SalesforceClient,
        maps: Callable[[str], FieldMap],
        *,
        retry: RetrySettings,
        sleep: Callable[[float], None] = time.sleep,
        people: Callable[[], FieldMap | None] = lambda: None,
    ) -> None:
        self._client = client
        self._maps = maps
        self._people = people
        self._retry = retry
        self._sleep = sleep
        self._task_creators: dict[str, str] = {}

    def _backoff(self, attempt: int) -> float:
        """The wait before attempt ``attempt + 1`` of records sent again."""
        return float(min(self._retry.max_wait, self._retry.initial_wait * 2 ** (attempt - 1)))

    # ------------------------------------------------------------------ reads

    def _map_of(self, object_type: str, record_id: str) -> FieldMap:
        """The field map a record is read and written through: a person account's (its id an
        Account's) for a contact that is one, else the object type's."""
        if object_type == "contacts" and record_id[:3] == ACCOUNT_PREFIX:
            people = self._people()
            if people is not None:
                return people
        return self._maps(object_type)

    def _select(self, fields: FieldMap, where: str, *, deleted: bool = False) -> list[Any]:
        soql = (
            f"SELECT {', '.join(fields.vendor_names)} FROM {fields.sobject} "
            f"WHERE {fields.where(where)}"
        )
        return [r for page in self._client.query_pages(soql, include_deleted=deleted) for r in page]

    def _records(self, object_type: str, fields: FieldMap, raws: Iterable[Any]) -> list[Record]:
        found: list[Record] = []
        for raw in raws:
            try:
                found.append(record_of(object_type, raw, fields))
            except MalformedRecordError as bad:
                raise SyncdError(
                    f"Salesforce answered an unreadable {object_type} record {bad.record_id}: "
                    f"{bad.reason}"
                ) from None
        return found

    def read(
        self,
        object_type: str,
        ids: Sequence[str],
        properties: Sequence[str],
        associations: Sequence[str] = (),
    ) -> dict[str, Record | None]:
        _check_type(object_type)
        groups: dict[str, tuple[FieldMap, list[str]]] = {}
        for record_id in dict.fromkeys(ids):
            fields = self._map_of(object_type, record_id)
            groups.setdefault(fields.sobject, (fields, []))[1].append(record_id)
        found: dict[str, Record | None] = {}
        for fields, part in groups.values():
            found.update(self._read(object_type, fields.subset(properties), part))
        found = {i: found[i] for i in dict.fromkeys(ids)}
        if associations:
            found = self._with_associations(object_type, found, associations)
        return found

    def _read(
        self, object_type: str, fields: FieldMap, ids: Sequence[str]
    ) -> dict[str, Record | None]:
        """:meth:`read` of ``ids`` through one field map (one object)."""
        asked = {i: full_id(i) for i in dict.fromkeys(ids)}
        live: dict[str, Record] = {}
        wanted = sorted({f for f in asked.values() if f is not None})
        for chunk in chunks(wanted, READ_CHUNK):
            where = f"Id IN {soql_ids(chunk)}"
            for record in self._records(object_type, fields, self._select(fields, where)):
                if not record.archived:
                    live[record.id] = record
        missing = [i for i in wanted if i not in live]
        masters = self._masters(fields.sobject, missing) if object_type in MERGEABLE else {}
        survivors = sorted({m for m in masters.values() if m not in live})
        for chunk in chunks(survivors, READ_CHUNK):
            where = f"Id IN {soql_ids(chunk)}"
            for record in self._records(object_type, fields, self._select(fields, where)):
                if not record.archived:
                    live[record.id] = record
        found: dict[str, Record | None] = {}
        for given, full in asked.items():
            if full is None:
                found[given] = None
                continue
            survivor = full if full in live else masters.get(full)
            found[given] = live.get(survivor) if survivor is not None else None
        return found

    def _masters(self, sobject: str, ids: Sequence[str]) -> dict[str, str]:
        """The live master of each id the recycle bin holds as merged (``MasterRecordId``,
        followed for up to :data:`MAX_HOPS` merges)."""
        links: dict[str, str] = {}
        pending = list(ids)
        for _ in range(MAX_HOPS):
            if not pending:
                break
            fresh: list[str] = []
            for chunk in chunks(pending, READ_CHUNK):
                soql = (
                    f"SELECT Id, IsDeleted, MasterRecordId FROM {sobject} "
                    f"WHERE Id IN {soql_ids(chunk)}"
                )
                for page in self._client.query_pages(soql, include_deleted=True):
                    for raw in page:
                        master = raw.get("MasterRecordId")
                        if raw.get("IsDeleted") and master:
                            links[str(raw["Id"])] = str(master)
                            fresh.append(str(master))
            pending = [m for m in fresh if m not in links]
        resolved: dict[str, str] = {}
        for record_id in ids:
            current, hops = record_id, 0
            while current in links and hops < MAX_HOPS:
                current, hops = links[current], hops + 1
            if current != record_id:
                resolved[record_id] = current
        return resolved

    def _with_associations(
        self, object_type: str, found: Mapping[str, Record | None], targets: Sequence[str]
    ) -> dict[str, Record | None]:
        """``found`` with associations to each of ``targets``: the record's own lookups, and
        tasks (read by ``WhoId``/``WhatId``) when asked for."""
        if "tasks" not in targets or object_type not in RELATION:
            return {
                k: None
                if r is None
                else replace(r, associations={t: r.associations.get(t, ()) for t in targets})
                for k, r in found.items()
            }
        ids = sorted({r.id for r in found.values() if r is not None})
        tasks = self.find_tasks(object_type, ids)
        out: dict[str, Record | None] = {}
        for asked, record in found.items():
            if record is None:
                out[asked] = None
                continue
            linked = {t: record.associations.get(t, ()) for t in targets}
            linked["tasks"] = tuple(t.id for t in tasks.get(record.id, []))
            out[asked] = replace(record, associations=linked)
        return out

    def field_changes(
        self, object_type: str, fields: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], FieldChange]:
        _check_type(object_type)
        if object_type not in history.HISTORY_OBJECTS or not fields:
            return {}
        ids = list(dict.fromkeys(record_id for record_id, _ in fields))
        current = self.read(object_type, ids, sorted({name for _, name in fields}))
        return history.field_changes(
            object_type,
            self._maps(object_type),
            fields,
            current,
            query=lambda soql: self._client.query_pages(soql, include_deleted=True),
            own_user=self._client.user_id,
        )

    def find_tasks(self, object_type: str, record_ids: Sequence[str]) -> dict[str, list[Record]]:
        if object_type not in RELATION:
            raise ConfigError(f"a Salesforce task cannot be related to {object_type!r}")
        fields = self._maps("tasks").subset(TASK_FIELDS)
        asked = {i: full_id(i) for i in dict.fromkeys(record_ids)}
        by_record: dict[str, list[Record]] = {i: [] for i in asked}
        by_full: dict[str, list[str]] = {}
        for given, full in asked.items():
            if full is not None:
                by_full.setdefault(full, []).append(given)
        by_relation: dict[str, list[str]] = {}
        for full in sorted(by_full):
            by_relation.setdefault(_relation(object_type, full), []).append(full)
        for relation, fulls in by_relation.items():
            self._tasks_by(
                object_type, relation, fulls, by_full=by_full, fields=fields, by_record=by_record
            )
        return by_record

    def _tasks_by(
        self,
        object_type: str,
        relation: str,
        fulls: Sequence[str],
        *,
        by_full: Mapping[str, Sequence[str]],
        fields: FieldMap,
        by_record: dict[str, list[Record]],
    ) -> None:
        """The tasks whose ``relation`` (``WhoId``, ``WhatId``) is one of ``fulls``, into
        ``by_record`` by the ids asked for."""
        names = list(dict.fromkeys([*fields.vendor_names, relation, "CreatedById"]))
        for chunk in chunks(list(fulls), READ_CHUNK):
            soql = (
                f"SELECT {', '.join(names)} FROM Task WHERE {relation} IN {soql_ids(chunk)} "
                "ORDER BY CreatedDate, Id"
            )
            for page in self._client.query_pages(soql):
                for raw in page:
                    task = record_of("tasks", raw, fields)
                    if raw.get("CreatedById"):
                        self._task_creators[task.id] = str(raw["CreatedById"])
                    holder = full_id(str(raw.get(relation) or ""))
                    for given in by_full.get(holder or "", []):
                        by_record[given].append(replace(task, associations={object_type: (given,)}))

    def is_task_of(self, task: Record, key: str) -> bool:
        """See :meth:`Writer.is_task_of`: the ``[syncd:KEY]`` marker in the task's
        ``Description``, on a task syncd's user created (when :meth:`find_tasks` read who)."""
        if not has_marker(task.properties.get("body"), key):
            return False
        creator = self._task_creators.get(task.id)
        return creator is None or full_id(creator) == full_id(self._client.user_id())

    # ------------------------------------------------------------------ updates

    def update(self, object_type: str, writes: Sequence[FieldWrite]) -> list[WriteResult]:
        _check_type(object_type)
        fields = self._maps(object_type)
        settled: dict[str, WriteResult] = {}
        records: dict[str, dict[str, Any]] = {}
        for write in writes:
            full = full_id(write.record_id)
            if full is None:
                settled[write.key] = WriteResult(
                    write.key,
                    ok=False,
                    error=f"not written: {write.record_id!r} is no Salesforce id",
                    error_kind=WriteErrorKind.NOT_FOUND,
                )
                continue
            # a person account's contact fields are written through its Account, by their
            # Person* names
            own = self._map_of(object_type, full)
            try:
                vendor = own.to_vendor(write.properties)
            except WriteRefusedError as refused:
                settled[write.key] = WriteResult(
                    write.key,
                    ok=False,
                    error=refused.message,
                    error_kind=refused.kind,
                    fields=refused.fields,
                )
                continue
            records[write.key] = {"attributes": {"type": own.sobject}, "id": full, **vendor}
        sendable = [w for w in writes if w.key in records]
        for chunk in _unique_id_chunks(sendable):
            settled.update(self._send_updates(object_type, fields, chunk, records))
        return [settled[w.key] for w in writes]

    def _send_updates(
        self,
        object_type: str,
        fields: FieldMap,
        chunk: Sequence[FieldWrite],
        records: Mapping[str, Mapping[str, Any]],
    ) -> dict[str, WriteResult]:
        settled: dict[str, WriteResult] = {}
        pending = list(chunk)
        attempt = 1
        while pending:
            try:
                answers = self._client.collections(
                    "PATCH",
                    json={"allOrNone": False, "records": [records[w.key] for w in pending]},
                )
            except SourceFatalError:
                raise
            except SyncdError as exc:
                settled.update({w.key: _failed(w.key, exc) for w in pending})
                return settled
            if len(answers) != len(pending):
                error = SyncdError(
                    f"Salesforce answered {len(answers)} results for {len(pending)} records"
                )
                settled.update({w.key: _failed(w.key, error) for w in pending})
                return settled
            again: list[FieldWrite] = []
            refused: list[tuple[FieldWrite, Mapping[str, Any]]] = []
            for write, answer in zip(pending, answers, strict=True):
                if answer.get("success"):
                    settled[write.key] = WriteResult(
                        write.key,
                        ok=True,
                        remote_id=str(answer.get("id") or full_id(write.record_id)),
                        response=audit(200),
                    )
                    continue
                retriable = record_error(answer.get("errors") or [])[3]
                if retriable and attempt < self._retry.max_attempts:
                    again.append(write)
                else:
                    refused.append((write, answer))
            settled.update(self._refusals(object_type, fields, refused))
            if again:
                wait = self._backoff(attempt)
                log.warning(
                    "retrying", records=len(again), reason="UNABLE_TO_LOCK_ROW", wait_seconds=wait
                )
                self._sleep(wait)
                attempt += 1
            pending = again
        return settled

    def _refusals(
        self,
        object_type: str,
        fields: FieldMap,
        refused: Sequence[tuple[FieldWrite, Mapping[str, Any]]],
    ) -> dict[str, WriteResult]:
        """The results of records Salesforce refused, their fields canonical; a deleted record
        that was merged away is ``MERGED``."""
        gone = [
            full_id(w.record_id) or w.record_id
            for w, a in refused
            if record_error(a.get("errors") or [])[0] is WriteErrorKind.NOT_FOUND
        ]
        masters: dict[str, str] = {}
        if gone and object_type in MERGEABLE:
            for sobject in sorted({self._map_of(object_type, i).sobject for i in gone}):
                masters.update(
                    self._masters(
                        sobject,
                        [i for i in gone if self._map_of(object_type, i).sobject == sobject],
                    )
                )
        results: dict[str, WriteResult] = {}
        for write, answer in refused:
            errors = answer.get("errors") or []
            kind, names, message, retriable = record_error(errors)
            canonical = tuple(fields.canonical_name(n) for n in names)
            if kind is WriteErrorKind.DUPLICATE_VALUE and not canonical:
                # the duplicate rule's answer names no field: the ones the rule matches on
                canonical = tuple(
                    f for f in UNIQUE_FIELDS.get(object_type, {}) if f in write.properties
                )
            if kind is WriteErrorKind.NOT_FOUND and full_id(write.record_id) in masters:
                kind = WriteErrorKind.MERGED
            code = errors[0].get("statusCode") if errors else None
            results[write.key] = WriteResult(
                write.key,
                ok=False,
                error=message,
                retriable=retriable,
                error_kind=kind,
                fields=canonical,
                response=audit(200, None if code is None else str(code)),
            )
        return results

    # ------------------------------------------------------------------ tasks

    def create_tasks(self, writes: Sequence[TaskWrite]) -> list[WriteResult]:
        settled: dict[str, WriteResult] = {}
        valid: list[TaskWrite] = []
        keys: set[str] = set()
        fields = self._maps("tasks")
        records: dict[str, dict[str, Any]] = {}
        for write in writes:
            if write.key in keys:
                continue  # one task per key: a repeated write shares the first one's result
            keys.add(write.key)
            if write.object_type not in RELATION or full_id(write.record_id) is None:
                settled[write.key] = WriteResult(
                    write.key,
                    ok=False,
                    error=f"a task cannot be related to {write.object_type} {write.record_id!r}",
                    error_kind=WriteErrorKind.OTHER,
                )
                continue
            try:
                vendor = fields.to_vendor(canonical_values(write))
            except WriteRefusedError as refused:
                settled[write.key] = WriteResult(
                    write.key,
                    ok=False,
                    error=refused.message,
                    error_kind=refused.kind,
                    fields=refused.fields,
                )
                continue
            record = task_record(write, vendor)
            if _relation(write.object_type, write.record_id) != RELATION[write.object_type]:
                # a person account's task: related to the Account (WhatId takes one)
                record["WhatId"] = record.pop(RELATION[write.object_type])
            records[write.key] = record
            valid.append(write)
        for chunk in chunks(valid):
            settled.update(self._send_tasks(chunk, records))
        return [settled[w.key] for w in writes]

    def _send_tasks(
        self, chunk: Sequence[TaskWrite], records: dict[str, dict[str, Any]]
    ) -> dict[str, WriteResult]:
        settled: dict[str, WriteResult] = {}
        pending = list(chunk)
        attempt = 1
        while pending:
            if attempt > 1:  # the last attempt may have landed: never create a task twice
                found = self._already_created(pending)
                settled.update(found)
                pending = [w for w in pending if w.key not in found]
                if not pending:
                    break
            try:
                answers = self._client.collections(
                    "POST", json={"allOrNone": False, "records": [records[w.key] for w in pending]}
                )
            except SourceFatalError:
                raise
            except RetriableError as exc:
                if attempt >= self._retry.max_attempts:
                    settled.update({w.key: _failed(w.key, exc) for w in pending})
                    break
                self._sleep(self._backoff(attempt))
                attempt += 1
                continue
            except SyncdError as exc:
                settled.update({w.key: _failed(w.key, exc) for w in pending})
                break
            again: list[TaskWrite] = []
            for write, answer in zip(pending, answers, strict=False):
                if answer.get("success"):
                    settled[write.key] = WriteResult(
                        write.key, ok=True, remote_id=str(answer.get("id")), response=audit(201)
                    )
                    continue
                errors = answer.get("errors") or []
                kind, names, message, retriable = record_error(errors)
                if "OwnerId" in names and "OwnerId" in records[write.key]:
                    log.info("task owner refused: the task goes to syncd's user", key=write.key)
                    del records[write.key]["OwnerId"]
                    again.append(write)
                    continue
                if retriable and attempt < self._retry.max_attempts:
                    again.append(write)
                    continue
                fields = self._maps("tasks")
                settled[write.key] = WriteResult(
                    write.key,
                    ok=False,
                    error=message,
                    retriable=retriable,
                    error_kind=kind,
                    fields=tuple(fields.canonical_name(n) for n in names),
                    response=audit(200, str(errors[0].get("statusCode")) if errors else None),
                )
            for write in pending[len(answers) :]:
                again.append(write)  # an answer short of results: find them, then resend
            pending = again
            attempt += 1
        return settled

    def _already_created(self, writes: Sequence[TaskWrite]) -> dict[str, WriteResult]:
        """The writes whose task exists already (found by marker on its record's tasks)."""
        by_type: dict[str, list[str]] = {}
        for write in writes:
            by_type.setdefault(write.object_type, []).append(write.record_id)
        tasks = {t: self.find_tasks(t, ids) for t, ids in by_type.items()}
        keys = [w.key for w in writes]
        found: dict[str, WriteResult] = {}
        for write in writes:
            for task in tasks[write.object_type].get(write.record_id, []):
                if key_of(task.properties.get("body"), keys) == write.key and self.is_task_of(
                    task, write.key
                ):
                    found[write.key] = WriteResult(
                        write.key,
                        ok=True,
                        remote_id=task.id,
                        response=audit(None, None, {"recovered": True}),
                    )
                    break
        return found

    # ------------------------------------------------------------------ merges and archives

    max_merged_per_call = soap_merge.MAX_MERGED

    def merge(self, object_type: str, primary_id: str, merged_id: str, key: str) -> WriteResult:
        return self.merge_group(object_type, primary_id, [merged_id], [key])[0]

    def merge_group(
        self, object_type: str, primary_id: str, merged_ids: Sequence[str], keys: Sequence[str]
    ) -> list[WriteResult]:
        """One ``MergeRequest``: the master and one or two records (see
        :meth:`Writer.merge_group`). Salesforce answers one ``MergeResult`` for the request,
        a success or errors for all its records at once (one transaction); when it fails or
        its answer is lost, each id merged already into the master since is ok (``already``)
        and the others fail with the error."""
        if len(merged_ids) != len(keys):
            raise ValueError("merge_group needs one key per merged id")
        if not 1 <= len(merged_ids) <= self.max_merged_per_call:
            raise ValueError(f"at most {self.max_merged_per_call} records per merge call")
        if object_type not in MERGEABLE:
            return [
                WriteResult(
                    k,
                    ok=False,
                    error=f"Salesforce cannot merge {object_type} (only leads, contacts, accounts)",
                    error_kind=WriteErrorKind.OTHER,
                )
                for k in keys
            ]
        primary, merged = full_id(primary_id), [full_id(i) for i in merged_ids]
        if primary is None or any(m is None for m in merged):
            return [
                WriteResult(
                    k,
                    ok=False,
                    error="not merged: an id is no Salesforce id",
                    error_kind=WriteErrorKind.NOT_FOUND,
                )
                for k in keys
            ]
        sobject = self._map_of(object_type, primary).sobject
        apart = {
            k: self._not_mergeable(k, primary, m)
            for m, k in zip(merged, keys, strict=True)
            if m is not None and self._map_of(object_type, m).sobject != sobject
        }
        if apart:
            together = [
                (m, k)
                for m, k in zip(merged, keys, strict=True)
                if m is not None and k not in apart
            ]
            sent = (
                self.merge_group(
                    object_type, primary, [m for m, _ in together], [k for _, k in together]
                )
                if together
                else []
            )
            done = {**apart, **{r.key: r for r in sent}}
            return [done[k] for k in keys]
        ids = [m for m in merged if m is not None]
        envelope = soap_merge.envelope(sobject, primary, ids)
        try:
            body = self._client.soap("merge", envelope)
            answer = soap_merge.outcome(body)
        except SourceFatalError:
            raise
        except (SyncdError, ValueError) as exc:
            error = exc if isinstance(exc, SyncdError) else SyncdError(str(exc))
            return [
                self._already(object_type, primary, m, k, audit(None, None, {"undoable": False}))
                or _failed(k, error)
                for m, k in zip(ids, keys, strict=True)
            ]
        if answer.success:
            response = audit(
                200,
                None,
                {
                    "undoable": False,
                    "mergedRecordIds": list(answer.merged_ids),
                    "updatedRelatedIds": len(answer.updated_related_ids),
                },
            )
            return [
                WriteResult(k, ok=True, remote_id=answer.master_id or primary, response=response)
                for k in keys
            ]
        code = str(answer.errors[0].get("statusCode")) if answer.errors else None
        kind, names, message, retriable = record_error(list(answer.errors))
        fields = self._maps(object_type)
        results: list[WriteResult] = []
        for merged_id, key in zip(ids, keys, strict=True):
            already = self._already(
                object_type, primary, merged_id, key, audit(200, code, {"undoable": False})
            )
            results.append(
                already
                or WriteResult(
                    key,
                    ok=False,
                    error=message,
                    retriable=retriable,
                    error_kind=kind,
                    fields=tuple(fields.canonical_name(n) for n in names),
                    response=audit(200, code),
                )
            )
        return results

    @staticmethod
    def _not_mergeable(key: str, primary: str, merged: str) -> WriteResult:
        """A person account and a business contact: Salesforce merges neither into the other
        (a person account merges with person accounts only, as accounts)."""
        return WriteResult(
            key,
            ok=False,
            error=f"not merged: {primary} and {merged} are a person account and a business "
            "contact, which Salesforce never merges; a person decides",
            error_kind=WriteErrorKind.NOT_MERGEABLE,
        )

    def _already(
        self, object_type: str, primary: str, merged: str, key: str, response: Mapping[str, Any]
    ) -> WriteResult | None:
        """An ok ``already`` result when ``merged`` resolves to ``primary``'s record now."""
        survivor = self.merged_already(object_type, primary, merged)
        if survivor is None:
            return None
        return WriteResult(key, ok=True, remote_id=survivor, already=True, response=response)

    def archive(
        self, object_type: str, ids: Sequence[str], keys: Sequence[str]
    ) -> list[WriteResult]:
        _check_type(object_type)
        if len(ids) != len(keys):
            raise ValueError("archive needs one key per id")
        settled: dict[str, WriteResult] = {}
        items: list[tuple[str, str]] = []
        for record_id, key in zip(ids, keys, strict=True):
            full = full_id(record_id)
            if full is None:
                settled[key] = WriteResult(
                    key,
                    ok=False,
                    error=f"{record_id!r} is no Salesforce id",
                    error_kind=WriteErrorKind.NOT_FOUND,
                )
            else:
                items.append((full, key))
        for chunk in chunks(items):
            try:
                answers = self._client.collections(
                    "DELETE",
                    params={"ids": ",".join(i for i, _ in chunk), "allOrNone": "false"},
                )
            except SourceFatalError:
                raise
            except SyncdError as exc:
                settled.update({k: _failed(k, exc) for _, k in chunk})
                continue
            for (record_id, key), answer in zip(chunk, answers, strict=False):
                errors = answer.get("errors") or []
                code = str(errors[0].get("statusCode")) if errors else None
                if answer.get("success") or code == "ENTITY_IS_DELETED":
                    settled[key] = WriteResult(
                        key,
                        ok=True,
                        remote_id=record_id,
                        response=audit(200, code),
                        already=code == "ENTITY_IS_DELETED",
                    )
                    continue
                kind, _, message, retriable = record_error(errors)
                settled[key] = WriteResult(
                    key,
                    ok=False,
                    error=message,
                    retriable=retriable,
                    error_kind=kind,
                    response=audit(200, code),
                )
            for _, key in chunk[len(answers) :]:
                settled[key] = _failed(key, SyncdError("Salesforce answered no result"))
        return [settled[key] for key in keys]


def _relation(object_type: str, record_id: str) -> str:
    """The Task field that points at ``record_id``: a person account (a contact whose id is an
    Account's) is a task's ``WhatId``."""
    if object_type == "contacts" and record_id[:3] == ACCOUNT_PREFIX:
        return "WhatId"
    return RELATION[object_type]


def _check_type(object_type: str) -> None:
    if object_type not in SOBJECTS or object_type == "owners":
        raise ConfigError(f"Salesforce cannot do this for object type {object_type!r}")
