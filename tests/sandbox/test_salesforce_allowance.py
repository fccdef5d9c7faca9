"""The Salesforce sandbox's daily allowance as a client drives it over HTTP: a rolling 24 hours of
requests counted on the sandbox's clock (``/work/shared/notes/salesforce.md``: every answer
carries ``Sforce-Limit-Info: api-usage=N/M``; a spent allowance is 403 ``REQUEST_LIMIT_EXCEEDED``;
``limits/`` gives ``DailyApiRequests {Max, Remaining}``), set through ``/_sandbox/limits`` and
moved on through ``/_sandbox/clock``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.salesforce import SalesforceSandbox, SalesforceState, SettableClock

DATA = "/services/data/v59.0"


@pytest.fixture
def org(tmp_path: Path) -> Iterator[tuple[SalesforceSandbox, requests.Session, dict[str, str]]]:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    state = SalesforceState(SettableClock(lambda: start), daily_limit=None)
    state.create("Contact", {"LastName": "Lee"})
    with SalesforceSandbox(state) as sandbox:
        session = requests.Session()
        session.verify = str(sandbox.ca_file(tmp_path / "ca.pem"))
        session.trust_env = False
        yield sandbox, session, {"Authorization": f"Bearer {state.new_session()}"}


def control(session: requests.Session, base: str, path: str, **body: Any) -> dict[str, Any]:
    """``PUT /_sandbox/limits`` or ``POST /_sandbox/clock`` with ``body``; the answer."""
    send = session.put if path == "/_sandbox/limits" else session.post
    answer = send(base + path, json=body)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_the_allowance_rolls_over_24_hours_of_the_sandbox_clock(
    org: tuple[SalesforceSandbox, requests.Session, dict[str, str]],
) -> None:
    sandbox, session, auth = org
    base = sandbox.base_url
    query = f"{base}{DATA}/query/?q=SELECT+Id+FROM+Contact"
    assert control(session, base, "/_sandbox/limits", daily_limit=50, use=30)["used"] == 30
    control(session, base, "/_sandbox/clock", advance_s=12 * 3600)
    control(session, base, "/_sandbox/limits", use=19)

    served = session.get(query, headers=auth)
    assert served.status_code == 200
    assert served.headers["Sforce-Limit-Info"] == "api-usage=50/50"
    refused = session.get(query, headers=auth)
    assert refused.status_code == 403
    assert refused.json() == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    limits = session.get(f"{base}{DATA}/limits/", headers=auth)
    assert limits.json()["DailyApiRequests"] == {"Max": 50, "Remaining": 0}

    # the first 30 requests leave the window 24 hours after they were made; the others stay
    control(session, base, "/_sandbox/clock", advance_s=12 * 3600 + 1)
    limits = session.get(f"{base}{DATA}/limits/", headers=auth)
    assert limits.json()["DailyApiRequests"] == {"Max": 50, "Remaining": 30}
    again = session.get(query, headers=auth)
    assert again.status_code == 200
    assert again.headers["Sforce-Limit-Info"] == "api-usage=21/50"
