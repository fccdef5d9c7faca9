"""``syncd plan --csv`` on generated contacts, timed in a child process.

    python -m bench.plan_csv --records 10000,100000 [--no-dedupe] [--seed 7] [--keep DIR]

Writes the generator's messy contacts once per size as a spreadsheet export (an ``id`` column
and the canonical fields), then runs ``syncd plan --csv FILE --format csv -o PLAN`` in a child
process, as a user would, and prints per size: wall time, CPU time (user + system) and peak
resident memory of the child, measured by the kernel (``os.wait4``), and the seconds of each
stage from the engine's JSON log (CPU/wall: pull, snapshot, each policy with the dedupe
policy's candidate pairs where it counts them, plan saving and rendering). ``--no-dedupe`` runs it
with ``--skip dedupe``: everything but the duplicate search. The machine the figures come from
is said first; on a shared machine the CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from bench.dataset import EXPORT_COLUMNS, export_rows
from sandbox.generator import generate

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def write_export(path: Path, records: int, seed: int) -> int:
    """The generator's contacts as a CSV export at ``path``; returns the rows written."""
    dataset = generate(records=records, seed=seed, now=NOW)
    contacts = dataset.objects["contacts"]
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", *EXPORT_COLUMNS.values()])
        writer.writerows(export_rows(dataset))
    partial.replace(path)  # a file that exists is complete
    return len(contacts)


def stages(log_text: str) -> dict[str, tuple[float, float, int]]:
    """(CPU, wall) seconds per stage from the engine's JSON log lines, and the process's peak
    resident MB when it ended: ``pull`` (object types summed), ``snapshot``, one entry per
    policy (with its counts), ``save``, ``render`` and ``run`` (the whole run, rendering
    excluded); ``worker``: the peak resident MB of the process's own child working ahead
    (:mod:`syncd.ahead`): its CPU is in the process's (``os.wait4`` counts reaped children),
    its memory is beside the process's peak, not in it."""
    names = {
        "pulled": "pull",
        "snapshot": "snapshot",
        "learned": "learn",
        "plan saved": "save",
        "plan rendered": "render",
        "run finished": "run",
    }
    found: dict[str, tuple[float, float, int]] = {}
    for line in log_text.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and "worker_peak_mb" in event:  # syncd.ahead's child
            found["worker"] = (0.0, 0.0, int(event["worker_peak_mb"]))
            continue
        if not isinstance(event, dict) or "seconds" not in event:
            continue
        name = str(event.get("event"))
        key = str(event.get("policy")) if name == "policy" else names.get(name)
        if key is None:
            continue
        if "candidates" in event:
            key = f"{key} ({event['candidates']:,} pairs)"
        cpu, wall, peak = found.get(key, (0.0, 0.0, 0))
        found[key] = (
            cpu + float(event.get("cpu_seconds", 0.0)),
            wall + float(event["seconds"]),
            max(peak, int(event.get("peak_mb", 0))),
        )
    return found


def run_child(export: Path, out: Path, *, no_dedupe: bool) -> dict[str, object]:
    """Run ``syncd plan --csv`` on ``export`` in a child; its wall and CPU seconds, peak RSS
    (MB), per-stage seconds and the last line it said."""
    command = [
        sys.executable,
        "-m",
        "syncd",
        "--log-level",
        "info",
        "--log-format",
        "json",
        "plan",
        "--csv",
        str(export),
        "--format",
        "csv",
        "-o",
        str(out),
    ]
    if no_dedupe:
        command += ["--skip", "dedupe"]
    with tempfile.TemporaryFile("w+", encoding="utf-8") as err:
        t0 = time.perf_counter()
        # as installed: byte code cached, so imports cost what they cost a user
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - t0
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        log_text = err.read()
    if child.returncode != 0:
        raise SystemExit(f"syncd plan --csv failed ({child.returncode}):\n{log_text[-3000:]}")
    said = [line for line in log_text.splitlines() if not line.startswith("{")]
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "stages": stages(log_text),
        "said": said[-1] if said else "",
    }


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, write each export once, run the child and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", default="10000", help="sizes, comma-separated")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-dedupe", action="store_true", help="plan with --skip dedupe")
    parser.add_argument("--keep", type=Path, help="write the exports here and keep them")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.records.split(",") if s.strip()]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; dedupe {'off' if args.no_dedupe else 'on'}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-plan-csv-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for size in sizes:
            export = folder / f"contacts-{size}-{args.seed}.csv"
            if not export.exists():
                t0 = time.perf_counter()
                # in a process of its own: a parent grown to hold the dataset would lend the
                # child its peak (Linux keeps the larger RSS across fork and exec in ru_maxrss)
                with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
                    rows = pool.submit(write_export, export, size, args.seed).result()
                print(f"wrote {rows} contacts to {export.name} in {time.perf_counter() - t0:.1f}s")
            got = run_child(export, folder / f"plan-{size}.csv", no_dedupe=args.no_dedupe)
            shown = got["stages"]
            assert isinstance(shown, dict)
            parts = ", ".join(
                f"{k} {cpu:.1f}/{wall:.1f}s {peak}MB"
                for k, (cpu, wall, peak) in shown.items()
                if k not in ("run", "worker")
            )
            if "worker" in shown:  # alive beside the process from the snapshot to the merges
                parts += f", worker peak {shown['worker'][2]}MB"
            print(
                f"{size:>9,} contacts: wall {got['wall']:6.1f}s  cpu {got['cpu']:6.1f}s  "
                f"peak RSS {got['rss_mb']:6.0f} MB  | {parts}"
            )
            if got["said"]:
                print(f"{'':>19}{got['said']}")
    print("stages: CPU/wall seconds and the peak resident MB at their end, from the engine's log")


if __name__ == "__main__":
    main()
