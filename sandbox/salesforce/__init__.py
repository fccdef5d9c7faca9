"""An emulator of the Salesforce APIs syncd uses, which ``simple-salesforce`` talks to unchanged.

    state = SalesforceState(clock=lambda: datetime.now(UTC))
    with SalesforceSandbox(state) as sandbox:
        ...  # https://127.0.0.1:PORT, its CA in sandbox.ca_file(path)

It speaks Salesforce's real shapes: REST query/queryAll with ``nextRecordsUrl`` paging over a
parsed SOQL subset (:mod:`sandbox.salesforce.soql`), describe, sObject rows, ``updated`` and
``deleted``, ``limits``, sObject Collections, Bulk API 2.0 query jobs with CSV pages, the SOAP
``login`` and ``merge`` envelopes, the OAuth token endpoint, error lists of
``message``/``errorCode``/``fields``, and ``Sforce-Limit-Info`` on every answer. Faults, stats
and the clock are every emulator's (:mod:`sandbox.http`); ``/_sandbox/auth`` and
``/_sandbox/limits`` turn credentials and the daily allowance. :func:`seed.seed_state` loads the
generator's messy CRM as an org holds it.
"""

from __future__ import annotations

from sandbox.http.clock import SettableClock
from sandbox.http.faults import Fault, FaultPolicy, ScriptedFaults
from sandbox.http.wire import Request, Response
from sandbox.salesforce.faults import SalesforceFaults
from sandbox.salesforce.server import SalesforceSandbox, serve_forever
from sandbox.salesforce.store import Exchange, RecordError, SalesforceState

__all__ = [
    "Exchange",
    "Fault",
    "FaultPolicy",
    "RecordError",
    "Request",
    "Response",
    "SalesforceFaults",
    "SalesforceSandbox",
    "SalesforceState",
    "ScriptedFaults",
    "SettableClock",
    "serve_forever",
]
