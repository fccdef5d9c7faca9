"""What every connector's settings share: one pydantic model per connector, secrets by reference.

A connector's settings are ONE model in its package (:class:`ConnectorSettings`): the
configuration validates ``[sources.NAME]`` with it (every key but the engine's own), and the
connector is built from the validated value. Secrets never live in a configuration file: a secret
key holds a reference to an environment variable (``"${HUBSPOT_TOKEN}"``), or a companion
``*_file`` key the path of a file holding it; a literal value is refused. References are
resolved only when a connector is built, so a configuration can be checked without the secrets.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.retry import RetrySettings
from model.errors import ConfigError

ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
"""A secret reference: ``${ENV_VAR}``."""


class ConnectorSettings(BaseModel):
    """Base of every connector's settings model: strict (unknown keys are errors) and frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def pulled_types(self) -> tuple[str, ...]:
        """The canonical object types a source with these settings pulls, in order."""
        raise NotImplementedError

    def unset_secrets(self) -> list[str]:
        """``key: why`` for each secret reference whose environment variable is unset (for
        ``check-config`` warnings); none by default."""
        return []


class RetryConfig(BaseModel):
    """Retries of transient failures (429, 5xx, timeouts, dropped connections)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=5, ge=1, le=20)
    initial_wait_seconds: float = Field(default=0.5, ge=0)
    max_wait_seconds: float = Field(default=30.0, ge=0)
    jitter_seconds: float = Field(default=0.5, ge=0)

    def settings(self) -> RetrySettings:
        """The value :mod:`connectors.retry` works with."""
        return RetrySettings(
            max_attempts=self.max_attempts,
            initial_wait=self.initial_wait_seconds,
            max_wait=self.max_wait_seconds,
            jitter=self.jitter_seconds,
        )


def secret_reference(value: str | None, example: str) -> str | None:
    """A pydantic validator body: ``value`` must be a ``${ENV_VAR}`` reference (``example``
    names one), never the secret itself."""
    if value is not None and not ENV_REF.match(value):
        raise ValueError(
            f'secrets are refused in the config file: write "{example}" '
            "(an environment variable) or use the matching *_file key"
        )
    return value


def unset_reference(key: str, reference: str | None) -> list[str]:
    """``[key: why]`` when ``reference`` names an environment variable that is not set."""
    match = ENV_REF.match(reference or "")
    if match and not os.environ.get(match.group(1)):
        return [f"{key}: environment variable {match.group(1)} is not set"]
    return []


def resolve_secret(reference: str | None, file: Path | None, base_dir: Path, key: str) -> SecretStr:
    """Read a secret from its environment variable or its file (relative to ``base_dir``).

    ``key`` is the secret's dotted key (``sources.hubspot.token``); ``ConfigError`` names it
    (or its ``_file`` twin) when the secret cannot be read.
    """
    if reference is not None:
        match = ENV_REF.match(reference)
        if match is None:
            raise ConfigError(f"{key}: not a reference; expected an environment variable")
        value = os.environ.get(match.group(1))
        if not value:
            raise ConfigError(
                f"{key}: environment variable {match.group(1)} is not set; "
                "expected it to hold the secret"
            )
        return SecretStr(value)
    if file is None:
        raise ConfigError(f"{key}: missing; a secret is required")
    path = file if file.is_absolute() else base_dir / file
    try:
        return SecretStr(path.read_text(encoding="utf-8").strip())
    except OSError as exc:
        raise ConfigError(
            f"{key}_file: cannot read {str(path)!r} ({exc.strerror}); "
            "expected a readable file holding the secret"
        ) from exc
