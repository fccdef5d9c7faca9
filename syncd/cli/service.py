"""Commands of the service: ``serve``, ``status``, ``alerts test``."""

from __future__ import annotations

import json
import random
import signal
import sys
import threading
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from state.store import open_store
from syncd.cli.common import (
    ConfigOpt,
    Exit,
    ListFormat,
    SourceOpt,
    app,
    configure_logging,
    fail,
    guard,
    load,
    new_id,
    now,
    say,
    source_names,
)
from syncd.service.alerts import Alert, Notifier
from syncd.service.secrets import referenced_secrets
from syncd.service.service import ServeOptions, Service
from syncd.service.status import render_status, source_status
from syncd.sources import build_connector

alerts_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="Alert channels: try them."
)
app.add_typer(alerts_app, name="alerts")

#: How often the main thread looks up from waiting for a signal.
_WAKE_SECONDS = 1.0


@app.command()
def serve(
    config: ConfigOpt,
    http_port: Annotated[
        int | None,
        typer.Option(
            "--http-port",
            min=0,
            max=65535,
            help="Port of /healthz, /readyz and /metrics on 127.0.0.1 (0: any free port; "
            "default: [service.http] port, 9464).",
        ),
    ] = None,
    every: Annotated[
        float | None,
        typer.Option(
            "--every",
            min=0.1,
            metavar="SECONDS",
            help="Run every source this often, whatever its schedule says (for trials).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan only: change nothing in any CRM.")
    ] = False,
) -> None:
    """Run every source on its schedule until SIGTERM or SIGINT: pull, plan, and push within the
    safety rails (unless the source says mode = "plan" or --dry-run is given); alert when syncing
    fails; serve health and metrics. Several can share one PostgreSQL store."""
    cfg = load(config)
    # a source with enabled = false runs only when a command names it: the service leaves it out
    enabled = source_names(cfg, None)
    cfg = cfg.model_copy(update={"sources": {n: cfg.sources[n] for n in enabled}})
    configure_logging(cfg.logging, secrets=referenced_secrets(cfg, cfg.base_dir))
    store = guard(lambda: open_store(cfg.store_url()))
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del frame
        say(f"{signal.Signals(signum).name}: stopping")
        stopping.set()

    try:
        service = guard(
            lambda: Service(
                cfg,
                store,
                ServeOptions(config.resolve(), every=every, dry_run=dry_run, http_port=http_port),
                connector_builder=build_connector,
                clock=now,
                new_id=new_id,
                rng=random.Random(),  # which records the audit reads again: no security role
            )
        )
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            try:
                guard(service.start)
            except OSError as exc:
                port = cfg.service.http.port if http_port is None else http_port
                raise fail(
                    f"cannot serve HTTP on 127.0.0.1:{port} ({exc.strerror or exc}); pass "
                    "--http-port N (0: any free port)",
                    Exit.USAGE,
                ) from None
            while not stopping.wait(_WAKE_SECONDS):
                pass
            service.stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        store.close()


@app.command()
def status(
    config: ConfigOpt,
    source: SourceOpt = None,
    fmt: Annotated[
        ListFormat, typer.Option("--format", "-f", help="Output: table, or json (one document).")
    ] = ListFormat.table,
) -> None:
    """Each source's latest runs, next run, backlog (operations waiting in the outbox), open
    incidents and completeness checks, as the store holds them (any replica's)."""
    cfg = load(config)
    names = source_names(cfg, source)
    configure_logging(cfg.logging)
    store = guard(lambda: open_store(cfg.store_url()))
    try:
        depth = guard(store.outbox_depth)
        docs = [guard(partial(source_status, cfg, store, n, depth.get(n, 0))) for n in names]
    finally:
        store.close()
    if fmt is ListFormat.json:
        document: object = docs[0] if len(docs) == 1 else {"sources": docs}
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return
    typer.echo(render_status(docs), nl=False)


@alerts_app.command("test")
def alerts_test(config: ConfigOpt) -> None:
    """Send a test alert to every channel of [alerts] that is on. Exit 0 when every one got
    it, 1 when some did not, 2 when no channel is on."""
    cfg = load(config)
    configure_logging(cfg.logging, quiet=True, secrets=referenced_secrets(cfg, cfg.base_dir))
    channels = guard(lambda: cfg.alerts.build_channels(cfg.base_dir))
    if not channels:
        raise fail(
            "no alert channel is on: add [[alerts.channels]] to the config, and set the "
            "variables their URLs and passwords refer to",
            Exit.USAGE,
        )
    alert = Alert.test(now(), f"syncd status -c {Path(config).resolve()}")
    results = Notifier(channels, cfg.alerts.retry.settings()).send(alert)
    for delivery in results:
        if delivery.ok:
            typer.echo(f"{delivery.channel}: sent")
        else:
            typer.echo(f"{delivery.channel}: NOT sent ({delivery.error})")
    failed = [d.channel for d in results if not d.ok]
    if failed:
        raise fail(f"{len(failed)} of {len(results)} channels did not get the test alert", 1)
