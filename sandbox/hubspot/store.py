"""The sandbox's CRM state: records per object type, associations, merges, owners, settings.

:class:`SandboxState` is the Python face of the sandbox (tests seed and mutate it directly) and
the data behind the HTTP API. It is thread-safe: every public method takes one re-entrant lock,
which the HTTP layer also holds for the length of a request.
"""

from __future__ import annotations

import bisect
import random
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sandbox.hubspot.model import (
    APP_EDIT,
    ASSOCIATION_TYPE_IDS,
    MAX_MERGED_IDENTITIES,
    OBJECT_TYPES,
    ChangeSource,
    StoredObject,
    iso,
    last_modified_property,
)
from sandbox.hubspot.pipelines import default_deal_pipeline
from sandbox.hubspot.ratelimit import RateLimiter
from sandbox.hubspot.schema import PropertyCatalog
from sandbox.hubspot.stats import TrafficStats

if TYPE_CHECKING:
    from sandbox.hubspot.faults import FaultPolicy

Clock = Callable[[], datetime]

_OWNER_KEYS = frozenset(
    {
        "id",
        "email",
        "firstName",
        "lastName",
        "userId",
        "userIdIncludingInactive",
        "type",
        "archived",
        "createdAt",
        "updatedAt",
        "teams",
    }
)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One recorded HTTP exchange (``SandboxState.request_log``), for wire-format tests."""

    method: str
    path: str
    query: dict[str, list[str]]
    request_json: Any
    status: int
    response_json: Any
    response_headers: dict[str, str] = field(default_factory=dict)


class MergeLimitError(ValueError):
    """A merge would leave a record with more than :data:`MAX_MERGED_IDENTITIES` merged
    identities (HubSpot answers 414)."""


#: Object types HubSpot merges into a new record with a new id (``shared/notes/hubspot.md``:
#: "updated merge functionality for contacts and companies").
NEW_ID_MERGES: frozenset[str] = frozenset({"contacts", "companies"})


def portal_id_for(seed: int) -> int:
    """The account (portal) id of a sandbox seeded with ``seed``: eight digits, as HubSpot's
    look; one seed, one id, so two sandboxes seeded apart are two portals (the derivation is
    invented)."""
    return 10_000_000 + (seed * 7_919 + 1_234_567) % 89_999_999


class _Dataset(Protocol):
    """What :meth:`SandboxState.from_dataset` reads of ``sandbox.generator``'s ``Dataset``."""

    @property
    def objects(self) -> Mapping[str, list[Any]]: ...

    @property
    def owners(self) -> list[dict[str, Any]]: ...


class _Table:
    """Records of one object type: live and archived, each with ids in ascending order."""

    def __init__(self) -> None:
        self.live: dict[str, StoredObject] = {}
        self.live_order: list[int] = []
        self.archived: dict[str, StoredObject] = {}
        self.archived_order: list[int] = []
        self.merged_into: dict[str, str] = {}

    def add_live(self, record: StoredObject) -> None:
        self.live[record.id] = record
        _insert_sorted(self.live_order, int(record.id))

    def drop_live(self, record_id: str) -> StoredObject:
        record = self.live.pop(record_id)
        _remove_sorted(self.live_order, int(record_id))
        return record


def _insert_sorted(order: list[int], value: int) -> None:
    if not order or order[-1] < value:
        order.append(value)
    else:
        bisect.insort(order, value)


def _remove_sorted(order: list[int], value: int) -> None:
    index = bisect.bisect_left(order, value)
    if index < len(order) and order[index] == value:
        del order[index]


