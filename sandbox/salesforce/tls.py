"""The sandbox's certificate authority: simple-salesforce always builds ``https://`` URLs, so the
sandbox serves HTTPS with a certificate for ``127.0.0.1`` and ``localhost`` that a CA of its own
signs (made by ``trustme``). A client trusts it through the ``requests`` session it hands the SDK
(``session.verify = <the CA's PEM file>``), never by patching the SDK.

:func:`load_or_make_ca` keeps the CA in a folder (``ca.pem`` and ``ca.key``, 0600) and reuses it
on the next start, so a client that read the PEM file once keeps trusting a restarted sandbox.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import trustme

CA_CERT = "ca.pem"
CA_KEY = "ca.key"


def load_or_make_ca(folder: Path | None) -> trustme.CA:
    """The CA kept in ``folder`` (made and saved there when absent); a fresh, unsaved one when
    ``folder`` is None."""
    if folder is None:
        return trustme.CA(organization_name="syncd Salesforce sandbox")
    cert, key = folder / CA_CERT, folder / CA_KEY
    if cert.is_file() and key.is_file():
        return trustme.CA.from_pem(cert.read_bytes(), key.read_bytes())
    ca = trustme.CA(organization_name="syncd Salesforce sandbox")
    folder.mkdir(parents=True, exist_ok=True)
    _write_private(key, ca.private_key_pem.bytes())
    _write_private(cert, ca.cert_pem.bytes())
    return ca


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server-side TLS context with a certificate for 127.0.0.1 and localhost."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost", "::1").configure_cert(context)
    return context


def write_ca(ca: trustme.CA, path: Path) -> Path:
    """Write the CA's certificate (public) to ``path``; its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ca.cert_pem.bytes())
    return path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
