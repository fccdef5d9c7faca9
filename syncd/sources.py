"""Build a connector from a source's configuration, through the connectors' registry."""

from __future__ import annotations

import time
from collections.abc import Callable

from connectors.base import BuildContext, Connector
from connectors.registry import registration
from model.errors import ConfigError
from syncd.config import Config, SourceConfig


def build_connector(
    config: Config,
    name: str,
    source: SourceConfig,
    *,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Connector:
    """The connector for ``source``, with its secrets resolved (``ConfigError`` if they cannot
    be).

    ``sleep`` and ``monotonic`` are the time that retries and rate pacing wait on; tests pass a
    fake one.
    """
    found = registration(source.connector)
    if found is None:
        raise ConfigError(f"sources.{name}.connector: {source.connector!r} is not a connector")
    context = BuildContext(config.base_dir, f"sources.{name}", sleep, monotonic)
    return found.build(source.settings, context)
