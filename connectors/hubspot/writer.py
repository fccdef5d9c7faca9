"""The write half of the HubSpot connector (:class:`connectors.base.Writer`) over the SDK.

Every method takes and gives canonical field names and values; the source's field maps
(:mod:`connectors.hubspot.mapping`) turn them into HubSpot's on the way out and back.

* ``read``: batch read, 100 ids per call, the fields asked for plus ``updated_at`` (and
  ``merged_ids`` on mergeable types, to map a merged id to the survivor HubSpot answers
  with). Ids HubSpot reports missing (207) or leaves out are ``None``. Associations asked
  for come from the associations v4 batch read, as an incremental pull reads them.
* ``update``: a write naming a field the connector derives (``lead_open``, ``is_closed``...)
  fails alone, unsent. Batch update, 100 inputs per call (an id at most once per call), judged
  input by input (:mod:`connectors.hubspot.batches`, :mod:`connectors.hubspot.answers`). Each input
  carries its outbox key as ``objectWriteTraceId``, which makes HubSpot judge the inputs one by
  one: a 207 fails only the inputs its errors name (``context.ids`` or
  ``context.objectWriteTraceId``). Where HubSpot still refuses the whole batch for one invalid
  input (400), the batch is split in halves down to the input responsible. An input the answer
  names in neither its results nor its errors was not applied, whatever the status: HubSpot
  answers so for an id merged into another (``shared/notes/hubspot.md``). Those ids are read:
  one that resolves to another record fails as ``MERGED`` with the survivor's id as
  ``remote_id`` (not sent again); the others are sent again, as any transient failure.
* ``create_tasks``: batch create of tasks with inline associations, the outbox key as a marker
  at the end of the body (:mod:`connectors.hubspot.tasks`) and as ``objectWriteTraceId``;
  results (in no promised order) are matched to inputs by marker, else by the trace id they
  echo. Nothing is looked up before the first attempt (the engine calls ``find_tasks`` first);
  before a resend after an attempt that may have landed (timeout, dropped connection, 5xx, an
  input the answer did not account for), the records' tasks are read and inputs whose marker is
  already there are settled as created, so a retry never creates a task twice.
* ``find_tasks``: associations v4 batch read record→tasks, then a batch read of those tasks.
* ``field_changes``: batch read with ``propertiesWithHistory``, 50 ids per call
  (:mod:`connectors.hubspot.history`): who set each field's current value.
* ``merge``: the merge endpoint, then the two ids read back: both resolve to the survivor,
  which for contacts and companies is a new record with a new id (``remote_id``; the answer's
  id when the read fails). ``response`` keeps the old ids and the survivor's with HubSpot's
  status and correlation id. When the merge fails, the two ids are read, and if both resolve
  to the same record the merge had already happened: ok and ``already``, with the survivor's id
  (this call merged nothing; HubSpot's refusal stays in ``response``). A 414 (the survivor
  would hold more than 250 merged identities) is final and says so.
* ``archive``: batch archive (204).

``WriteResult.response`` holds HubSpot's status, category and correlation id, never values;
``error_kind`` says what a failure means (:func:`connectors.hubspot.errors.write_error`) and
``fields`` the canonical fields HubSpot refused. A contact's 409 ``CONFLICT`` is its e-mail,
the one contact property HubSpot keeps unique (its answer names no property).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from connectors.base import Writer
from connectors.hubspot.answers import UNMENTIONED, judge_inputs, survivors, traced
from connectors.hubspot.associations import association_pairs, results
from connectors.hubspot.batches import BATCH_MAX, BatchRunner, chunks
from connectors.hubspot.client import Answer, BatchUpdateInput, HubSpotClient
from connectors.hubspot.errors import (
    audit_error,
    audit_response,
    exception_error,
    http_status,
)
from connectors.hubspot.history import HISTORY_BATCH_MAX, current_change
from connectors.hubspot.mapping import (
    FieldMap,
    MalformedObjectError,
    ReadOnlyFieldError,
    crm_record,
)
from connectors.hubspot.settings import CRM_OBJECT_TYPES, MERGEABLE
from connectors.hubspot.tasks import (
    TASK_ASSOCIATION_TYPES,
    TASK_FIELDS,
    has_marker,
    key_of,
    task_input,
)
from connectors.retry import RetrySettings
from model.errors import ConfigError, RetriableError, SourceFatalError, SyncdError
from model.records import Record
from model.writes import FieldChange, FieldWrite, TaskWrite, WriteErrorKind, WriteResult


def _check_type(object_type: str, allowed: Iterable[str] = CRM_OBJECT_TYPES) -> None:
    if object_type not in allowed:
        raise ConfigError(f"HubSpot cannot do this for object type {object_type!r}")


def _unique_id_chunks(writes: Sequence[FieldWrite]) -> list[list[FieldWrite]]:
    """Consecutive batches of at most :data:`BATCH_MAX` writes in which no record id and no key
    repeats (HubSpot refuses a batch update that names an id twice, and trace ids must be
    unique within a batch); order is kept."""
    groups: list[list[FieldWrite]] = []
    current: list[FieldWrite] = []
    seen: set[tuple[str, str]] = set()
    for write in writes:
        names = {("id", write.record_id), ("key", write.key)}
        if len(current) == BATCH_MAX or names & seen:
            groups.append(current)
            current, seen = [], set()
        current.append(write)
        seen |= names
    if current:
        groups.append(current)
    return groups


#: HubSpot's answer to a merge past 250 merged identities (``shared/notes/hubspot.md``).
TOO_MANY_IDENTITIES = 414


def _status_of(exc: BaseException) -> int | None:
    """The HTTP status of the SDK error ``exc`` is or was caused by."""
    cause: BaseException | None = exc
    while cause is not None and http_status(cause) is None:
        cause = cause.__cause__
    return None if cause is None else http_status(cause)


def _merge_response(
    response: Mapping[str, object], primary_id: str, merged_id: str, survivor: str
) -> dict[str, object]:
    """What the audit keeps of a merge: HubSpot's answer and the old ids with the new one."""
    return {**response, "merged": [primary_id, merged_id], "survivor": survivor}


