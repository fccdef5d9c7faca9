"""Alerts: the ``[alerts]`` settings, the channels, and the loop from event to message.

Channels: a JSON webhook (``POST`` of :meth:`Alert.as_json`), a Slack incoming webhook (``text``:
source, what failed, how often, since when, the command that shows more) and e-mail over SMTP
with STARTTLS. Their URLs and passwords are secrets (:mod:`syncd.service.secrets`); a channel
whose optional reference (``"${VAR:-}"``) is unset is off. Delivery is retried and its failures
logged, never raised (:mod:`syncd.service.delivery`).

:class:`Alerter` ties it together: an event goes through the :class:`IncidentTracker` against the
source's open incidents, the resulting incident is saved, and channels are told when the
decision says so.
"""

from __future__ import annotations

import enum
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from connectors.retry import RetrySettings
from syncd.logging import get_logger
from syncd.service.delivery import DEFAULT_RETRY, DeliveryError, HttpSender, Method, deliver
from syncd.service.heartbeat import Heartbeat
from syncd.service.incidents import (
    DEFAULT_FAILED_SHARE,
    DEFAULT_STALE_INTERVALS,
    Action,
    Cause,
    Decision,
    Event,
    Incident,
    IncidentStore,
    IncidentTracker,
    current_incident,
)
from syncd.service.secrets import check_ref, resolve_secret, unset_required

log = get_logger(__name__)
#: How often :meth:`Alerter.observe` decides again when another replica saved first.
SAVE_ATTEMPTS = 3


# -- settings ---------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _UrlChannel(_Strict):
    name: str | None = Field(default=None, description="Shown in logs; the kind by default.")
    url: str | None = Field(default=None, description='"${VAR}" or "${VAR:-}" (optional).')
    url_file: Path | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)

    _ref = field_validator("url")(lambda v: check_ref(v, "url_file"))

    @model_validator(mode="after")
    def _one_url(self) -> _UrlChannel:
        if (self.url is None) == (self.url_file is None):
            raise ValueError('give the URL once: url = "${VAR}" or url_file')
        return self


class WebhookSettings(_UrlChannel):
    """``kind = "webhook"``: POST each alert as JSON to a URL."""

    kind: Literal["webhook"]


class SlackSettings(_UrlChannel):
    """``kind = "slack"``: a Slack incoming webhook URL."""

    kind: Literal["slack"]


class EmailSettings(_Strict):
    """``kind = "email"``: SMTP with STARTTLS (required: a server without it is refused)."""

    kind: Literal["email"]
    name: str | None = None
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None
    password: str | None = Field(default=None, description='"${SMTP_PASSWORD}"')
    password_file: Path | None = None
    sender: EmailStr
    to: tuple[EmailStr, ...] = Field(min_length=1)
    ca_file: Path | None = Field(
        default=None, description="Extra CA certificates (PEM) for a relay with a private CA."
    )
    timeout_seconds: float = Field(default=20.0, gt=0)

    _ref = field_validator("password")(lambda v: check_ref(v, "password_file"))

    @model_validator(mode="after")
    def _login(self) -> EmailSettings:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give the password once: password or password_file")
        has_password = self.password is not None or self.password_file is not None
        if has_password and self.username is None:
            raise ValueError("a password needs a username")
        return self


ChannelSettings = Annotated[
    WebhookSettings | SlackSettings | EmailSettings, Field(discriminator="kind")
]


class DeliveryRetry(_Strict):
    """Retries of one delivery (connection errors, 429, 5xx; SMTP 4xx)."""

    max_attempts: int = Field(default=4, ge=1, le=10)
    initial_wait_seconds: float = Field(default=1.0, ge=0)
    max_wait_seconds: float = Field(default=30.0, ge=0)

    def settings(self) -> RetrySettings:
        return RetrySettings(
            max_attempts=self.max_attempts,
            initial_wait=self.initial_wait_seconds,
            max_wait=self.max_wait_seconds,
            jitter=DEFAULT_RETRY.jitter,
        )


