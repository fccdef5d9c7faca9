"""Test helpers for the Salesforce connector: the HTTPS sandbox on loopback, the real SDK, a
fake clock.

The sandbox's data clock is a :class:`FakeClock`; connectors sleep on a :class:`FakeTime`
(each wait recorded, none waited). Records are seeded and changed straight in the sandbox's
state, as a person would in Salesforce's UI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from connectors.salesforce import SalesforceConnector, SalesforceSettings
from connectors.salesforce.settings import Credentials
from model.records import Cursor
from sandbox.salesforce import SalesforceSandbox, SalesforceState
from tests.connectors.hubspot.world import FakeClock, FakeTime, Pull

#: Canonical contact fields → the sandbox's Contact fields (the connector's own map).
CONTACT_FIELDS: Mapping[str, str] = {
    "firstname": "FirstName",
    "lastname": "LastName",
    "email": "Email",
    "phone": "Phone",
    "city": "MailingCity",
    "country": "MailingCountry",
    "jobtitle": "Title",
    "owner_id": "OwnerId",
}


def new_state(clock: FakeClock) -> SalesforceState:
    """An empty org: no daily limit enforced, the default credentials (``sandbox``)."""
    return SalesforceState(clock, daily_limit=None)


def credentials(**changes: str) -> Credentials:
    found = Credentials(username=changes.get("username", "sandbox"))
    found.password = SecretStr(changes.get("password", "sandbox"))
    found.security_token = SecretStr(changes.get("security_token", "sandbox"))
    return found


@dataclass
class World:
    """A sandbox org, its clock, and a way to build connectors against it."""

    clock: FakeClock
    state: SalesforceState
    sandbox: SalesforceSandbox
    ca_file: Path
    sleeps: list[float] = field(default_factory=list)
    _connectors: list[SalesforceConnector] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.time = FakeTime(self.sleeps)

    def settings(self, **overrides: Any) -> SalesforceSettings:
        retry = {"max_attempts": 4, "initial_wait_seconds": 0.5, "max_wait_seconds": 4.0}
        base: dict[str, Any] = {
            "login_url": self.sandbox.base_url,
            "username": "sandbox",
            "password": "${SALESFORCE_PASSWORD}",
            "security_token": "${SALESFORCE_SECURITY_TOKEN}",
            "bulk_poll_seconds": 0,
            "retry": {**retry, "jitter_seconds": 0.0},
        }
        return SalesforceSettings.model_validate(base | overrides)

    def connector(self, creds: Credentials | None = None, **overrides: Any) -> SalesforceConnector:
        built = SalesforceConnector(
            self.settings(**overrides),
            creds or credentials(),
            ca_file=self.ca_file,
            sleep=self.time.sleep,
        )
        self._connectors.append(built)
        return built

    def pull(
        self,
        connector: SalesforceConnector,
        object_type: str,
        cursor: Cursor | None = None,
        run_started_at: datetime | None = None,
    ) -> Pull:
        started = run_started_at or self.clock.now
        return Pull(list(connector.pull(object_type, cursor or Cursor(), run_started_at=started)))

    def contact(self, **fields: str | None) -> str:
        """Create a contact from canonical fields (``lastname`` defaults to ``Doe``)."""
        values = {CONTACT_FIELDS[k]: v for k, v in fields.items()}
        values.setdefault("LastName", "Doe")
        return self.state.create("Contact", values)

    def close(self) -> None:
        for connector in self._connectors:
            connector.close()
