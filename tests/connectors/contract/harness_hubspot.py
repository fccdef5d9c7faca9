"""The HubSpot connector's world: the in-process sandbox, the real SDK, a fake clock.

Built on the HubSpot tests' :class:`~tests.connectors.hubspot.world.World`: the sandbox's data
clock is a fake one that the harness moves, and connectors sleep on fake time (each wait
recorded, none waited). People's edits, deletions and merges go straight into the sandbox's
state, as HubSpot's own UI would make them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from connectors.base import Capability, Connector
from connectors.hubspot import HubSpotConnector, HubSpotSettings
from connectors.hubspot.mapping import field_maps
from sandbox.hubspot import Fault, HubSpotSandbox, ScriptedFaults
from tests.connectors.hubspot.world import FakeClock, World, new_state

#: Canonical field names → HubSpot property names, where they differ (the connector's own map).
VENDOR_NAMES: Mapping[str, str] = {c: v for v, c in field_maps()["contacts"].renames().items()}


class HubSpotHarness:
    """:class:`~tests.connectors.contract.harness.ConnectorHarness` for HubSpot.

    ``sandbox`` is a running sandbox shared across tests; the harness gives it a fresh, empty
    account, and gives it back accepting any token when closed.
    """

    connector_class: type[Connector] = HubSpotConnector
    object_type = "contacts"
    unsupported: Mapping[Capability, str] = {}
    absent_id = "987654321"
    # HubSpot refuses a value that is not one of an enumeration's options ("prospect" is no
    # stage of HubSpot's default lifecycle; canonical lifecycle_stage is its lifecyclestage).
    refused_value = ("lifecycle_stage", "prospect")
    # the archived listing is read on its own schedule (archived_every_hours, default 24)
    deletions_every = timedelta(hours=HubSpotSettings.model_fields["archived_every_hours"].default)
    cleared_field = "lastname"

    def __init__(self, sandbox: HubSpotSandbox) -> None:
        clock = FakeClock()
        state = new_state(clock)
        sandbox.state = state  # served from the next request on
        self._sandbox = sandbox
        self.world = World(clock=clock, state=state, sandbox=sandbox)
        self.sleeps = self.world.sleeps
        self._connector: HubSpotConnector | None = None

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
        return [self.world.state.create(self.object_type, _vendor(r)) for r in records]

    def current(self, record_id: str) -> Mapping[str, str | None] | None:
        stored = self.world.state.get(self.object_type, record_id)
        if stored is None:
            return None
        canonical = {vendor: name for name, vendor in VENDOR_NAMES.items()}
        return {canonical.get(k, k): v for k, v in stored.properties.items()}

    def edit(self, record_id: str, fields: Mapping[str, str]) -> None:
        self.world.state.update(self.object_type, record_id, _vendor(fields))

    def delete(self, record_id: str) -> None:
        self.world.state.archive(self.object_type, record_id)

    def merge(self, primary_id: str, merged_id: str) -> str:
        return self.world.state.merge(self.object_type, primary_id, merged_id)

    def rate_limit_next(self, retry_after_s: int) -> None:
        self.world.state.faults = ScriptedFaults(Fault(status=429, retry_after_s=retry_after_s))

    def revoke_credentials(self) -> None:
        # the connectors' token is World's; from now on the account accepts only another one
        self._sandbox.app.tokens = frozenset({"a-token-nobody-has"})

    def close(self) -> None:
        self._sandbox.app.tokens = None
        self.world.close()


def _vendor(fields: Mapping[str, str]) -> dict[str, str | None]:
    return {VENDOR_NAMES.get(k, k): v for k, v in fields.items()}
