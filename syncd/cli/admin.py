"""Commands around the cycle: ``check-config``, ``doctor``, ``review``, ``report``,
``reset-source``, ``demo``, ``sandbox hubspot``, ``sandbox salesforce``."""

from __future__ import annotations

import errno
import os
import tempfile
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from model.errors import ConfigError, SyncdError
from sandbox.ports import HUBSPOT_PORT, SALESFORCE_PORT
from state.doctor import examine, probe
from syncd.cli.common import (
    ConfigOpt,
    Exit,
    ReportFormat,
    SourceOpt,
    WaitOpt,
    app,
    configure_logging,
    engine_for,
    fail,
    guard,
    load,
    now,
    one_source,
    say,
    source_names,
)
from syncd.cli.cycle import Outcome, _print_outcomes
from syncd.config import Config, load_config, unresolved_secrets
from syncd.html_report import write_html_report
from syncd.review import (
    ReviewError,
    decide,
    held_reverts,
    pending_reviews,
    release,
    render_reverts,
    render_reviews,
)
from syncd.sources import build_connector

sandbox_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="Local emulators of the vendors' APIs."
)
app.add_typer(sandbox_app, name="sandbox")

#: The example configuration: inside the package when installed from a wheel, at the top of a
#: clone otherwise (``syncd demo`` needs no file of its own).
EXAMPLE_CONFIG = "config.example.toml"


# -- check-config, doctor -------------------------------------------------------------------------


@app.command("check-config")
def check_config(
    config: ConfigOpt,
    connect: Annotated[
        bool,
        typer.Option(
            "--connect",
            help="Also try what the config points at: the state store, and each source's "
            "credentials (one cheap call).",
        ),
    ] = False,
) -> None:
    """Validate a configuration file: exit 0 when good, 2 with every problem when not."""
    cfg = load(config)
    for warning in unresolved_secrets(cfg):
        typer.secho(
            f"warning: {warning} (needed when the source runs)", err=True, fg=typer.colors.YELLOW
        )
    typer.echo(f"{config}: OK ({len(cfg.sources)} source(s): {', '.join(cfg.sources)})")
    if not connect:
        return
    configure_logging(cfg.logging, quiet=True)
    store = probe(cfg.store_url())
    checks = [("store", store.ok, store.detail)]
    for name, source in cfg.sources.items():
        if not source.enabled:
            checks.append((f"source {name}", True, "not tried: disabled (enabled = false)"))
            continue
        try:
            connector = build_connector(cfg, name, source)
            try:
                checks.append((f"source {name}", True, connector.check()))
            finally:
                connector.close()
        except SyncdError as exc:
            checks.append((f"source {name}", False, str(exc)))
    for what, ok, detail in checks:
        line = f"{'ok' if ok else 'FAILED'}: {what}: {detail}"
        if ok:
            typer.echo(line)
        else:
            typer.secho(line, err=True, fg=typer.colors.RED)
    if not all(ok for _, ok, _ in checks):
        raise typer.Exit(Exit.USAGE)


@app.command()
def doctor(config: ConfigOpt) -> None:
    """Check the state store in full (SQLite: integrity_check; PostgreSQL: connection), its
    schema revision and tables: exit 0 when healthy, 1 when not."""
    cfg = load(config)
    findings = examine(cfg.store_url())
    for finding in findings:
        line = f"{'ok' if finding.ok else 'FAILED'}: {finding.check}: {finding.detail}"
        if finding.ok:
            typer.echo(line)
        else:
            typer.secho(line, err=True, fg=typer.colors.RED)
    if not all(f.ok for f in findings):
        raise typer.Exit(Exit.FAILED)


# -- review, report -------------------------------------------------------------------------------


class Decision(StrEnum):
    approve = "approve"
    reject = "reject"
    release = "release"


