"""Configuration: a TOML file validated into typed settings.

Every problem is reported at once, each with its dotted key, the value found and what is expected.
Secrets never live in the file: a secret key holds a reference to an environment variable
(``"${HUBSPOT_TOKEN}"``) or the path of a file that holds it (``token_file``). References are
resolved only when a source is used, so ``check-config`` works without the secrets at hand.
"""

from __future__ import annotations

import codecs
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from policies.registry import PoliciesSettings
from state.engine import URL_FORMS, url_problem
from syncd.errors import ConfigError

_SECRET_KEY = re.compile(r"(token|secret|password|api_key)$", re.IGNORECASE)
_ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
HUBSPOT_OBJECT_TYPES = ("contacts", "companies", "deals", "tasks", "owners")


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


class RetryConfig(_Strict):
    """Retries of transient failures (429, 5xx, timeouts, dropped connections)."""

    max_attempts: int = Field(default=5, ge=1, le=20)
    initial_wait_seconds: float = Field(default=0.5, ge=0)
    max_wait_seconds: float = Field(default=30.0, ge=0)
    jitter_seconds: float = Field(default=0.5, ge=0)


def _phone_region(value: str) -> str:
    if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("expected a two-letter region code such as US, GB, DE")
    return value.upper()


class HubSpotSourceConfig(_Strict):
    """A HubSpot account, reached through ``hubspot-api-client``."""

    connector: Literal["hubspot"]
    base_url: str = "https://api.hubapi.com"
    token: str | None = Field(default=None, description='"${ENV_VAR}" reference to the token')
    token_file: Path | None = None
    object_types: tuple[str, ...] = HUBSPOT_OBJECT_TYPES
    default_region: str = "US"
    lookback_seconds: int = Field(default=300, ge=0)
    request_timeout_seconds: float = Field(default=60.0, gt=0)
    retry: RetryConfig = RetryConfig()
    apply: ApplyConfig = ApplyConfig()

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("expected an http(s) URL such as https://api.hubapi.com")
        return value.rstrip("/")

    @field_validator("token")
    @classmethod
    def _no_plain_secret(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_REF.match(value):
            raise ValueError(
                'secrets are refused in the config file: write "${HUBSPOT_TOKEN}" '
                "(an environment variable) or use token_file"
            )
        return value

    @field_validator("object_types")
    @classmethod
    def _types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [t for t in value if t not in HUBSPOT_OBJECT_TYPES]
        if unknown:
            raise ValueError(
                f"unknown object type(s) {unknown}; expected some of {list(HUBSPOT_OBJECT_TYPES)}"
            )
        return value

    _region = field_validator("default_region")(_phone_region)

    @model_validator(mode="after")
    def _one_secret(self) -> HubSpotSourceConfig:
        if self.token is None and self.token_file is None:
            raise ValueError('a token is required: token = "${HUBSPOT_TOKEN}" or token_file')
        return self

    def resolve_token(self, base_dir: Path, key: str) -> SecretStr:
        """Read the secret from the environment or its file; ``ConfigError`` names ``key``."""
        if self.token is not None:
            match = _ENV_REF.match(self.token)
            assert match is not None  # checked by the validator
            value = os.environ.get(match.group(1))
            if not value:
                raise ConfigError(
                    f"{key}.token: environment variable {match.group(1)} is not set; "
                    "expected it to hold the access token"
                )
            return SecretStr(value)
        assert self.token_file is not None
        path = self.token_file if self.token_file.is_absolute() else base_dir / self.token_file
        try:
            return SecretStr(path.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ConfigError(
                f"{key}.token_file: cannot read {str(path)!r} ({exc.strerror}); "
                "expected a readable file holding the token"
            ) from exc


class CsvSourceConfig(_Strict):
    """A spreadsheet export (``connector = "csv"``), cleaned into new files on apply."""

    connector: Literal["csv"]
    path: Path = Field(description="The CSV file; relative to the config file.")
    object_type: Literal["contacts", "companies", "deals", "tasks"] = "contacts"
    id_column: str = Field(default="id", description="Column of unique record ids.")
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="CSV column -> canonical field; other columns named like a canonical field "
        "(any case) are that field, the rest are carried through untouched.",
    )
    encoding: str = "utf-8-sig"
    delimiter: str | None = Field(
        default=None, min_length=1, max_length=1, description="Sniffed when not given."
    )
    output_dir: Path | None = Field(
        default=None,
        description="Where the cleaned file, merge map and tasks go (beside the "
        "input by default); relative to the config file.",
    )
    default_region: str = "US"
    apply: ApplyConfig = ApplyConfig()

    @property
    def object_types(self) -> tuple[str, ...]:
        """The one object type the file holds (the engine pulls ``object_types``)."""
        return (self.object_type,)

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError("expected a Python codec name such as utf-8-sig or cp1252") from None
        return value

    @field_validator("columns")
    @classmethod
    def _one_to_one(cls, value: dict[str, str]) -> dict[str, str]:
        if len(set(value.values())) != len(value):
            raise ValueError("two CSV columns map to one canonical field")
        return value

    _region = field_validator("default_region")(_phone_region)


SourceConfig = Annotated[HubSpotSourceConfig | CsvSourceConfig, Field(discriminator="connector")]
CONNECTORS = ("hubspot", "csv")


class Config(_Strict):
    """The whole configuration file."""

    store: StoreConfig = StoreConfig()
    logging: LoggingConfig = LoggingConfig()
    sources: dict[str, SourceConfig] = Field(min_length=1)
    policies: PoliciesSettings = PoliciesSettings()
    base_dir: Path = Field(default=Path("."), exclude=True)

    def source(self, name: str | None) -> tuple[str, SourceConfig]:
        """The named source, or the only one when ``name`` is None."""
        if name is None:
            if len(self.sources) == 1:
                return next(iter(self.sources.items()))
            raise ConfigError(
                f"--source: the config has {len(self.sources)} sources; expected one of "
                f"{sorted(self.sources)}"
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


def _dotted(loc: Sequence[int | str]) -> str:
    parts = [str(p) for p in loc if not str(p).startswith(("function-", "tagged-union"))]
    return ".".join(parts)


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


def _describe(error: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    loc = [p for p in error["loc"] if not str(p).startswith("function-")]
    kind = error["type"]
    if kind == "union_tag_invalid":
        loc = [*loc, "connector"]
        found, value = _lookup(data, loc)
        return (
            f"{_dotted(loc)}: {value!r} is not a connector; expected one of {', '.join(CONNECTORS)}"
        )
    if kind == "union_tag_not_found":
        return f"{_dotted([*loc, 'connector'])}: missing; expected one of {', '.join(CONNECTORS)}"
    # a tagged union puts the tag in the location: drop it
    if len(loc) >= 3 and loc[0] == "sources" and loc[2] in CONNECTORS:
        loc = [*loc[:2], *loc[3:]]
    key = _dotted(loc)
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


def parse_config(data: Mapping[str, Any], base_dir: Path) -> Config:
    """Validate parsed TOML; ``ConfigError`` lists every problem, one per line."""
    try:
        return Config.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        lines = [_describe(err, data) for err in exc.errors()]
        raise ConfigError("\n".join(lines)) from None


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
    missing = []
    for name, source in config.sources.items():
        if not isinstance(source, HubSpotSourceConfig):
            continue
        if source.token and (m := _ENV_REF.match(source.token)) and not os.environ.get(m.group(1)):
            missing.append(f"sources.{name}.token: environment variable {m.group(1)} is not set")
    return missing
