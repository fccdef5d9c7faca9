"""Real local servers the service talks to: an HTTP receiver and an SMTP server with STARTTLS.

The fixtures are in ``conftest.py``; the types and helpers are imported from here.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every request; answers with ``statuses`` in turn (200 once they run out)."""

    base_url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    arrived: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return self.base_url + path


def serve_receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.requests.append(
                Received(self.command, self.path, dict(self.headers.items()), body)
            )
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            for name, value in state.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            state.arrived.set()

        do_GET = do_POST = _serve  # noqa: N815  # http.server's handler names

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Mailbox:
    host: str
    port: int
    ca_file: str
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    used_tls: list[bool] = field(default_factory=list)


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(  # noqa: N802  # aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        assert isinstance(envelope.content, bytes)
        self.box.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.box.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        self.box.used_tls.append(session.ssl is not None)
        return "250 OK"


def serve_smtp(
    tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA, *, starttls: bool
) -> Iterator[Mailbox]:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_tls)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    box = Mailbox("127.0.0.1", free_port(), str(ca_file))

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login, password = data.login.decode(), data.password.decode()
        box.logins.append((login, password))
        return AuthResult(success=password == "s3cret", handled=False)  # aiosmtpd answers

    options: dict[str, Any] = {"authenticator": authenticate, "auth_require_tls": True}
    if starttls:
        options |= {"tls_context": server_tls, "require_starttls": True}
    controller = Controller(_Handler(box), hostname=box.host, port=box.port, **options)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
