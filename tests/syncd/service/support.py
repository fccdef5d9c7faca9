"""What the ``syncd serve`` tests share: a serve process, waiting on conditions, reading the
sandbox's auth and the service's metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from prometheus_client.parser import text_string_to_metric_families

T = TypeVar("T")
#: The checkout whose syncd the processes run.
REPO = Path(__file__).resolve().parents[3]
#: The longest any condition is waited for (a deadline, never an expected duration).
DEADLINE = 90.0


def wait_for(
    condition: Callable[[], T | None],
    what: str,
    deadline: float = DEADLINE,
    on_timeout: Callable[[], str] = lambda: "",
) -> T:
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` at the
    deadline (with ``on_timeout()``, e.g. the process's output)."""
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}\n{on_timeout()}")
        time.sleep(0.05)


def set_tokens(base_url: str, tokens: list[str]) -> None:
    """Switch the tokens the sandbox accepts (``PUT /_sandbox/auth``)."""
    request = urllib.request.Request(
        base_url + "/_sandbox/auth",
        data=json.dumps({"tokens": tokens}).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def get(url: str) -> tuple[int, str] | None:
    """Status and body of a GET, or None when nothing answers (yet)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return None


def metrics(base_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The service's samples: (name, sorted labels) -> value; empty when it does not answer."""
    answer = get(base_url + "/metrics")
    if answer is None or answer[0] != 200:
        return {}
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer[1])
        for sample in family.samples
    }


def sample(
    found: Mapping[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


class Serve:
    """``syncd serve -c CONFIG ARGS`` in a process of its own, its output in a file."""

    def __init__(self, config: Path, *args: str, env: Mapping[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "syncd", "serve", "-c", str(config), *args],
            env={**os.environ, "PYTHONPATH": str(REPO), **env},
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")

    def lines(self) -> list[dict[str, object]]:
        """The JSON log lines so far."""
        found = []
        for line in self.output().splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found

    def tail(self) -> str:
        return self.output()[-4000:]

    def stop(self) -> None:
        """Kill it if it still runs (a test that failed half way)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._out.close()
