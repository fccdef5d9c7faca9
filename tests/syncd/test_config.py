"""check-config: a good file exits 0; each kind of bad file exits 2 naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.hubspot import HubSpotSettings
from model.errors import ConfigError
from syncd.cli import app
from syncd.config import load_config

REPO = Path(__file__).resolve().parents[2]
GOOD = """
[store]
url = "sqlite:///syncd.db"

[sources.hubspot]
connector = "hubspot"
base_url = "http://127.0.0.1:8765"
token = "${HUBSPOT_TOKEN}"
"""


def check(tmp_path: Path, text: str | bytes) -> tuple[int, str]:
    path = tmp_path / "syncd.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    result = CliRunner().invoke(app, ["check-config", "-c", str(path)])
    return result.exit_code, result.output


def test_good_file_exits_zero(tmp_path: Path) -> None:
    code, out = check(tmp_path, GOOD)
    assert code == 0, out
    assert "OK" in out


def test_example_config_is_valid() -> None:
    result = CliRunner().invoke(app, ["check-config", "-c", str(REPO / "config.example.toml")])
    assert result.exit_code == 0, result.output


def test_unknown_key_is_named(tmp_path: Path) -> None:
    code, out = check(tmp_path, GOOD + "lookbak_seconds = 10\n")
    assert code == 2
    assert "sources.hubspot.lookbak_seconds: unknown key" in out


def test_wrong_type_names_key_value_and_expectation(tmp_path: Path) -> None:
    code, out = check(tmp_path, GOOD + 'lookback_seconds = "soon"\n')
    assert code == 2
    assert "sources.hubspot.lookback_seconds: found 'soon'; expected a valid integer" in out


def test_missing_required_key(tmp_path: Path) -> None:
    code, out = check(tmp_path, GOOD.replace('connector = "hubspot"\n', ""))
    assert code == 2
    assert "sources.hubspot.connector: missing" in out


def test_unknown_connector(tmp_path: Path) -> None:
    code, out = check(tmp_path, GOOD.replace('connector = "hubspot"', 'connector = "hubspt"'))
    assert code == 2
    assert "sources.hubspot.connector: 'hubspt' is not a connector; expected one of hubspot" in out


def test_unreadable_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["check-config", "-c", str(tmp_path / "absent.toml")])
    assert result.exit_code == 2
    assert "cannot read the config file" in result.output


def test_invalid_toml_says_where(tmp_path: Path) -> None:
    code, out = check(tmp_path, GOOD + "[sources.hubspot\n")
    assert code == 2
    assert "not valid TOML" in out
    assert "line" in out


def test_all_errors_reported_at_once(tmp_path: Path) -> None:
    text = GOOD + 'lookback_seconds = -1\ndefault_region = "Mars"\n[store2]\n'
    code, out = check(tmp_path, text)
    assert code == 2
    for key in ("sources.hubspot.lookback_seconds", "sources.hubspot.default_region", "store2"):
        assert key in out


def test_plain_secret_is_refused_and_not_echoed(tmp_path: Path) -> None:
    code, out = check(tmp_path, GOOD.replace("${HUBSPOT_TOKEN}", "pat-na1-supersecret"))
    assert code == 2
    assert "sources.hubspot.token" in out
    assert "secrets are refused" in out
    assert "supersecret" not in out


def test_policy_settings_are_checked(tmp_path: Path) -> None:
    code, out = check(tmp_path, GOOD + "[policies.dedupe]\nmerge_treshold = 0.9\n")
    assert code == 2
    assert "policies.dedupe.merge_treshold: unknown key" in out


def test_secret_from_environment_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "syncd.toml").write_text(GOOD)
    config = load_config(tmp_path / "syncd.toml")
    source = config.sources["hubspot"].settings
    assert isinstance(source, HubSpotSettings)
    monkeypatch.delenv("HUBSPOT_TOKEN", raising=False)
    with pytest.raises(
        ConfigError,
        match=r"sources.hubspot.token: environment variable "
        r"HUBSPOT_TOKEN is not set",
    ):
        source.resolve_token(config.base_dir, "sources.hubspot")
    monkeypatch.setenv("HUBSPOT_TOKEN", "abc")
    assert source.resolve_token(config.base_dir, "sources.hubspot").get_secret_value() == "abc"

    (tmp_path / "token").write_text("from-file\n")
    (tmp_path / "syncd.toml").write_text(
        GOOD.replace('token = "${HUBSPOT_TOKEN}"', 'token_file = "token"')
    )
    config = load_config(tmp_path / "syncd.toml")
    settings = config.sources["hubspot"].settings
    assert isinstance(settings, HubSpotSettings)
    secret = settings.resolve_token(config.base_dir, "sources.hubspot")
    assert secret.get_secret_value() == "from-file"


def test_relative_sqlite_path_is_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / "syncd.toml").write_text(GOOD)
    assert load_config(tmp_path / "syncd.toml").store_url() == f"sqlite:///{tmp_path}/syncd.db"


def test_example_config_documents_every_key() -> None:
    """Each settings key appears in config.example.toml (set, or commented out with a value)."""
    from pydantic import BaseModel

    from connectors.registry import registered
    from connectors.settings import RetryConfig
    from syncd.config import ApplyConfig, Limits, LoggingConfig, SourceConfig, StoreConfig
    from syncd.service.alerts import AlertsSettings, DeliveryRetry
    from syncd.service.http import HttpSettings
    from syncd.service.scheduler import ScheduleSettings
    from syncd.service.settings import CompletenessSettings, RetentionSettings, ServiceSettings

    text = (REPO / "config.example.toml").read_text()
    models: list[type[BaseModel]] = [
        StoreConfig,
        LoggingConfig,
        SourceConfig,
        *(r.settings for r in registered().values()),
        RetryConfig,
        ApplyConfig,
        Limits,
        ScheduleSettings,
        CompletenessSettings,
        ServiceSettings,
        HttpSettings,
        RetentionSettings,
        AlertsSettings,
        DeliveryRetry,
    ]
    policies = load_config(REPO / "config.example.toml").policies
    models += [type(getattr(policies, name)) for name in type(policies).model_fields]
    missing = [
        f"{model.__name__}.{key}"
        for model in models
        for key in model.model_fields
        if key not in {"connector", "settings"}
        and f"\n{key} = " not in text
        and f"\n# {key} = " not in text
        and f"[{key}]" not in text.replace("policies.", "").replace("sources.hubspot.", "")
        and f".{key}]" not in text
        and f".{key}." not in text  # a nested table such as [policies.tags.synonyms.tags]
    ]
    assert missing == []


def test_example_config_names_every_connector() -> None:
    from connectors.registry import registered

    CONNECTORS = list(registered())  # noqa: N806  (the connectors the config knows)

    text = (REPO / "config.example.toml").read_text()
    known = next(line for line in text.splitlines() if "Known:" in line)
    assert [name for name in CONNECTORS if name not in known] == []
    for name in CONNECTORS:
        assert f'connector = "{name}"' in text
