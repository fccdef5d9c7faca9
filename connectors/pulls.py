"""What every connector's pull does the same way, whatever its vendor.

:func:`finish` gives a pull's last batch the cursor that is safe to commit once the whole pull
is stored; :class:`Seen` drops the records a pull already gave (windows that overlap, a
lookback re-read) unless they changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime

from model.records import Cursor, PullBatch, Record


def finish(batches: Iterable[PullBatch], object_type: str, final: Cursor) -> Iterator[PullBatch]:
    """Pass ``batches`` through, giving the last one (or an empty one) the ``final`` cursor."""
    held: PullBatch | None = None
    for batch in batches:
        if held is not None:
            yield held
        held = batch
    yield PullBatch(object_type, (), final) if held is None else replace(held, cursor=final)


class Seen:
    """De-duplication within one pull: an id passes again only with a newer ``updated_at``, or
    with the same one but another fate (archived or merged meanwhile)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[datetime, bool, str | None]] = {}

    def fresh(self, records: Iterable[Record]) -> tuple[Record, ...]:
        kept: list[Record] = []
        for record in records:
            mark = (record.updated_at, record.archived, record.merged_into)
            previous = self._last.get(record.id)
            if (
                previous is None
                or mark[0] > previous[0]
                or (mark[0] == previous[0] and mark[1:] != previous[1:])
            ):
                self._last[record.id] = mark
                kept.append(record)
        return tuple(kept)
