"""Reading associations through the associations v4 batch API, and reading HubSpot pages."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from connectors.hubspot.client import HubSpotClient, Json
from connectors.hubspot.settings import ASSOCIATION_BATCH_MAX


def next_after(page: Mapping[str, Any]) -> str | None:
    """The ``paging.next.after`` cursor of a page, if there is a next page."""
    paging = page.get("paging")
    next_page = paging.get("next") if isinstance(paging, Mapping) else None
    after = next_page.get("after") if isinstance(next_page, Mapping) else None
    return None if after in (None, "") else str(after)


def results(page: Json) -> list[Any]:
    """The ``results`` of a page (empty when absent or not a list)."""
    found = page.get("results")
    return found if isinstance(found, list) else []


def association_pairs(
    client: HubSpotClient, from_type: str, to_type: str, ids: Sequence[str]
) -> Iterator[tuple[str, str]]:
    """``(from id, to id)`` for every association of ``ids`` to ``to_type`` records, reading
    :data:`ASSOCIATION_BATCH_MAX` ids per call and following each id's own paging. An id with
    no association yields nothing (HubSpot reports it as a 207 error, not an empty list)."""
    pending: list[tuple[str, str | None]] = [(object_id, None) for object_id in ids]
    while pending:
        chunk, pending = pending[:ASSOCIATION_BATCH_MAX], pending[ASSOCIATION_BATCH_MAX:]
        page = client.associations_page(from_type, to_type, chunk)
        for result in results(page):
            if not isinstance(result, Mapping):
                continue
            source = result.get("from")
            object_id = str(source.get("id")) if isinstance(source, Mapping) else None
            if object_id is None:
                continue
            for target in result.get("to") or ():
                if isinstance(target, Mapping) and target.get("toObjectId") is not None:
                    yield object_id, str(target["toObjectId"])
            more = next_after(result)
            if more is not None:
                pending.append((object_id, more))
