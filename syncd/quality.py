"""Data quality of one source: pure figures from a snapshot and the plan made from it (the
service's own health, its liveness endpoints, is ``syncd/service/http.py``).

``health(snapshot, changes)`` counts, per object type of the snapshot (``owners`` aside) and for
the whole source (``all``):

- ``records``: live records.
- ``duplicates``: records in a planned merge or a review pair (primary and absorbed);
  ``duplicate_share`` = duplicates ÷ records (0 without records).
- ``invalid_emails`` / ``invalid_phones``: flags of policy ``normalize`` on an e-mail field
  (``email``, ``additional_emails``) / a phone field (``phone``, ``mobilephone``);
  ``email_fixes`` / ``phone_fixes``: normalize updates of those fields.
- ``missing_required``: records missing at least one required field (flags or tasks of policy
  ``required``); ``missing_required_fields``: the flags themselves (one per field).
- ``open_without_next_action``: tasks the ``follow_up`` policy plans (open records with no
  open task).
- ``stale``: records the ``retire`` policy flags, tags or archives.
- ``score``: the records' mean health score, 0-100 (100 when there are no records).

**Per-record score** = 100 * (0.4·completeness + 0.2·validity + 0.2·freshness +
0.2·uniqueness), each part in 0..1:

- completeness: the share of the type's key fields (:data:`KEY_FIELDS`; for other types only
  the required fields) that are non-empty, where every required field the plan flags as
  missing counts as one more empty key field; a record of a ``required`` task counts 0.5 off
  its share (its missing fields are not itemized);
- validity: 1, minus 0.5 per ``normalize``/``tags`` flag on the record, at least 0;
- freshness: 0 when ``retire`` marked the record stale, else 1;
- uniqueness: 0 when the record is in a planned merge or review, else 1.

The changes are normally the plan's (composed) changes. Metric values are floats so they go
straight into :meth:`state.base.StateStore.save_health`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from model.changes import Archive, Change, CreateTask, Flag, Merge, Snapshot, Update
from model.records import Record
from syncd.memo import PerRecord

ALL: Final = "all"
EMAIL_FIELDS: Final = frozenset({"email", "additional_emails"})
PHONE_FIELDS: Final = frozenset({"phone", "mobilephone"})
#: Fields whose presence makes a record useful, per object type (completeness).
KEY_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "contacts": (
        "firstname",
        "lastname",
        "email",
        "phone",
        "company",
        "jobtitle",
        "city",
        "country",
        "owner_id",
    ),
    "companies": ("name", "domain", "phone", "city", "country", "industry", "owner_id"),
    "deals": ("dealname", "amount", "stage", "closedate", "owner_id"),
    "tasks": ("subject", "status", "due", "owner_id"),
}
WEIGHTS: Final = {"completeness": 0.4, "validity": 0.2, "freshness": 0.2, "uniqueness": 0.2}
_COMPLETENESS, _VALIDITY, _FRESHNESS, _UNIQUENESS = (
    WEIGHTS[k] for k in ("completeness", "validity", "freshness", "uniqueness")
)
#: Metric names in the order reports show them.
METRICS: Final = (
    "records",
    "score",
    "duplicates",
    "duplicate_share",
    "invalid_emails",
    "invalid_phones",
    "email_fixes",
    "phone_fixes",
    "missing_required",
    "missing_required_fields",
    "open_without_next_action",
    "stale",
)


@dataclass(frozen=True, slots=True)
class TypeHealth:
    """The figures of one object type (or of the whole source, ``object_type == "all"``)."""

    object_type: str
    records: int = 0
    duplicates: int = 0
    invalid_emails: int = 0
    invalid_phones: int = 0
    email_fixes: int = 0
    phone_fixes: int = 0
    missing_required: int = 0
    missing_required_fields: int = 0
    open_without_next_action: int = 0
    stale: int = 0
    score: float = 100.0

    @property
    def duplicate_share(self) -> float:
        """Duplicates ÷ records (0 without records)."""
        return self.duplicates / self.records if self.records else 0.0

    def metrics(self) -> dict[str, float]:
        """Every metric of :data:`METRICS` as a float."""
        return {name: float(getattr(self, name)) for name in METRICS}


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """Health of one source at ``measured_at``: per object type, and ``overall``."""

    source: str
    measured_at: datetime
    by_type: Mapping[str, TypeHealth]
    overall: TypeHealth
    #: Per object type, record id → score (0-100), for drill-downs.
    scores: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def metrics(self) -> dict[str, dict[str, float]]:
        """``{object_type: {metric: value}, "all": {...}}``: the form the state store keeps."""
        result = {t: h.metrics() for t, h in sorted(self.by_type.items())}
        result[ALL] = self.overall.metrics()
        return result


@dataclass
class _Tally:
    """Findings about records of one type, keyed by record id."""

    duplicates: set[str] = field(default_factory=set)
    invalid: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    missing_fields: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    required_tasks: set[str] = field(default_factory=set)
    stale: set[str] = field(default_factory=set)
    counts: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))


def _tally(changes: Iterable[Change]) -> dict[str, _Tally]:
    tallies: defaultdict[str, _Tally] = defaultdict(_Tally)
    for change in changes:
        t = tallies[change.object_type]
        if isinstance(change, Merge):
            t.duplicates.update((change.primary_id, *change.merged_ids))
        elif isinstance(change, Flag):
            _tally_flag(t, change)
        elif isinstance(change, Update):
            if change.policy == "normalize" and change.field in EMAIL_FIELDS:
                t.counts["email_fixes"] += 1
            elif change.policy == "normalize" and change.field in PHONE_FIELDS:
                t.counts["phone_fixes"] += 1
            elif change.policy == "retire":
                t.stale.add(change.record_id)
        elif isinstance(change, CreateTask):
            if change.policy == "follow_up":
                t.counts["open_without_next_action"] += 1
            elif change.policy == "required":
                t.required_tasks.add(change.record_id)
        elif isinstance(change, Archive) and change.policy == "retire":
            t.stale.add(change.record_id)
    return dict(tallies)


def _tally_flag(t: _Tally, flag: Flag) -> None:
    if flag.policy == "required":
        t.missing_fields[flag.record_id].add(flag.field or "")
        t.counts["missing_required_fields"] += 1
    elif flag.policy == "retire":
        t.stale.add(flag.record_id)
    elif flag.policy in {"normalize", "tags"}:
        t.invalid[flag.record_id] += 1
        if flag.policy == "normalize" and flag.field in EMAIL_FIELDS:
            t.counts["invalid_emails"] += 1
        elif flag.policy == "normalize" and flag.field in PHONE_FIELDS:
            t.counts["invalid_phones"] += 1


def key_fields_filled(record: Record) -> int:
    """How many of its type's :data:`KEY_FIELDS` ``record`` fills (its own: kept by record
    between a service's cycles, :class:`syncd.memo.PerRecord`)."""
    props = record.properties
    return sum(1 for f in KEY_FIELDS.get(record.object_type, ()) if (props.get(f) or "").strip())


