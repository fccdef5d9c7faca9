"""What the connector contract suite needs of a connector's world, whatever the vendor.

A :class:`ConnectorHarness` builds a connector against a source it controls (a sandbox, a
temporary file) and plays the people and the service on the other side: it seeds records, edits,
deletes and merges them as a person would in the CRM, answers "too many requests" once, refuses
the credentials. Everything vendor-specific lives in the harness; the tests speak only the
connector interface (:mod:`connectors.base`) and canonical field names.

A harness needs to do only what its connector's capabilities promise: a method for a capability
the connector lacks is never called (the tests that would call it are skipped, with the reason
the harness gives in ``unsupported``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import pytest

from connectors.base import Capability, Connector, Writer
from model.records import Cursor, PullBatch, Record

#: Three people with plain canonical fields, which every connector's source can hold.
PEOPLE = (
    {"firstname": "Ann", "lastname": "Lee", "email": "ann@example.com", "city": "Lyon"},
    {"firstname": "Bob", "lastname": "Ray", "email": "bob@example.com", "city": "Oslo"},
    {"firstname": "Cy", "lastname": "Doe", "email": "cy@example.com", "city": "Rome"},
)


class ConnectorHarness(Protocol):
    """One connector's world, for the contract suite (see the module docstring).

    Records are given and returned with canonical field names; ``object_type`` is the canonical
    object type the suite works on.
    """

    connector_class: type[Connector]
    object_type: str
    unsupported: Mapping[Capability, str]
    """Why each capability the connector does not declare does not apply to its source."""
    absent_id: str
    """An id that no record of the source has, nor ever had."""
    refused_value: tuple[str, str]
    """A canonical field and a value of it that the source refuses (``REFUSED_VALUES``)."""
    deletions_every: timedelta
    """How long after a deletion an incremental pull reports it at the latest: zero for a
    connector that reads deletions on every pull, longer for one that reads them on their own
    schedule (``DELETIONS``, ``INCREMENTAL``)."""
    cleared_field: str
    """A canonical field of :data:`PEOPLE` that a write may clear (some sources require others:
    Salesforce refuses a contact without a last name)."""
    sleeps: list[float]
    """Every wait the harness's connectors slept, in seconds (they sleep on a fake clock)."""

    @property
    def connector(self) -> Connector:
        """The connector under test (built on first use, closed by the fixture)."""
        ...

    def new_connector(self) -> Connector:
        """Another connector on the same source, as the next run (a new process) builds it."""
        ...

    def now(self) -> datetime:
        """The source's time now (the run start a test passes to ``pull``)."""
        ...

    def advance(self, delta: timedelta) -> None:
        """Let ``delta`` pass in the source."""
        ...

    def seed(self, records: Sequence[Mapping[str, str]]) -> list[str]:
        """Create records of ``object_type`` with these canonical fields; their ids, in order.

        Seeding comes before the connector's first use (a file is read once per run)."""
        ...

    def current(self, record_id: str) -> Mapping[str, str | None] | None:
        """What the source holds now for ``record_id``, as a person would see it there (after
        the connector wrote what it writes); ``None`` when the record is gone or merged away."""
        ...

    def edit(self, record_id: str, fields: Mapping[str, str]) -> None:
        """A person changes fields of a record in the source (``LIVE``, ``INCREMENTAL``)."""
        ...

    def delete(self, record_id: str) -> None:
        """A person deletes a record in the source (``DELETIONS``)."""
        ...

    def merge(self, primary_id: str, merged_id: str) -> str:
        """A person merges two records in the source; the survivor's id (``MERGED_RECORDS``)."""
        ...

    def rate_limit_next(self, retry_after_s: int) -> None:
        """The source answers the next request "too many requests, retry after
        ``retry_after_s`` seconds" (``RATE_LIMITS``)."""
        ...

    def revoke_credentials(self) -> None:
        """The source refuses the connectors' credentials from now on (``AUTH``)."""
        ...

    def close(self) -> None:
        """Close every connector built and undo what the harness changed outside itself."""
        ...


def capabilities(harness: ConnectorHarness) -> frozenset[Capability]:
    return harness.connector_class.capabilities


def require(harness: ConnectorHarness, *needed: Capability) -> None:
    """Skip the calling test, with the reason, unless the connector declares every capability."""
    for capability in needed:
        if capability not in capabilities(harness):
            why = harness.unsupported.get(capability, "no reason given")
            pytest.skip(
                f"{harness.connector_class.name} does not support {capability.value}: {why}"
            )


def writer(connector: Connector) -> Writer:
    """The write half of a connector (every connector with ``WRITES`` is its own writer)."""
    assert isinstance(connector, Writer), f"{type(connector).__name__} is not a Writer"
    return connector


def created_by(writer: Writer, task: Record, key: str) -> bool:
    """Whether ``task`` (from ``find_tasks``) is the one a ``TaskWrite`` with ``key`` created,
    judged as the push judges it: by asking the connector (:meth:`Writer.is_task_of`), where
    the vendor keeps the key being the connector's business."""
    return writer.is_task_of(task, key)


@dataclass(frozen=True)
class Pulled:
    """Every batch of one pull."""

    batches: list[PullBatch]

    @property
    def records(self) -> list[Record]:
        return [r for b in self.batches for r in b.records]

    @property
    def by_id(self) -> dict[str, Record]:
        """The newest record per id (as the engine keeps them)."""
        found: dict[str, Record] = {}
        for record in self.records:
            if record.id not in found or record.updated_at >= found[record.id].updated_at:
                found[record.id] = record
        return found

    @property
    def times_seen(self) -> Counter[str]:
        return Counter(r.id for r in self.records)

    @property
    def cursor(self) -> Cursor:
        """The cursor of the last batch: what the engine commits at the end of the pull."""
        return self.batches[-1].cursor

    def cursors(self) -> Iterator[Cursor]:
        return (b.cursor for b in self.batches)


def pull(harness: ConnectorHarness, cursor: Cursor | None = None) -> Pulled:
    """Pull ``harness.object_type`` with the connector under test, the run starting now."""
    batches = harness.connector.pull(
        harness.object_type, cursor or Cursor(), run_started_at=harness.now()
    )
    return Pulled(list(batches))
