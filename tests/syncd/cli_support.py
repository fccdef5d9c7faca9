"""What the command-line tests share: a small sandbox CRM, a config file, and a way to run
``syncd`` as a user does (stdout and stderr apart)."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner, Result

from sandbox.generator import generate
from sandbox.hubspot import HubSpotSandbox, SandboxState
from syncd.cli import app

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
OPEN_LIMITS = (
    "[sources.{name}.apply.limits]\n"
    "updates = {{ share = 1.0 }}\nmerges = {{ share = 1.0 }}\ntasks = {{ share = 1.0 }}\n"
)


@contextmanager
def serving(
    records: int = 150, seed: int = 5, tokens: Collection[str] | None = None
) -> Iterator[HubSpotSandbox]:
    """A sandbox HubSpot seeded with ``records`` messy contacts (no rate limit)."""
    ticks = iter(range(10**9))
    state = SandboxState.from_dataset(
        generate(records=records, seed=seed, now=NOW),
        clock=lambda: datetime.now(UTC) + timedelta(microseconds=next(ticks)),
    )
    state.rate_limit = None
    state.search_rate_limit = None
    with HubSpotSandbox(state, port=0, tokens=tokens) as running:
        yield running


def write_config(
    tmp_path: Path,
    sources: Mapping[str, str],
    *,
    store: str = "sqlite:///state.db",
    level: str = "warning",
    extra: str = "",
    attempts: int = 2,
    source_keys: str = "",
) -> Path:
    """A config with one HubSpot source per ``name → base URL`` (token from HUBSPOT_TOKEN,
    quick retries, no ceilings, ``source_keys`` added to each source's table) and ``extra``
    appended."""
    text = f'[store]\nurl = "{store}"\n[logging]\nlevel = "{level}"\n'
    for name, base_url in sources.items():
        text += (
            f'[sources.{name}]\nconnector = "hubspot"\nbase_url = "{base_url}"\n'
            'token = "${HUBSPOT_TOKEN}"\n'
            + source_keys
            + f"[sources.{name}.retry]\nmax_attempts = {attempts}\ninitial_wait_seconds = 0.01\n"
            "max_wait_seconds = 0.02\njitter_seconds = 0\n" + OPEN_LIMITS.format(name=name)
        )
    path = tmp_path / "syncd.toml"
    path.write_text(text + extra)
    return path


def syncd(*args: str | Path) -> Result:
    """``syncd ARGS`` in-process; ``.stdout``, ``.stderr`` and ``.exit_code`` as a user sees."""
    return CliRunner().invoke(app, [str(a) for a in args])


def one_line(text: str) -> str:
    """The only non-empty line of ``text`` (fails the test when there are more)."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def on_a_terminal(command: list[str], env: dict[str, str]) -> str:
    """Run ``command`` with a pseudo-terminal as stdin and stdout; what it printed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    out = io.BytesIO()
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        out.write(chunk)
    process.wait(timeout=30)
    os.close(leader)
    return out.getvalue().decode(errors="replace")
