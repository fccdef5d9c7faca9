"""Fixtures of the sandbox tests: a hand-moved clock and an empty, unthrottled sandbox state."""

from __future__ import annotations

import pytest

from sandbox.hubspot import SandboxState
from tests.sandbox.support import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(clock: Clock) -> SandboxState:
    return SandboxState(clock=clock, rate_limit=None, search_rate_limit=None)
