"""``/healthz``, ``/readyz`` and ``/metrics`` on 127.0.0.1, from a thread of the service.

- ``/healthz``: 200 while the process serves HTTP at all (liveness: restart it when this fails).
- ``/readyz``: runs the readiness checks given (store reachable, scheduler running, migrations
  current); 200 when all pass, 503 naming the failing ones otherwise. ``details`` adds what
  does not decide readiness (the service's paused sources: one source waiting for its CRM's
  allowance is no reason to restart or route around the whole service). A check passes when it
  returns anything but ``False`` without raising; the answer names a raised error by its type
  only (its message may hold a connection string), the log has the message.
- ``/metrics``: the registry given, in the format the scraper asks for (``Accept``: the
  Prometheus text format, or OpenMetrics).

Bound to 127.0.0.1 by default: put a reverse proxy or the scraper on the same host (or set
``host`` to an internal address) rather than exposing it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from pydantic import BaseModel, ConfigDict, Field

from syncd.logging import get_logger

log = get_logger(__name__)

Check = Callable[[], object]
"""A readiness check: fails by raising or by returning ``False``."""
Details = Callable[[], Mapping[str, object]]
"""What ``/readyz`` shows besides its checks, without deciding readiness."""


class HttpSettings(BaseModel):
    """The ``[service.http]`` settings (``serve --http-port`` overrides the port)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535, description="0: any free port.")


def run_checks(checks: Mapping[str, Check]) -> dict[str, str]:
    """``name -> "ok"`` or ``"failed"`` / ``"failed: ErrorType"`` for each check."""
    results = {}
    for name, check in checks.items():
        try:
            passed = check() is not False
        except Exception as exc:
            log.warning(
                "readiness check failed", check=name, error=type(exc).__name__, detail=str(exc)
            )
            results[name] = f"failed: {type(exc).__name__}"
            continue
        results[name] = "ok" if passed else "failed"
    return results


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "syncd"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/healthz":
            self._json(200, {"status": "ok"})
        elif path == "/readyz":
            results = run_checks(self.server.checks)
            ready = all(r == "ok" for r in results.values())
            body: dict[str, object] = {"ready": ready, "checks": results}
            if self.server.details is not None:
                try:
                    body.update(self.server.details())
                except Exception as exc:
                    log.warning("readiness details not read", error=type(exc).__name__)
            self._json(200 if ready else 503, body)
        elif path == "/metrics":
            encode, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._send(200, encode(self.server.registry), content_type)
        else:
            self._json(404, {"error": "no such path; try /healthz, /readyz or /metrics"})

    def do_POST(self) -> None:
        self._json(405, {"error": "only GET"})

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: probes and scrapes every few seconds are not news."""

    def _json(self, status: int, body: object) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        registry: CollectorRegistry,
        checks: Mapping[str, Check],
        details: Details | None = None,
    ) -> None:
        self.registry = registry
        self.checks = checks
        self.details = details
        super().__init__(address, _Handler)


class ServiceHttp:
    """The health and metrics server; a context manager (``port=0`` picks a free port)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        checks: Mapping[str, Check],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        details: Details | None = None,
    ) -> None:
        self._address = (host, port)
        self._registry = registry
        self._checks = dict(checks)
        self._details = details
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("not serving")
        port: int = self._server.server_address[1]
        return port

    @property
    def base_url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    def start(self) -> ServiceHttp:
        if self._server is None:
            self._server = _Server(self._address, self._registry, self._checks, self._details)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="syncd-http",
                daemon=True,
            )
            self._thread.start()
            log.info("serving health and metrics", url=self.base_url)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> ServiceHttp:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
