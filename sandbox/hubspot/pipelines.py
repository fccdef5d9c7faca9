"""Deal pipelines as ``GET /crm/v3/pipelines/deals`` answers them (``Pipeline`` JSON).

Every portal has HubSpot's default deal pipeline (id ``default``, "Sales Pipeline") with its
stage ids in words (``appointmentscheduled``... ``closedwon``, ``closedlost``); pipelines a
portal adds get numeric ids, their stages too (``shared/notes/hubspot.md``). A deal stage's
``metadata`` holds ``isClosed`` and ``probability`` as strings (HubSpot's pipelines reference:
the probability is required for deal stages, 0.0 to 1.0); a won stage is closed with
probability 1.0. The default pipelines' ``createdAt`` is the epoch, as the reference says.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

EPOCH = "1970-01-01T00:00:00.000Z"

#: HubSpot's default deal pipeline: (stage id, label, probability, closed).
DEFAULT_DEAL_STAGES: tuple[tuple[str, str, float, bool], ...] = (
    ("appointmentscheduled", "Appointment Scheduled", 0.2, False),
    ("qualifiedtobuy", "Qualified To Buy", 0.4, False),
    ("presentationscheduled", "Presentation Scheduled", 0.6, False),
    ("decisionmakerboughtin", "Decision Maker Bought-In", 0.8, False),
    ("contractsent", "Contract Sent", 0.9, False),
    ("closedwon", "Closed Won", 1.0, True),
    ("closedlost", "Closed Lost", 0.0, True),
)


def stage(
    stage_id: str,
    label: str,
    order: int,
    probability: float,
    *,
    closed: bool,
    created: str = EPOCH,
) -> dict[str, Any]:
    """One deal stage (``PipelineStage``)."""
    return {
        "id": stage_id,
        "label": label,
        "displayOrder": order,
        "metadata": {"isClosed": "true" if closed else "false", "probability": str(probability)},
        "createdAt": created,
        "updatedAt": created,
        "archived": False,
        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
    }


def pipeline(
    pipeline_id: str,
    label: str,
    order: int,
    stages: Sequence[tuple[str, str, float, bool]],
    *,
    created: str = EPOCH,
) -> dict[str, Any]:
    """One pipeline (``Pipeline``) of ``(stage id, label, probability, closed)`` stages."""
    return {
        "id": pipeline_id,
        "label": label,
        "displayOrder": order,
        "stages": [
            stage(sid, slabel, n, probability, closed=closed, created=created)
            for n, (sid, slabel, probability, closed) in enumerate(stages)
        ],
        "createdAt": created,
        "updatedAt": created,
        "archived": False,
    }


def default_deal_pipeline() -> dict[str, Any]:
    """HubSpot's default deal pipeline, as every portal has it."""
    return pipeline("default", "Sales Pipeline", 0, DEFAULT_DEAL_STAGES)


def stage_ids(pipelines: Sequence[dict[str, Any]]) -> list[str]:
    """Every stage id of ``pipelines``, in pipeline and display order."""
    return [str(s["id"]) for p in pipelines for s in p["stages"]]
