"""Records as stores before revision 0010 wrote and read them (no write number ``seq``), for
tests that fill or read a store at an older revision."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from model.records import Record
from state.models import records_t
from state.rows import newest_per_id, record_to_row, row_to_record

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
