"""``/healthz``, ``/readyz`` and ``/metrics`` over real HTTP, and the metrics themselves."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from syncd.service.http import HttpSettings, ServiceHttp
from syncd.service.metrics import Metrics

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


class Flags:
    def __init__(self) -> None:
        self.store_ok = True
        self.scheduler_running = True

    def store(self) -> None:
        if not self.store_ok:
            raise ConnectionRefusedError("postgresql://syncd:pw@db:5432 refused")

    def scheduler(self) -> bool:
        return self.scheduler_running


@pytest.fixture
def flags() -> Flags:
    return Flags()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(
        outbox_depth=lambda: {"hubspot": 12},
        open_incidents=lambda: {("hubspot", "auth"): 1},
    )


@pytest.fixture
def server(flags: Flags, metrics: Metrics) -> Iterator[ServiceHttp]:
    checks = {"store": flags.store, "scheduler": flags.scheduler, "migrations": lambda: None}
    with ServiceHttp(metrics.registry, checks) as http:
        yield http


def test_healthz_answers_while_the_process_lives(server: ServiceHttp) -> None:
    status, kind, body = _get(server.base_url + "/healthz")
    assert (status, kind, json.loads(body)) == (200, "application/json", {"status": "ok"})
    assert server.base_url.startswith("http://127.0.0.1:")


def test_readyz_runs_the_checks_and_names_the_failing_ones(
    server: ServiceHttp, flags: Flags
) -> None:
    status, _, body = _get(server.base_url + "/readyz")
    assert status == 200
    assert json.loads(body) == {
        "ready": True,
        "checks": {"store": "ok", "scheduler": "ok", "migrations": "ok"},
    }
    flags.store_ok = False
    flags.scheduler_running = False
    status, _, body = _get(server.base_url + "/readyz")
    assert status == 503
    answer: dict[str, Any] = json.loads(body)
    assert answer == {
        "ready": False,
        "checks": {
            "store": "failed: ConnectionRefusedError",
            "scheduler": "failed",
            "migrations": "ok",
        },
    }
    assert "pw@" not in body
    flags.store_ok = flags.scheduler_running = True
    assert _get(server.base_url + "/readyz")[0] == 200


def test_metrics_serves_the_registry_in_the_prometheus_format(
    server: ServiceHttp, metrics: Metrics
) -> None:
    metrics.records_pulled.labels("hubspot", "contacts").inc(250)
    metrics.count_changes(
        "hubspot", "planned", {("normalize", "update"): 40, ("dedupe", "merge"): 3}
    )
    metrics.count_changes("hubspot", "applied", {("normalize", "update"): 38})
    metrics.count_api_calls("hubspot", calls=17, rate_limited=2)
    metrics.observe_run(
        "hubspot",
        outcome="succeeded",
        duration_seconds=42.0,
        finished=T0,
        next_run=T0 + timedelta(minutes=15),
    )
    metrics.observe_run("hubspot", outcome="failed", duration_seconds=3.0, finished=T0)
    status, kind, body = _get(server.base_url + "/metrics")
    assert status == 200
    assert kind.startswith("text/plain; version=")
    samples = _samples(body)
    src = ("source", "hubspot")
    assert samples[("syncd_records_pulled_total", (("object_type", "contacts"), src))] == 250
    planned = "syncd_changes_planned_total"
    assert samples[(planned, (("kind", "update"), ("policy", "normalize"), src))] == 40
    assert samples[(planned, (("kind", "merge"), ("policy", "dedupe"), src))] == 3
    applied = "syncd_changes_applied_total"
    assert samples[(applied, (("kind", "update"), ("policy", "normalize"), src))] == 38
    assert samples[("syncd_api_calls_total", (("vendor", "hubspot"),))] == 17
    assert samples[("syncd_api_rate_limited_total", (("vendor", "hubspot"),))] == 2
    assert samples[("syncd_runs_total", (("outcome", "succeeded"), src))] == 1
    assert samples[("syncd_runs_total", (("outcome", "failed"), src))] == 1
    assert samples[("syncd_run_duration_seconds_count", (src,))] == 2
    assert samples[("syncd_run_duration_seconds_sum", (src,))] == 45.0
    assert samples[("syncd_run_duration_seconds_bucket", (("le", "60.0"), src))] == 2
    assert samples[("syncd_run_duration_seconds_bucket", (("le", "30.0"), src))] == 1
    assert samples[("syncd_last_success_timestamp_seconds", (src,))] == T0.timestamp()
    next_run = (T0 + timedelta(minutes=15)).timestamp()
    assert samples[("syncd_next_run_timestamp_seconds", (src,))] == next_run
    assert samples[("syncd_outbox_depth", (src,))] == 12
    assert samples[("syncd_open_incidents", (("cause", "auth"), src))] == 1


def test_openmetrics_when_the_scraper_asks_for_it(server: ServiceHttp, metrics: Metrics) -> None:
    metrics.api_calls.labels("hubspot").inc()
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    request = urllib.request.Request(server.base_url + "/metrics", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        assert response.read().decode().rstrip().endswith("# EOF")


def test_a_failing_store_read_leaves_its_metric_out_not_the_scrape() -> None:
    def broken() -> dict[str, int]:
        raise TimeoutError("store")

    metrics = Metrics(outbox_depth=broken)
    metrics.api_calls.labels("hubspot").inc()
    with ServiceHttp(metrics.registry, {}) as http:
        status, _, body = _get(http.base_url + "/metrics")
    assert status == 200
    names = {name for name, _ in _samples(body)}
    assert "syncd_api_calls_total" in names
    assert "syncd_outbox_depth" not in names


def test_two_metric_sets_do_not_share_a_registry() -> None:
    first, second = Metrics(), Metrics()
    first.api_calls.labels("hubspot").inc()
    assert second.registry.get_sample_value("syncd_api_calls_total", {"vendor": "hubspot"}) is None


def test_unknown_paths_and_methods(server: ServiceHttp) -> None:
    assert _get(server.base_url + "/admin")[0] == 404
    request = urllib.request.Request(server.base_url + "/healthz", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 405


def test_stop_frees_the_port(metrics: Metrics) -> None:
    http = ServiceHttp(metrics.registry, {}).start()
    url = http.base_url + "/healthz"
    assert _get(url)[0] == 200
    http.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)


def test_settings_default_to_loopback() -> None:
    assert HttpSettings().host == "127.0.0.1"
    with pytest.raises(ValueError, match="less than or equal to 65535"):
        HttpSettings(port=70000)