def record_score(record: Record, tally: _Tally, filled: int | None = None) -> float:
    """One record's health score, 0-100 (see the module docstring); ``filled``: its
    :func:`key_fields_filled`, when known."""
    # once per record of every plan: the parts spelled out, in WEIGHTS' order (the same sum)
    key = KEY_FIELDS.get(record.object_type, ())
    flagged = tally.missing_fields.get(record.id)
    present = key_fields_filled(record) if filled is None else filled
    props = record.properties
    if flagged:  # its flagged fields not among the key fields count as key fields too
        extra = [f for f in flagged if f not in key]
        present += sum(1 for f in extra if (props.get(f) or "").strip())
        fields = len(key) + len(extra)
    else:
        fields = len(key)
    completeness = present / fields if fields else 1.0
    record_id = record.id
    if record_id in tally.required_tasks:
        completeness = max(0.0, completeness - 0.5)
    validity = max(0.0, 1.0 - 0.5 * tally.invalid.get(record_id, 0))
    freshness = 0.0 if record_id in tally.stale else 1.0
    uniqueness = 0.0 if record_id in tally.duplicates else 1.0
    return _weighed(completeness, validity, freshness, uniqueness)


def _weighed(completeness: float, validity: float, freshness: float, uniqueness: float) -> float:
    return 100.0 * (
        _COMPLETENESS * completeness
        + _VALIDITY * validity
        + _FRESHNESS * freshness
        + _UNIQUENESS * uniqueness
    )


