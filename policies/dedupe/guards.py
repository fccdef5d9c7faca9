"""Guard rules: pairs that a person must see before they are merged, whatever their score.

A merge cannot be undone in the CRM. A pair that a configured rule (``[policies.dedupe.guards]``)
catches is held below ``merge_threshold``: it may still be proposed for review, and clustering
never puts it in one automatic merge, not even through a third record. The rules:

- ``both_in``: both records hold one of the listed values of a field (two customers);
- ``differ``: both records fill a field with different values (two owners);
- ``both_open_deals``: both records are associated with an open deal.
"""

from __future__ import annotations

from collections.abc import Callable

from model.changes import Snapshot
from model.fields import TRUE
from model.records import Record
from policies.dedupe.settings import Guards

Guard = Callable[[Record, Record], str]


def _value(record: Record, field: str) -> str:
    return (record.properties.get(field) or "").strip().casefold()


def open_deal_holders(snapshot: Snapshot, object_type: str) -> frozenset[str]:
    """Ids of the records of ``object_type`` associated with an open deal (either side says):
    one the connector did not mark closed (canonical ``is_closed``)."""
    deals = snapshot.of("deals")
    open_ids = {d.id for d in deals if _value(d, "is_closed") != TRUE}
    holders = {i for d in deals if d.id in open_ids for i in d.associations.get(object_type, ())}
    holders.update(
        r.id for r in snapshot.of(object_type) if open_ids & set(r.associations.get("deals", ()))
    )
    return frozenset(holders)


def guard_check(guards: Guards, snapshot: Snapshot, object_type: str) -> Guard | None:
    """A function of two records: why a rule holds the pair for review, or ``''`` (None: no
    rule is configured)."""
    if not (guards.both_in or guards.differ or guards.both_open_deals):
        return None
    with_deals = open_deal_holders(snapshot, object_type) if guards.both_open_deals else None
    wanted = {f: {v.casefold() for v in values} for f, values in guards.both_in.items()}

    def check(a: Record, b: Record) -> str:
        for field, values in wanted.items():
            va, vb = _value(a, field), _value(b, field)
            if va in values and vb in values:
                return f"both {field} {va!r}" if va == vb else f"both {field} in {sorted(values)}"
        for field in guards.differ:
            va, vb = _value(a, field), _value(b, field)
            if va and vb and va != vb:
                return f"different {field}"
        if with_deals is not None and a.id in with_deals and b.id in with_deals:
            return "both have open deals"
        return ""

    return check
