"""The HTTP face of the sandbox: a stdlib ThreadingHTTPServer in a daemon thread.

``HubSpotSandbox`` is a context manager: entering starts serving on 127.0.0.1 (``port=0`` picks a
free port; ``base_url`` tells which), leaving stops. The official SDK talks to it unchanged with
``HubSpot(access_token=..., host=sandbox.base_url)``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import threading
import time
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox.hubspot.access import ALL_SCOPES
from sandbox.hubspot.app import HubSpotApp
from sandbox.hubspot.clock import SettableClock
from sandbox.hubspot.faults import RandomFaults
from sandbox.hubspot.ratelimit import DEFAULT_PER_INTERVAL
from sandbox.hubspot.store import SandboxState
from sandbox.hubspot.wire import Request, Response

_REASONS = {207: "Multi-Status", 423: "Locked", 429: "Too Many Requests", 530: "Origin Error"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "hubspot-sandbox"
    timeout = 60
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the sandbox logs nothing per request."""

    def _serve(self) -> None:
        request = self._read_request()
        app = self.server.app
        fault = app.decide(request)
        if fault is not None and fault.latency_s > 0:
            time.sleep(fault.latency_s)
        response = app.answer(request, fault)
        if response is None:  # dropped: close without a word
            self.close_connection = True
            return
        self._write(response)

    def _read_request(self) -> Request:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        malformed = False
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                malformed = True
        return Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=dict(self.headers.items()),
            body=body,
            malformed=malformed,
        )

    def _write(self, response: Response) -> None:
        if response.raw is not None:
            payload = response.raw
        else:
            payload = b"" if response.body is None else json.dumps(response.body).encode()
        self.send_response(response.status, _REASONS.get(response.status))
        if response.body is not None and response.raw is None:
            self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload:
            self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: HubSpotApp) -> None:
        self.app = app
        super().__init__(address, _Handler)


class HubSpotSandbox:
    """Serve a :class:`SandboxState` over HTTP while the context is open.

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
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

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
        if self._server is None:
            raise RuntimeError("the sandbox is not serving")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> HubSpotSandbox:
        if self._server is not None:
            return self
        self._server = _Server(self._address, self.app)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="hubspot-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

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
    port: int = 8765,
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
        print(f"HubSpot sandbox serving at {sandbox.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
