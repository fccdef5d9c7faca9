"""Secret references in the configuration, as :mod:`syncd.config` takes them, plus optional ones.

A secret never lives in the file. A key holds either ``"${VAR}"`` (the environment variable
must be set when the secret is used), ``"${VAR:-}"`` (optional: unset or empty turns the thing it
configures off), or nothing, with the companion ``*_file`` key naming a file that holds the
secret (relative to the config file). References are resolved only when used, so
``check-config`` works without the secrets at hand.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from model.errors import ConfigError

_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(:-)?\}$")


@dataclass(frozen=True, slots=True)
class SecretRef:
    """``${VAR}`` (required) or ``${VAR:-}`` (optional)."""

    variable: str
    optional: bool


def parse_ref(value: str) -> SecretRef | None:
    """The reference ``value`` spells, or None when it is not one (a plain secret)."""
    match = _REF.match(value)
    if match is None:
        return None
    return SecretRef(match.group(1), optional=match.group(2) is not None)


def check_ref(value: str | None, file_key: str) -> str | None:
    """Validator: refuse a plain secret in the file, naming the two ways to give one."""
    if value is not None and parse_ref(value) is None:
        raise ValueError(
            'secrets are refused in the config file: write "${VAR}" (an environment variable; '
            f'"${{VAR:-}}" when it may be unset) or use {file_key}'
        )
    return value


def resolve_secret(
    value: str | None,
    file: Path | None,
    *,
    base_dir: Path,
    key: str,
    environ: Mapping[str, str] | None = None,
) -> SecretStr | None:
    """Read a secret given as a reference (``value``) or a file; ``ConfigError`` names ``key``.

    None when neither is given, or when an optional reference's variable is unset or empty.
    """
    env = os.environ if environ is None else environ
    if value is not None:
        ref = parse_ref(value)
        if ref is None:  # validators refuse this; keep the promise anyway
            raise ConfigError(f"{key}: secrets are refused in the config file")
        found = env.get(ref.variable, "")
        if found:
            return SecretStr(found)
        if ref.optional:
            return None
        raise ConfigError(
            f"{key}: environment variable {ref.variable} is not set; expected it to hold the "
            f'secret (write "${{{ref.variable}:-}}" if it may be unset)'
        )
    if file is None:
        return None
    path = file if file.is_absolute() else base_dir / file
    try:
        return SecretStr(path.read_text(encoding="utf-8").strip())
    except OSError as exc:
        raise ConfigError(
            f"{key}_file: cannot read {str(path)!r} ({exc.strerror}); expected a readable file "
            "holding the secret"
        ) from exc


def unset_required(value: str | None, key: str, environ: Mapping[str, str] | None = None) -> str:
    """A ``check-config`` warning for a required reference whose variable is unset, or ''."""
    env = os.environ if environ is None else environ
    ref = parse_ref(value) if value is not None else None
    if ref is None or ref.optional or env.get(ref.variable):
        return ""
    return f"{key}: environment variable {ref.variable} is not set"


def referenced_secrets(
    settings: object, base_dir: Path, environ: Mapping[str, str] | None = None
) -> list[str]:
    """The values of every secret a configuration refers to, as far as they can be read now:
    each ``${VAR}`` / ``${VAR:-}`` reference that is set, and each ``*_file`` that can be
    read. For the log's redaction; nothing is raised for a missing one."""
    env = os.environ if environ is None else environ
    found: list[str] = []

    def walk(key: str, value: object) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(str(k), v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(key, v)
        elif isinstance(value, str):
            ref = parse_ref(value)
            if ref is not None and env.get(ref.variable):
                found.append(env[ref.variable])
            elif key.endswith("_file") and value:
                path = Path(value) if Path(value).is_absolute() else base_dir / value
                with contextlib.suppress(OSError):  # a missing file is check-config's to say
                    found.append(path.read_text(encoding="utf-8").strip())
        elif isinstance(value, Path) and key.endswith("_file"):
            walk(key, str(value))

    dump = getattr(settings, "model_dump", None)
    walk("", dump(serialize_as_any=True) if callable(dump) else settings)
    return [s for s in found if s]