@app.command()
def review(
    config: ConfigOpt,
    source: SourceOpt = None,
    decision: Annotated[
        Decision | None,
        typer.Argument(help="approve, reject or release; omit to list what waits for a person."),
    ] = None,
    ids: Annotated[
        list[str] | None,
        typer.Argument(help="Ids of the pair or cluster (two or more); for release, records."),
    ] = None,
    object_type: Annotated[
        str, typer.Option("--object-type", help="What the ids are (contacts, companies).")
    ] = "contacts",
    field_name: Annotated[
        str | None, typer.Option("--field", help="With release: only this field.")
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who decided (kept with it).")] = None,
    note: Annotated[
        str | None, typer.Option("--note", help="Why (kept with the decision).")
    ] = None,
) -> None:
    """List what waits for a person, approve or reject a duplicate pair, release a change.

    An approved pair is merged by the next run; a rejected one is never proposed again. A value
    syncd wrote that someone changed back is not proposed again until released:
    `syncd review release RECORD_ID --field FIELD` lets the next plan propose it again.
    """
    cfg = load(config)
    name = one_source(cfg, source)
    with engine_for(cfg) as engine:
        if decision is None:
            typer.echo(render_reviews(guard(lambda: pending_reviews(engine.store, name))))
            held = render_reverts(held_reverts(engine.store, name))
            if held:
                typer.echo(held)
            return
        if decision is Decision.release:
            if not ids:
                raise fail("review release: give the id of the record (one or more)", Exit.USAGE)
            try:
                released = release(engine.store, name, object_type, ids, field_name, now(), by=by)
            except ReviewError as exc:
                raise fail(f"review: {exc}", Exit.USAGE) from None
            for revert in released:
                typer.echo(
                    f"released: {revert.field} of {revert.object_type} {revert.record_id}; "
                    f"the next plan may propose {revert.value!r} again"
                )
            return
        if not ids or len(ids) < 2:
            raise fail("review: give the ids of the pair (two or more)", Exit.USAGE)
        verdict = "approved" if decision is Decision.approve else "rejected"
        try:
            item = decide(engine.store, name, object_type, ids, verdict, now(), by=by, note=note)
        except ReviewError as exc:
            raise fail(f"review: {exc}", Exit.USAGE) from None
    typer.echo(f"{verdict}: {object_type} {', '.join(sorted(item.ids))}")


@app.command()
def report(
    config: ConfigOpt,
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="HTML file to write (created 0600).", metavar="FILE"),
    ],
    fmt: Annotated[str, typer.Option("--format", "-f", help="Only 'html'.")] = "html",
    source: SourceOpt = None,
) -> None:
    """Write the data-quality report: the latest plan and health over runs, one HTML page."""
    if fmt != "html":
        raise fail(f"--format: {fmt!r} is not supported; expected html", Exit.USAGE)
    cfg = load(config)
    names = source_names(cfg, source)
    if not output.parent.is_dir():
        raise fail(f"-o {output}: the folder {output.parent} does not exist", Exit.USAGE)
    with engine_for(cfg) as engine:
        try:
            guard(lambda: write_html_report(engine.store, names, output, now=now()))
        except OSError as exc:
            raise fail(f"cannot write {output}: {exc.strerror or exc}", Exit.USAGE) from None
    say(f"report written to {output}")


# -- reset-source ---------------------------------------------------------------------------------


@app.command("reset-source")
def reset_source(
    config: ConfigOpt,
    name: Annotated[str, typer.Argument(help="The source to forget (a [sources.NAME] table).")],
    yes: Annotated[
        bool,
        typer.Option("--yes", help="Do it: without it, say what would be forgotten and stop."),
    ] = False,
    wait: WaitOpt = 0.0,
) -> None:
    """Forget a source's records and cursors on purpose, so its next run pulls in full.

    For a source whose connector now reaches another CRM account (a store keeps one account's
    records per source and refuses to mix them): its records, cursors, recorded account,
    review decisions and held reverts go; operations not sent yet are skipped. Runs, plans
    and the audit log stay. Exit 2 without --yes.
    """
    cfg = load(config)
    chosen = one_source(cfg, name)
    if not yes:
        with engine_for(cfg) as engine:
            account = guard(lambda: engine.store.source_account(chosen))
        held = f" (account {account})" if account else ""
        raise fail(
            f"reset-source: this forgets every record and cursor of source {chosen!r}{held} in "
            "the state store (its next run pulls in full); runs, plans and the audit log stay. "
            f"Run `syncd reset-source {chosen} --yes` to do it.",
            Exit.USAGE,
        )
    with engine_for(cfg, wait=wait) as engine:
        counts = guard(lambda: engine.reset_source(chosen))
    forgotten = ", ".join(f"{n} {what}" for what, n in counts.items() if n) or "nothing stored"
    say(f"source {chosen!r} reset: forgot {forgotten}; its next run pulls in full")


# -- sandbox, demo --------------------------------------------------------------------------------


