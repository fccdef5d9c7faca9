"""The settable data clock, shared by every emulator (:mod:`sandbox.http.clock`)."""

from __future__ import annotations

from sandbox.http.clock import SettableClock

__all__ = ["SettableClock"]
