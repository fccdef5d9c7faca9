"""Duplicate detection and merge proposals for contacts and companies.

See :mod:`policies.dedupe.policy` for the algorithm and :mod:`policies.dedupe.settings` for the
knobs.
"""

from __future__ import annotations

from policies.dedupe.policy import DedupePolicy
from policies.dedupe.settings import DedupeSettings

__all__ = ["DedupePolicy", "DedupeSettings"]
