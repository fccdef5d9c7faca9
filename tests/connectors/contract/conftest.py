"""One fixture runs every contract test for every connector: ``harness``, one per connector
registered in :data:`~tests.connectors.contract.harnesses.HARNESSES`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.hubspot import HubSpotSandbox
from tests.connectors.contract.harness import ConnectorHarness
from tests.connectors.contract.harnesses import HARNESSES
from tests.connectors.hubspot.world import FakeClock, new_state


@pytest.fixture(scope="session")
def contract_sandbox() -> Iterator[HubSpotSandbox]:
    """One HubSpot sandbox server for the session; each harness gives it a fresh account."""
    with HubSpotSandbox(new_state(FakeClock()), port=0) as sandbox:
        yield sandbox


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest) -> Iterator[ConnectorHarness]:
    """The world of one connector, fresh for each test, closed afterwards."""
    built = HARNESSES[request.param](request)
    try:
        yield built
    finally:
        built.close()
