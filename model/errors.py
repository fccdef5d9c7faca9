"""One root error, split by what the caller should do about it."""

from __future__ import annotations


class SyncdError(Exception):
    """Root of every error syncd raises on purpose."""


class ConfigError(SyncdError):
    """The configuration is wrong; nothing ran. The message names each bad key."""


class RetriableError(SyncdError):
    """A transient failure (429, 5xx, timeout, dropped connection) that outlived its retries."""


class SourceFatalError(SyncdError):
    """This source cannot go on this run (auth failure, missing scopes); raise an alert."""


class RecordSkippedError(SyncdError):
    """One record could not be handled; skip and report it, and go on."""


class StateError(SyncdError):
    """The state store is unusable (schema too new, unreachable, corrupt)."""
