"""Reading a batch write's answer input by input (for :mod:`connectors.hubspot.writer`).

A 200/201 answer lists what was written; a 207 adds ``errors``, each naming the inputs it is
about in ``context`` (record ids under ``ids``, or the ``objectWriteTraceId`` an input carried,
which is its outbox key). Results echo their input's trace id, and a record written through an
id it absorbed in a merge comes back as the survivor, which lists that id in
``hs_merged_object_ids``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from connectors.hubspot.associations import results
from connectors.hubspot.client import Answer
from connectors.hubspot.errors import (
    audit_response,
    batch_error_retriable,
    describe_batch_error,
    write_error,
)
from connectors.hubspot.mapping import split_ids
from connectors.hubspot.settings import MERGED_IDS
from model.writes import WriteErrorKind, WriteResult

UNMENTIONED = "HubSpot's answer did not mention this input"


def _errors(answer: Answer) -> list[Mapping[str, Any]]:
    found = (answer.body or {}).get("errors")
    return [e for e in found if isinstance(e, Mapping)] if isinstance(found, list) else []


def _context_names(error: Mapping[str, Any]) -> set[str]:
    """Every id or trace id an error's ``context`` names."""
    context = error.get("context")
    names: set[str] = set()
    if isinstance(context, Mapping):
        for field in ("ids", "id", "objectWriteTraceId"):
            values = context.get(field)
            if isinstance(values, list):
                names.update(str(v) for v in values)
            elif values is not None:
                names.add(str(values))
    return names


def _judge_errors(
    keys_and_names: Sequence[tuple[str, set[str]]], answer: Answer
) -> tuple[dict[str, WriteResult], WriteResult | None]:
    """Failed results of the inputs the answer's errors name, by key, and the failure to give
    an input that no result and no error accounts for (``None`` when all errors were named)."""
    failed: dict[str, WriteResult] = {}
    unnamed: Mapping[str, Any] | None = None
    for error in _errors(answer):
        named = _context_names(error)
        kind, properties = write_error(answer.status, error)
        hit = False
        for key, names in keys_and_names:
            if names & named:
                hit = True
                failed.setdefault(
                    key,
                    WriteResult(
                        key,
                        ok=False,
                        error=describe_batch_error(error),
                        retriable=batch_error_retriable(error),
                        response=audit_response(answer.status, error, answer.headers),
                        error_kind=kind,
                        fields=properties,
                    ),
                )
        if not hit and unnamed is None:
            unnamed = error
    fallback = None
    if unnamed is not None:
        kind, properties = write_error(answer.status, unnamed)
        fallback = WriteResult(
            "",
            ok=False,
            error=describe_batch_error(unnamed),
            retriable=batch_error_retriable(unnamed),
            response=audit_response(answer.status, unnamed, answer.headers),
            error_kind=kind,
            fields=properties,
        )
    return failed, fallback


def judge_inputs(
    inputs: Sequence[tuple[str, set[str]]],
    answer: Answer,
    applied: Mapping[str, str],
    *,
    silence_means_ok: bool,
) -> dict[str, WriteResult]:
    """One result per input key. ``applied`` maps keys the answer's results account for to the
    remote id; an input neither applied nor named by an error is ok when ``silence_means_ok``
    and the answer had no error at all, else a retriable failure."""
    failed, fallback = _judge_errors(inputs, answer)
    ok_response = audit_response(answer.status, None, answer.headers)
    judged: dict[str, WriteResult] = {}
    clean = not _errors(answer)
    for key, _ in inputs:
        if key in failed:
            judged[key] = failed[key]
        elif key in applied:
            judged[key] = WriteResult(key, ok=True, remote_id=applied[key], response=ok_response)
        elif fallback is not None:
            judged[key] = replace(fallback, key=key)
        elif silence_means_ok and clean:
            judged[key] = WriteResult(key, ok=True, response=ok_response)
        else:
            judged[key] = WriteResult(
                key,
                ok=False,
                error=UNMENTIONED,
                retriable=True,
                response=ok_response,
                error_kind=WriteErrorKind.UNAVAILABLE,
            )
    return judged


def traced(answer: Answer) -> dict[str, str]:
    """The ``objectWriteTraceId`` each result of a batch answer echoes (our key) → its id."""
    found: dict[str, str] = {}
    for raw in results(answer.body or {}):
        if isinstance(raw, Mapping) and raw.get("id") is not None and raw.get("objectWriteTraceId"):
            found.setdefault(str(raw["objectWriteTraceId"]), str(raw["id"]))
    return found


def survivors(answer: Answer) -> dict[str, str]:
    """Each id a batch answer's results stand for (their own, and ids they absorbed) → their id."""
    found: dict[str, str] = {}
    for raw in results(answer.body or {}):
        if not isinstance(raw, Mapping) or raw.get("id") is None:
            continue
        own = str(raw["id"])
        found[own] = own
        properties = raw.get("properties")
        if isinstance(properties, Mapping):
            for absorbed in split_ids(properties.get(MERGED_IDS)):
                found.setdefault(absorbed, own)
    return found
