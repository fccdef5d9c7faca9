"""Traffic counters, shared by every emulator (:mod:`sandbox.http.stats`)."""

from __future__ import annotations

from sandbox.http.stats import Drop, TrafficStats

__all__ = ["Drop", "TrafficStats"]
