"""Fixtures for the HubSpot connector tests (helpers live in ``world.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.hubspot import HubSpotSandbox
from sandbox.hubspot.spec import SpecValidator
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


@pytest.fixture(scope="session")
def spec_validator() -> SpecValidator:
    return SpecValidator()


@pytest.fixture
def wire_checked(world: World, spec_validator: SpecValidator) -> Iterator[World]:
    """The world, with every exchange of the test checked against HubSpot's OpenAPI specs
    afterwards (requests leniently, responses strictly). A gateway's HTML error page (an
    injected 502/504, not HubSpot's API) has no JSON to check and is left out."""
    world.state.record_exchanges = True
    yield world
    problems: list[str] = []
    for exchange in world.state.request_log:
        problems += spec_validator.request_problems(
            exchange.method, exchange.path, exchange.query, exchange.request_json
        )
        if exchange.status >= 500 and exchange.response_json is None:
            continue
        problems += spec_validator.response_problems(
            exchange.method, exchange.path, exchange.status, exchange.response_json
        )
    assert not problems, "\n".join(problems)
