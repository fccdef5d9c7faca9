"""A full, then an incremental, dry-run cycle of the service's engine (which keeps what a cycle
leaves) against the HubSpot sandbox, with the time spent waiting on the API told apart from
syncd's own work.

    python -m bench.cycle --records 10000 [--seed 7] [--store sqlite|postgres]
        [--latency-ms 100] [--in-flight 4]

The sandbox runs in a process of its own, with HubSpot's limits (190 requests per 10 s, search
5 per second) and its rate-limit headers, which syncd paces itself by, as against HubSpot; its
memory and CPU are not syncd's. ``--latency-ms`` delays every answer by that much (a network
and HubSpot's own time), ``--in-flight`` is the connector's ``requests_in_flight`` (1: one
request at a time).

Per cycle it prints the records pulled and the changes planned, and: the wall time; the time
waiting on the API, as the connector measures it on the engine's thread (in HTTP calls, pacing
and retry waits, and waiting for the threads that make the calls of a pull in flight); local
work = wall - waiting (pulling's parsing and storing, the policies, the plan); the CPU time of
this process (syncd's threads only: on a busy machine the wall, and so the local work, grows
while the CPU time does not); the calls made, per second of the whole wall and of the pull
alone (what the allowance bounds: 19/s at 190 per 10 s), and the 429s the sandbox answered.
Then the peak resident memory of this process.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.stores import store_url
from connectors.base import Connector
from model.records import Cursor, PullBatch
from state.store import open_store
from syncd.config import Config, SourceConfig, parse_config
from syncd.engine import Engine
from syncd.logging import configure as configure_logging
from syncd.sources import build_connector


def _serve(conn: Connection, records: int, seed: int, latency_ms: int) -> None:
    """The sandbox process: generate, serve with HubSpot's limits, answer ``stats``, stop on
    ``stop``."""
    # Imported here: the sandbox is the child's, never the measured process's.
    from sandbox.generator import generate  # noqa: PLC0415
    from sandbox.hubspot import HubSpotSandbox, RandomFaults, SandboxState  # noqa: PLC0415

    def now() -> datetime:
        return datetime.now(UTC)

    started = time.perf_counter()
    dataset = generate(records=records, seed=seed, now=now())
    state = SandboxState.from_dataset(dataset, clock=now)  # HubSpot's limits: the defaults
    state.faults = RandomFaults(latency_ms=latency_ms)
    total = sum(len(v) for v in dataset.objects.values()) + len(dataset.owners)
    del dataset
    with HubSpotSandbox(state, port=0) as sandbox:
        conn.send((sandbox.base_url, total, time.perf_counter() - started))
        while (message := conn.recv()) != "stop":
            if message == "stats":
                conn.send(state.stats())


@dataclass
class _Sandbox:
    conn: Connection
    process: Any

    def stats(self) -> dict[str, Any]:
        self.conn.send("stats")
        found: dict[str, Any] = self.conn.recv()
        return found

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(30)


def _config(base_url: str, store_url: str, base_dir: Path, in_flight: int) -> Config:
    return parse_config(
        {
            "store": {"url": store_url},
            "logging": {"level": "warning"},
            "sources": {
                "hubspot": {
                    "connector": "hubspot",
                    "base_url": base_url,
                    "token": "${HUBSPOT_TOKEN}",
                    "requests_in_flight": in_flight,
                }
            },
        },
        base_dir,
    )


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run the cycle twice (full, then incremental) and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every answer")
    parser.add_argument("--in-flight", type=int, default=4, help="requests_in_flight")
    args = parser.parse_args(argv)
    os.environ.setdefault("HUBSPOT_TOKEN", "bench")
    configure_logging("warning")

    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(theirs, args.records, args.seed, args.latency_ms), daemon=True
    )
    process.start()
    base_url, total, seconds = ours.recv()
    sandbox = _Sandbox(ours, process)
    print(
        f"sandbox (own process): {total} objects ({args.records} contacts) generated in "
        f"{seconds:.2f}s; HubSpot's limits; latency {args.latency_ms} ms; "
        f"requests in flight {args.in_flight}"
    )

    built: list[Connector] = []
    pulls: list[tuple[float, int]] = []  # per cycle: the pull's seconds, the calls it made

    def build(config: Config, name: str, source: SourceConfig) -> Connector:
        connector = build_connector(config, name, source)
        built.append(connector)
        pull_all = connector.pull_all

        def timed(
            cursors: Mapping[str, Cursor], *, run_started_at: datetime
        ) -> Iterator[PullBatch]:
            started, calls = time.perf_counter(), connector.usage().calls
            yield from pull_all(cursors, run_started_at=run_started_at)
            pulls.append((time.perf_counter() - started, connector.usage().calls - calls))

        connector.pull_all = timed  # type: ignore[method-assign]  # timed, as it is
        return connector

    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            store_url(args.store, Path(tmp)) as url,
        ):
            config = _config(base_url, url, Path(tmp), args.in_flight)
            store = open_store(config.store_url())
            # the service's engine: it keeps what a cycle leaves (dedupe's memory, the
            # snapshot), so its second cycle is incremental; a one-off (CLI) engine plans the
            # second in full again (what the 54 s measured on 2026-12-01 was)
            engine = Engine(
                config,
                store,
                lambda: datetime.now(UTC),
                lambda: uuid.uuid4().hex[:12],
                build,
                remember=True,
            )
            for label in ("full", "incremental"):
                limited = sandbox.stats()["rate_limited"]
                cpu = time.process_time()
                t1 = time.perf_counter()
                plan = engine.plan("hubspot")
                wall = time.perf_counter() - t1
                cpu = time.process_time() - cpu
                usage = built[-1].usage()  # on this thread: the engine's
                counts = store.get_run(plan.run_id or "").counts
                by_type = counts.get("pulled")
                pulled = sum(by_type.values()) if isinstance(by_type, dict) else 0
                local = wall - usage.waited_seconds
                refused = sandbox.stats()["rate_limited"] - limited
                pull_seconds, pull_calls = pulls[-1]
                print(
                    f"{label:11s} cycle: {pulled:7d} records pulled, {len(plan.changes):6d} "
                    f"changes planned\n  wall {wall:7.2f}s = API wait {usage.waited_seconds:7.2f}s"
                    f" + local work {local:6.2f}s (CPU {cpu:6.2f}s)\n"
                    f"  {usage.calls:5d} calls, {usage.calls / wall:5.1f} calls/s of the wall; "
                    f"the pull {pull_calls} calls in {pull_seconds:.2f}s, "
                    f"{pull_calls / pull_seconds:5.1f} calls/s; {refused} answered 429"
                )
            store.close()
    finally:
        sandbox.stop()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mb:.0f} MB (syncd's process; the sandbox's not included)")


if __name__ == "__main__":
    main()