def _canonical_fields(object_type: str, fields: FieldMap, result: WriteResult) -> WriteResult:
    """``result`` with the HubSpot properties it names as canonical fields."""
    if result.ok:
        return result
    names = tuple(fields.canonical_name(name) for name in result.fields)
    if result.error_kind is WriteErrorKind.DUPLICATE_VALUE and object_type == "contacts":
        names = names or ("email",)
    return replace(result, fields=names)


class HubSpotWriter(Writer):
    """:class:`~connectors.base.Writer` over a :class:`HubSpotClient` (see the module doc)."""

    def __init__(
        self,
        client: HubSpotClient,
        fields: Mapping[str, FieldMap],
        *,
        retry: RetrySettings,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._maps = fields
        self._retry = retry
        self._sleep = sleep

    def is_task_of(self, task: Record, key: str) -> bool:
        """See :meth:`Writer.is_task_of`: the ``[syncd:KEY]`` marker in the task's body."""
        body = task.properties.get("body")
        return has_marker(body, key)

    # ------------------------------------------------------------------ reads

    def read(
        self,
        object_type: str,
        ids: Sequence[str],
        properties: Sequence[str],
        associations: Sequence[str] = (),
    ) -> dict[str, Record | None]:
        _check_type(object_type)
        names = [*properties, "updated_at"]
        if object_type in MERGEABLE:
            names.append("merged_ids")
        fields = self._maps[object_type].subset(list(dict.fromkeys(names)))
        wanted = list(dict.fromkeys(ids))
        found: dict[str, Record | None] = {}
        for chunk in chunks(wanted):
            page = self._client.batch_read(object_type, chunk, fields.vendor_names)
            by_id: dict[str, Record] = {}
            absorbed: dict[str, Record] = {}
            for raw in results(page):
                try:
                    record = crm_record(object_type, raw, fields, ())
                except MalformedObjectError as bad:
                    raise SyncdError(
                        f"HubSpot answered an unreadable {object_type} record "
                        f"{bad.object_id}: {bad.reason}"
                    ) from None
                by_id[record.id] = record
                for merged_id in record.merged_ids:
                    absorbed.setdefault(merged_id, record)
            for object_id in chunk:
                found[object_id] = by_id.get(object_id) or absorbed.get(object_id)
        if associations:
            found = self._with_associations(object_type, found, associations)
        return found

    def _with_associations(
        self, object_type: str, found: Mapping[str, Record | None], targets: Sequence[str]
    ) -> dict[str, Record | None]:
        """``found`` with each record's associations to ``targets`` (associations v4 batch
        read, per record id read: a merged id's survivor is read under its own id)."""
        ids = list(dict.fromkeys(r.id for r in found.values() if r is not None))
        linked: dict[str, dict[str, list[str]]] = {i: {t: [] for t in targets} for i in ids}
        for target in dict.fromkeys(targets):
            for object_id, to_id in association_pairs(self._client, object_type, target, ids):
                if object_id in linked:
                    linked[object_id][target].append(to_id)
        return {
            asked: None
            if r is None
            else replace(
                r, associations={t: tuple(dict.fromkeys(v)) for t, v in linked[r.id].items()}
            )
            for asked, r in found.items()
        }

    def field_changes(
        self, object_type: str, fields: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], FieldChange]:
        _check_type(object_type)
        wanted: dict[str, set[str]] = {}
        for record_id, name in fields:
            wanted.setdefault(record_id, set()).add(name)
        vendor = {n: self._maps[object_type].vendor_name(n) for _, n in fields}
        names = sorted(set(vendor.values()))
        found: dict[tuple[str, str], FieldChange] = {}
        for chunk in chunks(list(wanted), HISTORY_BATCH_MAX):
            page = self._client.batch_read(object_type, chunk, names, with_history=names)
            for raw in results(page):
                record_id = str(raw.get("id", ""))
                current = raw.get("properties") or {}
                history = raw.get("propertiesWithHistory") or {}
                for name in sorted(wanted.get(record_id, ())):
                    wire = vendor[name]
                    change = current_change(history.get(wire) or [], current.get(wire))
                    if change is not None:
                        found[(record_id, name)] = change
        return found

    def find_tasks(self, object_type: str, record_ids: Sequence[str]) -> dict[str, list[Record]]:
        _check_type(object_type, TASK_ASSOCIATION_TYPES)
        wanted = list(dict.fromkeys(record_ids))
        task_ids: dict[str, list[str]] = {record_id: [] for record_id in wanted}
        holders: dict[str, list[str]] = {}
        for record_id, task_id in association_pairs(self._client, object_type, "tasks", wanted):
            if record_id in task_ids and task_id not in task_ids[record_id]:
                task_ids[record_id].append(task_id)
                holders.setdefault(task_id, []).append(record_id)
        tasks = self.read("tasks", list(holders), TASK_FIELDS)
        found: dict[str, list[Record]] = {}
        for record_id, ids in task_ids.items():
            found[record_id] = [
                replace(task, associations={object_type: tuple(holders[task_id])})
                for task_id in ids
                if (task := tasks.get(task_id)) is not None
            ]
        return found

    # ------------------------------------------------------------------ writes

    def update(self, object_type: str, writes: Sequence[FieldWrite]) -> list[WriteResult]:
        _check_type(object_type)
        client = self._client
        fields = self._maps[object_type]
        vendor: dict[str, dict[str, str | None]] = {}
        settled: dict[str, WriteResult] = {}
        for write in writes:
            try:
                vendor[write.key] = fields.to_vendor(write.properties)
            except ReadOnlyFieldError as refused:
                settled[write.key] = WriteResult(
                    write.key,
                    ok=False,
                    error=f"not written: {refused.args[0]}",
                    error_kind=WriteErrorKind.INVALID_VALUE,
                    fields=refused.names,
                )
            except KeyError as refused:
                settled[write.key] = WriteResult(
                    write.key,
                    ok=False,
                    error=f"not written: {refused.args[0]}",
                    error_kind=WriteErrorKind.INVALID_VALUE,
                )

        def send(batch: Sequence[FieldWrite]) -> Answer:
            inputs = [BatchUpdateInput(w.record_id, vendor[w.key], w.key) for w in batch]
            return client.send_batch_update(object_type, inputs)

        def judge(batch: Sequence[FieldWrite], answer: Answer) -> dict[str, WriteResult]:
            by_id, by_trace = survivors(answer), traced(answer)
            applied = {w.key: by_trace[w.key] for w in batch if w.key in by_trace}
            for w in batch:
                if w.key not in applied and w.record_id in by_id:
                    applied[w.key] = by_id[w.record_id]
            named = [(w.key, {w.record_id, w.key}) for w in batch]
            # silence is never success: HubSpot leaves an id merged away out of both lists
            judged = judge_inputs(named, answer, applied, silence_means_ok=False)
            for w in batch:
                if judged[w.key].ok and judged[w.key].remote_id is None:
                    judged[w.key] = replace(judged[w.key], remote_id=w.record_id)
            unmentioned = [w for w in batch if judged[w.key].error == UNMENTIONED]
            judged.update(self._merged_away(object_type, unmentioned, judged))
            return judged

        runner = BatchRunner(
            key=lambda w: w.key,
            send=send,
            judge=judge,
            retry=self._retry,
            sleep=self._sleep,
            name=f"{object_type} batch update",
        )
        sent = runner.run(_unique_id_chunks([w for w in writes if w.key in vendor]))
        settled.update({k: _canonical_fields(object_type, fields, r) for k, r in sent.items()})
        return [settled[w.key] for w in writes]

    def _merged_away(
        self,
        object_type: str,
        writes: Sequence[FieldWrite],
        judged: Mapping[str, WriteResult],
    ) -> dict[str, WriteResult]:
        """The results of ``writes`` (left out of an answer) whose record was merged into
        another: not applied, not to be sent again, the survivor named. Others are absent (a
        read that fails leaves them to the retries)."""
        if not writes:
            return {}
        try:
            found = self.read(object_type, [w.record_id for w in writes], [])
        except SourceFatalError:
            raise
        except SyncdError:
            return {}
        settled: dict[str, WriteResult] = {}
        for write in writes:
            record = found.get(write.record_id)
            if record is not None and record.id != write.record_id:
                settled[write.key] = replace(
                    judged[write.key],
                    error=f"not applied: HubSpot answered nothing for {write.record_id}, which "
                    f"was merged into {record.id}",
                    retriable=False,
                    error_kind=WriteErrorKind.MERGED,
                    remote_id=record.id,
                )
        return settled

    def create_tasks(self, writes: Sequence[TaskWrite]) -> list[WriteResult]:
        settled: dict[str, WriteResult] = {}
        valid: list[TaskWrite] = []
        keys: set[str] = set()
        for write in writes:
            if write.key in keys:
                continue  # one task per key: a repeated write shares the first one's result
            keys.add(write.key)
            if write.object_type in TASK_ASSOCIATION_TYPES:
                valid.append(write)
            else:
                settled[write.key] = WriteResult(
                    write.key,
                    ok=False,
                    error=f"a task cannot be associated to {write.object_type!r}",
                    error_kind=WriteErrorKind.OTHER,
                )
        inputs = {w.key: task_input(w, self._maps["tasks"]) for w in valid}
        body_property = self._maps["tasks"].vendor_name("body")
        client = self._client

        def send(batch: Sequence[TaskWrite]) -> Answer:
            return client.send_batch_create_tasks([inputs[w.key] for w in batch])

        def judge(batch: Sequence[TaskWrite], answer: Answer) -> dict[str, WriteResult]:
            keys = [w.key for w in batch]
            applied: dict[str, str] = {}
            for raw in results(answer.body or {}):
                properties = raw.get("properties") if isinstance(raw, Mapping) else None
                body = properties.get(body_property) if isinstance(properties, Mapping) else None
                key = key_of(body if isinstance(body, str) else None, keys)
                if key is not None and raw.get("id") is not None:
                    applied.setdefault(key, str(raw["id"]))
            for key, task_id in traced(answer).items():
                if key in keys:
                    applied.setdefault(key, task_id)
            return judge_inputs([(k, {k}) for k in keys], answer, applied, silence_means_ok=False)

        runner = BatchRunner(
            key=lambda w: w.key,
            send=send,
            judge=judge,
            recover=self._already_created,
            retry=self._retry,
            sleep=self._sleep,
            name="tasks batch create",
        )
        created = runner.run(chunks(valid))
        tasks = self._maps["tasks"]
        settled.update({k: _canonical_fields("tasks", tasks, r) for k, r in created.items()})
        return [settled[w.key] for w in writes]

    def _already_created(self, writes: Sequence[TaskWrite]) -> dict[str, WriteResult]:
        """The writes whose task exists already (found by marker on its record's tasks)."""
        by_type: dict[str, list[str]] = {}
        for write in writes:
            by_type.setdefault(write.object_type, []).append(write.record_id)
        tasks = {t: self.find_tasks(t, ids) for t, ids in by_type.items()}
        found: dict[str, WriteResult] = {}
        for write in writes:
            for task in tasks[write.object_type].get(write.record_id, []):
                if self.is_task_of(task, write.key):
                    found[write.key] = WriteResult(
                        write.key,
                        ok=True,
                        remote_id=task.id,
                        response={**audit_response(None), "recovered": True},
                    )
                    break
        return found

    def merge(self, object_type: str, primary_id: str, merged_id: str, key: str) -> WriteResult:
        if object_type not in MERGEABLE:
            return WriteResult(
                key,
                ok=False,
                error=f"HubSpot cannot merge {object_type}",
                error_kind=WriteErrorKind.OTHER,
            )
        try:
            answer = self._client.merge(object_type, primary_id, merged_id)
        except SourceFatalError:
            raise
        except SyncdError as exc:
            already = self.merged_already(object_type, primary_id, merged_id)
            if already is not None:
                return WriteResult(
                    key,
                    ok=True,
                    remote_id=already,
                    response=_merge_response(audit_error(exc), primary_id, merged_id, already),
                    already=True,
                )
            if _status_of(exc) == TOO_MANY_IDENTITIES:
                return WriteResult(
                    key,
                    ok=False,
                    error=f"HubSpot refuses to merge {merged_id} into {primary_id}: the record "
                    "would hold more than 250 merged identities (414); this merge cannot be "
                    "made, merge the records by hand or leave them apart",
                    response=audit_error(exc),
                    error_kind=WriteErrorKind.OTHER,
                )
            kind, properties = exception_error(exc)
            return WriteResult(
                key,
                ok=False,
                error=str(exc),
                retriable=isinstance(exc, RetriableError),
                response=audit_error(exc),
                error_kind=kind,
                fields=tuple(self._maps[object_type].canonical_name(p) for p in properties),
            )
        answered = (answer.body or {}).get("id")
        survivor = (
            self.merged_already(object_type, primary_id, merged_id)
            or (str(answered) if answered is not None else None)
            or primary_id
        )
        response = audit_response(answer.status, None, answer.headers)
        return WriteResult(
            key,
            ok=True,
            remote_id=survivor,
            response=_merge_response(response, primary_id, merged_id, survivor),
        )

    def archive(
        self, object_type: str, ids: Sequence[str], keys: Sequence[str]
    ) -> list[WriteResult]:
        _check_type(object_type)
        if len(ids) != len(keys):
            raise ValueError("archive needs one key per id")
        client = self._client
        items = list(zip(ids, keys, strict=True))

        def send(batch: Sequence[tuple[str, str]]) -> Answer:
            return client.send_batch_archive(object_type, [object_id for object_id, _ in batch])

        def judge(batch: Sequence[tuple[str, str]], answer: Answer) -> dict[str, WriteResult]:
            response = audit_response(answer.status, answer.body, answer.headers)
            return {
                key: WriteResult(key, ok=True, remote_id=object_id, response=response)
                for object_id, key in batch
            }

        runner = BatchRunner(
            key=lambda item: item[1],
            send=send,
            judge=judge,
            retry=self._retry,
            sleep=self._sleep,
            name=f"{object_type} batch archive",
        )
        settled = runner.run(chunks(items))
        return [settled[key] for key in keys]
