"""The completeness audit: does the store still hold what the CRM holds?

Incremental syncing trusts the CRM's last-modified times; a record the CRM's search showed late,
or a deletion never listed, leaves a silent gap that no run reports. On its own schedule per
object type (:class:`~syncd.service.settings.CompletenessSettings`), under the source's lease,
three checks compare the store with the CRM below the cursor (what syncing claims to have read),
less a settling margin (the CRM's search shows changes a little late):

- **counts**: live records per last-modified bucket, the CRM's count (:meth:`Connector.count`,
  HubSpot's search totals) against the store's. Buckets are a day, then twice as long each step
  back, then everything older. Only records the store *misses* count as drift (CRM above
  store): a record edited or deleted since the last pull leaves its old bucket in the CRM but
  not yet in the store, which is not a gap.
- **sample**: random live records of the store (the randomness is passed in) read again from
  the CRM (:meth:`Writer.read`): one the CRM changed before the cursor that the store does not
  have, or whose values differ at the same last-modified time, is wrong.
- **archived**: the CRM's archived ids (:meth:`Connector.archived_ids`) that the store still
  holds live are missed deletions.

Each check is stored (:class:`~state.base.CompletenessCheck`, field names and ids only, never
values: they hold personal data). A drift over ``max_drift_share`` of at least
``min_drift_records`` records fails the check; the service turns the latest checks into one
:attr:`~syncd.service.incidents.Cause.COMPLETENESS` symptom or recovery per source.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from connectors.base import Connector, Writer
from model.errors import SourceBusyError
from model.records import Record
from state.base import CompletenessCheck, StateStore
from syncd.config import Config, SourceConfig
from syncd.logging import get_logger
from syncd.service.incidents import Cause, Event, Recovery, Symptom
from syncd.service.settings import CompletenessSettings

log = get_logger(__name__)
Clock = Callable[[], datetime]
ConnectorFactory = Callable[[Config, str, SourceConfig], Connector]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Bucket spans back from the audited end: a day, doubling, then everything older.
SPANS = tuple(timedelta(days=2**n) for n in range(10))
COUNTS, SAMPLE, ARCHIVED = "counts", "sample", "archived"
#: Ids listed in a check's details, at most.
SHOWN = 20


def bucket_edges(end: datetime) -> list[datetime]:
    """Ascending edges of the count buckets below ``end``."""
    return [EPOCH, *(end - span for span in reversed(SPANS)), end]


@dataclass(frozen=True, slots=True)
class Scope:
    """What one object type's checks compare: the store's records of ``source`` and
    ``object_type`` last modified before ``end``, with the CRM's, at ``now``."""

    store: StateStore
    source: str
    object_type: str
    end: datetime
    settings: CompletenessSettings
    now: datetime

    def check(
        self, kind: str, drift: int, total: int, details: Mapping[str, object]
    ) -> CompletenessCheck:
        """The check of ``kind`` that found ``drift`` of ``total`` records wrong."""
        return CompletenessCheck(
            self.source,
            self.object_type,
            kind,
            self.now,
            ok=not _failed(drift, total, self.settings),
            drift=drift / total if total else 0.0,
            details=details,
        )

    def live(self) -> int:
        """How many live records the store holds below ``end``."""
        return sum(self.store.count_live(self.source, self.object_type, [EPOCH, self.end]))


def _failed(drift: int, total: int, settings: CompletenessSettings) -> bool:
    share = drift / total if total else 0.0
    return drift >= settings.min_drift_records and share > settings.max_drift_share


