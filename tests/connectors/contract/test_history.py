"""The connector contract, field history: who set a field, a person or the connector itself."""

from __future__ import annotations

from datetime import timedelta

from connectors.base import Capability
from model.writes import FieldWrite
from tests.connectors.contract.harness import PEOPLE, ConnectorHarness, require, writer


def test_field_history_tells_a_persons_edit_from_the_connectors_write(
    harness: ConnectorHarness,
) -> None:
    require(harness, Capability.WRITES, Capability.LIVE, Capability.FIELD_HISTORY)
    [made] = harness.seed(PEOPLE[:1])
    harness.advance(timedelta(minutes=1))
    edited_at = harness.now()
    harness.edit(made, {"city": "Paris"})
    harness.advance(timedelta(minutes=1))
    crm = writer(harness.connector)
    [written] = crm.update(harness.object_type, [FieldWrite("k1", made, {"firstname": "Anna"})])
    assert written.ok

    found = crm.field_changes(
        harness.object_type, [(made, "city"), (made, "firstname"), (harness.absent_id, "city")]
    )

    person, ours = found[(made, "city")], found[(made, "firstname")]
    assert (person.value, ours.value) == ("Paris", "Anna")
    assert edited_at <= person.at < ours.at
    assert (person.user_id, person.via) != (ours.user_id, ours.via)
    assert (harness.absent_id, "city") not in found
