"""Properties of repeated pulls against the sandbox, over generated histories of changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.records import Cursor, Record
from sandbox.hubspot import HubSpotSandbox
from tests.connectors.hubspot.world import FakeClock, World, new_state


@dataclass(frozen=True)
class Round:
    """Changes made between two runs: creations and updates, each after a tick (ms)."""

    changes: tuple[tuple[str, int, int], ...]  # ("create"|"update", which, tick_ms)
    gap_ms: int  # time from the last change to the run start


rounds = st.lists(
    st.builds(
        Round,
        changes=st.lists(
            st.tuples(
                st.sampled_from(["create", "update"]),
                st.integers(0, 50),
                st.sampled_from([0, 0, 1, 7, 1500]),
            ),
            max_size=25,
        ).map(tuple),
        gap_ms=st.sampled_from([0, 1, 900, 30_000, 400_000]),
    ),
    min_size=1,
    max_size=4,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=rounds, lag_ms=st.sampled_from([0, 400, 5_000]))
def test_repeated_pulls_converge_and_cursors_behave(
    shared_sandbox: HubSpotSandbox, history: list[Round], lag_ms: int
) -> None:
    clock = FakeClock()
    state = new_state(clock)
    state.search_lag = timedelta(milliseconds=lag_ms)
    state.search_cap = 6
    shared_sandbox.state = state
    shared_sandbox.app.state = state
    world = World(clock=clock, state=state, sandbox=shared_sandbox)
    connector = world.connector(lookback_seconds=10, page_size_search=3, page_size_list=4)
    mirror: dict[str, Record] = {}
    created: list[str] = []
    cursor = Cursor()
    version = 0
    try:
        for round_ in [*history, Round((), 20_000)]:  # a last quiet run sees the lagging rest
            for kind, which, tick_ms in round_.changes:
                clock.tick(milliseconds=tick_ms)
                version += 1
                if kind == "create" or not created:
                    created.append(state.create("contacts", {"firstname": f"v{version}"}))
                else:
                    state.update(
                        "contacts", created[which % len(created)], {"firstname": f"v{version}"}
                    )
            run = clock.tick(milliseconds=round_.gap_ms)
            pulled = world.pull(connector, "contacts", cursor, run_started_at=run)
            previous = cursor.updated_at
            for batch in pulled.batches:
                moved = batch.cursor.updated_at
                assert moved is not None or previous is None
                if moved is not None:
                    assert moved <= run, "never past the run start"
                    assert previous is None or moved >= previous, "never backwards"
                    previous = moved
            assert len(pulled.records) == len({r.id for r in pulled.records})
            for record in pulled.records:
                if record.id not in mirror or record.updated_at >= mirror[record.id].updated_at:
                    mirror[record.id] = record
            cursor = pulled.cursor
            assert cursor.updated_at == run
        with state.lock:
            live = {
                r.id: (r.updated_at, r.properties["firstname"])
                for r in state.live_records("contacts")
            }
        assert {i: (r.updated_at, r.properties["firstname"]) for i, r in mirror.items()} == live
    finally:
        world.close()
