"""What ``syncd status`` shows of each source, read from the store: the latest runs, the next
run, the backlog, the lease, a pause (why, since when, the allowance, the next probe), open
incidents and the latest completeness checks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from state.base import StateStore
from syncd.config import Config
from syncd.engine import run_totals


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).isoformat()


def source_status(
    config: Config, store: StateStore, name: str, depth: int, runs: int = 5
) -> dict[str, Any]:
    """The status of source ``name`` as a JSON document (``depth``: its outbox backlog)."""
    source = config.sources[name]
    lease = store.source_lease(name)
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for check in store.completeness(name, limit=100):
        latest.setdefault(
            (check.object_type, check.kind),
            {
                "object_type": check.object_type,
                "check": check.kind,
                "at": _iso(check.audited_at),
                "ok": check.ok,
                "drift": round(check.drift, 4),
            },
        )
    pause = store.source_pause(name)
    return {
        "source": name,
        "connector": source.connector,
        "mode": source.mode,
        "paused": None
        if pause is None
        else {
            "since": _iso(pause.since),
            "reason": pause.reason,
            "used": pause.used,
            "limit": pause.limit,
            "next_probe": _iso(pause.next_probe_at),
            "probes": pause.probes,
            "last_probe": _iso(pause.probed_at),
        },
        "next_run": _iso(store.next_run(name)),
        "last_success": _iso(store.last_success(name)),
        "backlog": depth,
        "lease": None
        if lease is None
        else {
            "run_id": lease.run_id,
            "host": lease.host,
            "pid": lease.pid,
            "since": _iso(lease.since),
            "expires_at": _iso(lease.expires_at),
        },
        "open_incidents": [
            {
                "cause": i.cause,
                "since": _iso(i.first_seen),
                "last_seen": _iso(i.last_seen),
                "count": i.count,
                "message": i.message,
            }
            for i in store.open_incidents(name)
        ],
        "runs": [
            {
                "run_id": r.id,
                "kind": r.counts.get("kind"),
                "started_at": _iso(r.started_at),
                "finished_at": _iso(r.finished_at),
                "status": r.status,
                "counts": run_totals(r.counts),
                "error": r.error,
            }
            for r in store.list_runs(name, limit=runs)
        ],
        "completeness": sorted(latest.values(), key=lambda c: (c["object_type"], c["check"])),
    }


def _stamp(iso: object) -> str:
    if not isinstance(iso, str):
        return "never"
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")


def render_status(documents: Sequence[dict[str, Any]]) -> str:
    """The documents of :func:`source_status` as plain text, one block per source."""
    blocks = []
    for doc in documents:
        what = "applies its plans" if doc["mode"] == "apply" else "plans only"
        lines = [f"Source {doc['source']} ({doc['connector']}, {what})"]
        pause = doc.get("paused")
        if pause is not None:
            allowance = ""
            if pause["used"] is not None and pause["limit"] is not None:
                allowance = f", {pause['used']} of {pause['limit']} daily API requests used"
            lines.append(f"  PAUSED since {_stamp(pause['since'])}{allowance}: {pause['reason']}")
            probes = f" ({pause['probes']} made)" if pause["probes"] else ""
            lines.append(f"  next probe:    {_stamp(pause['next_probe'])}{probes}")
        lines.append(f"  next run:      {_stamp(doc['next_run'])}")
        lines.append(f"  last success:  {_stamp(doc['last_success'])}")
        lines.append(f"  backlog:       {doc['backlog']} operations waiting in the outbox")
        lease = doc["lease"]
        if lease is not None:
            expiry = f", expires {_stamp(lease['expires_at'])}" if lease["expires_at"] else ""
            lines.append(
                f"  held by:       {lease['run_id']} (pid {lease['pid']} on {lease['host']}, "
                f"since {_stamp(lease['since'])}{expiry})"
            )
        incidents = doc["open_incidents"]
        lines.append(f"  open incidents: {len(incidents) or 'none'}")
        for incident in incidents:
            times = "once" if incident["count"] == 1 else f"{incident['count']} times"
            lines.append(
                f"    {incident['cause']} since {_stamp(incident['since'])} ({times}): "
                f"{incident['message']}"
            )
        lines.append("  last runs:" if doc["runs"] else "  last runs: none yet")
        for run in doc["runs"]:
            counts = ", ".join(f"{n} {k}" for k, n in run["counts"].items())
            tail = f": {run['error']}" if run["error"] else ""
            lines.append(
                f"    {run['run_id']}  {_stamp(run['started_at'])}  {run['kind'] or ''}  "
                f"{run['status']}  {counts}{tail}".rstrip()
            )
        if doc["completeness"]:
            lines.append("  completeness:")
            for check in doc["completeness"]:
                verdict = "ok" if check["ok"] else f"DRIFT {check['drift']:.1%}"
                lines.append(
                    f"    {check['object_type']} {check['check']}: {verdict} "
                    f"({_stamp(check['at'])})"
                )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
