"""The connector contract, when the source pushes back: rate limits and refused credentials."""

from __future__ import annotations

import pytest

from connectors.base import Capability
from model.errors import SourceFatalError
from model.writes import FieldWrite
from tests.connectors.contract.harness import PEOPLE, ConnectorHarness, pull, require, writer

RETRY_AFTER_S = 25
"""Longer than any rate-limit window a vendor announces otherwise (HubSpot: 10 s)."""


def test_a_rate_limited_pull_waits_as_asked_and_succeeds(harness: ConnectorHarness) -> None:
    require(harness, Capability.RATE_LIMITS)
    made = harness.seed(PEOPLE)
    harness.rate_limit_next(RETRY_AFTER_S)

    pulled = pull(harness)

    assert set(pulled.by_id) == set(made)
    assert any(s >= RETRY_AFTER_S for s in harness.sleeps), "waited at least Retry-After"


def test_a_rate_limited_write_waits_as_asked_and_succeeds(harness: ConnectorHarness) -> None:
    require(harness, Capability.RATE_LIMITS, Capability.WRITES)
    made = harness.seed(PEOPLE)
    harness.rate_limit_next(RETRY_AFTER_S)

    (result,) = writer(harness.connector).update(
        harness.object_type, [FieldWrite("k", made[0], {"city": "Paris"})]
    )

    assert result.ok
    assert any(s >= RETRY_AFTER_S for s in harness.sleeps), "waited at least Retry-After"
    values = harness.current(made[0])
    assert values is not None
    assert values["city"] == "Paris"


def test_refused_credentials_stop_the_source_without_retrying(harness: ConnectorHarness) -> None:
    require(harness, Capability.AUTH)
    harness.seed(PEOPLE)
    harness.revoke_credentials()

    with pytest.raises(SourceFatalError):
        pull(harness)
    assert harness.sleeps == [], "no retry can fix credentials"


def test_refused_credentials_stop_a_write(harness: ConnectorHarness) -> None:
    require(harness, Capability.AUTH, Capability.WRITES)
    made = harness.seed(PEOPLE)
    harness.revoke_credentials()
    connector = writer(harness.connector)

    with pytest.raises(SourceFatalError):
        connector.update(harness.object_type, [FieldWrite("k", made[0], {"city": "Paris"})])
    with pytest.raises(SourceFatalError):
        connector.read(harness.object_type, [made[0]], ["city"])
    assert harness.sleeps == []
    values = harness.current(made[0])
    assert values is not None
    assert values["city"] == "Lyon"
