"""An emulator of HubSpot's CRM v3/v4 HTTP APIs that the official SDK talks to unchanged.

    state = SandboxState(clock=lambda: datetime.now(UTC))
    with HubSpotSandbox(state) as sandbox:
        client = HubSpot(access_token="any", host=sandbox.base_url)

:class:`SandboxState` holds the records (seed it with ``create`` or ``from_dataset``) and the
knobs tests turn (``search_lag``, ``search_cap``, rate limits, ``record_exchanges``, ``faults``);
:class:`HubSpotSandbox` serves it over HTTP. Faults are scripted (:class:`ScriptedFaults`) or
seeded and random (:class:`RandomFaults`: 429s, 5xx, dropped connections before or after the
write, latency); ``state.stats()`` counts the traffic. Every write lands in the property's
history with who made it (``state.update(..., source=ChangeSource.user(id))`` for a person;
``propertiesWithHistory`` on a batch read answers it). The ``/_sandbox/`` control endpoints
(:mod:`sandbox.hubspot.control_api`) read and change both at run time. Wire-format checking
against HubSpot's published OpenAPI descriptions lives in :mod:`sandbox.hubspot.spec` (it needs
the dev dependencies).
"""

from __future__ import annotations

from sandbox.hubspot.clock import SettableClock
from sandbox.hubspot.faults import Fault, FaultPolicy, RandomFaults, ScriptedFaults
from sandbox.hubspot.model import ChangeSource
from sandbox.hubspot.server import HubSpotSandbox, serve_forever
from sandbox.hubspot.store import Exchange, SandboxState
from sandbox.hubspot.wire import Request, Response

__all__ = [
    "ChangeSource",
    "Exchange",
    "Fault",
    "FaultPolicy",
    "HubSpotSandbox",
    "RandomFaults",
    "Request",
    "Response",
    "SandboxState",
    "ScriptedFaults",
    "SettableClock",
    "serve_forever",
]
