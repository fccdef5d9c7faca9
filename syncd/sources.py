"""Build a connector from a source's configuration: the one place that maps config to vendors."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from connectors.base import Connector
from connectors.csv import CsvConnector, CsvSettings
from connectors.hubspot import HubSpotConnector, HubSpotSettings
from connectors.hubspot.pacer import Pacer
from connectors.retry import RetrySettings
from syncd.config import Config, CsvSourceConfig, SourceConfig


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
    if isinstance(source, CsvSourceConfig):
        return build_csv_connector(source, config.base_dir)
    token = source.resolve_token(config.base_dir, f"sources.{name}")
    settings = HubSpotSettings(
        base_url=source.base_url,
        token=token.get_secret_value(),
        object_types=source.object_types,
        lookback=timedelta(seconds=source.lookback_seconds),
        request_timeout=source.request_timeout_seconds,
        open_lead_statuses=source.open_lead_statuses,
        fields=source.fields,
        retry=RetrySettings(
            max_attempts=source.retry.max_attempts,
            initial_wait=source.retry.initial_wait_seconds,
            max_wait=source.retry.max_wait_seconds,
            jitter=source.retry.jitter_seconds,
        ),
    )
    return HubSpotConnector(settings, sleep=sleep, pacer=Pacer(sleep=sleep, clock=monotonic))


def csv_settings(source: CsvSourceConfig, base_dir: Path) -> CsvSettings:
    """The connector settings of a configured source, relative paths against ``base_dir``."""

    def absolute(path: Path) -> Path:
        return path if path.is_absolute() else base_dir / path

    return CsvSettings(
        path=absolute(source.path),
        object_type=source.object_type,
        id_column=source.id_column,
        columns=dict(source.columns),
        encoding=source.encoding,
        delimiter=source.delimiter,
        output_dir=None if source.output_dir is None else absolute(source.output_dir),
    )


def build_csv_connector(source: CsvSourceConfig, base_dir: Path) -> CsvConnector:
    """The connector of a configured ``csv`` source (for ``syncd.sources.build_connector``)."""
    return CsvConnector(csv_settings(source, base_dir))
