"""Plan and push one cycle against the sandbox; print what it cost in API calls.

    python -m bench.apply --records 2000 [--fault-rate 0.2] [--drop-rate 0.01] [--seed 7]

For U updated records the push may make at most ceil(U/100) batch updates per object type (plus
the survivors' values written before merges) and the batch reads the conflict check needs. The
figures printed come from the sandbox's own request counts (``/_sandbox/stats``), so they count
every attempt, retries included.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from model.changes import CreateTask, Merge, Update
from sandbox.generator import generate
from sandbox.hubspot import HubSpotSandbox, SandboxState
from sandbox.hubspot.faults import RandomFaults
from state.store import open_store
from syncd.config import parse_config
from syncd.engine import Engine
from syncd.logging import configure as configure_logging
from syncd.sources import build_connector

ROUTE = "POST /crm/v3/objects/{objectType}/"


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run plan + push, print the call counts against the ceilings."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--drop-rate", type=float, default=0.0)
    args = parser.parse_args(argv)
    os.environ.setdefault("HUBSPOT_TOKEN", "bench")
    configure_logging("error")

    def now() -> datetime:
        return datetime.now(UTC)

    state = SandboxState.from_dataset(
        generate(records=args.records, seed=args.seed, now=now()), clock=now
    )
    state.rate_limit = None
    state.search_rate_limit = None
    with tempfile.TemporaryDirectory() as tmp, HubSpotSandbox(state, port=0) as sandbox:
        source = {
            "connector": "hubspot",
            "base_url": sandbox.base_url,
            "token": "${HUBSPOT_TOKEN}",
            "retry": {
                "max_attempts": 8,
                "initial_wait_seconds": 0.05,
                "max_wait_seconds": 1,
                "jitter_seconds": 0.05,
            },
            "apply": {"limits": {k: {"share": 1.0} for k in ("updates", "merges", "tasks")}},
        }
        config = parse_config(
            {"store": {"url": "sqlite:///bench.db"}, "sources": {"hubspot": source}}, Path(tmp)
        )
        store = open_store(config.store_url())
        engine = Engine(config, store, now, lambda: uuid.uuid4().hex[:12], build_connector)
        plan = engine.plan("hubspot")
        state.reset_stats()
        if args.fault_rate or args.drop_rate:
            state.faults = RandomFaults(
                fault_rate=args.fault_rate, drop_rate=args.drop_rate, seed=args.seed
            )
        t0 = time.perf_counter()
        report = engine.apply(plan.id).pushes[-1]
        seconds = time.perf_counter() - t0
        requests = state.stats()["requests"]
        statuses = Counter(e.status for e in store.outbox(plan.id))
        store.close()

    updated = Counter(
        c.object_type
        for c in {
            (c.object_type, c.record_id): c for c in plan.changes if isinstance(c, Update)
        }.values()
    )
    merges = [c for c in plan.changes if isinstance(c, Merge) and c.kind == "merge"]
    survivors = sum(1 for m in merges if m.field_values)
    tasks = sum(1 for c in plan.changes if isinstance(c, CreateTask))
    ceiling = sum(math.ceil(n / 100) for n in updated.values()) + math.ceil(survivors / 100)
    print(
        f"plan: {sum(updated.values())} records updated, {len(merges)} merges, "
        f"{tasks} tasks; faults {args.fault_rate:.0%}, drops {args.drop_rate:.0%}"
    )
    print(f"push: {dict(statuses)} in {seconds:.2f}s; complete={report.complete}")
    print(
        f"batch updates: {requests.get(ROUTE + 'batch/update', 0)} "
        f"(ceiling without faults: {ceiling})"
    )
    print(
        f"batch reads (conflict checks, merge re-checks): {requests.get(ROUTE + 'batch/read', 0)}"
    )
    print(
        f"batch creates: {requests.get(ROUTE + 'batch/create', 0)} "
        f"(ceiling without faults: {math.ceil(tasks / 100)})"
    )
    print(f"merges: {requests.get(ROUTE + 'merge', 0)}; all requests: {sum(requests.values())}")


if __name__ == "__main__":
    main()
