"""Build a connector from a source's configuration: the one place that maps config to vendors."""

from __future__ import annotations

from datetime import timedelta

from connectors.base import Connector
from connectors.hubspot import HubSpotConnector, HubSpotSettings
from syncd.config import Config, SourceConfig


def build_connector(config: Config, name: str, source: SourceConfig) -> Connector:
    """The connector for ``source``, with its secret resolved (``ConfigError`` if it cannot be)."""
    token = source.resolve_token(config.base_dir, f"sources.{name}")
    return HubSpotConnector(
        HubSpotSettings(
            base_url=source.base_url,
            token=token.get_secret_value(),
            object_types=source.object_types,
            lookback=timedelta(seconds=source.lookback_seconds),
        )
    )
