"""The HTTP face of every emulator: a stdlib ThreadingHTTPServer in a daemon thread.

:class:`SandboxServer` serves an *app* (:class:`App`: ``decide`` then ``answer``) on 127.0.0.1,
over HTTPS when given an ``ssl.SSLContext``. ``port=0`` picks a free port (``base_url`` tells
which). The server only moves bytes: a body is parsed as JSON unless its ``Content-Type`` says
it is something else (XML, CSV, a form), and ``raw`` always carries the bytes.
"""

from __future__ import annotations

import contextlib
import json
import signal
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from sandbox.http.faults import Fault
from sandbox.http.wire import Request, Response

_REASONS = {207: "Multi-Status", 423: "Locked", 429: "Too Many Requests", 530: "Origin Error"}
_NOT_JSON = ("xml", "csv", "x-www-form-urlencoded", "text/plain")


class App(Protocol):
    """What the server serves: a fault decision, then the answer (None: close unanswered)."""

    def decide(self, request: Request) -> Fault | None: ...

    def answer(self, request: Request, fault: Fault | None) -> Response | None: ...


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
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

    def version_string(self) -> str:
        return self.server.name

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
        kind = (self.headers.get("Content-Type") or "").lower()
        if raw.strip() and not any(word in kind for word in _NOT_JSON):
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
            raw=raw,
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

    def __init__(
        self, address: tuple[str, int], app: App, name: str, tls: ssl.SSLContext | None
    ) -> None:
        self.app = app
        self.name = name
        self.tls = tls
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[Any, Any]:
        """Accept a connection; with TLS the handshake happens in the handler's thread (a
        client that never completes it blocks only itself)."""
        sock, address = super().get_request()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError):
                return  # a client that does not trust us hangs up; nothing to serve
        super().finish_request(request, client_address)


class SandboxServer:
    """Serve ``app`` while the context is open (or between :meth:`start` and :meth:`stop`).

    ``tls``, when given, makes it HTTPS; ``name`` is the ``Server`` header.
    """

    def __init__(
        self,
        app: App,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
        name: str = "sandbox",
    ) -> None:
        self.app = app
        self.tls = tls
        self._name = name
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def serving(self) -> bool:
        return self._server is not None

    @property
    def address(self) -> tuple[str, int]:
        """The host and port being served (the real port when 0 was asked for)."""
        if self._server is None:
            raise RuntimeError("the sandbox is not serving")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def base_url(self) -> str:
        """``http(s)://127.0.0.1:PORT`` (no trailing slash), valid while serving."""
        host, port = self.address
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{host}:{port}"

    def start(self) -> SandboxServer:
        if self._server is not None:
            return self
        self._server = _Server(self._address, self.app, self._name, self.tls)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self._name,
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

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def stop_signals() -> threading.Event:
    """An event that SIGINT (Ctrl-C) or SIGTERM sets, listened for from now on: call it before
    the CLI says it is serving, so that a signal sent as soon as that line is read is not lost
    (SIGINT ignored, SIGTERM's default death). Both are listened for here, in the main thread:
    a process started with SIGINT ignored (a shell's background job, ``syncd sandbox hubspot
    &``) inherits that, Python then installs no ``KeyboardInterrupt`` handler, and the emulator
    would never stop on the signal a user or a test sends."""
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, lambda _signum, _frame: stop.set())
    return stop


def wait_for_stop(stop: threading.Event) -> None:
    """Block until ``stop`` (from :func:`stop_signals`) is set: the CLI's serving loop."""
    with contextlib.suppress(KeyboardInterrupt):  # the default handler, off the main thread
        stop.wait()
