"""What Salesforce forgets or keeps, through the engine: a fix someone set back is held and the
field history says who did it (as ``test_reverts`` shows for HubSpot); records deleted while
syncd was away longer than the recycle bin keeps them are still found gone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from model.changes import Update
from sandbox.generator import generate
from sandbox.salesforce import SalesforceSandbox, SalesforceState
from sandbox.salesforce.seed import seed_state
from syncd.engine import Engine
from tests.syncd.test_apply import NOW, Clock, engine_for
from tests.syncd.test_apply_salesforce import make_config


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[SalesforceSandbox]:
    state = SalesforceState(clock, daily_limit=None)
    seed_state(state, generate(records=150, seed=5, now=NOW))
    with SalesforceSandbox(state, port=0) as running:
        yield running


@pytest.fixture
def engine(
    tmp_path: Path, sandbox: SalesforceSandbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Engine]:
    monkeypatch.setenv("SALESFORCE_PASSWORD", "sandbox")
    monkeypatch.setenv("SALESFORCE_SECURITY_TOKEN", "sandbox")
    built = engine_for(make_config(tmp_path, sandbox), clock)
    yield built
    built.store.close()


def test_a_phone_a_person_set_back_is_held_and_says_who(
    engine: Engine, sandbox: SalesforceSandbox, clock: Clock
) -> None:
    state = sandbox.state
    first = engine.run_once("sf")
    assert first.plan is not None
    fixes = [
        e
        for e in engine.store.audit(run_id=first.plan.run_id)
        if e.kind == "update" and e.object_type == "contacts" and e.field == "phone"
    ]
    fix = next(
        e
        for e in fixes
        if (r := state.live("Contact", e.record_id)) is not None
        and r.values.get("Phone") == e.after
    )
    person = next(
        u for u in state.records("User") if u.id != state.api_user_id and u.values["IsActive"]
    )
    clock.advance(minutes=5)
    state.update("Contact", fix.record_id, {"Phone": fix.before}, by=person.id)
    changed_at = state.live("Contact", fix.record_id).modstamp  # type: ignore[union-attr]
    clock.advance(minutes=5)

    second = engine.run_once("sf")

    assert second.plan is not None
    assert not [
        c
        for c in second.plan.changes
        if isinstance(c, Update) and c.record_id == fix.record_id and c.field == "phone"
    ]
    [held] = [r for r in engine.store.reverts("sf") if r.record_id == fix.record_id]
    name = f"{person.values['FirstName']} {person.values['LastName']}"
    assert (held.value, held.reverted_to) == (fix.after, fix.before)
    assert held.changed_by == f"{name} (user {person.id})"
    assert held.changed_via is None  # Salesforce does not say through what
    assert held.changed_at == changed_at
    assert state.live("Contact", fix.record_id).values["Phone"] == fix.before  # type: ignore[union-attr]


def test_records_deleted_and_purged_while_syncd_was_away_are_found_gone(
    engine: Engine, sandbox: SalesforceSandbox, clock: Clock
) -> None:
    state = sandbox.state
    engine.plan("sf")
    contacts = sorted(r.id for r in state.records("Contact"))
    accounts = sorted(r.id for r in state.records("Account"))
    purged, binned, kept = contacts[:3], contacts[3:5], contacts[5]
    clock.advance(days=1)
    for record_id in [*purged, accounts[0]]:
        state.delete("Contact" if record_id in purged else "Account", record_id)
    clock.advance(days=10)
    for record_id in binned:
        state.delete("Contact", record_id)
    clock.advance(days=9)  # 20 days away: the first deletions left the bin 4 days ago
    assert state.find("Contact", purged[0]) is None

    engine.plan("sf")

    stored = engine.store.get_records("sf", "contacts", [*purged, *binned, kept])
    assert all(stored[i].archived for i in [*purged, *binned])
    assert not stored[kept].archived
    account = engine.store.get_records("sf", "companies", [accounts[0]])[accounts[0]]
    assert account.archived
    assert engine.store.live_ids("sf", "contacts") == {r.id for r in state.records("Contact")}
