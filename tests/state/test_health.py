"""The health table: figures per run and object type, read back as a history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from model.errors import StateError
from state import migrate
from state.db import make_engine
from state.store import SqlStateStore

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _runs(store: SqlStateStore, n: int, source: str = "hs") -> list[str]:
    ids = []
    for i in range(n):
        run_id = f"{source}-r{i}"
        store.start_run(run_id, source, T0 + timedelta(hours=i), dry_run=True)
        ids.append(run_id)
    return ids


def test_save_and_read_history_oldest_first(store: SqlStateStore) -> None:
    store.ensure_source("hs", "hubspot", T0)
    store.ensure_source("other", "hubspot", T0)
    runs = _runs(store, 3)
    (other,) = _runs(store, 1, "other")
    for i, run_id in enumerate(runs):
        store.save_health(
            run_id,
            "hs",
            T0 + timedelta(hours=i),
            {"all": {"records": 10 + i, "duplicate_share": 0.5 / (i + 1)}, "contacts": {"x": i}},
        )
    store.save_health(other, "other", T0, {"all": {"records": 99}})
    history = store.health_history("hs")
    assert [p.run_id for p in history] == runs
    assert history[0].measured_at == T0
    assert history[0].measured_at.tzinfo is not None
    assert history[2].metrics == {
        "all": {"records": 12.0, "duplicate_share": pytest.approx(0.5 / 3)},
        "contacts": {"x": 2.0},
    }
    latest_two = store.health_history("hs", limit=2)
    assert [p.run_id for p in latest_two] == runs[1:]
    assert store.health_history("hs", limit=0) == []
    assert [p.metrics for p in store.health_history("other")] == [{"all": {"records": 99.0}}]


def test_saving_again_replaces_the_runs_figures(store: SqlStateStore) -> None:
    store.ensure_source("hs", "hubspot", T0)
    (run,) = _runs(store, 1)
    store.save_health(run, "hs", T0, {"all": {"a": 1}, "contacts": {"a": 2}})
    store.save_health(run, "hs", T0, {"all": {"a": 3}})
    (point,) = store.health_history("hs")
    assert point.metrics == {"all": {"a": 3.0}}


@pytest.mark.parametrize(
    ("run_id", "source", "metrics", "message"),
    [
        ("nope", "hs", {"all": {"a": 1}}, "unknown run"),
        ("other-r0", "hs", {"all": {"a": 1}}, "not of 'hs'"),
        ("hs-r0", "hs", {"all": {"a": float("nan")}}, "not finite"),
        ("hs-r0", "hs", {"all": {"a": "1"}}, "not a number"),
        ("hs-r0", "ghost", {"all": {"a": 1}}, "unknown source"),
    ],
)
def test_bad_saves_are_refused_and_store_nothing(
    store: SqlStateStore,
    run_id: str,
    source: str,
    metrics: dict[str, dict[str, float]],
    message: str,
) -> None:
    store.ensure_source("hs", "hubspot", T0)
    store.ensure_source("other", "hubspot", T0)
    _runs(store, 1)
    _runs(store, 1, "other")
    with pytest.raises(StateError, match=message):
        store.save_health(run_id, source, T0, metrics)
    assert store.health_history("hs") == []


def test_naive_time_is_refused(store: SqlStateStore) -> None:
    store.ensure_source("hs", "hubspot", T0)
    (run,) = _runs(store, 1)
    with pytest.raises(StateError, match="timezone-aware"):
        store.save_health(run, "hs", datetime(2024, 1, 1), {"all": {"a": 1}})


def test_0003_upgrades_a_0002_database_and_downgrades(state_url: str) -> None:
    engine = make_engine(state_url)
    config = migrate.alembic_config()
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0002")
        old = SqlStateStore(engine)
        old.ensure_source("hs", "hubspot", T0)
        old.start_run("r1", "hs", T0, dry_run=True)
        assert "health" not in sa.inspect(engine).get_table_names()
        assert migrate.upgrade(engine) == migrate.head_revision()
        store = SqlStateStore(engine)
        store.save_health("r1", "hs", T0, {"all": {"records": 1}})
        assert [p.run_id for p in store.health_history("hs")] == ["r1"]
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0002")
        assert "health" not in sa.inspect(engine).get_table_names()
        assert old.get_run("r1").source == "hs"
    finally:
        engine.dispose()
