"""Property history: batch read with ``propertiesWithHistory`` says who set each value, when."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectId,
)
from hubspot.crm.contacts.exceptions import ApiException

from sandbox.hubspot import ChangeSource, HubSpotSandbox, SandboxState
from tests.sandbox.support import NOW, Clock


@pytest.fixture
def client(state: SandboxState) -> Iterator[HubSpot]:
    with HubSpotSandbox(state) as sandbox:
        yield HubSpot(access_token="t", host=sandbox.base_url)


def read_history(client: HubSpot, ids: list[str], names: list[str]) -> dict[str, object]:
    answer = client.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ids],
            properties=["phone"],
            properties_with_history=names,
        )
    )
    return {r.id: r.properties_with_history for r in answer.results}


def test_history_lists_each_value_newest_first_with_who_set_it(
    clock: Clock, state: SandboxState, client: HubSpot
) -> None:
    contact = state.create("contacts", {"phone": "555 0100", "email": "a@example.com"})
    clock.now += timedelta(minutes=1)
    client.crm.contacts.batch_api.update(  # syncd's fix, through the API
        BatchInputSimplePublicObjectBatchInput(
            inputs=[SimplePublicObjectBatchInput(id=contact, properties={"phone": "+15550100"})]
        )
    )
    clock.now += timedelta(minutes=1)
    state.update("contacts", contact, {"phone": "555 0100"}, source=ChangeSource.user(41))
    clock.now += timedelta(minutes=1)
    state.update(
        "contacts", contact, {"phone": "555-0100"}, source=ChangeSource("AUTOMATION_PLATFORM")
    )

    history = read_history(client, [contact], ["phone", "email", "no_such_property"])[contact]
    assert isinstance(history, dict)
    assert set(history) == {"phone", "email"}  # unknown names are ignored
    phone = [
        (v.value, v.timestamp, v.source_type, v.source_id, v.updated_by_user_id)
        for v in history["phone"]
    ]
    assert phone == [
        ("555-0100", NOW + timedelta(minutes=3), "AUTOMATION_PLATFORM", None, None),
        ("555 0100", NOW + timedelta(minutes=2), "CRM_UI", "userId:41", 41),
        ("+15550100", NOW + timedelta(minutes=1), "INTEGRATION", "sandbox-private-app", None),
        ("555 0100", NOW, "IMPORT", None, None),  # the seeded value, set at creation
    ]
    [email] = history["email"]  # never written: its seeded value only
    assert (email.value, email.source_type) == ("a@example.com", "IMPORT")


def test_history_reads_take_at_most_50_inputs(state: SandboxState, client: HubSpot) -> None:
    ids = [state.create("contacts", {"phone": str(n)}) for n in range(51)]
    assert len(read_history(client, ids[:50], ["phone"])) == 50
    with pytest.raises(ApiException) as refused:
        read_history(client, ids, ["phone"])
    assert refused.value.status == 400
    assert len(read_history(client, ids, [])) == 51  # without history: up to 100
