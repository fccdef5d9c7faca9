"""Configuration: a TOML file validated into typed settings.

Every problem is reported at once, each with its dotted key, the value found and what is expected.
A source (``[sources.NAME]``) is the engine's keys (:class:`SourceConfig`) plus its connector's
own settings model, found by ``connector`` in :mod:`connectors.registry`: adding a connector
needs no edit here. A source may set its own policies (``[sources.NAME.policies]``, deep-merged
over ``[policies]``). Secrets never live in the file: a secret key holds a reference to an
environment variable (``"${HUBSPOT_TOKEN}"``) or the path of a file that holds it
(``token_file``). References are resolved only when a source is used, so ``check-config`` works
without the secrets at hand.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connectors.registry import registered, registration
from connectors.settings import ConnectorSettings
from model.errors import ConfigError
from policies.registry import PoliciesSettings
from state.db import URL_FORMS, url_problem
from syncd.service.alerts import AlertsSettings
from syncd.service.scheduler import ScheduleSettings
from syncd.service.settings import CompletenessSettings, ServiceSettings
from syncd.vocabulary import Vocabulary, dotted

_SECRET_KEY = re.compile(r"(token|secret|password|api_key|^alerts\..*url)$", re.IGNORECASE)
"""Keys whose values are never shown in a message (an alert channel's URL is its secret)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Strict):
    """Where the state store lives."""

    url: str = Field(
        default="sqlite:///syncd.db",
        description="SQLAlchemy URL; relative SQLite paths are relative to the config file.",
    )

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        problem = url_problem(value)
        if problem is not None:
            raise ValueError(f"{URL_FORMS} ({problem})")
        return value


class LoggingConfig(_Strict):
    """How syncd logs."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "console", "json"] = "auto"


ConflictStrategy = Literal["crm-wins", "syncd-wins", "review"]


class Ceiling(_Strict):
    """The most changes of one kind a single run may push: a count, and a share of records."""

    max: int = Field(default=10_000, ge=0)
    share: float = Field(default=1.0, ge=0.0, le=1.0)


class Limits(_Strict):
    """Ceilings per kind of change; a plan beyond any of them is not pushed at all."""

    updates: Ceiling = Ceiling(max=20_000, share=0.6)
    merges: Ceiling = Ceiling(max=1_000, share=0.1)
    tasks: Ceiling = Ceiling(max=5_000, share=0.5)
    archives: Ceiling = Ceiling(max=500, share=0.05)


class ApplyConfig(_Strict):
    """How plans are pushed to this source."""

    conflict_strategy: ConflictStrategy = "crm-wins"
    conflict_by_policy: dict[str, ConflictStrategy] = Field(default_factory=dict)
    protected_fields: tuple[str, ...] = ()
    limits: Limits = Limits()
    max_plan_age_hours: float = Field(default=24.0, gt=0)
    max_drift_share: float = Field(default=0.05, ge=0.0, le=1.0)


def _phone_region(value: str) -> str:
    if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("expected a two-letter region code such as US, GB, DE")
    return value.upper()


COMMON_KEYS = (
    "connector",
    "enabled",
    "default_region",
    "mode",
    "apply",
    "policies",
    "schedule",
    "completeness",
)
"""The keys of ``[sources.NAME]`` the engine reads; the connector's model validates the rest."""

SourceMode = Literal["apply", "plan"]
"""What ``syncd serve`` does with a source's plans: push them (within the rails), or only make
them (a read-only source: its token needs read scopes only)."""


class _SourceKeys(_Strict):
    """The engine's keys of a source, as written (``policies`` is the source's override)."""

    connector: str
    enabled: bool = True
    default_region: str = "US"
    mode: SourceMode = "apply"
    apply: ApplyConfig = ApplyConfig()
    policies: dict[str, Any] | None = None
    schedule: ScheduleSettings = ScheduleSettings()
    completeness: CompletenessSettings = CompletenessSettings()

    _region = field_validator("default_region")(_phone_region)


class SourceConfig(_Strict):
    """One ``[sources.NAME]``: the engine's keys, and the connector's own settings model
    (``settings``, validated by the connector's registration).

    ``policies`` are the source's own when it has ``[sources.NAME.policies]`` (deep-merged
    over ``[policies]``), else ``None``: :meth:`Config.policies_for` gives the ones to use.
    A source with ``enabled = false`` runs only when named (``--source NAME``): commands that
    take every source leave it out.
    ``mode``, ``schedule`` and ``completeness`` are what ``syncd serve`` does with it.
    """

    connector: str
    enabled: bool = True
    default_region: str = "US"
    mode: SourceMode = "apply"
    apply: ApplyConfig = ApplyConfig()
    policies: PoliciesSettings | None = None
    schedule: ScheduleSettings = ScheduleSettings()
    completeness: CompletenessSettings = CompletenessSettings()
    settings: ConnectorSettings

    _region = field_validator("default_region")(_phone_region)

    @property
    def object_types(self) -> tuple[str, ...]:
        """The canonical object types this source pulls."""
        return self.settings.pulled_types()


class Config(_Strict):
    """The whole configuration file."""

    store: StoreConfig = StoreConfig()
    logging: LoggingConfig = LoggingConfig()
    sources: dict[str, SourceConfig] = Field(min_length=1)
    policies: PoliciesSettings = PoliciesSettings()
    alerts: AlertsSettings = AlertsSettings()
    service: ServiceSettings = ServiceSettings()
    base_dir: Path = Field(default=Path("."), exclude=True)

    def policies_for(self, name: str) -> PoliciesSettings:
        """The policies of source ``name``: its own (``[sources.NAME.policies]`` over
        ``[policies]``), else the global ones."""
        own = self.sources[name].policies
        return self.policies if own is None else own

    def enabled_sources(self) -> list[str]:
        """The sources that run when none is named (``enabled``), in the file's order."""
        return [name for name, source in self.sources.items() if source.enabled]

    def source(self, name: str | None) -> tuple[str, SourceConfig]:
        """The named source (enabled or not), or the only enabled one when ``name`` is None."""
        if name is None:
            enabled = self.enabled_sources()
            if len(enabled) == 1:
                return enabled[0], self.sources[enabled[0]]
            off = len(self.sources) - len(enabled)
            disabled = f" ({off} of them disabled)" if off else ""
            raise ConfigError(
                f"--source: the config has {len(self.sources)} sources{disabled}; expected one "
                f"of {sorted(self.sources)}"
            )
        if name not in self.sources:
            raise ConfigError(
                f"--source: {name!r} is not a source; expected one of {sorted(self.sources)}"
            )
        return name, self.sources[name]

    def store_url(self) -> str:
        """The store URL with a relative SQLite path made relative to the config file."""
        url = self.store.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str((self.base_dir / url[len(prefix) :]).resolve())
        return url


class _File(_Strict):
    """The file as the engine validates it: each source's connector keys are the connector's."""

    store: StoreConfig = StoreConfig()
    logging: LoggingConfig = LoggingConfig()
    sources: dict[str, _SourceKeys] = Field(min_length=1)
    policies: PoliciesSettings = PoliciesSettings()
    alerts: AlertsSettings = AlertsSettings()
    service: ServiceSettings = ServiceSettings()


def _lookup(data: Any, loc: Sequence[int | str]) -> tuple[bool, Any]:
    node = data
    for part in loc:
        in_map = isinstance(node, Mapping) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_map or in_list:
            node = node[part]
        else:
            return False, None
    return True, node


def _untagged(loc: Sequence[int | str], data: Any) -> list[int | str]:
    """``loc`` without the tags of tagged unions (an alert channel's ``kind``)."""
    kept: list[int | str] = []
    node = data
    for part in loc:
        if isinstance(node, Mapping) and part not in node and node.get("kind") == part:
            continue
        kept.append(part)
        found, node = _lookup(node, [part]) if node is not None else (False, None)
        if not found:
            node = None
    return kept


def _describe(error: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    loc = _untagged([p for p in error["loc"] if not str(p).startswith("function-")], data)
    kind = error["type"]
    key = dotted(loc)
    found, value = _lookup(data, loc)
    if kind == "missing":
        return f"{key}: missing; this key is required"
    if kind == "extra_forbidden":
        return (
            f"{key}: unknown key (value {value!r}); check the spelling against config.example.toml"
        )
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Input should be ")
    shown = repr(value) if found else "nothing"
    if found and _SECRET_KEY.search(key):
        shown = "a value (not shown: it is a secret)"
    return f"{key}: found {shown}; expected {message[0].lower()}{message[1:]}"


def _errors(
    exc: ValidationError, data: Mapping[str, Any], prefix: Sequence[str | int] = ()
) -> list[str]:
    return [_describe({**e, "loc": (*prefix, *e["loc"])}, data) for e in exc.errors()]


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: tables merge key by key, any other value replaces."""
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            merged[key] = deep_merge(below, value)
        else:
            merged[key] = value
    return merged


def _own_error(error: Mapping[str, Any], override: Mapping[str, Any]) -> bool:
    """Whether a problem of a source's merged policies comes from the source's own override
    (the global ``[policies]`` ones are reported once, under ``policies``)."""
    loc = [p for p in error["loc"] if not str(p).startswith("function-")]
    if _lookup(override, loc)[0]:
        return True
    return error["type"] == "missing" and _lookup(override, loc[:-1])[0]


def _source_policies(
    name: str, override: Any, data: Mapping[str, Any], problems: list[str]
) -> PoliciesSettings | None:
    """A source's policies: ``[sources.NAME.policies]`` deep-merged over ``[policies]``."""
    if not isinstance(override, Mapping):
        return None
    base = data.get("policies")
    merged = deep_merge(base if isinstance(base, Mapping) else {}, override)
    try:
        return PoliciesSettings.model_validate(merged)
    except ValidationError as exc:
        prefix = ("sources", name, "policies")
        problems.extend(
            _describe({**e, "loc": (*prefix, *e["loc"])}, data)
            for e in exc.errors()
            if _own_error(e, override)
        )
        return None


def _connector_settings(
    name: str, raw: Mapping[str, Any], data: Mapping[str, Any], problems: list[str]
) -> ConnectorSettings | None:
    """The connector's own settings of source ``name`` (every key but :data:`COMMON_KEYS`)."""
    connector = raw.get("connector")
    if not isinstance(connector, str):
        return None  # missing or not a string: the engine's keys say so
    found = registration(connector)
    if found is None:
        known = ", ".join(registered())
        problems.append(
            f"sources.{name}.connector: {connector!r} is not a connector; expected one of {known}"
        )
        return None
    own = {k: v for k, v in raw.items() if k not in COMMON_KEYS}
    try:
        settings = found.settings.model_validate(own)
    except ValidationError as exc:
        problems.extend(_errors(exc, data, ("sources", name)))
        return None
    assert isinstance(settings, ConnectorSettings)
    return settings


def parse_config(data: Mapping[str, Any], base_dir: Path) -> Config:
    """Validate parsed TOML; ``ConfigError`` lists every problem, one per line.

    Each ``[sources.NAME]`` is the engine's keys (:data:`COMMON_KEYS`) and the connector's own
    settings model (its registration's) for the rest; an unknown connector is one more problem,
    and every other one is still reported. Names of the previous vocabulary (a vendor's field
    name, a removed key) are refused with the new ones (:mod:`syncd.vocabulary`).
    """
    data, problems = Vocabulary(registered()).screen(data)
    raw_sources = data.get("sources")
    sources = raw_sources if isinstance(raw_sources, Mapping) else {}
    engine_keys: Any = raw_sources
    if isinstance(raw_sources, Mapping):
        engine_keys = {
            name: {k: v for k, v in raw.items() if k in COMMON_KEYS}
            if isinstance(raw, Mapping)
            else raw
            for name, raw in raw_sources.items()
        }
    file: _File | None = None
    try:
        file = _File.model_validate({**data, "sources": engine_keys})
    except ValidationError as exc:
        problems.extend(_errors(exc, data))
    built: dict[str, tuple[ConnectorSettings | None, PoliciesSettings | None]] = {}
    for name, raw in sources.items():
        if isinstance(raw, Mapping):
            settings = _connector_settings(str(name), raw, data, problems)
            policies = _source_policies(str(name), raw.get("policies"), data, problems)
            built[str(name)] = (settings, policies)
    if problems or file is None:
        raise ConfigError("\n".join(problems))
    configured: dict[str, SourceConfig] = {}
    for name, keys in file.sources.items():
        settings, policies = built[name]
        assert settings is not None
        configured[name] = SourceConfig(
            connector=keys.connector,
            enabled=keys.enabled,
            default_region=keys.default_region,
            mode=keys.mode,
            apply=keys.apply,
            policies=policies,
            schedule=keys.schedule,
            completeness=keys.completeness,
            settings=settings,
        )
    return Config(
        store=file.store,
        logging=file.logging,
        sources=configured,
        policies=file.policies,
        alerts=file.alerts,
        service=file.service,
        base_dir=base_dir,
    )


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; ``ConfigError`` says what is wrong and where."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the config file ({exc.strerror})") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    if "base_dir" in data:
        raise ConfigError("base_dir: unknown key; check the spelling against config.example.toml")
    return parse_config(data, file.resolve().parent)


def unresolved_secrets(config: Config) -> list[str]:
    """Secret references whose environment variable is unset (for ``check-config`` warnings)."""
    return [
        f"sources.{name}.{problem}"
        for name, source in config.sources.items()
        for problem in source.settings.unset_secrets()
    ] + config.alerts.unresolved_secrets()
