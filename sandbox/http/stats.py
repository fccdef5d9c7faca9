"""Traffic counters: what the sandbox was asked and how it answered (``GET /_sandbox/stats``).

Requests are counted per route template as the vendor's API reference names it, e.g.
``POST /crm/v3/objects/{objectType}/batch/update`` or ``GET /services/data/v{version}/query``; a
request that matches no route counts under ``METHOD (unrouted)``. Control requests
(``/_sandbox/``) are not counted.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Literal

Drop = Literal["before", "after"]


class TrafficStats:
    """Thread-safe counters of API requests and their outcomes.

    :meth:`record` takes one request: its route label, the status the client received (None
    when the connection was dropped), which kind of drop, whether the fault policy caused
    the outcome, and whether the answer said "rate limited" (by default: a 429; Salesforce says
    it with a 403 ``REQUEST_LIMIT_EXCEEDED``, so its sandbox tells). :meth:`snapshot` answers::

        {"total": int, "requests": {label: int}, "statuses": {"200": int, ...},
         "rate_limited": int, "server_errors": int, "dropped": int,
         "dropped_before": int, "dropped_after": int, "injected": int}

    ``rate_limited`` counts every rate-limited answer (the limiter's and injected ones),
    ``server_errors`` every 5xx, ``dropped`` every connection closed without an answer
    (``dropped_before``: nothing was processed; ``dropped_after``: processed, answer lost),
    ``injected`` every outcome the fault policy caused (latency alone is not one).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._drops: Counter[str] = Counter()
        self._injected = 0
        self._rate_limited = 0

    def record(
        self,
        label: str,
        *,
        status: int | None,
        dropped: Drop | None,
        injected: bool,
        rate_limited: bool | None = None,
    ) -> None:
        with self._lock:
            self._requests[label] += 1
            if dropped is not None:
                self._drops[dropped] += 1
            elif status is not None:
                self._statuses[status] += 1
                limited = status == 429 if rate_limited is None else rate_limited
                self._rate_limited += int(limited)
            if injected:
                self._injected += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self._requests.values()),
                "requests": dict(sorted(self._requests.items())),
                "statuses": {str(s): n for s, n in sorted(self._statuses.items())},
                "rate_limited": self._rate_limited,
                "server_errors": sum(n for s, n in self._statuses.items() if s >= 500),
                "dropped": self._drops["before"] + self._drops["after"],
                "dropped_before": self._drops["before"],
                "dropped_after": self._drops["after"],
                "injected": self._injected,
            }

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._statuses.clear()
            self._drops.clear()
            self._injected = 0
            self._rate_limited = 0
