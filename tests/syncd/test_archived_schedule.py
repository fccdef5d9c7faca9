"""The archived listing, which HubSpot answers in full every time, is read on its own slower
schedule (``archived_every_hours``), tracked in the store's cursor from run to run."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.hubspot import HubSpotSandbox, SandboxState
from tests.syncd.test_apply import Clock, engine_for, make_config


def archived_listings(state: SandboxState) -> int:
    return sum(1 for x in state.request_log if x.query.get("archived") == ["True"])


def test_deletions_are_read_every_archived_every_hours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "sandbox")
    clock = Clock()
    state = SandboxState(clock=clock, rate_limit=None, search_rate_limit=None)
    made = [state.create("contacts", {"firstname": f"C{i}", "lastname": "X"}) for i in range(3)]
    with HubSpotSandbox(state, port=0) as sandbox:
        config = make_config(tmp_path, sandbox.base_url)
        hubspot = config.sources["hubspot"]
        settings = hubspot.settings.model_copy(
            update={"object_types": ("contacts",), "archived_every_hours": 12.0}
        )
        config = config.model_copy(
            update={"sources": {"hubspot": hubspot.model_copy(update={"settings": settings})}}
        )
        engine = engine_for(config, clock)
        try:
            state.record_exchanges = True
            engine.plan("hubspot")  # full: the archived listing is read
            assert archived_listings(state) == 1
            first = engine.store.get_cursor("hubspot", "contacts").deletions_read_at
            assert first is not None

            state.archive("contacts", made[0])
            clock.advance(hours=11)
            engine.plan("hubspot")
            assert archived_listings(state) == 1, "not due yet"
            stored = engine.store.get_records("hubspot", "contacts", [made[0]])
            assert not stored[made[0]].archived
            assert engine.store.get_cursor("hubspot", "contacts").deletions_read_at == first

            clock.advance(hours=2)
            engine.plan("hubspot")
            assert archived_listings(state) == 2
            stored = engine.store.get_records("hubspot", "contacts", [made[0]])
            assert stored[made[0]].archived
            later = engine.store.get_cursor("hubspot", "contacts").deletions_read_at
            assert later is not None
            assert later > first
        finally:
            engine.store.close()
