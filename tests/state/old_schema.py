"""Records as stores before revision 0010 wrote and read them (no write number ``seq``), and
plans as stores before revision 0011 did (no differences), for tests that fill or read a store
at an older revision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa

from model.changes import Change, change_from_dict
from model.records import Record
from state.base import PLAN_PLANNED
from state.models import plan_changes_t, plans_t, records_t
from state.rows import change_row, newest_per_id, record_to_row, row_to_record

#: The records columns of every revision before 0010 (which added the write number ``seq``):
#: what tests of older revisions write and read records with, as the store of those days did.
OLD_RECORD_COLUMNS = [c for c in records_t.c if c.name != "seq"]


def write_old_records(
    engine: sa.Engine, source: str, run_id: str, records: Sequence[Record]
) -> None:
    """Store ``records`` as a store before revision 0010 did (its rows, no write number)."""
    if not records:
        return
    with engine.begin() as conn:
        conn.execute(
            sa.insert(records_t),
            [record_to_row(source, run_id, r) for r in newest_per_id(tuple(records))],
        )


def read_old_record(engine: sa.Engine, source: str, object_type: str, record_id: str) -> Record:
    """One record as a store before revision 0010 read it."""
    c = records_t.c
    query = sa.select(*OLD_RECORD_COLUMNS).where(
        c.source == source, c.object_type == object_type, c.remote_id == record_id
    )
    with engine.connect() as conn:
        return row_to_record(conn.execute(query).mappings().one())


#: The plans columns of every revision before 0011 (which added ``base_id``, ``reused`` and
#: ``kinds``: plans stored as what differs from another).
OLD_PLAN_COLUMNS = [c for c in plans_t.c if c.name not in {"base_id", "reused", "kinds"}]


def write_old_plan(
    engine: sa.Engine,
    plan_id: str,
    source: str,
    run_id: str | None,
    created_at: datetime,
    baseline: Mapping[str, object],
    changes: Sequence[Change],
) -> None:
    """Save a plan as a store before revision 0011 did (whole, no counts of its kinds)."""
    with engine.begin() as conn:
        conn.execute(
            sa.insert(plans_t).values(
                id=plan_id,
                source=source,
                run_id=run_id,
                created_at=created_at,
                baseline=dict(baseline),
                status=PLAN_PLANNED,
            )
        )
        if changes:
            conn.execute(
                sa.insert(plan_changes_t),
                [change_row(plan_id, seq, change) for seq, change in enumerate(changes)],
            )


def read_old_plan(engine: sa.Engine, plan_id: str) -> list[Change]:
    """A plan's changes as a store before revision 0011 read them."""
    c = plan_changes_t.c
    query = sa.select(c.payload).where(c.plan_id == plan_id).order_by(c.seq)
    with engine.connect() as conn:
        assert conn.execute(sa.select(*OLD_PLAN_COLUMNS).where(plans_t.c.id == plan_id)).first()
        return [change_from_dict(p) for p in conn.execute(query).scalars()]
