"""Every connector's harness, by connector name: the one registration the contract suite needs.

A new connector is done when it passes the suite: add its harness here.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.connectors.contract.harness import ConnectorHarness
from tests.connectors.contract.harness_csv import CsvHarness
from tests.connectors.contract.harness_hubspot import HubSpotHarness
from tests.connectors.contract.harness_salesforce import SalesforceHarness

HARNESSES: dict[str, Callable[[pytest.FixtureRequest], ConnectorHarness]] = {
    "hubspot": lambda request: HubSpotHarness(request.getfixturevalue("contract_sandbox")),
    "csv": lambda request: CsvHarness(request.getfixturevalue("tmp_path")),
    "salesforce": lambda request: SalesforceHarness(
        request.getfixturevalue("contract_salesforce"),
        request.getfixturevalue("contract_salesforce_ca"),
    ),
}
"""Connector name → how to build its world for one test (from the test's fixtures)."""
