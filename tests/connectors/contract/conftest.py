"""One fixture runs every contract test for every connector: ``harness``, one per connector
registered in :data:`~tests.connectors.contract.harnesses.HARNESSES`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox, SalesforceState
from tests.connectors.contract.harness import ConnectorHarness
from tests.connectors.contract.harnesses import HARNESSES
from tests.connectors.hubspot.world import FakeClock, new_state


@pytest.fixture(scope="session")
def contract_sandbox() -> Iterator[HubSpotSandbox]:
    """One HubSpot sandbox server for the session; each harness gives it a fresh account."""
    with HubSpotSandbox(new_state(FakeClock()), port=0) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def contract_salesforce() -> Iterator[SalesforceSandbox]:
    """One Salesforce sandbox server (HTTPS) for the session; each harness gives it a fresh org."""
    with SalesforceSandbox(SalesforceState(FakeClock(), daily_limit=None), port=0) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def contract_salesforce_ca(
    contract_salesforce: SalesforceSandbox, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The CA that signed the sandbox's certificate, as a file the connectors trust."""
    return contract_salesforce.ca_file(tmp_path_factory.mktemp("salesforce-ca") / "ca.pem")


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest) -> Iterator[ConnectorHarness]:
    """The world of one connector, fresh for each test, closed afterwards."""
    built = HARNESSES[request.param](request)
    try:
        yield built
    finally:
        built.close()