def _unflagged_scores(object_type: str) -> list[float]:
    """The score of a record of ``object_type`` that no change names, by how many of its
    :data:`KEY_FIELDS` it fills: :func:`record_score` of such a record."""
    key = len(KEY_FIELDS.get(object_type, ()))
    return [_weighed(n / key if key else 1.0, 1.0, 1.0, 1.0) for n in range(key + 1)]


def _type_health(
    object_type: str, records: Sequence[Record], tally: _Tally, scores: Sequence[float]
) -> TypeHealth:
    ids = {r.id for r in records}
    missing = (set(tally.missing_fields) | tally.required_tasks) & ids
    return TypeHealth(
        object_type=object_type,
        records=len(records),
        duplicates=len(tally.duplicates & ids),
        invalid_emails=tally.counts["invalid_emails"],
        invalid_phones=tally.counts["invalid_phones"],
        email_fixes=tally.counts["email_fixes"],
        phone_fixes=tally.counts["phone_fixes"],
        missing_required=len(missing),
        missing_required_fields=tally.counts["missing_required_fields"],
        open_without_next_action=tally.counts["open_without_next_action"],
        stale=len(tally.stale & ids),
        score=sum(scores) / len(scores) if scores else 100.0,
    )


def health(
    snapshot: Snapshot, changes: Sequence[Change], filled: PerRecord[int] | None = None
) -> SourceHealth:
    """The health of ``snapshot``'s source given the ``changes`` planned for it (pure);
    ``filled``: :func:`key_fields_filled` kept by record from the last call (a service's)."""
    tallies = _tally(changes)
    by_type: dict[str, TypeHealth] = {}
    scores: dict[str, dict[str, float]] = {}
    for object_type in sorted(snapshot.records):
        if object_type == "owners":
            continue
        records = snapshot.of(object_type)
        tally = tallies.get(object_type, _Tally())
        counts = (
            filled.values(object_type, records)
            if filled is not None
            else [key_fields_filled(r) for r in records]
        )
        # most records no change names: their score is one of a few, by key fields filled
        named = {
            *tally.duplicates,
            *tally.invalid,
            *tally.missing_fields,
            *tally.required_tasks,
            *tally.stale,
        }
        unflagged = _unflagged_scores(object_type)
        scores[object_type] = {
            r.id: record_score(r, tally, n) if r.id in named else unflagged[n]
            for r, n in zip(records, counts, strict=True)
        }
        by_type[object_type] = _type_health(
            object_type, records, tally, list(scores[object_type].values())
        )
    parts = by_type.values()
    total = sum(h.records for h in parts)
    overall = TypeHealth(
        object_type=ALL,
        records=total,
        duplicates=sum(h.duplicates for h in parts),
        invalid_emails=sum(h.invalid_emails for h in parts),
        invalid_phones=sum(h.invalid_phones for h in parts),
        email_fixes=sum(h.email_fixes for h in parts),
        phone_fixes=sum(h.phone_fixes for h in parts),
        missing_required=sum(h.missing_required for h in parts),
        missing_required_fields=sum(h.missing_required_fields for h in parts),
        open_without_next_action=sum(h.open_without_next_action for h in parts),
        stale=sum(h.stale for h in parts),
        score=(sum(h.score * h.records for h in parts) / total) if total else 100.0,
    )
    return SourceHealth(snapshot.source, snapshot.now, by_type, overall, scores)