class AlertsSettings(_Strict):
    """The ``[alerts]`` section: channels, thresholds and the heartbeat."""

    channels: tuple[ChannelSettings, ...] = ()
    failed_operations_share: float = Field(
        default=DEFAULT_FAILED_SHARE,
        ge=0.0,
        le=1.0,
        description="Alert when more than this share of a run's operations failed.",
    )
    staleness_intervals: float = Field(
        default=DEFAULT_STALE_INTERVALS,
        gt=0,
        description="Alert when a source has had no successful run for this many intervals.",
    )
    reminder_hours: float = Field(
        default=4.0, gt=0, description="Remind of an open incident after this quiet period."
    )
    heartbeat_url: str | None = Field(
        default=None, description='Pinged after each successful cycle; "${VAR:-}".'
    )
    heartbeat_url_file: Path | None = None
    heartbeat_method: Method = "GET"
    retry: DeliveryRetry = DeliveryRetry()

    _ref = field_validator("heartbeat_url")(lambda v: check_ref(v, "heartbeat_url_file"))

    @model_validator(mode="after")
    def _one_heartbeat(self) -> AlertsSettings:
        if self.heartbeat_url is not None and self.heartbeat_url_file is not None:
            raise ValueError("give the heartbeat URL once: heartbeat_url or heartbeat_url_file")
        return self

    @property
    def quiet_period(self) -> timedelta:
        return timedelta(hours=self.reminder_hours)

    def tracker(self) -> IncidentTracker:
        return IncidentTracker(self.quiet_period)

    def build_channels(self, base_dir: Path, key: str = "alerts") -> list[Channel]:
        """The channels that are on, secrets resolved; ``ConfigError`` for a missing secret."""
        built: list[Channel] = []
        for n, settings in enumerate(self.channels):
            where = f"{key}.channels.{n}"
            channel = _build(settings, base_dir, where)
            if channel is None:
                log.info("alert channel off: its optional secret is unset", channel=where)
            else:
                built.append(channel)
        return built

    def heartbeat_secret(self, base_dir: Path, key: str = "alerts") -> SecretStr | None:
        return resolve_secret(
            self.heartbeat_url,
            self.heartbeat_url_file,
            base_dir=base_dir,
            key=f"{key}.heartbeat_url",
        )

    def heartbeat(self, base_dir: Path, key: str = "alerts") -> Heartbeat | None:
        """The heartbeat to ping after each successful cycle, or None when it is off."""
        url = self.heartbeat_secret(base_dir, key)
        return None if url is None else Heartbeat(url, self.heartbeat_method)

    def unresolved_secrets(self, key: str = "alerts") -> list[str]:
        """``check-config`` warnings: required references whose variable is unset."""
        found = [unset_required(self.heartbeat_url, f"{key}.heartbeat_url")]
        for n, c in enumerate(self.channels):
            value = c.password if isinstance(c, EmailSettings) else c.url
            field = "password" if isinstance(c, EmailSettings) else "url"
            found.append(unset_required(value, f"{key}.channels.{n}.{field}"))
        return [w for w in found if w]


def _build(settings: ChannelSettings, base_dir: Path, key: str) -> Channel | None:
    name = settings.name or settings.kind
    if isinstance(settings, EmailSettings):
        password = resolve_secret(
            settings.password, settings.password_file, base_dir=base_dir, key=f"{key}.password"
        )
        if password is None and (settings.password or settings.password_file):
            return None  # optional password unset: the channel is off
        ca = settings.ca_file
        if ca is not None and not ca.is_absolute():
            ca = base_dir / ca
        return EmailChannel(name, settings, password, ssl.create_default_context(cafile=ca))
    url = resolve_secret(settings.url, settings.url_file, base_dir=base_dir, key=f"{key}.url")
    if url is None:
        return None
    http = HttpSender(settings.timeout_seconds)
    if isinstance(settings, SlackSettings):
        return SlackChannel(name, url, http)
    return WebhookChannel(name, url, http)


# -- what is sent -----------------------------------------------------------------------------


class AlertKind(enum.StrEnum):
    OPENED = "opened"
    REMINDER = "reminder"
    RESOLVED = "resolved"
    TEST = "test"


_KIND_OF_ACTION = {
    Action.OPEN: AlertKind.OPENED,
    Action.REMIND: AlertKind.REMINDER,
    Action.RESOLVE: AlertKind.RESOLVED,
}


@dataclass(frozen=True, slots=True)
class Alert:
    """One message to every channel, about one incident (or a test)."""

    kind: AlertKind
    source: str
    cause: Cause | None
    message: str
    count: int
    first_seen: datetime
    last_seen: datetime
    command: str
    """The command that shows more, e.g. ``syncd status -c /etc/syncd/syncd.toml``."""
    resolved_at: datetime | None = None

    @classmethod
    def of(cls, kind: AlertKind, incident: Incident, command: str) -> Alert:
        return cls(
            kind=kind,
            source=incident.source,
            cause=incident.cause,
            message=incident.message,
            count=incident.count,
            first_seen=incident.first_seen,
            last_seen=incident.last_seen,
            command=command,
            resolved_at=incident.resolved_at,
        )

    @classmethod
    def test(cls, now: datetime, command: str) -> Alert:
        """What ``syncd alerts test`` sends."""
        return cls(
            kind=AlertKind.TEST,
            source="syncd",
            cause=None,
            message="a test alert: this channel works",
            count=1,
            first_seen=now,
            last_seen=now,
            command=command,
        )

    @property
    def what(self) -> str:
        return self.cause.describe if self.cause is not None else "test"

    @property
    def title(self) -> str:
        heads = {
            AlertKind.OPENED: "problem",
            AlertKind.REMINDER: "still failing",
            AlertKind.RESOLVED: "recovered",
            AlertKind.TEST: "test",
        }
        return f"[syncd] {self.source}: {heads[self.kind]}: {self.what}"

    def text(self) -> str:
        """The message for people (Slack, e-mail): what, how often, since when, what to run."""
        times = "once" if self.count == 1 else f"{self.count} times"
        lines = [self.title, f"Source: {self.source}"]
        if self.kind is AlertKind.RESOLVED and self.resolved_at is not None:
            lines.append(
                f"Recovered at {_stamp(self.resolved_at)} after {times} since "
                f"{_stamp(self.first_seen)}."
            )
            lines.append(f"Last problem: {self.message}")
        else:
            lines.append(f"What failed: {self.message}")
            lines.append(
                f"Seen {times} since {_stamp(self.first_seen)} (last {_stamp(self.last_seen)})."
            )
        lines.append(f"More: {self.command}")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        """The JSON webhook's body."""
        return {
            "kind": self.kind.value,
            "source": self.source,
            "cause": self.cause.value if self.cause is not None else None,
            "what": self.what,
            "message": self.message,
            "count": self.count,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "command": self.command,
            "text": self.text(),
        }


