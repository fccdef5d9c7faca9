"""Incremental pulls while another client edits: how many changes are never read.

    python -m bench.edits [--records 1725] [--runs 5] [--latency-ms 20] [--batch 3] [--seed 7]

Per run: a sandbox holds ``--records`` contacts changed over the two hours before the run start
(one in five in bursts that share a millisecond, as imports do), all older than the 5-minute
lookback. An incremental pull reads them through the SDK, 200 per search page, while a second
SDK client keeps editing random ones of them (``--batch`` per batch update) until the pull ends;
every request waits ``--latency-ms`` as over a network. A second pull then starts from the
first one's cursor, as the next scheduled run would. Printed per run and in total: the changes,
the records edited during the pull, what the first pull read and the search requests it made,
and the changes *missed*: neither read by the first pull nor (edited ones) by the second. A
missed change older than the lookback is lost for good.
"""

from __future__ import annotations

import argparse
import random
import threading
from datetime import UTC, datetime, timedelta

from hubspot import HubSpot
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    SimplePublicObjectBatchInput,
)

from connectors.hubspot import HubSpotConnector, HubSpotSettings
from model.records import Cursor
from sandbox.hubspot import HubSpotSandbox, RandomFaults, SandboxState

TOKEN = "bench"
LOOKBACK = timedelta(minutes=5)


def now() -> datetime:
    return datetime.now(UTC)


def seed_changes(state: SandboxState, count: int, rng: random.Random) -> list[str]:
    """``count`` contacts last modified over the two hours before now, a fifth in bursts."""
    start = now() - timedelta(hours=2)
    made: list[str] = []
    while len(made) < count:
        moment = start + timedelta(milliseconds=rng.randrange(110 * 60 * 1000))
        burst = 25 if rng.random() < 0.01 else 1  # 25 p / (25 p + 1 - p) = 1/5 of records
        for _ in range(min(burst, count - len(made))):
            made.append(state.create("contacts", {"firstname": "seed"}, created_at=moment))
    return made


def edit_until(
    stop: threading.Event, base_url: str, ids: list[str], batch: int, rng: random.Random
) -> list[str]:
    """Edit random records of ``ids`` through the SDK until ``stop`` is set; the ids edited."""
    api = HubSpot(access_token=TOKEN, host=base_url).crm.contacts.batch_api
    edited: list[str] = []
    version = 0
    while not stop.is_set():
        chosen = rng.sample(ids, batch)
        version += 1
        api.update(
            BatchInputSimplePublicObjectBatchInput(
                inputs=[
                    SimplePublicObjectBatchInput(id=i, properties={"lastname": f"edit{version}"})
                    for i in chosen
                ]
            )
        )
        edited.extend(chosen)
    return edited


def one_run(records: int, latency_ms: int, batch: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    state = SandboxState(clock=now, rate_limit=None, search_rate_limit=None, daily_limit=None)
    changed = seed_changes(state, records, rng)
    cursor = now() - timedelta(hours=2, minutes=1)
    state.faults = RandomFaults(latency_ms=latency_ms, seed=seed)
    with HubSpotSandbox(state, port=0) as sandbox:
        settings = HubSpotSettings(
            token="${HUBSPOT_TOKEN}",
            base_url=sandbox.base_url,
            object_types=("contacts",),
            lookback_seconds=int(LOOKBACK.total_seconds()),
        ).with_token(TOKEN)
        connector = HubSpotConnector(settings)
        try:
            run = now()
            stop = threading.Event()
            edited: list[str] = []
            editor = threading.Thread(
                target=lambda: edited.extend(
                    edit_until(stop, sandbox.base_url, changed, batch, random.Random(seed + 1))
                )
            )
            editor.start()
            try:
                first = list(connector.pull("contacts", Cursor(cursor), run_started_at=run))
            finally:
                stop.set()
                editor.join()
            searches = connector.calls["search"]
            read = {r.id for b in first for r in b.records}
            second = list(connector.pull("contacts", first[-1].cursor, run_started_at=now()))
            read_next = {r.id for b in second for r in b.records}
        finally:
            connector.close()
    return {
        "changes": len(changed),
        "edited": len(set(edited)),
        "read": len(read),
        "searches": searches,
        "missed": len(set(changed) - read - read_next),
    }


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run the pulls, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1725)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--batch", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    total: dict[str, int] = {}
    for i in range(args.runs):
        figures = one_run(args.records, args.latency_ms, args.batch, args.seed + i)
        print(
            f"run {i + 1}: {figures['changes']} changes, {figures['edited']} edited during the "
            f"pull, {figures['read']} read in {figures['searches']} searches, "
            f"{figures['missed']} missed"
        )
        for name, value in figures.items():
            total[name] = total.get(name, 0) + value
    print(
        f"total: {total['changes']} changes, {total['edited']} edited during the pulls, "
        f"{total['missed']} missed"
    )


if __name__ == "__main__":
    main()
