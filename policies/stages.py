"""Naming a deal stage in a rule: by its label, in every pipeline, or as ``pipeline:stage``.

A deal's canonical ``stage`` and ``pipeline`` are its CRM's ids (numbers, in some CRMs' custom
pipelines), with ``stage_label`` and ``pipeline_label`` beside them (:mod:`model.fields`).
A rule names a stage the way a person reads it:

- ``"Closed Won"``: the stage of that label in whichever pipeline the deal is in (or the stage
  of that id, e.g. ``1034``);
- ``"Renewals:Renewed"``: that stage of that pipeline only, each side a label or an id.

Comparisons ignore case and surrounding whitespace. A value that is a stage's whole label or
id is read as such first, so a label holding ``:`` still matches.
"""

from __future__ import annotations

from collections.abc import Mapping

Props = Mapping[str, str | None]


def _norm(value: str | None) -> str:
    return (value or "").strip().casefold()


def _names(props: Props, id_field: str, label_field: str) -> set[str]:
    return {n for n in (_norm(props.get(id_field)), _norm(props.get(label_field))) if n}


def stage_matches(props: Props, wanted: str) -> bool:
    """Whether a deal's properties ``props`` are at the stage ``wanted`` names (see the module
    docstring)."""
    stages = _names(props, "stage", "stage_label")
    if not stages:
        return False
    if _norm(wanted) in stages:
        return True
    pipeline, colon, stage = wanted.partition(":")
    if not colon:
        return False
    return _norm(pipeline) in _names(props, "pipeline", "pipeline_label") and _norm(stage) in stages