def count_check(scope: Scope, connector: Connector) -> CompletenessCheck | None:
    """The **counts** check (module docstring); ``None`` when the CRM cannot count."""
    edges = bucket_edges(scope.end)
    crm: list[int] = []
    for lo, hi in itertools.pairwise(edges):
        counted = connector.count(scope.object_type, lo, hi)
        if counted is None:
            return None
        crm.append(counted)
    ours = scope.store.count_live(scope.source, scope.object_type, edges)
    missing = sum(max(0, c - o) for c, o in zip(crm, ours, strict=True))
    buckets = [
        {"from": lo.isoformat(), "to": hi.isoformat(), "crm": c, "store": o}
        for (lo, hi), c, o in zip(itertools.pairwise(edges), crm, ours, strict=True)
        if c or o
    ]
    details = {"crm": sum(crm), "store": sum(ours), "missing": missing, "buckets": buckets}
    return scope.check(COUNTS, missing, sum(crm), details)


def _same(a: str | None, b: str | None) -> bool:
    return (a or "") == (b or "")


def sample_check(scope: Scope, writer: Writer, rng: random.Random) -> CompletenessCheck | None:
    """The **sample** check (module docstring); ``None`` when there is nothing to sample."""
    total = scope.live()
    size = min(scope.settings.sample_size, total)
    if not size:
        return None
    positions = rng.sample(range(total), size)
    end = scope.end
    stored = scope.store.live_records_at(scope.source, scope.object_type, end, positions)
    fields = sorted({name for record in stored for name in record.properties})
    current = writer.read(scope.object_type, [r.id for r in stored], fields)
    wrong: list[dict[str, object]] = []
    changed = gone = 0
    for record in stored:
        found = current.get(record.id)
        if found is None or found.id != record.id:
            gone += 1  # deleted or merged since: the archived check and the next pull see it
            continue
        if found.updated_at > record.updated_at:
            if found.updated_at < end:  # changed before the cursor, yet the store lacks it
                wrong.append({"id": record.id, "missed_update": found.updated_at.isoformat()})
            else:
                changed += 1
            continue
        differ = _differing(record, found)
        if differ:
            wrong.append({"id": record.id, "fields": differ})
    details = {
        "sampled": len(stored),
        "wrong": wrong[:SHOWN],
        "wrong_count": len(wrong),
        "changed_since": changed,
        "gone": gone,
    }
    return scope.check(SAMPLE, len(wrong), len(stored), details)


def _differing(stored: Record, current: Record) -> list[str]:
    """Fields both carry whose values differ (field names only)."""
    return sorted(
        name
        for name, value in stored.properties.items()
        if name in current.properties and not _same(value, current.properties[name])
    )


def archived_check(scope: Scope, connector: Connector) -> CompletenessCheck | None:
    """The **archived** check (module docstring); ``None`` when the CRM cannot list them."""
    archived = connector.archived_ids(scope.object_type, scope.end)
    if archived is None:
        return None
    live = sorted(scope.store.live_among(scope.source, scope.object_type, archived))
    details = {"archived_in_crm": len(archived), "live_in_store": live[:SHOWN]}
    return scope.check(ARCHIVED, len(live), scope.live(), details)


@dataclass(frozen=True, slots=True)
class Due:
    """What of one object type is due: the counts and sample checks, the archived check."""

    object_type: str
    counts: bool
    archived: bool


