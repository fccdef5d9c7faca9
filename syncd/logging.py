"""Logging: one ``configure()``; console lines on a terminal, JSON lines otherwise.

``run_id``, ``source`` and ``object_type`` are bound through contextvars
(``structlog.contextvars.bound_contextvars``). Never log a secret or a response body; as a
second line of defence, :class:`Redactor` blanks the values of secret-sounding keys and every
known secret (the service passes the tokens and URLs it resolved) wherever it appears.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, Literal, TextIO

import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is now (test runners swap it), not to the one at start."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


REDACTED = "[redacted]"
_SECRET_KEY = re.compile(r"(token|secret|password|authorization|api_key|cookie)", re.IGNORECASE)
#: Shorter values are not searched for (they would blank ordinary words).
MIN_SECRET_LENGTH = 6


class Redactor:
    """A structlog processor: secret-sounding keys and known secret values are blanked."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted(
            {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True
        )

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self._secrets:
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, list | tuple):
            return type(value)(self._clean(v) for v in value)
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        return value

    def __call__(
        self, logger: Any, method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in list(event.items()):
            if _SECRET_KEY.search(key) and value is not None:
                event[key] = REDACTED
            else:
                event[key] = self._clean(value)
        return event


def configure(
    level: Literal["debug", "info", "warning", "error"] = "info",
    fmt: Literal["auto", "console", "json"] = "auto",
    stream: TextIO | None = None,
    secrets: Iterable[str] = (),
) -> None:
    """Set up structlog for the process. Logs go to ``stream`` (stderr by default); the values
    of ``secrets`` never show in them."""
    out: TextIO = stream or _CurrentStderr()  # type: ignore[assignment]  # duck-typed stream
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=out.isatty())
        if use_console
        else structlog.processors.JSONRenderer()
    )
    redactor = Redactor(secrets)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redactor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    _route_stdlib(out, renderer, redactor)


class _StdlibHandler(logging.StreamHandler):  # type: ignore[type-arg]  # generic in typeshed only
    """The handler :func:`configure` puts on the root logger (replaced when called again)."""


def _route_stdlib(out: TextIO, renderer: structlog.typing.Processor, redactor: Redactor) -> None:
    """Warnings of libraries (urllib3, APScheduler...) in the same shape as ours."""
    handler = _StdlibHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                redactor,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StdlibHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A logger for one module."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
