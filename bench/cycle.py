"""One dry-run cycle against the sandbox, timed stage by stage.

    python -m bench.cycle --records 10000 [--seed 7] [--store sqlite|postgres]

Prints records pulled, seconds and records/second for the full pull, the incremental pull that
follows, the policies and the whole cycle, and the peak resident memory. The sandbox runs
in-process without rate limiting, so the figures are syncd's own cost, not HubSpot's pacing.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sandbox.generator import generate
from sandbox.hubspot import HubSpotSandbox, SandboxState
from state.store import open_store
from syncd.config import Config, parse_config
from syncd.engine import Engine
from syncd.logging import configure as configure_logging
from syncd.sources import build_connector

PG_URL = os.environ.get("SYNCD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _config(base_url: str, store_url: str, base_dir: Path) -> Config:
    return parse_config(
        {
            "store": {"url": store_url},
            "logging": {"level": "warning"},
            "sources": {
                "hubspot": {
                    "connector": "hubspot",
                    "base_url": base_url,
                    "token": "${HUBSPOT_TOKEN}",
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
    args = parser.parse_args(argv)
    os.environ.setdefault("HUBSPOT_TOKEN", "bench")
    configure_logging("warning")

    def now() -> datetime:
        return datetime.now(UTC)

    t0 = time.perf_counter()
    dataset = generate(records=args.records, seed=args.seed, now=now())
    state = SandboxState.from_dataset(dataset, clock=now)
    state.rate_limit = None  # syncd's own cost, not HubSpot's pacing
    state.search_rate_limit = None
    total = sum(len(v) for v in dataset.objects.values()) + len(dataset.owners)
    print(f"generated {total} objects ({args.records} contacts) in {time.perf_counter() - t0:.2f}s")

    with tempfile.TemporaryDirectory() as tmp, HubSpotSandbox(state, port=0) as sandbox:
        url = f"sqlite:///{tmp}/bench.db" if args.store == "sqlite" else PG_URL
        config = _config(sandbox.base_url, url, Path(tmp))
        store = open_store(config.store_url())
        engine = Engine(config, store, now, lambda: uuid.uuid4().hex[:12], build_connector)
        for label in ("full", "incremental"):
            t1 = time.perf_counter()
            plan = engine.plan("hubspot")
            seconds = time.perf_counter() - t1
            counts = store.get_run(plan.run_id or "").counts
            pulled_by_type = counts.get("pulled")
            pulled = sum(pulled_by_type.values()) if isinstance(pulled_by_type, dict) else 0
            print(
                f"{label:12s} cycle: {pulled:7d} records pulled, {len(plan.changes):6d} changes "
                f"planned, {seconds:7.2f}s ({pulled / seconds:,.0f} records/s)"
            )
        store.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