def _stamp(when: datetime) -> str:
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


# -- channels ---------------------------------------------------------------------------------


class Channel(Protocol):
    """Somewhere alerts go. ``send`` raises :class:`DeliveryError` (safe to log) on failure."""

    @property
    def name(self) -> str: ...

    def send(self, alert: Alert) -> None: ...


@dataclass(frozen=True)
class WebhookChannel:
    """POSTs :meth:`Alert.as_json`."""

    name: str
    url: SecretStr
    http: HttpSender

    def send(self, alert: Alert) -> None:
        self.http.post_json(self.url, alert.as_json())


@dataclass(frozen=True)
class SlackChannel:
    """A Slack incoming webhook: ``{"text": ...}``."""

    name: str
    url: SecretStr
    http: HttpSender

    def send(self, alert: Alert) -> None:
        self.http.post_json(self.url, {"text": alert.text()})


@dataclass(frozen=True)
class EmailChannel:
    """SMTP with STARTTLS (refused without it), login when a username is set."""

    name: str
    settings: EmailSettings
    password: SecretStr | None
    tls: ssl.SSLContext

    def send(self, alert: Alert) -> None:
        s = self.settings
        message = EmailMessage()
        message["Subject"] = alert.title
        message["From"] = s.sender
        message["To"] = ", ".join(s.to)
        message.set_content(alert.text())
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds) as smtp:
                smtp.ehlo()
                smtp.starttls(context=self.tls)
                smtp.ehlo()
                if s.username is not None:
                    password = self.password.get_secret_value() if self.password else ""
                    smtp.login(s.username, password)
                smtp.send_message(message)
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError("the SMTP server offers no STARTTLS", retriable=False) from None
        except smtplib.SMTPResponseException as exc:
            # 4xx: try again later; 5xx (bad login, refused recipient): it will not get better
            retriable = 400 <= exc.smtp_code < 500
            raise DeliveryError(f"SMTP {exc.smtp_code}", retriable=retriable) from None
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(
                f"SMTP refused {len(exc.recipients)} recipient(s)", retriable=False
            ) from None
        except ssl.SSLError as exc:  # before OSError: a bad certificate will not get better
            raise DeliveryError(
                f"TLS failed ({type(exc).__name__}: {exc.reason})", retriable=False
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"SMTP connection failed ({type(exc).__name__})", retriable=True
            ) from None


# -- sending and deciding ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: str
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


class Notifier:
    """Sends an alert to every channel, each retried on its own; never raises."""

    def __init__(
        self,
        channels: Sequence[Channel],
        retry: RetrySettings = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.channels = list(channels)
        self._retry = retry
        self._sleep = sleep

    def send(self, alert: Alert) -> list[Delivery]:
        results = []
        for channel in self.channels:
            error = deliver(
                partial(channel.send, alert),
                f"alert channel {channel.name}",
                retry=self._retry,
                sleep=self._sleep,
            )
            results.append(Delivery(channel.name, error))
        return results


class Alerter:
    """Event → decision → saved incident → message (when the decision says so).

    ``command(source)`` is the command that shows more about a source.
    """

    def __init__(
        self,
        store: IncidentStore,
        tracker: IncidentTracker,
        notifier: Notifier,
        command: Callable[[str], str],
    ) -> None:
        self.store = store
        self.tracker = tracker
        self.notifier = notifier
        self.command = command

    def observe(self, event: Event) -> Decision:
        """Decide about ``event`` and save the incident, compare-and-set: when another replica
        saved first, read again and decide again (at most a few times)."""
        for _ in range(SAVE_ATTEMPTS):
            found = self.store.open_incidents(event.source)
            decision = self.tracker.decide(found, event)
            incident = decision.incident
            if incident is None:
                return decision
            previous = current_incident(found, event.source, event.cause)
            if self.store.save_incident(incident, previous):
                break
        else:
            log.warning("incident not saved: others kept changing it", source=event.source)
            return Decision(Action.NOTHING, None)
        bound = log.bind(source=incident.source, cause=incident.cause.value)
        if decision.action is Action.UPDATE:
            bound.debug("incident goes on", count=incident.count)
            return decision
        bound.warning(
            "incident " + decision.action.value, count=incident.count, message=incident.message
        )
        kind = _KIND_OF_ACTION[decision.action]
        self.notifier.send(Alert.of(kind, incident, self.command(incident.source)))
        return decision

    def observe_all(self, events: Sequence[Event]) -> list[Decision]:
        return [self.observe(e) for e in events]
