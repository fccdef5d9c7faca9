"""Deal stages as HubSpot's pipelines define them: what a stage id means.

A deal's ``dealstage`` is a stage id of its ``pipeline``: words in HubSpot's default pipeline
(``closedwon``), numbers in the pipelines a portal adds (``shared/notes/hubspot.md``). What a
stage means comes from ``GET /crm/v3/pipelines/deals``, never from the id's spelling: each
stage's label, display order, and ``metadata``: ``isClosed`` (``"true"``/``"false"``) and
``probability`` (``"0.0"`` to ``"1.0"``); a closed stage with probability 1.0 is won.

:class:`StageBook` reads the pipelines once, when a deal is first mapped, and answers by
``(pipeline, stage)``; a deal whose pipeline is unknown (not read, or another type's) is
looked up by its stage id alone, which HubSpot keeps unique among a portal's pipelines.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Json = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Stage:
    """One deal stage and the pipeline it belongs to."""

    pipeline_id: str
    pipeline_label: str
    stage_id: str
    label: str
    order: int
    closed: bool
    won: bool


def _float(value: object) -> float | None:
    try:
        return float(str(value))
    except ValueError:
        return None


def parse_pipelines(body: Json) -> list[Stage]:
    """The stages of a ``GET /crm/v3/pipelines/{type}`` answer (``results``), in order;
    malformed entries are left out."""
    stages: list[Stage] = []
    for pipeline in body.get("results") or ():
        if not isinstance(pipeline, Mapping) or pipeline.get("id") is None:
            continue
        for stage in pipeline.get("stages") or ():
            if not isinstance(stage, Mapping) or stage.get("id") is None:
                continue
            metadata = stage.get("metadata")
            meta = metadata if isinstance(metadata, Mapping) else {}
            closed = str(meta.get("isClosed", "")).strip().lower() == "true"
            order = stage.get("displayOrder")
            stages.append(
                Stage(
                    pipeline_id=str(pipeline["id"]),
                    pipeline_label=str(pipeline.get("label") or pipeline["id"]),
                    stage_id=str(stage["id"]),
                    label=str(stage.get("label") or stage["id"]),
                    order=order if isinstance(order, int) else 0,
                    closed=closed,
                    won=closed and _float(meta.get("probability")) == 1.0,
                )
            )
    return stages


class StageBook:
    """The portal's deal stages, read through ``load`` (the pipelines answer) when first
    asked; ``load=None`` knows no stage (every look-up is ``None``)."""

    def __init__(self, load: Callable[[], Json] | None = None) -> None:
        self._load = load
        self._by_pair: dict[tuple[str, str], Stage] | None = None
        self._by_stage: dict[str, Stage] = {}
        self._lock = threading.Lock()  # pulls map records in several threads

    @classmethod
    def of(cls, body: Json) -> StageBook:
        """A book of the pipelines in ``body`` (a pipelines answer), read at once."""
        book = cls()
        book._fill(parse_pipelines(body))
        return book

    def _fill(self, stages: Iterable[Stage]) -> None:
        by_pair: dict[tuple[str, str], Stage] = {}
        by_stage: dict[str, Stage] = {}
        counts: dict[str, int] = {}
        for stage in stages:
            by_pair[(stage.pipeline_id, stage.stage_id)] = stage
            counts[stage.stage_id] = counts.get(stage.stage_id, 0) + 1
            by_stage[stage.stage_id] = stage
        # a stage id two pipelines share says nothing on its own
        for stage_id, n in counts.items():
            if n > 1:
                del by_stage[stage_id]
        self._by_stage = by_stage
        self._by_pair = by_pair  # last: a book with pairs is complete

    def _pairs(self) -> Mapping[tuple[str, str], Stage]:
        if self._by_pair is None:
            with self._lock:
                if self._by_pair is None:
                    self._fill(parse_pipelines(self._load()) if self._load is not None else ())
        assert self._by_pair is not None
        return self._by_pair

    def stage(self, pipeline: str | None, stage: str | None) -> Stage | None:
        """The stage ``stage`` of ``pipeline`` (or, without a known pipeline, of the one
        pipeline that has it); ``None`` when unknown."""
        if not stage:
            return None
        found = self._pairs().get(((pipeline or "").strip(), stage.strip()))
        return found if found is not None else self._by_stage.get(stage.strip())

    @property
    def stages(self) -> list[Stage]:
        """Every stage known, in pipeline and display order."""
        return list(self._pairs().values())
