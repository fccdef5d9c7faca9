"""Per-record values kept between a service's cycles while their record stays the same.

A service's engine keeps the last snapshot and reads only the records written since
(:meth:`state.base.StateStore.kept_snapshot`): every record it did not read again is the very
object the last cycle had. What a cycle works out from one record alone (its name for reports,
how many of its key fields it fills) is then the last cycle's for all but the records that
changed; :class:`PerRecord` keeps those values by record and works out only the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from model.records import Record

T = TypeVar("T")


class PerRecord(Generic[T]):
    """``compute(record)`` per record, kept while the record is the same object."""

    def __init__(self, compute: Callable[[Record], T]) -> None:
        self.compute = compute
        self._kept: dict[str, dict[str, tuple[Record, T]]] = {}

    def values(self, object_type: str, records: Sequence[Record]) -> list[T]:
        """The value of each of ``records`` (of ``object_type``), in their order; only those
        of records not seen last time as these very objects are worked out. Records not among
        ``records`` are forgotten."""
        old = self._kept.get(object_type, {})
        new: dict[str, tuple[Record, T]] = {}
        out: list[T] = []
        compute = self.compute
        for record in records:
            hit = old.get(record.id)
            if hit is None or hit[0] is not record:
                hit = (record, compute(record))
            new[record.id] = hit
            out.append(hit[1])
        self._kept[object_type] = new
        return out
