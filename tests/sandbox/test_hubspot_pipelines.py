"""Deal pipelines: HubSpot's default one, custom ones with numeric ids, through the SDK; the
generator seeds deals across them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hubspot import HubSpot
from hubspot.crm.deals import SimplePublicObjectInputForCreate
from hubspot.crm.deals.exceptions import ApiException

from sandbox.generator import generate
from sandbox.generator.schema import DEAL_PIPELINES
from sandbox.hubspot import HubSpotSandbox, SandboxState
from sandbox.hubspot.pipelines import pipeline

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def state() -> SandboxState:
    state = SandboxState(clock=lambda: NOW, rate_limit=None, search_rate_limit=None)
    state.add_pipeline(
        "deals",
        pipeline(
            "75000001",
            "Renewals",
            1,
            [("75000011", "Due", 0.5, False), ("75000012", "Renewed", 1.0, True)],
        ),
    )
    return state


@pytest.fixture
def client(state: SandboxState) -> Iterator[HubSpot]:
    with HubSpotSandbox(state) as sandbox:
        yield HubSpot(access_token="t", host=sandbox.base_url)


def test_pipelines_and_their_stages_through_the_sdk(client: HubSpot) -> None:
    api = client.crm.pipelines.pipelines_api
    found = api.get_all("deals").results
    assert [(p.id, p.label) for p in found] == [
        ("default", "Sales Pipeline"),
        ("75000001", "Renewals"),
    ]
    default = found[0]
    assert [s.id for s in default.stages][-2:] == ["closedwon", "closedlost"]
    won = default.stages[-2]
    assert (won.label, won.metadata) == ("Closed Won", {"isClosed": "true", "probability": "1.0"})
    renewed = api.get_by_id("deals", "75000001").stages[1]
    assert (renewed.id, renewed.display_order, renewed.metadata["isClosed"]) == (
        "75000012",
        1,
        "true",
    )


def test_a_deal_takes_a_custom_stage_and_refuses_an_unknown_one(client: HubSpot) -> None:
    api = client.crm.deals.basic_api
    made = api.create(
        SimplePublicObjectInputForCreate(
            properties={"dealname": "D", "pipeline": "75000001", "dealstage": "75000012"}
        )
    )
    assert made.properties["dealstage"] == "75000012"
    with pytest.raises(ApiException) as refused:
        api.create(SimplePublicObjectInputForCreate(properties={"dealstage": "99999999"}))
    assert refused.value.status == 400


def test_the_generator_seeds_deals_across_pipelines() -> None:
    dataset = generate(records=400, seed=11, now=NOW)
    state = SandboxState.from_dataset(dataset, clock=lambda: NOW)
    assert [p["id"] for p in state.pipelines["deals"]] == [p["id"] for p in DEAL_PIPELINES]
    stages = {s["id"]: p["id"] for p in DEAL_PIPELINES for s in p["stages"]}
    pipelines = Counter(d.properties["pipeline"] for d in dataset.objects["deals"])
    assert set(pipelines) == {p["id"] for p in DEAL_PIPELINES}
    assert all(pipelines[p] >= 5 for p in pipelines)
    for deal in dataset.objects["deals"]:
        assert stages[str(deal.properties["dealstage"])] == deal.properties["pipeline"]
    custom = [p for p in DEAL_PIPELINES if p["id"] != "default"]
    assert all(p["id"].isdigit() and all(s["id"].isdigit() for s in p["stages"]) for p in custom)
