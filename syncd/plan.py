"""The plan: the changes of all policies for one source, composed, ordered, with an id.

What the policies see (``after_merges``): the policy that decides merges (dedupe) runs on the
snapshot as pulled; the others run on the records as they will be once its merges are applied:

- A record that a merge absorbs is gone. The primary (the survivor) carries the merge's
  ``field_values`` over its own properties, the associations of every record of its cluster
  (its own first), and the absorbed ids (and the ids they had absorbed) in ``merged_ids``.
- An association that names an absorbed record names its survivor instead: one absorbed by
  this plan, or one the CRM merged already (listed in a live record's ``merged_ids``), whose
  associated records (a task) were not pulled again since.

So a survivor whose duplicate has an open task gets no follow-up task, and a check sees the
record that will exist. The plan still names records by their ids when the plan was made.

Composition rules (``compose``):

- A record that a merge absorbs disappears, so changes aimed at it do not go to the CRM. An update
  of a field whose value the survivor inherits (``Merge.field_values``) lands on the survivor:
  the merge carries the normalized value. Other updates of an absorbed record are dropped.
- Flags and archives of an absorbed record are dropped with it.
- A follow-up task for an absorbed record is dropped: the survivor keeps its own values and
  tasks, and the follow-up policy already proposed a task for the survivor if it needs one.
- Review pairs (``kind == "review"``) change nothing, so nothing composes with them.
- One field of one record is written once: when two policies propose a value for the same
  field (normalize and tags both fixing ``state``), the first policy in order wins and the
  later proposal is dropped. A merge's survivor value counts as a write of the primary's field:
  an update of that field whose ``old`` is the survivor value (made from the records after the
  merges) refines it and is carried into ``field_values``; one with another ``old`` is dropped.
- A value the CRM keeps unique (``unique``, declared by the connector) is not given to a record
  when another live record holds it (any case, in any of the fields it must not repeat) and the
  two are not merged by this plan: the CRM would refuse the write as a conflict. The update (or
  the survivor value) becomes a ``Flag`` of policy ``dedupe`` naming the other record, listed
  after dedupe's own changes; records of one merge never clash (the merge goes first).

- A field the source's schema marks read-only (``PropertyDef.writable`` false: a contact's
  company in a CRM that keeps it on the contact's account) is never written: an update of it is
  dropped, and a merge carries no survivor value of it.

Order: the policies' order (normalize, tags, dedupe, follow_up, required, retire), and within a
policy the order the policy returned, which is deterministic.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from connectors.base import UniqueFields
from model.changes import Archive, Change, CreateTask, Flag, Merge, Snapshot, Update
from model.fields import record_label
from model.records import Record


@dataclass(frozen=True, slots=True)
class Plan:
    """A persisted, ordered list of changes for one source.

    ``baseline`` describes the state the plan was made from (record counts, newest change);
    ``labels`` maps ``(object_type, id)`` to a name a person recognizes, for reports only.
    """

    id: str
    source: str
    created_at: datetime
    changes: tuple[Change, ...]
    run_id: str | None = None
    baseline: Mapping[str, object] = field(default_factory=dict)
    labels: Mapping[tuple[str, str], str] = field(default_factory=dict)
    stats: Mapping[str, object] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        """Counts a person reads first: updates, records updated, merges, reviews, tasks."""
        kinds = Counter(c.kind for c in self.changes)
        updated = {(c.object_type, c.record_id) for c in self.changes if isinstance(c, Update)}
        absorbed = sum(
            len(c.merged_ids) for c in self.changes if isinstance(c, Merge) and c.kind == "merge"
        )
        return {
            "changes": len(self.changes),
            "updates": kinds["update"],
            "records_updated": len(updated),
            "merges": kinds["merge"],
            "records_merged_away": absorbed,
            "reviews": kinds["review"],
            "tasks": kinds["create_task"],
            "archives": kinds["archive"],
            "flags": kinds["flag"],
        }


def compose(
    changes: Sequence[Change],
    snapshot: Snapshot | None = None,
    unique: UniqueFields | None = None,
) -> list[Change]:
    """Apply the composition rules of this module to the policies' changes.

    ``snapshot`` (the records the plan was made from) and ``unique`` (the connector's
    :data:`~connectors.base.UniqueFields`) feed the unique-value rule; without both it is off.
    """
    if snapshot is not None:
        changes = _writable_only(changes, snapshot)
    absorbed: dict[tuple[str, str], Merge] = {}
    survivors: dict[tuple[str, str], Merge] = {}
    for change in changes:
        if isinstance(change, Merge) and change.kind == "merge":
            survivors[(change.object_type, change.primary_id)] = change
            for merged_id in change.merged_ids:
                absorbed[(change.object_type, merged_id)] = change

    carried: dict[int, dict[str, str | None]] = {}
    kept: list[Change] = []
    written: set[tuple[str, str, str]] = set()
    for change in changes:
        if isinstance(change, Update):
            record = (change.object_type, change.record_id)
            if (*record, change.field) in written:
                continue
            written.add((*record, change.field))
            merge = absorbed.get(record)
            if merge is None:
                merge = survivors.get(record)
                if merge is None or change.field not in merge.field_values:
                    kept.append(change)
                    continue
            values = carried.setdefault(id(merge), dict(merge.field_values))
            planned = merge.field_values.get(change.field)
            if (
                change.field in values
                and _same(planned, change.old)
                and _same(values[change.field], planned)  # the first refinement wins
            ):
                values[change.field] = change.new
            continue
        if isinstance(change, CreateTask | Flag | Archive) and (
            (change.object_type, change.record_id) in absorbed
        ):
            continue
        kept.append(change)

    composed = [
        replace(c, field_values=carried[id(c)]) if isinstance(c, Merge) and id(c) in carried else c
        for c in kept
    ]
    if snapshot is None or not unique:
        return composed
    return _unique_values(composed, snapshot, unique)


def _writable_only(changes: Sequence[Change], snapshot: Snapshot) -> list[Change]:
    """``changes`` less the writes of fields the schema marks read-only (see the module doc)."""
    locked = {
        (object_type, name)
        for object_type, fields in snapshot.schema.items()
        for name, definition in fields.items()
        if not definition.writable
    }
    if not locked:
        return list(changes)
    kept: list[Change] = []
    for change in changes:
        if isinstance(change, Update) and (change.object_type, change.field) in locked:
            continue
        if isinstance(change, Merge) and any(
            (change.object_type, n) in locked for n in change.field_values
        ):
            values = {
                n: v
                for n, v in change.field_values.items()
                if (change.object_type, n) not in locked
            }
            kept.append(replace(change, field_values=values))
            continue
        kept.append(change)
    return kept


def _same(a: str | None, b: str | None) -> bool:
    return (a or "") == (b or "")


def _unique_keys(value: str | None) -> list[str]:
    """The values a unique field holds, as the CRM compares them (``;``-joined lists split)."""
    if not value:
        return []
    if ";" not in value:  # nearly every value, once per record of a plan
        key = value.strip().casefold()
        return [key] if key else []
    return [v for part in value.split(";") if (v := part.strip().casefold())]


def _written_keys(changes: Sequence[Change], object_type: str, name: str) -> set[str]:
    """The keys of the values ``changes`` write into the unique field ``name``: the only
    ones the unique-value rule looks up."""
    keys: set[str] = set()
    for change in changes:
        if change.object_type != object_type:
            continue
        if isinstance(change, Update) and change.field == name:
            keys.update(_unique_keys(change.new))
        elif isinstance(change, Merge) and change.kind == "merge" and name in change.field_values:
            keys.update(_unique_keys(change.field_values[name]))
    return keys


def _holders(
    records: Sequence[Record], against: Sequence[str], wanted: set[str]
) -> dict[str, list[str]]:
    """The ids of ``records`` holding each key of ``wanted`` in one of the ``against`` fields,
    in the records' order (a record holding a key twice is named twice: the rule looks for
    another record, so that is the same). Only wanted keys are indexed."""
    index: dict[str, list[str]] = defaultdict(list)
    if not wanted:
        return index
    for record in records:
        props = record.properties
        for held_in in against:
            value = props.get(held_in)
            if not value:
                continue
            for key in _unique_keys(value):
                if key in wanted:
                    index[key].append(record.id)
    return index


def _unique_values(
    changes: Sequence[Change], snapshot: Snapshot, unique: UniqueFields
) -> list[Change]:
    """The unique-value rule of :func:`compose` (see the module docstring)."""
    cluster: dict[tuple[str, str], str] = {}
    reviews: list[tuple[str, frozenset[str]]] = []
    for change in changes:
        if isinstance(change, Merge):
            ids = frozenset((change.primary_id, *change.merged_ids))
            if change.kind == "merge":
                cluster.update(
                    dict.fromkeys(((change.object_type, i) for i in ids), change.primary_id)
                )
            else:
                reviews.append((change.object_type, ids))
    holders: dict[tuple[str, str], dict[str, list[str]]] = {}
    for object_type, fields in unique.items():
        for name, against in fields.items():
            holders[(object_type, name)] = _holders(
                snapshot.of(object_type), against, _written_keys(changes, object_type, name)
            )
    # a clash names the record that holds the value already: found only for the few that do
    held: dict[str, dict[str, Record]] = {}

    def label_of(object_type: str, record_id: str) -> str:
        if object_type not in held:
            held[object_type] = {r.id: r for r in snapshot.of(object_type)}
        record = held[object_type].get(record_id)
        return record_label(object_type, record.properties) if record is not None else ""

    def clash(object_type: str, record_id: str, name: str, value: str | None) -> str | None:
        """The record outside ``record_id``'s merge that holds ``value`` already, if any;
        otherwise ``record_id`` holds it from now on (a later write of it clashes)."""
        index = holders.get((object_type, name))
        if index is None:
            return None
        mine = cluster.get((object_type, record_id), record_id)
        for key in _unique_keys(value):
            for other in index[key]:
                if cluster.get((object_type, other), other) != mine:
                    return other
        for key in _unique_keys(value):
            index[key].append(record_id)
        return None

    def finding(change: Change, record_id: str, name: str, value: str | None, other: str) -> Flag:
        object_type = change.object_type
        label = label_of(object_type, other)
        pair = frozenset((record_id, other))
        if any(t == object_type and pair <= ids for t, ids in reviews):
            why = "they are proposed as possible duplicates: merge them in syncd review"
        elif any(
            pair <= ids and verdict == "rejected"
            for ids, verdict in snapshot.decisions.get(object_type, {}).items()
        ):
            why = (
                "a person judged them different records (syncd review), so one of the two "
                f"needs another {name}"
            )
        else:
            why = "they may be duplicates: see review"
        return Flag(
            change.source,
            object_type,
            "dedupe",
            f"{change.policy} would set {name} to {value!r}, but {object_type} {other}"
            + (f" ({label})" if label else "")
            + f" already holds it and the CRM keeps {name} unique; {why}",
            record_id,
            name,
            value,
        )

    kept: list[Change] = []
    found: list[Flag] = []
    for change in changes:
        if isinstance(change, Update):
            other = clash(change.object_type, change.record_id, change.field, change.new)
            if other is not None:
                found.append(finding(change, change.record_id, change.field, change.new, other))
                continue
        if isinstance(change, Merge) and change.kind == "merge":
            clashes = {
                name: other
                for name, value in change.field_values.items()
                if (other := clash(change.object_type, change.primary_id, name, value))
            }
            found.extend(
                finding(change, change.primary_id, n, change.field_values[n], o)
                for n, o in clashes.items()
            )
            values = {k: v for k, v in change.field_values.items() if k not in clashes}
            kept.append(replace(change, field_values=values) if clashes else change)
            continue
        kept.append(change)
    at = max((i + 1 for i, c in enumerate(kept) if c.policy == "dedupe"), default=len(kept))
    return [*kept[:at], *found, *kept[at:]]


def after_merges(snapshot: Snapshot, changes: Iterable[Change]) -> Snapshot:
    """The records as they will be once the merges among ``changes`` are applied (pure).

    See the module docstring; ``owners``, ``schema`` and ``decisions`` are kept as they are.
    """
    merges = [c for c in changes if isinstance(c, Merge) and c.kind == "merge"]
    survivor: dict[str, dict[str, str]] = defaultdict(dict)  # object type -> id -> survivor
    for merge in merges:
        survivor[merge.object_type].update(dict.fromkeys(merge.merged_ids, merge.primary_id))
    records: dict[str, list[Record]] = {}
    for object_type, found in snapshot.records.items():
        by_id = {r.id: r for r in found}
        primaries = {m.primary_id: m for m in merges if m.object_type == object_type}
        gone = survivor.get(object_type, {})
        records[object_type] = [
            _merged(r, primaries[r.id], by_id) if r.id in primaries else r
            for r in found
            if r.id not in gone
        ]
    for object_type, kept in records.items():
        live = {r.id for r in kept}
        for record in kept:
            for merged_id in record.merged_ids:
                if merged_id not in live:
                    survivor[object_type].setdefault(merged_id, record.id)
    if not any(survivor.values()):
        return snapshot
    return replace(
        snapshot,
        records={t: tuple(_repointed(r, survivor) for r in kept) for t, kept in records.items()},
    )


def _merged(primary: Record, merge: Merge, by_id: Mapping[str, Record]) -> Record:
    """The survivor of ``merge`` (``by_id``: the records of its type): see :func:`after_merges`."""
    absorbed = [by_id[i] for i in merge.merged_ids if i in by_id]
    members = [primary, *absorbed]
    targets = dict.fromkeys(t for r in members for t in r.associations)
    return replace(
        primary,
        properties={**primary.properties, **merge.field_values},
        associations={
            t: tuple(dict.fromkeys(i for r in members for i in r.associations.get(t, ())))
            for t in targets
        },
        merged_ids=tuple(
            dict.fromkeys(
                [
                    *primary.merged_ids,
                    *merge.merged_ids,
                    *(i for r in absorbed for i in r.merged_ids),
                ]
            )
        ),
    )


def _repointed(record: Record, survivor: Mapping[str, Mapping[str, str]]) -> Record:
    """``record`` with each associated id that names an absorbed record naming its survivor."""
    for object_type, ids in record.associations.items():
        gone = survivor.get(object_type)
        if gone and not gone.keys().isdisjoint(ids):
            break
    else:  # once per record of a plan: a set test per associated type, not a lookup per id
        return record
    return replace(
        record,
        associations={
            t: tuple(dict.fromkeys(survivor.get(t, {}).get(i, i) for i in ids))
            for t, ids in record.associations.items()
        },
    )
