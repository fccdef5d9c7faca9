"""Salesforce connector settings, and the facts about Salesforce's object model the connector
relies on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.settings import (
    ENV_REF,
    ConnectorSettings,
    RetryConfig,
    resolve_secret,
    secret_reference,
    unset_reference,
)
from model.errors import ConfigError

SOBJECTS: Mapping[str, str] = MappingProxyType(
    {
        "leads": "Lead",
        "contacts": "Contact",
        "companies": "Account",
        "deals": "Opportunity",
        "tasks": "Task",
        "owners": "User",
    }
)
"""Canonical object type → Salesforce object."""

OBJECT_TYPES: tuple[str, ...] = tuple(SOBJECTS)

MERGEABLE: frozenset[str] = frozenset({"leads", "contacts", "companies"})
"""Object types Salesforce's ``merge()`` takes (Lead, Contact, Account), each only with its own
kind: a Lead is never merged with a Contact."""

UNIQUE_FIELDS: Mapping[str, Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "contacts": MappingProxyType({"email": ("email",)}),
        "leads": MappingProxyType({"email": ("email",)}),
    }
)
"""Fields an org's duplicate rules keep unique, by canonical name: the standard Contact and Lead
rules match on e-mail, and a rule set to block refuses a save that repeats one
(``DUPLICATES_DETECTED``)."""

DECIDED_FIELDS: frozenset[str] = frozenset({"lead_open", "is_closed", "is_won"})
"""Canonical fields the connector (or Salesforce) decides; no custom field may map onto them."""

QUEUE_PREFIX = "00G"
"""Key prefix of a Group (a queue): a queue may own a Lead but never a Task."""

DELETED_LOG_DAYS = 15
"""How far back ``sobjects/{Type}/deleted`` answers; a longer gap needs a ``queryAll``
reconciliation."""

COLLECTION_MAX = 200
"""Records per sObject Collections call."""

LOGIN_NAMES = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")

Auth = Literal["password", "client_credentials", "jwt", "session"]


class SalesforceSettings(ConnectorSettings):
    """A Salesforce org, reached through ``simple-salesforce`` (``connector = "salesforce"``).

    ``login_url`` says where to log in: ``login`` (production), ``test`` (a Salesforce
    sandbox), a My Domain name (``acme.my``, for ``https://acme.my.salesforce.com``), or an
    ``https://`` URL (the local sandbox): every value drives the same login code.
    ``auth`` picks the flow simple-salesforce offers: ``password`` (``username``, ``password``,
    ``security_token``), ``client_credentials`` (``client_id``, ``client_secret``), ``jwt``
    (``username``, ``client_id``, ``private_key_file``) or ``session`` (``session_id`` and
    ``instance_url``: no login, and no logging in again when it expires). Secrets
    (``password``, ``security_token``, ``client_secret``, ``session_id``) are ``${ENV_VAR}``
    references or ``*_file`` paths, never values. ``username`` and ``client_id`` may be either a
    value or a reference. ``ca_file`` is a PEM bundle to trust instead of the system's (``~``
    expands), for a server whose certificate a private CA signed (the local sandbox).
    """

    login_url: str = Field(default="login", description="login, test, a My Domain, or a URL")
    auth: Auth = "password"
    username: str | None = None
    password: str | None = None
    password_file: Path | None = None
    security_token: str | None = None
    security_token_file: Path | None = None
    client_id: str | None = None
    client_secret: str | None = None
    client_secret_file: Path | None = None
    private_key_file: Path | None = None
    session_id: str | None = None
    session_id_file: Path | None = None
    instance_url: str | None = None
    api_version: str = "59.0"
    ca_file: Path | None = None
    object_types: tuple[str, ...] = OBJECT_TYPES
    lookback_seconds: int = Field(default=300, ge=0)
    request_timeout_seconds: float = Field(default=60.0, gt=0)
    query_batch_size: int = Field(default=2000, ge=200, le=2000)
    bulk_threshold: int = Field(default=10_000, ge=0)
    bulk_poll_seconds: float = Field(default=5.0, ge=0)
    api_reserve: float = Field(default=0.2, ge=0.0, lt=1.0)
    fields: dict[str, dict[str, str]] = Field(default_factory=dict)
    closed_lead_statuses: tuple[str, ...] = ("Closed - Converted", "Closed - Not Converted")
    retry: RetryConfig = RetryConfig()

    @field_validator("login_url")
    @classmethod
    def _login(cls, value: str) -> str:
        if value.startswith("https://"):
            if not re.match(r"^https://[^/\s]+/?$", value):
                raise ValueError("a login URL is https://HOST[:PORT], without a path")
            return value.rstrip("/")
        if value.startswith("http://"):
            raise ValueError("Salesforce is reached over https:// only")
        if not LOGIN_NAMES.match(value):
            raise ValueError("expected login, test, a My Domain name (acme.my) or an https:// URL")
        return value

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not re.match(r"^\d{2}\.0$", value):
            raise ValueError('expected a version such as "59.0" (no leading v)')
        return value

    @field_validator("password", "security_token", "client_secret", "session_id")
    @classmethod
    def _no_plain_secret(cls, value: str | None) -> str | None:
        return secret_reference(value, "${SALESFORCE_PASSWORD}")

    @field_validator("object_types")
    @classmethod
    def _types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [t for t in value if t not in OBJECT_TYPES]
        if unknown:
            raise ValueError(f"unknown object type(s) {unknown}; expected some of {OBJECT_TYPES}")
        return value

    @field_validator("fields")
    @classmethod
    def _custom(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        unknown = sorted(set(value) - set(OBJECT_TYPES))
        if unknown:
            raise ValueError(f"unknown object type(s) {unknown}; expected some of {OBJECT_TYPES}")
        for object_type, names in value.items():
            if len(set(names.values())) != len(names):
                raise ValueError(f"{object_type}: two Salesforce fields map to one field")
            decided = sorted(set(names.values()) & DECIDED_FIELDS)
            if decided:
                raise ValueError(f"{object_type}: {decided} are decided by the connector")
        return value

    @model_validator(mode="after")
    def _complete(self) -> SalesforceSettings:
        needs: dict[str, list[tuple[str, ...]]] = {
            "password": [("username",), ("password", "password_file"),
                         ("security_token", "security_token_file")],
            "client_credentials": [("client_id",), ("client_secret", "client_secret_file")],
            "jwt": [("username",), ("client_id",), ("private_key_file",)],
            "session": [("session_id", "session_id_file"), ("instance_url",)],
        }  # fmt: skip
        missing = [
            " or ".join(group)
            for group in needs[self.auth]
            if all(getattr(self, key) is None for key in group)
        ]
        if missing:
            raise ValueError(f'auth = "{self.auth}" needs {", ".join(missing)}')
        if self.auth == "client_credentials" and self.login_url in ("login", "test"):
            raise ValueError(
                "OAuth client credentials need the org's My Domain (or the sandbox URL) as "
                "login_url: Salesforce refuses them at login and test"
            )
        if self.instance_url is not None and not self.instance_url.startswith("https://"):
            raise ValueError("instance_url must be an https:// URL")
        return self

    def pulled_types(self) -> tuple[str, ...]:
        return self.object_types

    def unset_secrets(self) -> list[str]:
        found: list[str] = []
        for key in ("username", "password", "security_token", "client_id", "client_secret",
                    "session_id"):  # fmt: skip
            found += unset_reference(key, getattr(self, key))
        return found

    @property
    def lookback(self) -> timedelta:
        return timedelta(seconds=self.lookback_seconds)

    @property
    def login_base(self) -> str:
        """The URL logins go to: ``https://{login_url}.salesforce.com``, or the URL itself."""
        if self.login_url.startswith("https://"):
            return self.login_url
        return f"https://{self.login_url}.salesforce.com"

    def secrets(self, base_dir: Path, key: str) -> Credentials:
        """The credentials of :attr:`auth`, read from the environment or files; ``ConfigError``
        names the key that cannot be read."""

        def secret(name: str) -> str:
            file = getattr(self, f"{name}_file", None)
            return resolve_secret(
                getattr(self, name), file, base_dir, f"{key}.{name}"
            ).get_secret_value()

        def plain(name: str) -> str | None:
            value = getattr(self, name)
            if value is None:
                return None
            match = ENV_REF.match(value)
            if match is None:
                return str(value)
            return resolve_secret(value, None, base_dir, f"{key}.{name}").get_secret_value()

        found = Credentials(username=plain("username"), client_id=plain("client_id"))
        if self.auth == "password":
            found.password = SecretStr(secret("password"))
            found.security_token = SecretStr(secret("security_token"))
        elif self.auth == "client_credentials":
            found.client_secret = SecretStr(secret("client_secret"))
        elif self.auth == "jwt":
            assert self.private_key_file is not None
            path = self.private_key_file.expanduser()
            path = path if path.is_absolute() else base_dir / path
            try:
                found.private_key = SecretStr(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise ConfigError(
                    f"{key}.private_key_file: cannot read {str(path)!r} ({exc.strerror}); "
                    "expected the PEM private key of the connected app's certificate"
                ) from exc
        else:
            found.session_id = SecretStr(secret("session_id"))
        return found

    def ca_path(self, base_dir: Path) -> Path | None:
        """:attr:`ca_file` with ``~`` expanded and a relative path taken from ``base_dir``."""
        if self.ca_file is None:
            return None
        path = self.ca_file.expanduser()
        return path if path.is_absolute() else base_dir / path


class Credentials:
    """Resolved credentials (secrets never shown in a ``repr``)."""

    def __init__(self, *, username: str | None = None, client_id: str | None = None) -> None:
        self.username = username
        self.client_id = client_id
        self.password: SecretStr | None = None
        self.security_token: SecretStr | None = None
        self.client_secret: SecretStr | None = None
        self.private_key: SecretStr | None = None
        self.session_id: SecretStr | None = None

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, client_id={self.client_id!r})"