@sandbox_app.command("hubspot")
def sandbox_hubspot(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = HUBSPOT_PORT,
    records: Annotated[int, typer.Option(help="Contacts to seed.")] = 2000,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 7,
    fault_rate: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Share of requests answered 429 or 5xx."),
    ] = 0.0,
    drop_rate: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of connections closed unanswered (half of them after the write).",
        ),
    ] = 0.0,
    latency_ms: Annotated[int, typer.Option(min=0, help="Delay added to every answer.")] = 0,
    fault_seed: Annotated[int, typer.Option(min=0, help="Seed of the injected faults.")] = 0,
    rate_limit: Annotated[
        int,
        typer.Option(min=0, help="Requests per rolling 10 s (0: not enforced)."),
    ] = 190,
    token: Annotated[
        str,
        typer.Option(help="The only bearer token accepted; others get HubSpot's 401."),
    ] = "sandbox",
    legacy_merge: Annotated[
        bool,
        typer.Option(
            "--legacy-merge",
            help="Merges keep the primary's id, as older portals did (default: a new record "
            "with a new id, as HubSpot merges contacts and companies today).",
        ),
    ] = False,
    missing_scope: Annotated[
        list[str] | None,
        typer.Option(
            "--missing-scope",
            help="A scope the token lacks (repeatable): calls that need it answer 403 "
            "MISSING_SCOPES, e.g. crm.objects.deals.read.",
        ),
    ] = None,
    write_lock: Annotated[
        int,
        typer.Option(
            "--write-lock",
            min=0,
            help="Writes per second past which writes answer 423 Locked for 2 s (0: never).",
        ),
    ] = 0,
) -> None:
    """Serve the HubSpot emulator, seeded with a messy CRM, until interrupted.

    Faults, stats and the accepted token can be changed and read while it runs:
    /_sandbox/faults, /_sandbox/stats, /_sandbox/auth. Its account id (GET
    /account-info/v3/details) follows from --seed: two seeds, two portals.
    """
    from sandbox.hubspot import serve_forever  # noqa: PLC0415  (the emulators: where they serve)

    try:
        serve_forever(
            port=port,
            records=records,
            seed=seed,
            fault_rate=fault_rate,
            drop_rate=drop_rate,
            latency_ms=latency_ms,
            fault_seed=fault_seed,
            rate_limit=rate_limit or None,
            tokens=(token,),
            legacy_merge=legacy_merge,
            missing_scopes=tuple(missing_scope or ()),
            write_lock_threshold=write_lock or None,
        )
    except ValueError as exc:
        raise fail(f"bad sandbox settings: {exc}", Exit.USAGE) from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise fail(
                f"port {port} on 127.0.0.1 is in use (another sandbox?): stop it, or pass "
                "--port N (--port 0 takes any free port)",
                Exit.USAGE,
            ) from None
        raise fail(f"cannot serve on port {port}: {exc.strerror or exc}", Exit.USAGE) from None


#: Where ``syncd sandbox salesforce`` keeps its certificate authority (reused across restarts),
#: and where config.example.toml's ``ca_file`` points.
SALESFORCE_TLS_DIR = Path("~/.cache/syncd/salesforce-sandbox")


