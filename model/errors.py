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


class AccountMismatchError(SourceFatalError):
    """A source's connector reaches another CRM account than the one whose records the state
    store holds for it: pulling would mix two accounts' records. Nothing was pulled."""

    def __init__(self, source: str, stored: str, reached: str) -> None:
        self.source = source
        self.stored = stored
        self.reached = reached
        super().__init__(
            f"source {source!r} reaches CRM account {reached}, but this state store holds the "
            f"records of account {stored} for it; nothing was pulled, so the two accounts' "
            f"records do not mix. Point the source back at account {stored}, use another state "
            f"store or another source name for account {reached}, or forget account {stored}'s "
            f"records with `syncd reset-source {source} --yes` and sync account {reached} from "
            "scratch"
        )


class SourcePausedError(SourceFatalError):
    """The vendor asks syncd to stop for a while (a daily API allowance spent, or at the
    reserve syncd keeps for others): nothing is broken, the source resumes once the vendor has
    room again. The service pauses the source, raises one incident and probes the allowance
    every ``service.pause_probe_minutes`` (``Connector.allowance``) until there is room.

    ``used`` and ``limit`` are the allowance's reading when the vendor gave one (``None``
    otherwise).
    """

    def __init__(self, message: str, *, used: int | None = None, limit: int | None = None) -> None:
        super().__init__(message)
        self.used = used
        self.limit = limit


class RecordSkippedError(SyncdError):
    """One record could not be handled; skip and report it, and go on."""


class StateError(SyncdError):
    """The state store is unusable (schema too new, unreachable, corrupt)."""


class SourceBusyError(SyncdError):
    """Another command holds the source's lease: this one did nothing (CLI exit code 4).

    ``holder`` names who holds it (run, pid, host, since) as the store recorded it.
    """

    def __init__(self, source: str, holder: str, waited_seconds: float = 0.0) -> None:
        self.source = source
        self.holder = holder
        self.waited_seconds = waited_seconds
        waited = f" (waited {waited_seconds:g} s)" if waited_seconds else ""
        super().__init__(
            f"source {source!r} is busy{waited}: {holder} holds it; let that command finish, "
            "or run again with --wait SECONDS to wait for it"
        )


class LeaseLostError(StateError):
    """A command wrote with a lease epoch that is no longer the source's current one: another
    command took the source over (its holder's connection or process was gone). Nothing of the
    refused write was recorded; the command must stop."""
