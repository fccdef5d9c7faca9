"""A heartbeat: after each successful cycle, ping a URL so an outside monitor notices silence.

Dead-man's-switch services (healthchecks.io, Cronitor, Better Stack, a Prometheus
Pushgateway-style endpoint) alert when the pings stop, which is how a team learns that every
replica is gone. The URL is a secret (it authorizes the pings); a failed ping is logged, never
raised, and retried only briefly so that it never delays the next cycle much.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import SecretStr

from connectors.retry import RetrySettings
from syncd.service.delivery import HttpSender, Method, deliver

HEARTBEAT_RETRY = RetrySettings(max_attempts=2, initial_wait=1.0, max_wait=5.0, jitter=0.5)


class Heartbeat:
    """``ping()`` GETs (or POSTs, empty) the URL; True when it got through."""

    def __init__(
        self,
        url: SecretStr,
        method: Method = "GET",
        *,
        http: HttpSender | None = None,
        retry: RetrySettings = HEARTBEAT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = url
        self._method: Method = method
        self._http = http or HttpSender(timeout_seconds=10.0)
        self._retry = retry
        self._sleep = sleep

    def ping(self) -> bool:
        def send() -> None:
            self._http.request(
                self._method, self._url, body=b"" if self._method == "POST" else None
            )

        return deliver(send, "heartbeat", retry=self._retry, sleep=self._sleep) is None
