"""Fixtures for the HubSpot connector tests (helpers live in ``world.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.hubspot import HubSpotSandbox
from tests.connectors.hubspot.world import FakeClock, World, new_state


@pytest.fixture(scope="session")
def shared_sandbox() -> Iterator[HubSpotSandbox]:
    """One sandbox server for the session (stopping one takes half a second)."""
    with HubSpotSandbox(new_state(FakeClock()), port=0) as sandbox:
        yield sandbox


@pytest.fixture
def world(shared_sandbox: HubSpotSandbox) -> Iterator[World]:
    """A fresh, empty sandbox account with its own fake clock, served by the shared server."""
    clock = FakeClock()
    state = new_state(clock)
    # HubSpotSandbox serves whatever state its app holds: swap in a fresh one per test.
    shared_sandbox.state = state
    shared_sandbox.app.state = state
    built = World(clock=clock, state=state, sandbox=shared_sandbox)
    try:
        yield built
    finally:
        built.close()