class Auditor:
    """Runs a source's due checks under its lease, and says what they mean for incidents."""

    def __init__(
        self,
        config: Config,
        store: StateStore,
        *,
        connector_factory: ConnectorFactory,
        clock: Clock,
        rng: random.Random,
        new_id: Callable[[], str],
        lease_ttl: float | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.connector_factory = connector_factory
        self.clock = clock
        self.rng = rng
        self.new_id = new_id
        self.lease_ttl = lease_ttl
        #: (source, object type) the CRM cannot audit (it can neither count nor list them).
        self._unsupported: set[tuple[str, str]] = set()

    def due(self, source: str, now: datetime) -> list[Due]:
        """The object types of ``source`` with a check due at ``now``."""
        settings = self.config.sources[source].completeness
        if not settings.enabled:
            return []
        found = []
        for object_type in self.config.sources[source].object_types:
            if (source, object_type) in self._unsupported:
                continue
            latest: dict[str, datetime] = {}
            for check in self.store.completeness(source, object_type, limit=20):
                latest.setdefault(check.kind, check.audited_at)
            last_counts = min(latest.get(COUNTS, EPOCH), latest.get(SAMPLE, EPOCH))
            counts = now - last_counts >= timedelta(hours=settings.every_hours)
            archived = now - latest.get(ARCHIVED, EPOCH) >= timedelta(
                hours=settings.archived_every_hours
            )
            if counts or archived:
                found.append(Due(object_type, counts, archived))
        return found

    def audit(self, source: str) -> list[CompletenessCheck]:
        """Run ``source``'s due checks under its lease (none when another command holds it)."""
        now = self.clock()
        due = self.due(source, now)
        if not due:
            return []
        audit_id = f"audit-{self.new_id()}"
        with structlog.contextvars.bound_contextvars(run_id=audit_id, source=source):
            try:
                lease = self.store.acquire_source(source, audit_id, now, ttl_seconds=self.lease_ttl)
            except SourceBusyError:
                log.info("completeness audit postponed: the source is busy")
                return []
            try:
                return self._run(source, due)
            finally:
                self.store.release_source(lease)

    def _run(self, source: str, due: Sequence[Due]) -> list[CompletenessCheck]:
        config = self.config.sources[source]
        settings = config.completeness
        connector = self.connector_factory(self.config, source, config)
        checks: list[CompletenessCheck] = []
        try:
            for item in due:
                cursor = self.store.get_cursor(source, item.object_type).updated_at
                if cursor is None:
                    continue  # never pulled in full: nothing to compare yet
                end = cursor - timedelta(minutes=settings.settle_minutes)
                scope = Scope(self.store, source, item.object_type, end, settings, self.clock())
                made: list[CompletenessCheck | None] = []
                if item.counts:
                    counted = count_check(scope, connector)
                    made.append(counted)
                    if counted is not None and isinstance(connector, Writer):
                        made.append(sample_check(scope, connector, self.rng))
                if item.archived:
                    made.append(archived_check(scope, connector))
                if not any(made):
                    self._unsupported.add((source, item.object_type))
                    log.info(
                        "no completeness audit of this object type", object_type=item.object_type
                    )
                for check in made:
                    if check is None:
                        continue
                    self.store.save_completeness(check)
                    checks.append(check)
                    (log.info if check.ok else log.warning)(
                        "completeness check",
                        source=source,
                        object_type=check.object_type,
                        check=check.kind,
                        ok=check.ok,
                        drift=round(check.drift, 4),
                    )
        finally:
            connector.close()
        return checks

    def assess(self, source: str, now: datetime) -> Event:
        """A :attr:`Cause.COMPLETENESS` symptom when the latest check of any object type and
        kind failed, else its recovery."""
        latest: dict[tuple[str, str], CompletenessCheck] = {}
        for check in self.store.completeness(source, limit=200):
            latest.setdefault((check.object_type, check.kind), check)
        failed = [c for c in latest.values() if not c.ok]
        if not failed:
            return Recovery(source, Cause.COMPLETENESS, now)
        return Symptom(source, Cause.COMPLETENESS, "; ".join(describe(c) for c in failed), now)


def describe(check: CompletenessCheck) -> str:
    """A failed check in one sentence (numbers and field names, no values)."""
    details: Mapping[str, object] = check.details
    if check.kind == COUNTS:
        return (
            f"{check.object_type}: the store misses {details.get('missing')} of the "
            f"{details.get('crm')} records the CRM counts below the cursor"
        )
    if check.kind == SAMPLE:
        return (
            f"{check.object_type}: {details.get('wrong_count')} of {details.get('sampled')} "
            "records read again differ from the store"
        )
    live = details.get("live_in_store")
    count = len(live) if isinstance(live, list) else 0
    return f"{check.object_type}: {count} records archived in the CRM are live in the store"
