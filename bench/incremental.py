"""What an incremental cycle costs against a full one, per stage, after K records changed.

    python -m bench.incremental [--records 20000] [--edits 100,1000] [--seed 7]
        [--store sqlite|postgres]

The HubSpot sandbox runs in a process of its own (as in :mod:`bench.cycle`, without added
latency). One engine, as the service keeps it, makes a dry-run cycle in full (the weights
learned), then, per K of ``--edits``: K contacts and K/5 companies are edited in the sandbox
(a field set to another record's value, a letter added, a field cleared; a few records created
or archived), the same engine makes an incremental cycle (its dedupe starts from what the last
cycle left), and a fresh engine on the same store makes the full cycle of the same state (the
reference: what a restart or a CLI run costs). For each cycle it prints the CPU seconds of this
process per stage (pull, snapshot, learning, each policy, saving the plan, the rest) and in all,
the wall time, and how the incremental policies ran (dedupe, normalize); then whether the
incremental plan's changes equal the full one's (theirs change for change, the others by what
they change: a follow-up task's due date moves with the clock between the two plans).
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import random
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

from bench.stores import store_url
from model.changes import Change
from state.store import open_store
from syncd.config import Config, parse_config
from syncd.engine import Engine
from syncd.logging import configure as configure_logging
from syncd.plan import Plan
from syncd.sources import build_connector

STAGES = {"pulled": "pull", "snapshot": "snapshot", "learned": "learn", "plan saved": "save"}
FIELDS = {
    "contacts": ("lastname", "firstname", "phone", "email", "city", "company"),
    "companies": ("name", "phone", "city"),
}


def _edit(state: object, k: int, seed: int) -> None:
    """``k`` contacts and ``k // 5`` companies edited; a few created and archived."""
    from sandbox.hubspot import SandboxState  # noqa: PLC0415  # the child's, never ours

    assert isinstance(state, SandboxState)
    rng = random.Random(seed)
    for object_type, n in (("contacts", k), ("companies", max(1, k // 5))):
        with state.lock:
            live = sorted(state.live_records(object_type), key=lambda r: int(r.id))
        fields = FIELDS[object_type]
        for record in rng.sample(live, n):
            field = rng.choice(fields)
            roll = rng.random()
            value = record.properties.get(field)
            if roll < 0.6:
                value = rng.choice(live).properties.get(field)
            elif roll < 0.85:
                value = (value or "x") + "e"
            else:
                value = None
            state.update(object_type, record.id, {field: value})
        for _ in range(max(1, n // 50)):
            copied = rng.choice(live).properties
            state.create(object_type, {f: v for f, v in copied.items() if f in fields})
            state.archive(object_type, rng.choice(live).id)


def _serve(conn: Connection, records: int, seed: int) -> None:
    """The sandbox process: generate, serve, edit on ``("edit", k, seed)``, stop on ``stop``."""
    from sandbox.generator import generate  # noqa: PLC0415
    from sandbox.hubspot import HubSpotSandbox, SandboxState  # noqa: PLC0415

    def now() -> datetime:
        return datetime.now(UTC)

    state = SandboxState.from_dataset(generate(records=records, seed=seed, now=now()), clock=now)
    with HubSpotSandbox(state, port=0) as sandbox:
        conn.send(sandbox.base_url)
        while (message := conn.recv()) != "stop":
            _, k, edit_seed = message
            _edit(state, k, edit_seed)
            conn.send("edited")


def _config(base_url: str, store_url: str, base_dir: Path) -> Config:
    return parse_config(
        {
            "store": {"url": store_url},
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


def stages(log_text: str) -> tuple[dict[str, float], dict[str, str]]:
    """CPU seconds per stage from the engine's JSON log (the pulls of several object types
    run at once and each reports the process's CPU since they began: the largest counts),
    and what the incremental policies said about how they ran."""
    cpu: dict[str, float] = {}
    notes: dict[str, str] = {}
    for line in log_text.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        name = str(event.get("event"))
        if name == "incremental":
            said = {k: str(v) for k, v in event.items() if k in ("contacts", "companies")}
            if "records" in event:
                said = {"records": str(event["records"])}
            notes.update({f"{event.get('policy')} {k}": v for k, v in said.items()})
        key = str(event.get("policy")) if name == "policy" else STAGES.get(name)
        if key is None or "cpu_seconds" not in event:
            continue
        seconds = float(event["cpu_seconds"])
        cpu[key] = max(cpu.get(key, 0.0), seconds) if key == "pull" else cpu.get(key, 0) + seconds
    return cpu, notes


def cycle(engine: Engine, label: str) -> Plan:
    """One dry-run cycle, its figures printed."""
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    cpu0, t0 = time.process_time(), time.perf_counter()
    plan = engine.plan("hubspot")
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    configure_logging("warning")
    found, notes = stages(out.getvalue())
    rest = cpu - sum(found.values())
    parts = ", ".join(f"{k} {v:.2f}" for k, v in found.items() if v >= 0.005)
    pulled = engine.store.get_run(plan.run_id or "").counts.get("pulled")
    count = sum(pulled.values()) if isinstance(pulled, dict) else 0
    print(
        f"  {label:28s} CPU {cpu:7.2f} s (wall {wall:6.2f} s, {count} records pulled): "
        f"{parts}, other {rest:.2f}"
    )
    for what, said in notes.items():
        print(f"  {'':28s} {what}: {said}")
    return plan


def _same(a: Plan, b: Plan) -> bool:
    def dedupe(plan: Plan) -> list[Change]:
        return [c for c in plan.changes if c.policy in ("dedupe", "normalize")]

    def others(plan: Plan) -> list[tuple[str, str, str, str]]:
        return sorted(
            (c.policy, c.kind, c.object_type, c.reason)
            for c in plan.changes
            if c.policy not in ("dedupe", "normalize")
        )

    return dedupe(a) == dedupe(b) and others(a) == others(b)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, run the cycles and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000, help="contacts (100000: big)")
    parser.add_argument("--edits", default="100,1000", help="records edited, comma-separated")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args(argv)
    os.environ.setdefault("HUBSPOT_TOKEN", "bench")
    configure_logging("warning")
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=_serve, args=(theirs, args.records, args.seed), daemon=True)
    process.start()
    base_url = ours.recv()
    print(f"{args.records} contacts in the HubSpot sandbox (own process); store {args.store}")
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            store_url(args.store, Path(tmp)) as url,
        ):
            config = _config(base_url, url, Path(tmp))
            store = open_store(config.store_url())

            def engine(*, remember: bool = False) -> Engine:
                return Engine(
                    config,
                    store,
                    lambda: datetime.now(UTC),
                    lambda: uuid.uuid4().hex[:12],
                    build_connector,
                    remember=remember,
                )

            service = engine(remember=True)  # as the service keeps it
            cycle(service, "full (weights learned)")
            for n, k in enumerate(int(x) for x in args.edits.split(",")):
                ours.send(("edit", k, args.seed + n))
                ours.recv()
                # an incremental pull leaves what changed within its run's first moment to the
                # next pull (the cursor never passes the run's start): a pause, so that this
                # cycle and the reference see the same records
                time.sleep(2)
                print(f"{k} contacts and {max(1, k // 5)} companies edited:")
                incremental = cycle(service, "incremental")
                full = cycle(engine(), "full, same state (reference)")
                print(f"  plans equal: {'yes' if _same(incremental, full) else 'NO'}")
            store.close()
    finally:
        ours.send("stop")
        process.join(30)


if __name__ == "__main__":
    main()
