"""Fixtures for the Salesforce connector tests (helpers live in ``world.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.salesforce import SalesforceSandbox
from tests.connectors.hubspot.world import FakeClock
from tests.connectors.salesforce.world import World, new_state


@pytest.fixture(scope="session")
def salesforce_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SalesforceSandbox]:
    """One HTTPS sandbox server for the session; each test gets a fresh org on it."""
    with SalesforceSandbox(new_state(FakeClock()), port=0) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def salesforce_ca(
    salesforce_sandbox: SalesforceSandbox, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return salesforce_sandbox.ca_file(tmp_path_factory.mktemp("sf-ca") / "ca.pem")


@pytest.fixture
def world(
    salesforce_sandbox: SalesforceSandbox, salesforce_ca: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    """A fresh, empty org with its own fake clock, served by the shared server."""
    monkeypatch.setenv("SALESFORCE_PASSWORD", "sandbox")
    monkeypatch.setenv("SALESFORCE_SECURITY_TOKEN", "sandbox")
    clock = FakeClock()
    state = new_state(clock)
    salesforce_sandbox.state = state
    built = World(clock=clock, state=state, sandbox=salesforce_sandbox, ca_file=salesforce_ca)
    try:
        yield built
    finally:
        built.close()
