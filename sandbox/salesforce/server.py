"""The HTTPS face of the Salesforce sandbox, on the shared server of :mod:`sandbox.http.server`.

``SalesforceSandbox`` is a context manager: entering starts serving HTTPS on 127.0.0.1
(``port=0`` picks a free port; ``base_url`` tells which), leaving stops. The CA that signed its
certificate is ``ca`` (``ca_file`` writes its PEM for clients to trust). simple-salesforce talks
to it unchanged, through a ``requests`` session that trusts the CA::

    session = requests.Session(); session.verify = str(sandbox.ca_file(tmp / "ca.pem"))
    sid, instance = SalesforceLogin(username="sandbox", password="sandbox",
                                    security_token="sandbox", session=session,
                                    scratch_url=sandbox.base_url)
    sf = Salesforce(session_id=sid, instance=instance, session=session)
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme

from sandbox.http.clock import SettableClock
from sandbox.http.server import SandboxServer, stop_signals, wait_for_stop
from sandbox.ports import SALESFORCE_PORT
from sandbox.salesforce.app import SalesforceApp
from sandbox.salesforce.faults import SalesforceFaults
from sandbox.salesforce.store import DEFAULT_DAILY_LIMIT, SalesforceState
from sandbox.salesforce.tls import load_or_make_ca, server_context, write_ca


class SalesforceSandbox:
    """Serve a :class:`SalesforceState` over HTTPS while the context is open.

    ``ca`` is the certificate authority to sign with (a fresh one by default).
    """

    def __init__(
        self,
        state: SalesforceState,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        ca: trustme.CA | None = None,
    ) -> None:
        self.ca = ca or load_or_make_ca(None)
        self.app = SalesforceApp(state, scheme="https")
        self._server = SandboxServer(
            self.app, port, host=host, tls=server_context(self.ca), name="salesforce-sandbox"
        )

    @property
    def state(self) -> SalesforceState:
        """The org being served; assigning another one swaps it in for the next request."""
        return self.app.state

    @state.setter
    def state(self, state: SalesforceState) -> None:
        self.app.state = state

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT`` (no trailing slash), valid while serving."""
        return self._server.base_url

    def ca_file(self, path: Path) -> Path:
        """Write the CA's certificate to ``path`` (for ``session.verify``); its path."""
        return write_ca(self.ca, path)

    def start(self) -> SalesforceSandbox:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> SalesforceSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def serve_forever(
    port: int = SALESFORCE_PORT,
    records: int = 2000,
    seed: int = 7,
    *,
    tls_dir: Path,
    ca_file: Path | None = None,
    fault_rate: float = 0.0,
    drop_rate: float = 0.0,
    latency_ms: int = 0,
    fault_seed: int = 0,
    daily_limit: int | None = DEFAULT_DAILY_LIMIT,
    username: str = "sandbox",
    password: str = "sandbox",
    security_token: str = "sandbox",
    person_accounts: bool = False,
) -> None:
    """Seed a sandbox org from the data generator and serve it over HTTPS until interrupted
    (CLI entry).

    The CA lives in ``tls_dir`` (made on first use, reused after); its certificate is also
    written to ``ca_file`` when given. Logins take ``username`` and ``password`` +
    ``security_token``. Faults as :func:`sandbox.hubspot.serve_forever` takes them (statuses
    of :class:`~sandbox.salesforce.faults.SalesforceFaults`); ``daily_limit`` is API requests per
    rolling 24 h (None or 0: not enforced); ``person_accounts`` enables Person Accounts and seeds
    some. Prints the base URL and the CA's path once listening.
    The clock is the wall clock, settable forward through ``POST /_sandbox/clock``. Raises
    ValueError for bad fault settings, ``OSError`` (before generating data) when the port cannot
    be bound.
    """
    faults = SalesforceFaults(fault_rate, drop_rate, latency_ms, fault_seed)
    wall = SettableClock(lambda: datetime.now(UTC))
    credentials: dict[str, Any] = {
        "username": username,
        "password": password,
        "security_token": security_token,
    }
    ca = load_or_make_ca(tls_dir)
    written = write_ca(ca, ca_file) if ca_file is not None else tls_dir / "ca.pem"
    # The port first: a port in use fails at once, before seconds of data generation.
    with SalesforceSandbox(SalesforceState(wall, **credentials), port=port, ca=ca) as sandbox:
        generator = importlib.import_module("sandbox.generator")
        seeding = importlib.import_module("sandbox.salesforce.seed")
        dataset = generator.generate(records=records, seed=seed, now=wall())
        state = SalesforceState(
            wall, daily_limit=daily_limit or None, person_accounts=person_accounts, **credentials
        )
        seeding.seed_state(state, dataset)
        state.faults = faults
        sandbox.state = state
        stop = stop_signals()  # before the line a supervisor waits for
        print(f"Salesforce sandbox serving at {sandbox.base_url}", flush=True)
        print(f"Its certificate authority: {written}", flush=True)
        wait_for_stop(stop)
