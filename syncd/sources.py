"""Build a connector from a source's configuration: the one place that maps config to vendors."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from connectors.base import Connector
from connectors.hubspot import HubSpotConnector, HubSpotSettings
from connectors.hubspot.pacer import Pacer
from connectors.retry import RetrySettings
from syncd.config import Config, SourceConfig


def build_connector(
    config: Config,
    name: str,
    source: SourceConfig,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Connector:
    """The connector for ``source``, with its secret resolved (``ConfigError`` if it cannot be).

    ``sleep`` and ``monotonic`` are the time that retries and rate pacing wait on; tests pass a
    fake one.
    """
    token = source.resolve_token(config.base_dir, f"sources.{name}")
    settings = HubSpotSettings(
        base_url=source.base_url,
        token=token.get_secret_value(),
        object_types=source.object_types,
        lookback=timedelta(seconds=source.lookback_seconds),
        request_timeout=source.request_timeout_seconds,
        retry=RetrySettings(
            max_attempts=source.retry.max_attempts,
            initial_wait=source.retry.initial_wait_seconds,
            max_wait=source.retry.max_wait_seconds,
            jitter=source.retry.jitter_seconds,
        ),
    )
    return HubSpotConnector(settings, sleep=sleep, pacer=Pacer(sleep=sleep, clock=monotonic))
