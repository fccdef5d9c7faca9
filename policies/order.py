"""Deterministic ordering helpers shared by the policies."""

from __future__ import annotations


def id_key(record_id: str) -> tuple[int, int, str]:
    """Sort key for record ids: numeric ids in numeric order, then any others as text."""
    if record_id.isdigit():
        return (0, int(record_id), record_id)
    return (1, 0, record_id)
