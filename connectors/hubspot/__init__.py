"""The HubSpot connector, over the official SDK ``hubspot-api-client`` 12."""

from __future__ import annotations

from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.errors import classify
from connectors.hubspot.settings import HubSpotSettings
from connectors.hubspot.writer import HubSpotWriter

__all__ = ["HubSpotConnector", "HubSpotSettings", "HubSpotWriter", "classify"]
