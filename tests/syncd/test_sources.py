"""Sources: a connector is one registration (no edit of syncd/), and policies can be per source.

The fake connector here is what a new connector's package holds: one settings model, a
connector, a build function and one :class:`Registration`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import Field

from connectors.base import BuildContext, Connector, Registration
from connectors.registry import register, registered, unregister
from connectors.settings import ConnectorSettings
from model.changes import Merge
from model.errors import ConfigError
from model.records import Cursor, PullBatch, Record
from state.store import open_store
from syncd.config import parse_config
from syncd.engine import Engine
from syncd.sources import build_connector

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class RolodexSettings(ConnectorSettings):
    """A card index of contacts: how many twin pairs it holds."""

    twins: int = Field(default=1, ge=0)
    owner: str = "7"

    def pulled_types(self) -> tuple[str, ...]:
        return ("contacts",)


class RolodexConnector(Connector):
    name: ClassVar[str] = "rolodex"
    object_types: ClassVar[tuple[str, ...]] = ("contacts",)

    def __init__(self, settings: RolodexSettings, key: str) -> None:
        self.settings = settings
        self.key = key

    def pull(
        self, object_type: str, cursor: Cursor, *, run_started_at: datetime
    ) -> Iterator[PullBatch]:
        del cursor
        cards = [
            Record(
                object_type,
                str(n),
                {
                    "firstname": "Ann",
                    "lastname": f"Lee{n // 2}",
                    "email": f"ann{n // 2}@example.com",
                    "owner_id": self.settings.owner,
                },
                NOW,
                created_at=NOW,
            )
            for n in range(2 * self.settings.twins)
        ]
        yield PullBatch(object_type, tuple(cards), Cursor(run_started_at))

    def close(self) -> None:
        pass


def build(settings: RolodexSettings, context: BuildContext) -> RolodexConnector:
    return RolodexConnector(settings, context.key)


ROLODEX = Registration(
    name="rolodex",
    settings=RolodexSettings,
    build=build,
    renames={"contacts": {"Owner_Ref": "owner_id"}},
)


@pytest.fixture
def rolodex() -> Iterator[None]:
    register(ROLODEX)
    yield
    unregister("rolodex")


def test_a_registered_connector_is_configured_and_built_without_touching_syncd(
    rolodex: None, tmp_path: Path
) -> None:
    del rolodex
    config = parse_config({"sources": {"cards": {"connector": "rolodex", "twins": 2}}}, tmp_path)
    source = config.sources["cards"]
    assert isinstance(source.settings, RolodexSettings)
    assert source.settings.twins == 2
    assert source.object_types == ("contacts",)
    connector = build_connector(config, "cards", source)
    assert isinstance(connector, RolodexConnector)
    assert connector.key == "sources.cards"
    assert "rolodex" in registered()


def test_its_settings_model_reports_every_problem_with_dotted_keys(
    rolodex: None, tmp_path: Path
) -> None:
    del rolodex
    bad = {
        "store": {"url": 5},
        "sources": {
            "cards": {"connector": "rolodex", "twins": -1, "colour": "red"},
            "crm": {"connector": "hubspt", "default_region": "Mars", "token": "x"},
        },
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(bad, tmp_path)
    lines = str(caught.value).splitlines()
    assert any(line.startswith("sources.cards.twins: found -1") for line in lines)
    assert any(line.startswith("sources.cards.colour: unknown key") for line in lines)
    assert any(line.startswith("store.url: found 5") for line in lines)
    # a mistyped connector is one problem among the others, not the only one reported
    assert any(
        line.startswith("sources.crm.connector: 'hubspt' is not a connector; expected one of")
        and "rolodex" in line
        for line in lines
    )
    assert any(line.startswith("sources.crm.default_region: found 'Mars'") for line in lines)


def plan_of(config_data: dict[str, Any], tmp_path: Path, source: str) -> list[Merge]:
    (tmp_path / source).mkdir()
    config = parse_config(config_data, tmp_path / source)
    ids = count(1)
    engine = Engine(
        config,
        open_store(config.store_url()),
        lambda: NOW,
        lambda: f"id{next(ids)}",
        build_connector,
    )
    try:
        plan = engine.plan(source)
    finally:
        engine.store.close()
    return [c for c in plan.changes if isinstance(c, Merge)]


def test_a_sources_policies_are_laid_over_the_global_ones(rolodex: None, tmp_path: Path) -> None:
    del rolodex
    data: dict[str, Any] = {
        "store": {"url": "sqlite:///state.db"},
        "policies": {"dedupe": {"merge_threshold": 0.95}, "follow_up": {"enabled": False}},
        "sources": {
            "plain": {"connector": "rolodex", "twins": 2},
            "careful": {
                "connector": "rolodex",
                "twins": 2,
                "policies": {"dedupe": {"enabled": False}},
            },
        },
    }
    config = parse_config(data, tmp_path)
    assert config.policies_for("plain") == config.policies
    careful = config.policies_for("careful")
    assert not careful.dedupe.enabled
    assert careful.dedupe.merge_threshold == 0.95  # the global value under the source's own
    assert not careful.follow_up.enabled
    assert config.policies.dedupe.enabled

    assert len(plan_of(data, tmp_path, "plain")) == 2
    assert plan_of(data, tmp_path, "careful") == []


def test_a_sources_policy_problems_name_the_source(rolodex: None, tmp_path: Path) -> None:
    del rolodex
    data: dict[str, Any] = {
        "policies": {"dedupe": {"merge_threshold": "high"}},
        "sources": {
            "cards": {
                "connector": "rolodex",
                "policies": {"dedupe": {"merge_treshold": 0.9}, "retire": {"stale_after_days": 0}},
            }
        },
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(data, tmp_path)
    lines = str(caught.value).splitlines()
    assert sum(line.startswith("policies.dedupe.merge_threshold: found 'high'") for line in lines)
    assert any(
        line.startswith("sources.cards.policies.dedupe.merge_treshold: unknown") for line in lines
    )
    assert any(line.startswith("sources.cards.policies.retire.stale_after_days") for line in lines)
    # the global problem is reported once, under [policies]
    assert not any("sources.cards.policies.dedupe.merge_threshold" in line for line in lines)


def test_connectors_built_in_are_registered() -> None:
    assert list(registered())[:2] == ["hubspot", "csv"]


def test_sources_are_listed_in_order(rolodex: None, tmp_path: Path) -> None:
    del rolodex
    names: Sequence[str] = ("b", "a")
    config = parse_config({"sources": {n: {"connector": "rolodex"} for n in names}}, tmp_path)
    assert list(config.sources) == ["b", "a"]
