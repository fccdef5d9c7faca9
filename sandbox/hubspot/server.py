"""The HTTP face of the HubSpot sandbox, on the shared server of :mod:`sandbox.http.server`.

``HubSpotSandbox`` is a context manager: entering starts serving on 127.0.0.1 (``port=0`` picks a
free port; ``base_url`` tells which), leaving stops. The official SDK talks to it unchanged with
``HubSpot(access_token=..., host=sandbox.base_url)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from types import TracebackType

from sandbox.http.server import SandboxServer, stop_signals, wait_for_stop
from sandbox.hubspot.access import ALL_SCOPES
from sandbox.hubspot.app import HubSpotApp
from sandbox.hubspot.clock import SettableClock
from sandbox.hubspot.faults import RandomFaults
from sandbox.hubspot.ratelimit import DEFAULT_PER_INTERVAL
from sandbox.hubspot.store import SandboxState
from sandbox.ports import HUBSPOT_PORT


class HubSpotSandbox:
    """Serve a :class:`SandboxState` over HTTP while the context is open (on the shared
    :class:`~sandbox.http.server.SandboxServer`).

    ``token_required`` demands a bearer token on API requests; ``tokens`` restricts which;
    ``scopes`` maps a token to the scopes it was granted (a token not listed has them all).
    """

    def __init__(
        self,
        state: SandboxState,
        port: int = 0,
        token_required: bool = True,
        *,
        host: str = "127.0.0.1",
        tokens: Collection[str] | None = None,
        scopes: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        self.app = HubSpotApp(state, token_required=token_required, tokens=tokens, scopes=scopes)
        self._server = SandboxServer(self.app, port, host=host, name="hubspot-sandbox")

    @property
    def state(self) -> SandboxState:
        """The account being served; assigning another one swaps it in for the next request."""
        return self.app.state

    @state.setter
    def state(self, state: SandboxState) -> None:
        self.app.state = state

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash), valid while serving."""
        return self._server.base_url

    def start(self) -> HubSpotSandbox:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> HubSpotSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def serve_forever(
    port: int = HUBSPOT_PORT,
    records: int = 2000,
    seed: int = 7,
    *,
    fault_rate: float = 0.0,
    drop_rate: float = 0.0,
    latency_ms: int = 0,
    fault_seed: int = 0,
    rate_limit: int | None = DEFAULT_PER_INTERVAL,
    tokens: Collection[str] | None = None,
    legacy_merge: bool = False,
    missing_scopes: Collection[str] = (),
    write_lock_threshold: int | None = None,
) -> None:
    """Seed a sandbox from the data generator and serve it until interrupted (CLI entry).

    ``fault_rate``, ``drop_rate``, ``latency_ms`` and ``fault_seed`` configure
    :class:`~sandbox.hubspot.faults.RandomFaults` (changeable later through
    ``PUT /_sandbox/faults``); ``rate_limit`` is requests per rolling 10 s (None or 0: not
    enforced); ``tokens`` the bearer tokens accepted (None: any; others get HubSpot's 401,
    changeable through ``PUT /_sandbox/auth``); ``missing_scopes`` are scopes those tokens
    were not granted (calls that need one answer 403 ``MISSING_SCOPES``; needs ``tokens``);
    ``legacy_merge`` keeps a merge's primary id (older portals); ``write_lock_threshold`` is
    the writes per second past which writes answer 423 Locked (None: never). Prints the base
    URL (with the real port when ``port`` is 0) once listening.
    The clock is the wall clock, settable forward through ``POST /_sandbox/clock``.
    Raises ValueError for fault settings :class:`RandomFaults` refuses and for an empty token,
    and ``OSError`` (before generating any data) when the port cannot be bound.
    """
    faults = RandomFaults(fault_rate, drop_rate, latency_ms, fault_seed)
    if tokens is not None and not all(t.strip() for t in tokens):
        raise ValueError("a token must not be empty")
    if missing_scopes and tokens is None:
        raise ValueError("missing scopes need the tokens they are missing from")
    scopes = (
        {token: ALL_SCOPES - frozenset(missing_scopes) for token in tokens}
        if missing_scopes and tokens is not None
        else None
    )
    wall = SettableClock(lambda: datetime.now(UTC))
    # The port first: a port in use fails at once, before seconds of data generation.
    with HubSpotSandbox(
        SandboxState(clock=wall), port=port, tokens=tokens, scopes=scopes
    ) as sandbox:
        # Imported by name: the generator is needed only here.
        generator = importlib.import_module("sandbox.generator")
        dataset = generator.generate(records=records, seed=seed, now=wall())
        state = SandboxState.from_dataset(
            dataset, clock=wall, rate_limit=rate_limit or None, legacy_merge=legacy_merge
        )
        state.rate_limiter.write_lock_threshold = write_lock_threshold
        state.faults = faults
        sandbox.state = state
        stop = stop_signals()  # before the line a supervisor waits for
        print(f"HubSpot sandbox serving at {sandbox.base_url}", flush=True)
        wait_for_stop(stop)