@sandbox_app.command("salesforce")
def sandbox_salesforce(
    port: Annotated[
        int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")
    ] = SALESFORCE_PORT,
    records: Annotated[int, typer.Option(help="People to seed (leads and contacts).")] = 2000,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 7,
    fault_rate: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share of requests answered 401 (session ended) or 5xx."
        ),
    ] = 0.0,
    drop_rate: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of connections closed unanswered (half of them after the write).",
        ),
    ] = 0.0,
    latency_ms: Annotated[int, typer.Option(min=0, help="Delay added to every answer.")] = 0,
    fault_seed: Annotated[int, typer.Option(min=0, help="Seed of the injected faults.")] = 0,
    daily_limit: Annotated[
        int,
        typer.Option(min=0, help="API requests per rolling 24 hours (0: not enforced)."),
    ] = 15000,
    username: Annotated[str, typer.Option(help="The username logins take.")] = "sandbox",
    password: Annotated[str, typer.Option(help="The password logins take.")] = "sandbox",
    security_token: Annotated[
        str, typer.Option(help="The security token logins take after the password.")
    ] = "sandbox",
    tls_dir: Annotated[
        Path,
        typer.Option(
            help="Folder of the sandbox's certificate authority (ca.pem, ca.key): made on first "
            "use, reused after, so clients trust a restarted sandbox.",
        ),
    ] = SALESFORCE_TLS_DIR,
    ca_file: Annotated[
        Path | None,
        typer.Option(help="Also write the CA certificate here (for a client's ca_file)."),
    ] = None,
    person_accounts: Annotated[
        bool,
        typer.Option(
            help="An org with Person Accounts enabled: a third of the people without a company "
            "are person accounts (an Account that is also a Contact).",
        ),
    ] = False,
) -> None:
    """Serve the Salesforce emulator over HTTPS, seeded with a messy org, until interrupted.

    simple-salesforce always speaks https://, so the sandbox serves a certificate its own CA
    signed; a source trusts it with ca_file = "TLS_DIR/ca.pem" (config.example.toml does).
    Faults, stats and credentials can be changed and read while it runs: /_sandbox/faults,
    /_sandbox/stats, /_sandbox/auth, /_sandbox/limits.
    """
    from sandbox.salesforce import serve_forever as serve_salesforce  # noqa: PLC0415

    try:
        serve_salesforce(
            port=port,
            records=records,
            seed=seed,
            tls_dir=tls_dir.expanduser(),
            ca_file=ca_file.expanduser() if ca_file is not None else None,
            fault_rate=fault_rate,
            drop_rate=drop_rate,
            latency_ms=latency_ms,
            fault_seed=fault_seed,
            daily_limit=daily_limit or None,
            username=username,
            password=password,
            security_token=security_token,
            person_accounts=person_accounts,
        )
    except ValueError as exc:
        raise fail(f"bad sandbox settings: {exc}", Exit.USAGE) from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise fail(
                f"port {port} on 127.0.0.1 is in use (another sandbox?): stop it, or pass "
                "--port N (--port 0 takes any free port)",
                Exit.USAGE,
            ) from None
        raise fail(f"cannot serve on port {port}: {exc.strerror or exc}", Exit.USAGE) from None


def example_config() -> Config:
    """The example configuration shipped with syncd (see :data:`EXAMPLE_CONFIG`)."""
    packaged = resources.files("syncd").joinpath(EXAMPLE_CONFIG)
    if packaged.is_file():
        with resources.as_file(packaged) as path:
            return load_config(path)
    return load_config(Path(__file__).resolve().parents[2] / EXAMPLE_CONFIG)


@app.command()
def demo(
    config: Annotated[
        Path | None,
        typer.Option(
            "-c",
            "--config",
            help="Configuration whose policies to use (default: the example shipped with syncd).",
            metavar="FILE",
        ),
    ] = None,
    records: Annotated[int, typer.Option(help="Contacts to seed the sandbox with.")] = 3000,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 7,
    limit: Annotated[int, typer.Option(help="Rows per policy in the report.")] = 12,
) -> None:
    """Start the HubSpot sandbox in-process, run one dry-run cycle against it, print the report.

    Changes nothing anywhere: the state store is a temporary file, removed at the end.
    """
    try:
        cfg = load(config) if config is not None else example_config()
    except ConfigError as exc:
        raise fail(f"configuration error in the example config:\n{exc}", Exit.USAGE) from None
    name = "hubspot" if "hubspot" in cfg.sources else next(iter(cfg.sources))
    os.environ.setdefault("HUBSPOT_TOKEN", "sandbox")
    from sandbox.generator import generate  # noqa: PLC0415
    from sandbox.hubspot import HubSpotSandbox, SandboxState  # noqa: PLC0415

    say(f"Seeding the HubSpot sandbox with {records} messy contacts (seed {seed})…")
    state = SandboxState.from_dataset(generate(records=records, seed=seed, now=now()), clock=now)
    with (
        tempfile.TemporaryDirectory(prefix="syncd-demo-") as tmp,
        HubSpotSandbox(state, port=0) as sandbox,
    ):
        chosen = cfg.sources[name]
        settings = chosen.settings.model_copy(
            update={"base_url": sandbox.base_url, "token": "${HUBSPOT_TOKEN}"}
        )
        source = chosen.model_copy(update={"settings": settings})
        demo_cfg = cfg.model_copy(
            update={
                "sources": {name: source},
                "store": cfg.store.model_copy(update={"url": f"sqlite:///{tmp}/demo.db"}),
                "logging": cfg.logging.model_copy(update={"level": "warning"}),
            }
        )
        say(f"Sandbox at {sandbox.base_url}; dry run of source {name!r} (state store {tmp})…")
        with engine_for(demo_cfg) as engine:
            made = guard(lambda: engine.plan(name))
    _print_outcomes(
        [Outcome(name, run_id=made.run_id, plan=made)],
        fmt=ReportFormat.table,
        output=None,
        limit=limit,
    )
