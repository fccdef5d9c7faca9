"""The Salesforce connector's world: the in-process HTTPS sandbox, the real SDK, a fake clock.

Built on the Salesforce tests' :class:`~tests.connectors.salesforce.world.World`. People's
edits, deletions and merges go straight into the sandbox org's state, as Salesforce's own UI
would make them; revoking the credentials changes the password and ends every session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from connectors.base import Capability, Connector
from connectors.salesforce import SalesforceConnector
from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.ids import PREFIXES, make_id
from tests.connectors.hubspot.world import FakeClock
from tests.connectors.salesforce.world import CONTACT_FIELDS, World, new_state


class SalesforceHarness:
    """:class:`~tests.connectors.contract.harness.ConnectorHarness` for Salesforce.

    ``sandbox`` is a running sandbox shared across tests; the harness gives it a fresh org.
    """

    connector_class: type[Connector] = SalesforceConnector
    object_type = "contacts"
    unsupported: Mapping[Capability, str] = {
        Capability.RATE_LIMITS: (
            "Salesforce answers no 'too many requests, retry after': its limit is a rolling "
            "24-hour allowance, and a spent one (403 REQUEST_LIMIT_EXCEEDED) pauses the source "
            "(tests/connectors/salesforce/test_limits_auth.py)"
        )
    }
    absent_id = make_id(PREFIXES["Contact"], 10**12)
    # Salesforce refuses an e-mail address that is none (INVALID_EMAIL_ADDRESS, naming Email).
    refused_value = ("email", "not-an-email")
    # A contact's last name is required (REQUIRED_FIELD_MISSING): a write may clear the first.
    cleared_field = "firstname"
    # deletions are read on every pull (the deleted resource, then queryAll)
    deletions_every = timedelta(0)

    def __init__(self, sandbox: SalesforceSandbox, ca_file: Path) -> None:
        clock = FakeClock()
        state = new_state(clock)
        sandbox.state = state
        self.world = World(clock=clock, state=state, sandbox=sandbox, ca_file=ca_file)
        self.sleeps = self.world.sleeps
        self._connector: SalesforceConnector | None = None

    @property
    def connector(self) -> Connector:
        if self._connector is None:
            self._connector = self.world.connector()
        return self._connector

    def new_connector(self) -> Connector:
        return self.world.connector()

    def now(self) -> datetime:
        return self.world.clock.now

    def advance(self, delta: timedelta) -> None:
        self.world.clock.tick(seconds=delta.total_seconds())

    def seed(self, records: Sequence[Mapping[str, str]]) -> list[str]:
        return [self.world.state.create("Contact", _vendor(r)) for r in records]

    def current(self, record_id: str) -> Mapping[str, str | None] | None:
        stored = self.world.state.live("Contact", record_id)
        if stored is None:
            return None
        return {name: stored.values.get(vendor) for name, vendor in CONTACT_FIELDS.items()}

    def edit(self, record_id: str, fields: Mapping[str, str]) -> None:
        state = self.world.state
        person = next((u.id for u in state.records("User") if u.id != state.api_user_id), None)
        if person is None:  # a person of the org, not syncd's integration user
            person = state.add_user("Pat", "Doe", "pat@example.com")
        state.update("Contact", record_id, _vendor(fields), by=person)

    def delete(self, record_id: str) -> None:
        self.world.state.delete("Contact", record_id)

    def merge(self, primary_id: str, merged_id: str) -> str:
        return self.world.state.merge("Contact", primary_id, [merged_id])

    def rate_limit_next(self, retry_after_s: int) -> None:
        raise AssertionError("Salesforce has no rate limit with a wait: the test should skip")

    def revoke_credentials(self) -> None:
        # the password changes (the connectors hold the old one) and every session ends
        self.world.state.password = "changed-by-an-admin"
        self.world.state.expire_sessions()

    def close(self) -> None:
        self.world.close()


def _vendor(fields: Mapping[str, str]) -> dict[str, str | None]:
    return {CONTACT_FIELDS[k]: v for k, v in fields.items()}
