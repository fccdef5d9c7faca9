"""HubSpot as a stream of canonical records: full pulls by listing, incremental pulls by search.

* **Full pull** (empty cursor): the list endpoint (live objects with their associations), then
  the archived listing. The list is ordered by id, not by time, so no intermediate batch moves
  the cursor; the last batch carries the run start (everything as of the run start was read).
* **Incremental pull**: first, when it is due, the archived listing, kept to objects archived
  since it was last read minus the lookback; then search for
  ``cursor - lookback <= last-modified < run start`` in last-modified order, each request a
  window that starts after the last ``(last-modified, id)`` read, never an offset into a result
  set that edits move (:mod:`connectors.hubspot.search`). Search returns no
  associations; they come from the associations v4 batch read, per page. Batches carry the
  newest last-modified read so far; the last one carries the run start.
* **The archived listing** has no server filter: HubSpot answers it in full, every archived
  record of the type, on every read. So an incremental pull reads it only every
  ``archived_every_hours`` (the cursor's ``deletions_read_at`` says when it was last read in
  full, and moves to the run start with the pull's last batch); in between, a record archived
  in HubSpot stays live in the store (a push that finds it gone skips it). A full pull always
  reads it. It comes before search: a crash during the search phase must not mark archivals
  read that the crashed run never listed.
* **Owners**: always a full listing (active, then archived).
* **Several requests in flight** (``requests_in_flight`` > 1): :meth:`HubSpotConnector.pull_all`
  pulls the object types side by side, each in its own thread
  (:func:`connectors.pulls.interleave`), and the association reads of one page go to their
  target types at once; every call is paced by the one pacer of the client. Incremental pulls
  gather search pages until :data:`ASSOCIATION_BATCH_MAX` records before reading their
  associations (1,000 ids a call). The batches of one type keep their order and their
  cursors: whatever the interleaving, the store ends up as after one type at a time.

A merged primary lists the ids it absorbed in ``hs_merged_object_ids``; each absorbed id is
emitted as a record ``merged_into`` the primary. Ids are de-duplicated within one pull (a record
is emitted again only with a newer ``updated_at``). A malformed object is reported in the batch's
``skipped`` and the pull goes on.
"""

from __future__ import annotations

import contextvars
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar

import structlog

from connectors.base import ApiUsage, Capability, Connector, UniqueFields
from connectors.hubspot.associations import association_pairs, next_after, results
from connectors.hubspot.client import HubSpotClient, SearchFilter
from connectors.hubspot.cursor import advance, read_from, to_epoch_ms
from connectors.hubspot.mapping import (
    FieldMap,
    MalformedObjectError,
    archived_at,
    crm_record,
    field_maps,
    merged_away,
    more_associated,
    owner_record,
    parse_datetime,
)
from connectors.hubspot.pacer import Pacer
from connectors.hubspot.pipelines import StageBook
from connectors.hubspot.properties import property_defs
from connectors.hubspot.search import SearchPage, Window, iter_search
from connectors.hubspot.settings import (
    ASSOCIATION_BATCH_MAX,
    ASSOCIATION_TARGETS,
    LAST_MODIFIED,
    MERGEABLE,
    OBJECT_ID,
    OBJECT_TYPES,
    UNIQUE_FIELDS,
    HubSpotSettings,
)
from connectors.hubspot.writer import HubSpotWriter
from connectors.pulls import Seen, finish, interleave
from model.errors import ConfigError, SyncdError
from model.records import Cursor, PropertyDef, PullBatch, Record

Skipped = tuple[str, str]


