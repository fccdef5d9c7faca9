"""Fixtures: real local servers (see :mod:`tests.syncd.service.servers`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme

from tests.syncd.service.servers import Mailbox, Receiver, serve_receiver, serve_smtp


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An HTTP server on 127.0.0.1 that records requests and answers as told."""
    yield from serve_receiver()


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def smtp_server(tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA) -> Iterator[Mailbox]:
    """An SMTP server that requires STARTTLS (certificate from ``ca``) and checks logins."""
    yield from serve_smtp(tmp_path_factory, ca, starttls=True)


@pytest.fixture
def plain_smtp_server(
    tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA
) -> Iterator[Mailbox]:
    """An SMTP server that offers no STARTTLS."""
    yield from serve_smtp(tmp_path_factory, ca, starttls=False)