class SandboxState:
    """An emulated HubSpot account.

    ``clock`` returns the current time (aware, UTC) and stamps every write. Settings that tests
    change freely: ``search_lag`` (records modified less than this before ``clock()`` are not yet
    visible to search), ``search_cap`` (how deep search can page), ``record_exchanges`` /
    ``request_log``, ``validate_writes`` (refuse unknown properties and bad values like HubSpot),
    ``rate_limiter``, ``send_retry_after`` (add ``Retry-After`` to 429 answers; off by default:
    whether HubSpot sends it is not documented, and urllib3's default retry silently sleeps on
    it for GETs) and ``faults`` (a :class:`~sandbox.hubspot.faults.FaultPolicy`, the seam for
    injected failures). ``traffic`` counts the API requests served (see :meth:`stats`).

    ``rate_limit`` (requests per 10 s), ``search_rate_limit`` (search requests per second) and
    ``daily_limit`` set the limiter; None turns that limit's enforcement off while the headers
    are still sent; ``rate_limiter.write_lock_threshold`` (writes per second) makes heavy writes
    answer 423 Locked. ``seed`` drives the correlation ids and, unless ``portal_id`` is given,
    the account id ``/account-info/v3/details`` answers (:func:`portal_id_for`).

    Merges of contacts and companies work as HubSpot's do today: a new record with a new id
    (:meth:`merge`); a deal's primary keeps its id (the new answer is documented for contacts
    and companies only). ``legacy_merge`` brings back the older answer for every type, in which
    the primary keeps its id. ``pipelines`` holds each object type's pipelines
    (``Pipeline`` JSON; deals start with HubSpot's default one); :meth:`add_pipeline` adds one.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        rate_limit: int | None = 190,
        search_rate_limit: int | None = 5,
        daily_limit: int | None = 650_000,
        properties: PropertyCatalog | None = None,
        seed: int = 0,
        portal_id: int | None = None,
        legacy_merge: bool = False,
    ) -> None:
        self.clock = clock
        self.portal_id = portal_id if portal_id is not None else portal_id_for(seed)
        self.legacy_merge = legacy_merge
        self.lock = threading.RLock()
        self.search_lag = timedelta(0)
        self.search_cap = 10_000
        self.record_exchanges = False
        self.request_log: list[Exchange] = []
        self.validate_writes = True
        self.send_retry_after = False
        self.catalog = properties or PropertyCatalog()
        self.rate_limiter = RateLimiter(
            per_interval=rate_limit, search_per_second=search_rate_limit, daily=daily_limit
        )
        self.faults: FaultPolicy | None = None
        self.traffic = TrafficStats()
        self.owners: list[dict[str, Any]] = []
        self._tables: dict[str, _Table] = {t: _Table() for t in OBJECT_TYPES}
        # (type, id) -> to type -> ordered set of associated ids; kept symmetric.
        self._associations: dict[tuple[str, str], dict[str, dict[str, None]]] = {}
        self._emails: dict[str, set[str]] = {}
        self._next_id = 1001
        self._rng = random.Random(seed)
        #: Bumped by every write; lets readers cache what they derive from the records.
        self.version = 0
        #: The latest ``updated_at`` ever stored per type (never decreases).
        self.max_updated: dict[str, datetime] = {}
        #: Free for readers' caches keyed on ``version`` (search keeps its sorted matches here).
        self.derived_cache: dict[object, Any] = {}
        self.pipelines: dict[str, list[dict[str, Any]]] = {}
        self.set_pipelines("deals", [default_deal_pipeline()])

    # ----------------------------------------------------------------- pipelines

    def set_pipelines(self, object_type: str, pipelines: list[dict[str, Any]]) -> None:
        """Replace ``object_type``'s pipelines (``Pipeline`` JSON); for deals the options of
        ``dealstage`` and ``pipeline`` follow them, as HubSpot's property definitions do."""
        with self.lock:
            self.pipelines[object_type] = [dict(p) for p in pipelines]
            if object_type == "deals":
                live = [p for p in self.pipelines["deals"] if not p.get("archived")]
                self.catalog.set_options(
                    "deals",
                    "dealstage",
                    [(str(st["id"]), str(st["label"])) for p in live for st in p["stages"]],
                )
                self.catalog.set_options(
                    "deals", "pipeline", [(str(p["id"]), str(p["label"])) for p in live]
                )

    def add_pipeline(self, object_type: str, pipeline: dict[str, Any]) -> None:
        """Add one pipeline (``Pipeline`` JSON, e.g. :func:`sandbox.hubspot.pipelines.pipeline`)."""
        with self.lock:
            self.set_pipelines(object_type, [*self.pipelines.get(object_type, []), pipeline])

    # ----------------------------------------------------------------- limits

    @property
    def rate_limit(self) -> int | None:
        """Requests per rolling 10 s (None: not enforced); same as ``rate_limiter.per_interval``."""
        return self.rate_limiter.per_interval

    @rate_limit.setter
    def rate_limit(self, value: int | None) -> None:
        self.rate_limiter.per_interval = value

    @property
    def search_rate_limit(self) -> int | None:
        """Search requests per second (None: not enforced)."""
        return self.rate_limiter.search_per_second

    @search_rate_limit.setter
    def search_rate_limit(self, value: int | None) -> None:
        self.rate_limiter.search_per_second = value

    def stats(self) -> dict[str, Any]:
        """Request counts per route and outcome (:meth:`TrafficStats.snapshot`)."""
        return self.traffic.snapshot()

    def reset_stats(self) -> None:
        self.traffic.reset()

    # ----------------------------------------------------------------- seeding

    @classmethod
    def from_dataset(cls, dataset: _Dataset, clock: Clock, **settings: Any) -> SandboxState:
        """A state holding a generated dataset (``sandbox.generator.generate(...)``).

        Objects keep their ids, properties, timestamps and associations; an object with a true
        ``archived`` attribute goes to the archived listing; ids listed in a record's
        ``hs_merged_object_ids`` resolve to it. Owners are taken as HubSpot JSON. A dataset
        with ``pipelines`` (object type → ``Pipeline`` JSON) sets them; one with a ground truth
        seed gives the account id (:func:`portal_id_for`) unless ``portal_id`` is given.
        """
        truth = getattr(dataset, "truth", None)
        if isinstance(getattr(truth, "seed", None), int):
            settings.setdefault("portal_id", portal_id_for(truth.seed))  # type: ignore[union-attr]
        state = cls(clock, **settings)
        for object_type, pipelines in (getattr(dataset, "pipelines", None) or {}).items():
            state.set_pipelines(object_type, list(pipelines))
        with state.lock:
            for object_type, objects in dataset.objects.items():
                if object_type not in state._tables:
                    continue
                for obj in objects:
                    state._insert(
                        object_type,
                        str(obj.id),
                        dict(obj.properties),
                        obj.created_at,
                        obj.updated_at,
                    )
            for object_type, objects in dataset.objects.items():
                for obj in objects:
                    for to_type, ids in (obj.associations or {}).items():
                        for to_id in ids:
                            state._link(object_type, str(obj.id), to_type, str(to_id))
            for table in state._tables.values():
                for record in table.live.values():
                    for merged_id in record.merged_ids:
                        if merged_id not in table.live:
                            table.merged_into.setdefault(merged_id, record.id)
            for object_type, objects in dataset.objects.items():
                for obj in objects:
                    if getattr(obj, "archived", False):
                        state.archive(object_type, str(obj.id), at=obj.updated_at)
            for owner in dataset.owners:
                state.add_owner(owner)
        return state

    def add_owner(self, owner: Mapping[str, Any]) -> None:
        """Add an owner as ``GET /crm/v3/owners/`` answers it (``type`` defaults to PERSON)."""
        now = iso(self.clock())
        shaped = {k: v for k, v in owner.items() if k in _OWNER_KEYS}
        for key in ("createdAt", "updatedAt"):
            value = shaped.get(key)
            shaped[key] = iso(value) if isinstance(value, datetime) else (value or now)
        shaped["id"] = str(shaped["id"])
        shaped.setdefault("type", "PERSON")
        shaped.setdefault("archived", False)
        with self.lock:
            self.owners.append(shaped)

    # ----------------------------------------------------------------- writes

    def create(
        self,
        object_type: str,
        properties: Mapping[str, str | None],
        associations: Mapping[str, list[str]] | None = None,
        created_at: datetime | None = None,
    ) -> str:
        """Create a record and return its new id (numeric, unique across object types).

        No validation: this seeds data as it is, duplicates and dirty values included.
        """
        with self.lock:
            moment = created_at or self.clock()
            record_id = str(self._next_id)
            self._insert(object_type, record_id, dict(properties), moment, moment)
            for to_type, ids in (associations or {}).items():
                for to_id in ids:
                    self._link(object_type, record_id, to_type, to_id)
            return record_id

    def update(
        self,
        object_type: str,
        record_id: str,
        properties: Mapping[str, str | None],
        *,
        source: ChangeSource = APP_EDIT,
    ) -> None:
        """Set properties (None clears) and bump the last-modified time to ``clock()``.

        Each value lands in the property's history with ``source``: by default a person in the
        app (``ChangeSource.user(id)`` names them); the HTTP API passes its own. ``record_id``
        may be a merged-away id (it resolves to the survivor). Raises KeyError for an unknown id.
        """
        with self.lock:
            record = self._live_record(object_type, record_id)
            self._unindex_email(record)
            moment = self.clock()
            for name, value in properties.items():
                record.record_change(name, value, moment, source)
                record.properties[name] = None if value == "" else value
            record.touch(moment)
            record.stamp()
            self._index_email(record)
            self._changed(record)

    def archive(self, object_type: str, record_id: str, *, at: datetime | None = None) -> None:
        """Move a live record to the archived listing (``archivedAt`` = ``at`` or ``clock()``)."""
        with self.lock:
            table = self._table(object_type)
            resolved = self.resolve(object_type, record_id)
            if resolved is None:
                raise KeyError(record_id)
            record = table.drop_live(resolved)
            self._unindex_email(record)
            moment = at or self.clock()
            record.archived = True
            record.archived_at = moment
            record.touch(moment)
            table.archived[record.id] = record
            _insert_sorted(table.archived_order, int(record.id))
            self._changed(record)

    def merge(self, object_type: str, primary_id: str, merged_id: str) -> str:
        """Merge ``merged_id`` into ``primary_id`` as HubSpot does today; return the survivor.

        The survivor is a new record with a new id (HubSpot's "updated merge functionality for
        contacts and companies", ``shared/notes/hubspot.md``): the primary's values, the
        properties it lacks filled from the merged record (on contacts the merged e-mail is
        added to ``hs_additional_emails``), the primary's creation time and field history
        (invented: HubSpot documents neither). Both old ids, and every id either had absorbed,
        are listed in ``hs_merged_object_ids`` and from then on resolve to it; the old records
        leave the live listing and search, and are not archived either. Associations of both
        move to the survivor. For deals, and for every type with ``legacy_merge``, the primary
        survives under its own id instead, as older portals answered.

        Raises KeyError for an unknown id, ValueError when both ids are the same record,
        :class:`MergeLimitError` when the survivor would hold more than 250 merged identities.
        """
        with self.lock:
            table = self._table(object_type)
            keep = self.resolve(object_type, primary_id)
            gone = self.resolve(object_type, merged_id)
            if keep is None or gone is None:
                raise KeyError(primary_id if keep is None else merged_id)
            if keep == gone:
                raise ValueError("cannot merge a record with itself")
            primary, merged = table.live[keep], table.live[gone]
            new_id = not self.legacy_merge and object_type in NEW_ID_MERGES
            identities = [*primary.merged_ids, *merged.merged_ids, merged.id]
            if new_id:
                identities.insert(len(primary.merged_ids), primary.id)
            if len(identities) > MAX_MERGED_IDENTITIES:
                raise MergeLimitError(
                    f"the merged record would hold {len(identities)} merged identities; "
                    f"HubSpot allows at most {MAX_MERGED_IDENTITIES}"
                )
            table.drop_live(gone)
            self._unindex_email(primary)
            self._unindex_email(merged)
            survivor = self._successor(primary) if new_id else primary
            for name, value in merged.properties.items():
                if value not in (None, "") and survivor.properties.get(name) in (None, ""):
                    survivor.properties[name] = value
            if object_type == "contacts":
                _absorb_emails(survivor, merged)
            survivor.merged_ids = identities
            for old in (keep, gone) if new_id else (gone,):
                table.merged_into[old] = survivor.id
                for to_type, ids in self._associations.pop((object_type, old), {}).items():
                    for to_id in list(ids):
                        self._unlink(object_type, old, to_type, to_id)
                        self._link(object_type, survivor.id, to_type, to_id)
            survivor.touch(self.clock())
            survivor.stamp()
            self._index_email(survivor)
            self._changed(survivor)
            return survivor.id

    def _successor(self, primary: StoredObject) -> StoredObject:
        """A new live record under a new id taking over ``primary`` (which leaves the live
        listing): its values, creation time and history."""
        table = self._table(primary.object_type)
        table.drop_live(primary.id)
        new_id = str(self._next_id)
        self._next_id += 1
        successor = StoredObject(
            object_type=primary.object_type,
            id=new_id,
            properties=dict(primary.properties),
            created_at=primary.created_at,
            updated_at=primary.updated_at,
            history={name: list(entries) for name, entries in primary.history.items()},
        )
        table.add_live(successor)
        return successor

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        """Associate two records (both directions, HubSpot's default association type)."""
        with self.lock:
            self._link(from_type, from_id, to_type, to_id)

    # ----------------------------------------------------------------- reads

    def resolve(self, object_type: str, record_id: str) -> str | None:
        """The live id ``record_id`` stands for (itself, or its merge survivor), else None."""
        table = self._table(object_type)
        seen = 0
        current = record_id
        while current in table.merged_into and seen < 1000:
            current = table.merged_into[current]
            seen += 1
        return current if current in table.live else None

    def absorbed(self, object_type: str, record_id: str) -> bool:
        """Whether ``record_id`` was merged away: it resolves to another live record."""
        with self.lock:
            resolved = self.resolve(object_type, record_id)
            return resolved is not None and resolved != record_id

    def get(
        self, object_type: str, record_id: str, *, archived: bool = False
    ) -> StoredObject | None:
        """The live record (merged ids resolve), or with ``archived`` the archived one."""
        with self.lock:
            table = self._table(object_type)
            if archived:
                return table.archived.get(record_id)
            resolved = self.resolve(object_type, record_id)
            return table.live[resolved] if resolved is not None else None

    def page(
        self, object_type: str, after: int | None, limit: int, *, archived: bool = False
    ) -> tuple[list[StoredObject], int | None]:
        """Records with id >= ``after`` in ascending id order, and the next page's start."""
        with self.lock:
            table = self._table(object_type)
            order = table.archived_order if archived else table.live_order
            records = table.archived if archived else table.live
            start = bisect.bisect_left(order, after) if after is not None else 0
            ids = order[start : start + limit + 1]
            page = [records[str(i)] for i in ids[:limit]]
            return page, (ids[limit] if len(ids) > limit else None)

    def live_records(self, object_type: str) -> Iterator[StoredObject]:
        """Every live record of a type (callers hold ``lock`` while iterating)."""
        return iter(self._table(object_type).live.values())

    def count(self, object_type: str, *, archived: bool = False) -> int:
        table = self._table(object_type)
        return len(table.archived if archived else table.live)

    def associated(self, object_type: str, record_id: str, to_type: str) -> list[str]:
        """Ids of ``to_type`` records associated with the record, in association order."""
        with self.lock:
            return list(self._associations.get((object_type, record_id), {}).get(to_type, {}))

    def contacts_with_email(self, email: str) -> set[str]:
        """Live contacts whose e-mail or additional e-mails include ``email`` (any case)."""
        with self.lock:
            return set(self._emails.get(email.strip().lower(), set()))

    def correlation_id(self) -> str:
        """A fresh correlation id (UUID v4 from the state's seeded generator)."""
        with self.lock:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {t: len(table.live) for t, table in self._tables.items()}

    # ----------------------------------------------------------------- internals

    def _table(self, object_type: str) -> _Table:
        try:
            return self._tables[object_type]
        except KeyError:
            raise KeyError(f"unknown object type {object_type!r}") from None

    def _live_record(self, object_type: str, record_id: str) -> StoredObject:
        resolved = self.resolve(object_type, record_id)
        if resolved is None:
            raise KeyError(record_id)
        return self._tables[object_type].live[resolved]

    def _insert(
        self,
        object_type: str,
        record_id: str,
        properties: dict[str, str | None],
        created_at: datetime,
        updated_at: datetime,
    ) -> StoredObject:
        table = self._table(object_type)
        record = StoredObject(
            object_type=object_type,
            id=record_id,
            properties={k: (None if v == "" else v) for k, v in properties.items()},
            created_at=created_at,
            updated_at=updated_at,
        )
        merged = record.properties.get("hs_merged_object_ids")
        if merged:
            record.merged_ids = [part for part in merged.split(";") if part]
        record.properties.pop(last_modified_property(object_type), None)
        record.stamp()
        table.add_live(record)
        self._index_email(record)
        self._next_id = max(self._next_id, int(record_id) + 1)
        self._changed(record)
        return record

    def _changed(self, record: StoredObject) -> None:
        self.version += 1
        latest = self.max_updated.get(record.object_type)
        if latest is None or record.updated_at > latest:
            self.max_updated[record.object_type] = record.updated_at

    def _link(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        self._associations.setdefault((from_type, from_id), {}).setdefault(to_type, {})[to_id] = (
            None
        )
        self._associations.setdefault((to_type, to_id), {}).setdefault(from_type, {})[from_id] = (
            None
        )

    def _unlink(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        self._associations.get((from_type, from_id), {}).get(to_type, {}).pop(to_id, None)
        self._associations.get((to_type, to_id), {}).get(from_type, {}).pop(from_id, None)

    def _index_email(self, record: StoredObject) -> None:
        if record.object_type == "contacts":
            for email in _emails_of(record):
                self._emails.setdefault(email, set()).add(record.id)

    def _unindex_email(self, record: StoredObject) -> None:
        if record.object_type == "contacts":
            for email in _emails_of(record):
                self._emails.get(email, set()).discard(record.id)


def association_type_id(from_type: str, to_type: str) -> int | None:
    """HubSpot's default association type id between two object types, if one exists."""
    return ASSOCIATION_TYPE_IDS.get((from_type, to_type))


def _emails_of(record: StoredObject) -> list[str]:
    found = [record.properties.get("email") or ""]
    found.extend((record.properties.get("hs_additional_emails") or "").split(";"))
    return [email.strip().lower() for email in found if email.strip()]


def _absorb_emails(primary: StoredObject, merged: StoredObject) -> None:
    primary_email = (primary.properties.get("email") or "").lower()
    extra = [e for e in (primary.properties.get("hs_additional_emails") or "").split(";") if e]
    for email in _emails_of(merged):
        if email != primary_email and email not in {e.lower() for e in extra}:
            extra.append(email)
    if extra:
        primary.properties["hs_additional_emails"] = ";".join(extra)
