"""The Salesforce sandbox as a client meets it: the CLI over HTTPS with its CA, the control
endpoints, the seeded org, and the replication and collection rules."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest
from simple_salesforce.login import SalesforceLogin

from sandbox.generator import generate
from sandbox.salesforce import SalesforceSandbox, SalesforceState
from sandbox.salesforce.schema import LEAD_STATUSES, STAGES
from sandbox.salesforce.seed import seed_state
from sandbox.salesforce.tls import load_or_make_ca
from tests.sandbox.support import NOW, Clock


def session_trusting(ca: Path) -> requests.Session:
    session = requests.Session()
    session.verify = str(ca)
    session.trust_env = False  # else REQUESTS_CA_BUNDLE wins over verify
    return session


@pytest.fixture
def org(clock: Clock, tmp_path: Path) -> Iterator[tuple[SalesforceState, Salesforce]]:
    state = SalesforceState(clock, daily_limit=None)
    with SalesforceSandbox(state) as sandbox:
        session = session_trusting(sandbox.ca_file(tmp_path / "ca.pem"))
        sid, instance = SalesforceLogin(
            username="sandbox",
            password="sandbox",
            security_token="sandbox",
            session=session,
            scratch_url=sandbox.base_url,
        )
        yield state, Salesforce(session_id=sid, instance=instance, session=session)


def _syncd() -> list[str]:
    script = Path(sys.executable).with_name("syncd")
    fallback = [sys.executable, "-c", "from syncd.cli import main; main()"]
    return [str(script)] if script.exists() else fallback


def test_the_cli_serves_https_with_a_ca_it_keeps(tmp_path: Path) -> None:
    tls = tmp_path / "tls"
    command = [
        *_syncd(), "sandbox", "salesforce", "--port", "0", "--records", "30",
        "--tls-dir", str(tls), "--daily-limit", "40",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Salesforce sandbox serving at https://127.0.0.1:"), line
        base = line.split(" at ")[1].strip()
        ca = Path(process.stdout.readline().split(": ", 1)[1].strip())
        assert ca == tls / "ca.pem"
        assert oct((tls / "ca.key").stat().st_mode & 0o777) == "0o600"
        session = session_trusting(ca)
        sid, instance = SalesforceLogin(
            username="sandbox",
            password="sandbox",
            security_token="sandbox",
            session=session,
            scratch_url=base,
        )
        sf = Salesforce(session_id=sid, instance=instance, session=session)
        contacts = sf.query("SELECT Id FROM Contact")
        assert contacts["totalSize"] > 0
        assert sf.api_usage["api-usage"].total == 40
        faults = session.put(
            f"{base}/_sandbox/faults", json={"fault_rate": 1.0, "status_mix": {"503": 1}}
        )
        assert faults.json()["status_mix"] == {"503": 1.0}
        assert (
            sf.session.get(f"{base}/services/data/v59.0/limits/", headers=sf.headers).status_code
            == 503
        )
        session.delete(f"{base}/_sandbox/faults")
        stats = session.get(f"{base}/_sandbox/stats").json()
        assert stats["injected"] == 1
        assert stats["api_usage"]["max"] == 40
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{base}/_sandbox/health", timeout=5)  # nobody trusts it by default
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0
    # a restart reuses the CA, so clients that loaded it keep trusting the sandbox
    first = (tls / "ca.pem").read_bytes()
    assert load_or_make_ca(tls).cert_pem.bytes() == first


def test_the_seeded_org_holds_the_generators_people_as_an_org_would() -> None:
    state = SalesforceState(Clock(), daily_limit=None)

    seeded = seed_state(state, generate(records=400, seed=3, now=NOW))

    counts = state.counts()
    assert counts["Lead"] + counts["Contact"] == 400
    assert counts["Lead"] > 0
    assert counts["Contact"] > 0
    leads = list(state.records("Lead"))
    assert {r.values["Status"] for r in leads} <= set(LEAD_STATUSES)
    assert any(r.values["OwnerId"].startswith("00G") for r in leads), "a queue owns some"
    assert {r.values["StageName"] for r in state.records("Opportunity")} <= set(STAGES)
    for task in state.records("Task"):
        who = str(task.values.get("WhoId") or "")
        if who.startswith("00Q"):
            assert not task.values.get("WhatId"), "a task on a lead relates to nothing else"
    assert seeded.clusters["Contact"]
    assert seeded.lead_contact, "some people are a lead and a contact at once"
    assert all(len(c) > 1 for group in seeded.clusters.values() for c in group)


def test_the_delete_log_reaches_fifteen_days_back(
    org: tuple[SalesforceState, Salesforce], clock: Clock
) -> None:
    state, sf = org
    contact = state.create("Contact", {"LastName": "Lee"})
    clock.now += timedelta(minutes=5)
    state.delete("Contact", contact)
    clock.now += timedelta(minutes=5)

    found = sf.Contact.deleted(clock.now - timedelta(hours=1), clock.now)

    assert [d["id"] for d in found["deletedRecords"]] == [contact]
    with pytest.raises(SalesforceMalformedRequest) as old:
        sf.Contact.deleted(clock.now - timedelta(days=16), clock.now)
    assert old.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    with pytest.raises(SalesforceMalformedRequest):
        sf.Contact.deleted(datetime(2024, 5, 1, 11, 0), datetime(2024, 5, 1, 12, 0))  # naive


def test_query_all_pages_under_query_all_and_counts(
    org: tuple[SalesforceState, Salesforce],
) -> None:
    state, sf = org
    for i in range(250):
        state.create("Contact", {"LastName": f"L{i}"})
    state.delete("Contact", next(iter(state.records("Contact"))).id)

    first = sf.query("SELECT Id, IsDeleted FROM Contact", include_deleted=True,
                     headers={"Sforce-Query-Options": "batchSize=200"})  # fmt: skip
    rest = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    count = sf.query("SELECT COUNT() FROM Contact")

    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/queryAll/")
    assert (first["totalSize"], len(first["records"]), len(rest["records"])) == (250, 200, 50)
    assert Counter(r["IsDeleted"] for r in first["records"] + rest["records"])[True] == 1
    assert count == {"totalSize": 249, "done": True, "records": []}


def test_all_or_none_rolls_every_record_back(org: tuple[SalesforceState, Salesforce]) -> None:
    state, sf = org
    contact = state.create("Contact", {"LastName": "Lee"})

    results = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Contact"}, "id": contact, "MailingCity": "Paris"},
                {"attributes": {"type": "Contact"}, "id": contact[:-3] + "XXX", "LastName": "x"},
            ],
        },
    )

    assert [r["success"] for r in results] == [False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert state.live("Contact", contact).values.get("MailingCity") is None
