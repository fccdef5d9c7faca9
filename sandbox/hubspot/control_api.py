"""``/_sandbox/`` control endpoints: fault settings, traffic counters, the data clock, auth.

The first three are every emulator's (:mod:`sandbox.http.control`); errors come back in
HubSpot's shape. No authentication, JSON in and out, never subject to faults or rate limits,
never counted.

- ``GET /_sandbox/faults``: ``{"policy": "random"|"none"|<class name>, ...settings}`` (the
  settings of :class:`~sandbox.hubspot.faults.RandomFaults` when that is the policy).
- ``PUT /_sandbox/faults``: any of ``fault_rate``, ``drop_rate``, ``latency_ms``, ``seed``,
  ``status_mix``, ``drop_after_share``, ``retry_after_s``; updates the running
  ``RandomFaults`` (a ``seed`` restarts its sequence) or installs a new one over any other
  policy. Answers as GET; 400 for a bad setting (nothing changes then).
- ``DELETE /_sandbox/faults``: no more faults (204).
- ``GET /_sandbox/stats``: :meth:`~sandbox.hubspot.stats.TrafficStats.snapshot`;
  ``DELETE /_sandbox/stats`` resets the counters (204).
- ``GET /_sandbox/clock``: ``{"now": iso, "settable": bool}``; ``POST /_sandbox/clock`` with
  ``{"advance_s": seconds}`` or ``{"now": iso}`` moves a
  :class:`~sandbox.hubspot.clock.SettableClock` forward (400 backwards, 409 when the state's
  clock is not settable).
- ``GET``/``PUT /_sandbox/auth``: the bearer tokens accepted; served by
  :meth:`~sandbox.hubspot.app.HubSpotApp.auth_control` (the tokens belong to the app, not to
  the account state).
"""

from __future__ import annotations

from sandbox.http.control import ControlApi
from sandbox.hubspot.faults import RandomFaults

_API = ControlApi(RandomFaults)

get_faults = _API.get_faults
put_faults = _API.put_faults
delete_faults = _API.delete_faults
get_stats = _API.get_stats
delete_stats = _API.delete_stats
get_clock = _API.get_clock
post_clock = _API.post_clock