class HubSpotConnector(HubSpotWriter, Connector):
    """Pulls contacts, companies, deals, tasks and owners through ``hubspot-api-client``, and
    writes back through it (:class:`~connectors.hubspot.writer.HubSpotWriter`).

    ``calls`` counts HTTP attempts per operation (``list``, ``search``, ``owners``,
    ``associations_read``, ``pipelines``, ``account``, ``batch_read``, ``batch_update``,
    ``batch_create``, ``batch_archive``, ``merge``), retries included. The deal pipelines are
    read once, when the first deal is mapped (:class:`~connectors.hubspot.pipelines.StageBook`).
    """

    name: ClassVar[str] = "hubspot"
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
            Capability.RATE_LIMITS,
            Capability.AUTH,
            Capability.FIELD_HISTORY,
        }
    )
    unique_fields: ClassVar[UniqueFields] = UNIQUE_FIELDS
    mergeable_types: ClassVar[frozenset[str]] = MERGEABLE

    def __init__(
        self,
        settings: HubSpotSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        pacer: Pacer | None = None,
    ) -> None:
        self._settings = settings
        self._client = HubSpotClient(settings, sleep=sleep, pacer=pacer)
        self._stages = StageBook(lambda: self._client.pipelines("deals"))
        self._fields = field_maps(settings, self._stages)
        # association reads of several target types at once (never pulls: no job waits here
        # for another job, so the pool cannot deadlock)
        self._pool = ThreadPoolExecutor(
            max_workers=settings.requests_in_flight, thread_name_prefix="hubspot-read"
        )
        retry = settings.retry.settings()
        HubSpotWriter.__init__(
            self, self._client, self._fields, retry=retry, sleep=self._client.waits.sleep(sleep)
        )

    @property
    def settings(self) -> HubSpotSettings:
        return self._settings

    @property
    def calls(self) -> Counter[str]:
        """HTTP attempts per operation since the connector was built."""
        return self._client.calls

    def field_map(self, object_type: str) -> FieldMap:
        """The vendor/canonical field map of ``object_type``."""
        return self._fields[object_type]

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._client.close()

    def check(self) -> str:
        """See :meth:`Connector.check`: one contact read (``GET /crm/v3/objects/contacts``
        with ``limit=1``), which needs the token and its CRM read scope."""
        self._client.check()
        return f"token accepted by HubSpot at {self.settings.base_url}"

    def account_id(self) -> str:
        """See :meth:`Connector.account_id`: the portal id ``GET /account-info/v3/details``
        answers."""
        portal = self._client.account_details().get("portalId")
        if portal is None or str(portal).strip() == "":
            raise SyncdError("HubSpot's account details named no portalId")
        return str(portal)

    def usage(self) -> ApiUsage:
        """See :meth:`Connector.usage`."""
        return ApiUsage(
            sum(self._client.calls.values()),
            self._client.rate_limited,
            waited_seconds=self._client.waits.seconds(),
        )

    def count(
        self, object_type: str, modified_from: datetime, modified_before: datetime
    ) -> int | None:
        """See :meth:`Connector.count`: the ``total`` of a search for ``modified_from <=
        last-modified < modified_before`` with ``limit=1`` (search sees live records only, and
        shows a change a few seconds late). Owners cannot be searched: ``None``."""
        if object_type == "owners" or object_type not in self._fields:
            return None
        modified = LAST_MODIFIED[object_type]
        filters = [
            SearchFilter(modified, "GTE", str(to_epoch_ms(modified_from))),
            SearchFilter(modified, "LT", str(to_epoch_ms(modified_before))),
        ]
        page = self._client.search_page(
            object_type, filters=filters, sort=modified, properties=[modified], limit=1
        )
        return int(str(page.get("total", 0)))

    def archived_ids(self, object_type: str, archived_before: datetime) -> set[str] | None:
        """See :meth:`Connector.archived_ids`: the archived listing (``archived=true``, one
        property per object), by ``archivedAt``. Owners: ``None`` (no CRM records)."""
        if object_type == "owners" or object_type not in self._fields:
            return None
        found: set[str] = set()
        after: str | None = None
        while True:
            page = self._client.list_page(
                object_type,
                after=after,
                archived=True,
                properties=[LAST_MODIFIED[object_type]],
                associations=(),
            )
            for raw in results(page):
                when = archived_at(raw) if isinstance(raw, Mapping) else None
                if when is not None and when < archived_before and "id" in raw:
                    found.add(str(raw["id"]))
            after = next_after(page)
            if after is None:
                return found

    def properties(self, object_type: str) -> list[PropertyDef]:
        """See :meth:`Connector.properties`: the definitions of the fields this connector pulls
        (:mod:`connectors.hubspot.properties`), one ``GET /crm/v3/properties/{type}`` call,
        retried like every read. ``owners`` have no property definitions (an empty list)."""
        if object_type == "owners":
            return []
        if object_type not in self._fields:
            raise ConfigError(f"object type {object_type!r} is not a HubSpot object type")
        return property_defs(self._client.properties(object_type), self._fields[object_type])

    def pull(
        self, object_type: str, cursor: Cursor, *, run_started_at: datetime
    ) -> Iterator[PullBatch]:
        """See :meth:`Connector.pull` and this module's docstring. Validates its arguments at
        once (``ConfigError`` for a type this source does not pull); reads lazily."""
        if object_type not in self._settings.object_types:
            raise ConfigError(f"object type {object_type!r} is not configured for this source")
        if run_started_at.tzinfo is None:
            raise ValueError("run_started_at must be timezone-aware")
        archived = (
            object_type == "owners"
            or cursor.updated_at is None
            or cursor.deletions_read_at is None
            or run_started_at - cursor.deletions_read_at >= self._settings.archived_every
        )
        final = Cursor(
            advance(cursor.updated_at, run_started_at, run_started_at),
            run_started_at if archived else cursor.deletions_read_at,
        )
        seen = Seen()
        if object_type == "owners":
            batches = self._owners(cursor, seen)
        elif cursor.updated_at is None:
            batches = self._full(object_type, cursor, seen)
        else:
            batches = self._incremental(
                object_type, cursor, run_started_at, seen, archived=archived
            )
        return finish(batches, object_type, final)

    def pull_all(
        self, cursors: Mapping[str, Cursor], *, run_started_at: datetime
    ) -> Iterator[PullBatch]:
        """See :meth:`Connector.pull_all`: with ``requests_in_flight`` above 1, every object
        type in its own thread (:func:`connectors.pulls.interleave`); the time the caller
        waits for their batches counts as its wait on HubSpot (:meth:`usage`)."""
        streams = [
            _logged_as(object_type, self.pull(object_type, cursor, run_started_at=run_started_at))
            for object_type, cursor in cursors.items()
        ]
        if self._settings.requests_in_flight == 1 or len(streams) < 2:
            for stream in streams:
                yield from stream
            return
        yield from interleave(streams, buffer=2 * len(streams), meter=self._client.waits)

    # ------------------------------------------------------------------ parsing

    def _parse(
        self, object_type: str, raws: Iterable[Any], *, archived: bool = False
    ) -> tuple[list[Record], list[Skipped]]:
        records: list[Record] = []
        skipped: list[Skipped] = []
        fields = self._fields[object_type]
        targets = ASSOCIATION_TARGETS.get(object_type, ())
        for raw in raws:
            try:
                if object_type == "owners":
                    record = owner_record(raw, fields)
                else:
                    record = crm_record(object_type, raw, fields, targets)
            except MalformedObjectError as bad:
                skipped.append((bad.object_id, bad.reason))
                continue
            if archived and not record.archived:
                record = replace(record, archived=True)
            records.append(record)
        return records, skipped

    @staticmethod
    def _with_merged(records: Iterable[Record]) -> list[Record]:
        expanded: list[Record] = []
        for record in records:
            expanded.append(record)
            expanded.extend(merged_away(record))
        return expanded

    # ------------------------------------------------------------------ owners and full pulls

    def _owners(self, cursor: Cursor, seen: Seen) -> Iterator[PullBatch]:
        for archived in (False, True):
            after: str | None = None
            while True:
                page = self._client.owners_page(after=after, archived=archived)
                records, skipped = self._parse("owners", results(page), archived=archived)
                yield PullBatch("owners", seen.fresh(records), cursor, tuple(skipped))
                after = next_after(page)
                if after is None:
                    break

    def _list(
        self, object_type: str, *, archived: bool
    ) -> Iterator[tuple[list[Any], list[Record], list[Skipped]]]:
        """Each page of the list endpoint: raw objects, their records, the skipped ones.

        An object whose inline associations are paged (too many to list inline) gets all of
        them from the associations v4 batch read instead.
        """
        properties = self._fields[object_type].vendor_names
        targets = ASSOCIATION_TARGETS[object_type]
        after: str | None = None
        while True:
            page = self._client.list_page(
                object_type,
                after=after,
                archived=archived,
                properties=properties,
                associations=targets,
            )
            raws = results(page)
            records, skipped = self._parse(object_type, raws, archived=archived)
            truncated = {
                str(raw.get("id"))
                for raw in raws
                if isinstance(raw, Mapping) and more_associated(raw)
            }
            if truncated:
                complete = self._associate(object_type, [r for r in records if r.id in truncated])
                by_id = {r.id: r for r in complete}
                records = [by_id.get(r.id, r) for r in records]
            yield raws, records, skipped
            after = next_after(page)
            if after is None:
                return

    def _full(self, object_type: str, cursor: Cursor, seen: Seen) -> Iterator[PullBatch]:
        for archived in (False, True):
            for _, records, skipped in self._list(object_type, archived=archived):
                fresh = seen.fresh(self._with_merged(records))
                yield PullBatch(object_type, fresh, cursor, tuple(skipped))

    # ------------------------------------------------------------------ incremental pulls

    def _incremental(
        self,
        object_type: str,
        stored: Cursor,
        run_started_at: datetime,
        seen: Seen,
        *,
        archived: bool,
    ) -> Iterator[PullBatch]:
        cursor = stored.updated_at
        assert cursor is not None
        if archived:
            since = (stored.deletions_read_at or cursor) - self._settings.lookback
            for raws, records, skipped in self._list(object_type, archived=True):
                when = {
                    str(raw.get("id")): archived_at(raw) for raw in raws if isinstance(raw, Mapping)
                }
                recent = [r for r in records if (when.get(r.id) or r.updated_at) >= since]
                fresh = seen.fresh(self._with_merged(recent))
                yield PullBatch(object_type, fresh, stored, tuple(skipped))

        start_ms = read_from(cursor, self._settings.lookback)
        end_ms = to_epoch_ms(run_started_at)
        if start_ms >= end_ms:
            return
        current: datetime | None = cursor
        pages = iter_search(
            lambda window, limit: self._search(object_type, window, limit),
            start_ms=start_ms,
            end_ms=end_ms,
            key=lambda raw: self._search_key(object_type, raw),
            page_size=self._settings.page_size_search,
        )
        for parsed, skipped in self._gathered(object_type, pages):
            records = self._associate(object_type, parsed)
            if records:
                current = advance(current, max(r.updated_at for r in records), run_started_at)
            fresh = seen.fresh(self._with_merged(records))
            yield PullBatch(
                object_type, fresh, Cursor(current, stored.deletions_read_at), tuple(skipped)
            )

    def _gathered(
        self, object_type: str, pages: Iterable[SearchPage]
    ) -> Iterator[tuple[list[Record], list[Skipped]]]:
        """The records of search pages, gathered until they fill one associations read
        (:data:`ASSOCIATION_BATCH_MAX` ids) when the type has associations to read."""
        gather = ASSOCIATION_BATCH_MAX if ASSOCIATION_TARGETS.get(object_type) else 1
        records: list[Record] = []
        skipped: list[Skipped] = []
        for page in pages:
            parsed, bad = self._parse(object_type, page.results)
            records.extend(parsed)
            skipped.extend(bad)
            if len(records) + len(skipped) >= gather:
                yield records, skipped
                records, skipped = [], []
        if records or skipped:
            yield records, skipped

    def _search(self, object_type: str, window: Window, limit: int) -> SearchPage:
        modified = LAST_MODIFIED[object_type]
        if window.pinned_ms is None:
            lower = "GT" if window.lo_exclusive else "GTE"
            filters = [
                SearchFilter(modified, lower, str(window.lo_ms)),
                SearchFilter(modified, "LT", str(window.hi_ms)),
            ]
            sort = modified
        else:
            filters = [SearchFilter(modified, "EQ", str(window.pinned_ms))]
            if window.after_id is not None:
                filters.append(SearchFilter(OBJECT_ID, "GT", str(window.after_id)))
            sort = OBJECT_ID
        page = self._client.search_page(
            object_type,
            filters=filters,
            sort=sort,
            properties=self._fields[object_type].vendor_names,
            limit=limit,
        )
        return SearchPage(results=results(page), more=next_after(page) is not None)

    @staticmethod
    def _search_key(object_type: str, raw: Mapping[str, Any]) -> tuple[int, int] | None:
        """(last-modified ms, id) as search sorts and filters on them, if readable."""
        try:
            object_id = int(str(raw.get("id")))
        except ValueError:
            return None
        properties = raw.get("properties")
        value = (
            properties.get(LAST_MODIFIED[object_type]) if isinstance(properties, Mapping) else None
        )
        if isinstance(value, str) and value.isdigit():
            return int(value), object_id
        for candidate in (value, raw.get("updatedAt")):
            try:
                return to_epoch_ms(parse_datetime(candidate)), object_id
            except ValueError:
                continue
        return None

    def _associate(self, object_type: str, records: Sequence[Record]) -> list[Record]:
        """``records`` with their associations read through the associations v4 batch API."""
        targets = ASSOCIATION_TARGETS[object_type]
        if not records or not targets:
            return list(records)
        found: dict[str, dict[str, list[str]]] = {r.id: {t: [] for t in targets} for r in records}
        ids = list(found)

        def read(target: str) -> list[tuple[str, str]]:
            return list(association_pairs(self._client, object_type, target, ids))

        if len(targets) > 1 and self._settings.requests_in_flight > 1:
            waits = self._client.waits
            started = waits.clock()
            contexts = [contextvars.copy_context() for _ in targets]  # one per thread
            pairs = list(self._pool.map(lambda c, t: c.run(read, t), contexts, targets))
            waits.add(waits.clock() - started)
        else:
            pairs = [read(target) for target in targets]
        for target, target_pairs in zip(targets, pairs, strict=True):
            for object_id, to_id in target_pairs:
                if object_id in found:
                    found[object_id][target].append(to_id)
        return [
            replace(
                r,
                associations={t: tuple(dict.fromkeys(ids)) for t, ids in found[r.id].items()},
            )
            for r in records
        ]


def _logged_as(object_type: str, batches: Iterator[PullBatch]) -> Iterator[PullBatch]:
    """``batches``, with ``object_type`` bound for the log lines made while they are read."""
    with structlog.contextvars.bound_contextvars(object_type=object_type):
        yield from batches
