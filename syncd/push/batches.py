"""Grouping operations into the writes a vendor's batch endpoints take. Pure.

- Operations go out per object type (:func:`by_type`), in outbox order.
- Field writes go out one per record (:func:`per_record`): a vendor may refuse a batch that
  names the same id twice (HubSpot does), so the fields of every op on one record are merged
  into one write keyed by the first op (a later op's value of the same field wins).
- A record whose write the CRM refused for a value (not a transient failure) goes again without
  the refused values (:func:`split_refused`): when the CRM names the refused fields, the ops
  writing them fail with its answer and the record's other ops go again in one write; when it
  does not, each op goes alone, the record's n-th op in round n, so that one bad value does not
  sink the record's other fields.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from model.writes import FieldWrite, WriteResult
from state.base import OutboxEntry


@dataclass(frozen=True, slots=True)
class ToWrite:
    """One update op that passed the conflict check: the fields to write and the conflict
    notes to record with its outcome."""

    entry: OutboxEntry
    fields: dict[str, str | None]
    notes: list[str]


def by_type(entries: Sequence[OutboxEntry]) -> dict[str, list[OutboxEntry]]:
    """``entries`` per object type, in their order."""
    grouped: dict[str, list[OutboxEntry]] = defaultdict(list)
    for entry in entries:
        grouped[entry.object_type].append(entry)
    return grouped


def per_record(
    items: Sequence[ToWrite], target: Callable[[OutboxEntry], str]
) -> tuple[dict[str, list[ToWrite]], list[FieldWrite]]:
    """``items`` per record id they write to (``target``), and one write per record: the
    fields of its items merged, keyed by its first item's op."""
    grouped: dict[str, list[ToWrite]] = defaultdict(list)
    for item in items:
        grouped[target(item.entry)].append(item)
    writes = []
    for record_id, group in grouped.items():
        fields: dict[str, str | None] = {}
        for item in group:
            fields.update(item.fields)
        writes.append(FieldWrite(group[0].entry.key, record_id, fields))
    return grouped, writes


def split_refused(
    refused: Sequence[tuple[Sequence[ToWrite], WriteResult]],
) -> tuple[list[tuple[ToWrite, WriteResult]], list[list[ToWrite]]]:
    """Of records whose one write the CRM refused (each record's items with the CRM's answer):
    the items that wrote a value the CRM named (each with that answer), and the rounds in which
    the others go again (see the module docstring)."""
    bad: list[tuple[ToWrite, WriteResult]] = []
    rounds: list[list[ToWrite]] = []
    for items, result in refused:
        culprits = set(result.fields)
        if not culprits:
            for index, item in enumerate(items):
                if index == len(rounds):
                    rounds.append([])
                rounds[index].append(item)
            continue
        bad.extend((item, result) for item in items if culprits & item.fields.keys())
        good = [item for item in items if not culprits & item.fields.keys()]
        if good:
            if not rounds:
                rounds.append([])
            rounds[0].extend(good)
    return bad, rounds
