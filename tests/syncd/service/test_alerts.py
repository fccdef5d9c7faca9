"""Alert settings, the channels against real local servers, delivery retries, the heartbeat."""

from __future__ import annotations

import ssl
import tomllib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
import trustme
from pydantic import SecretStr, ValidationError

from connectors.retry import RetrySettings
from model.errors import ConfigError
from syncd.service.alerts import (
    Alert,
    Alerter,
    AlertKind,
    AlertsSettings,
    EmailChannel,
    EmailSettings,
    Notifier,
    SlackChannel,
    WebhookChannel,
)
from syncd.service.delivery import DeliveryError, HttpSender, deliver
from syncd.service.heartbeat import Heartbeat
from syncd.service.incidents import (
    Action,
    Cause,
    IncidentTracker,
    MemoryIncidentStore,
    RunFacts,
    assess_run,
)
from tests.syncd.service.servers import Mailbox, Receiver, free_port

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
FAST = RetrySettings(max_attempts=3, initial_wait=0.0, max_wait=0.0, jitter=0.0)
HOOK_PATH = "/services/T000/B000/very-secret-path"


def _alert(kind: AlertKind = AlertKind.OPENED, count: int = 3) -> Alert:
    return Alert(
        kind=kind,
        source="hubspot",
        cause=Cause.AUTH,
        message="401 INVALID_AUTHENTICATION from the CRM",
        count=count,
        first_seen=T0,
        last_seen=T0 + timedelta(minutes=30),
        command="syncd status -c /etc/syncd/syncd.toml",
    )


# -- settings ---------------------------------------------------------------------------------


EXAMPLE = Path(__file__).parents[3] / "deploy" / "alerts.example.toml"


def test_the_example_section_validates_and_its_webhook_is_off_without_its_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    settings = AlertsSettings.model_validate(data["alerts"])
    assert settings.failed_operations_share == 0.05
    assert settings.staleness_intervals == 3
    assert settings.quiet_period == timedelta(hours=4)
    for name in ("SYNCD_ALERT_WEBHOOK_URL", "SYNCD_SLACK_WEBHOOK_URL", "SYNCD_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SYNCD_HEARTBEAT_URL", raising=False)
    assert settings.build_channels(tmp_path) == []
    assert settings.heartbeat_secret(tmp_path) is None
    assert settings.heartbeat(tmp_path) is None
    monkeypatch.setenv("SYNCD_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    channels = settings.build_channels(tmp_path)
    assert [type(c) for c in channels] == [WebhookChannel]
    assert channels[0].url.get_secret_value() == "http://127.0.0.1:9/hook"  # type: ignore[attr-defined]


def test_defaults() -> None:
    settings = AlertsSettings()
    assert (settings.failed_operations_share, settings.staleness_intervals) == (0.05, 3.0)
    assert settings.reminder_hours == 4.0
    assert settings.tracker().quiet_period == timedelta(hours=4)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"channels": [{"kind": "slack", "url": "https://hooks.slack.com/x"}]}, "refused"),
        ({"channels": [{"kind": "webhook"}]}, "give the URL once"),
        ({"channels": [{"kind": "webhook", "url": "${A}", "url_file": "f"}]}, "URL once"),
        ({"channels": [{"kind": "pager", "url": "${A}"}]}, "expected tags"),
        (
            {"channels": [{"kind": "email", "host": "h", "sender": "a@example.com", "to": []}]},
            "at least 1 item",
        ),
        (
            {
                "channels": [
                    {
                        "kind": "email",
                        "host": "h",
                        "sender": "a@example.com",
                        "to": ["b@example.com"],
                        "password": "${P}",
                    }
                ]
            },
            "needs a username",
        ),
        ({"heartbeat_url": "https://hc-ping.com/uuid"}, "refused"),
        ({"failed_operations_share": 1.5}, "less than or equal to 1"),
        ({"reminder_hours": 0}, "greater than 0"),
        ({"channel": []}, "Extra inputs"),
    ],
)
def test_settings_refuse_plain_secrets_and_nonsense(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AlertsSettings.model_validate(data)


def test_secrets_come_from_the_environment_or_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "slack.url").write_text("https://hooks.example/from-file\n")
    (tmp_path / "smtp.pw").write_text("s3cret\n")
    settings = AlertsSettings.model_validate(
        {
            "channels": [
                {"kind": "webhook", "url": "${HOOK_URL}"},
                {"kind": "slack", "url_file": "slack.url", "name": "ops"},
                {
                    "kind": "email",
                    "host": "smtp.example.com",
                    "username": "syncd",
                    "password_file": "smtp.pw",
                    "sender": "syncd@example.com",
                    "to": ["ops@example.com"],
                },
            ],
            "heartbeat_url": "${BEAT}",
        }
    )
    monkeypatch.delenv("HOOK_URL", raising=False)
    monkeypatch.delenv("BEAT", raising=False)
    assert settings.unresolved_secrets() == [
        "alerts.heartbeat_url: environment variable BEAT is not set",
        "alerts.channels.0.url: environment variable HOOK_URL is not set",
    ]
    with pytest.raises(ConfigError, match=r"alerts\.channels\.0\.url: environment variable"):
        settings.build_channels(tmp_path)
    monkeypatch.setenv("HOOK_URL", "https://hooks.example/env")
    webhook, slack, email = settings.build_channels(tmp_path)
    assert isinstance(webhook, WebhookChannel)
    assert isinstance(slack, SlackChannel)
    assert webhook.url.get_secret_value() == "https://hooks.example/env"
    assert (slack.name, slack.url.get_secret_value()) == ("ops", "https://hooks.example/from-file")
    assert isinstance(email, EmailChannel)
    assert email.password is not None
    assert email.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(email)
    with pytest.raises(ConfigError, match="heartbeat_url: environment variable BEAT"):
        settings.heartbeat_secret(tmp_path)
    (tmp_path / "smtp.pw").unlink()
    with pytest.raises(ConfigError, match=r"channels\.2\.password_file: cannot read"):
        settings.build_channels(tmp_path)


# -- messages ---------------------------------------------------------------------------------


def test_the_message_says_what_how_often_since_when_and_what_to_run() -> None:
    text = _alert().text()
    assert text.splitlines() == [
        "[syncd] hubspot: problem: the CRM refuses the credentials (authentication or permission)",
        "Source: hubspot",
        "What failed: 401 INVALID_AUTHENTICATION from the CRM",
        "Seen 3 times since 2024-05-01 09:00 UTC (last 2024-05-01 09:30 UTC).",
        "More: syncd status -c /etc/syncd/syncd.toml",
    ]


def test_the_recovery_message_says_when_it_ended() -> None:
    alert = Alert(
        kind=AlertKind.RESOLVED,
        source="hubspot",
        cause=Cause.AUTH,
        message="401 INVALID_AUTHENTICATION from the CRM",
        count=1,
        first_seen=T0,
        last_seen=T0,
        command="syncd status -c c.toml",
        resolved_at=T0 + timedelta(hours=2),
    )
    assert alert.text().splitlines()[0].startswith("[syncd] hubspot: recovered: ")
    assert (
        "Recovered at 2024-05-01 11:00 UTC after once since 2024-05-01 09:00 UTC." in alert.text()
    )


# -- channels over HTTP -----------------------------------------------------------------------


def test_the_webhook_posts_the_alert_as_json(receiver: Receiver) -> None:
    channel = WebhookChannel("webhook", SecretStr(receiver.url("/hook")), HttpSender())
    assert Notifier([channel], FAST).send(_alert())[0].ok
    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["Content-Type"] == "application/json"
    body = request.json()
    assert body["kind"] == "opened"
    assert (body["source"], body["cause"], body["count"]) == ("hubspot", "auth", 3)
    assert body["first_seen"] == "2024-05-01T09:00:00+00:00"
    assert body["command"] == "syncd status -c /etc/syncd/syncd.toml"


def test_slack_gets_the_text(receiver: Receiver) -> None:
    channel = SlackChannel("slack", SecretStr(receiver.url(HOOK_PATH)), HttpSender())
    assert Notifier([channel], FAST).send(_alert())[0].ok
    assert receiver.requests[0].json() == {"text": _alert().text()}


def test_a_transient_failure_is_retried_and_retry_after_is_honoured(receiver: Receiver) -> None:
    receiver.statuses = [503, 429]
    receiver.headers = {"Retry-After": "7"}
    slept: list[float] = []
    channel = WebhookChannel("webhook", SecretStr(receiver.url("/hook")), HttpSender())
    deliveries = Notifier([channel], FAST, sleep=slept.append).send(_alert())
    assert deliveries[0].ok
    assert len(receiver.requests) == 3
    assert slept == [0.0, 7.0]


def test_failures_are_logged_without_the_secret_url_and_never_raised(
    receiver: Receiver,
) -> None:
    receiver.statuses = [404]
    bad = SlackChannel("slack", SecretStr(receiver.url(HOOK_PATH)), HttpSender())
    refused = WebhookChannel("down", SecretStr(f"http://127.0.0.1:1{HOOK_PATH}"), HttpSender())
    good = WebhookChannel("webhook", SecretStr(receiver.url("/hook")), HttpSender())
    with structlog.testing.capture_logs() as logs:
        deliveries = Notifier([bad, refused, good], FAST, sleep=lambda s: None).send(_alert())
    assert [(d.channel, d.error) for d in deliveries] == [
        ("slack", "HTTP 404"),
        ("down", "connection failed (NewConnectionError)"),
        ("webhook", None),
    ]
    assert [r.path for r in receiver.requests] == [HOOK_PATH, "/hook"]  # 404 is not retried
    assert [e["reason"] for e in logs if e["event"] == "delivery failed"] == [
        "HTTP 404",
        "connection failed (NewConnectionError)",
    ]
    assert "very-secret-path" not in repr(logs)


def test_a_bug_in_a_channel_is_logged_not_raised() -> None:
    def broken() -> None:
        raise KeyError("x")

    with structlog.testing.capture_logs() as logs:
        assert deliver(broken, "alert channel x", retry=FAST) == "unexpected KeyError"
    assert logs[0]["event"] == "delivery failed"


# -- e-mail -----------------------------------------------------------------------------------


def _email(box: Mailbox, *, password: str | None = "s3cret", ca: str | None = None) -> EmailChannel:
    settings = EmailSettings(
        kind="email",
        host=box.host,
        port=box.port,
        username="syncd",
        password="${SMTP_PASSWORD}",
        sender="syncd@example.com",
        to=("ops@example.com", "revops@example.com"),
        timeout_seconds=5,
    )
    tls = ssl.create_default_context(cafile=ca or box.ca_file)
    return EmailChannel("email", settings, SecretStr(password) if password else None, tls)


def test_email_goes_over_starttls_with_a_login(smtp_server: Mailbox) -> None:
    deliveries = Notifier([_email(smtp_server)], FAST).send(_alert())
    assert deliveries[0].ok, deliveries
    (message,) = smtp_server.messages
    assert smtp_server.used_tls == [True]
    assert smtp_server.logins == [("syncd", "s3cret")]
    assert smtp_server.envelopes == [
        ("syncd@example.com", ["ops@example.com", "revops@example.com"])
    ]
    assert message["Subject"] == _alert().title
    assert message["To"] == "ops@example.com, revops@example.com"
    assert message.get_content().replace("\r\n", "\n").strip() == _alert().text()


def test_email_refuses_a_server_without_starttls(plain_smtp_server: Mailbox) -> None:
    channel = _email(plain_smtp_server)
    with pytest.raises(DeliveryError, match="no STARTTLS") as caught:
        channel.send(_alert())
    assert not caught.value.retriable
    assert plain_smtp_server.logins == []  # the password never went out in clear


def test_email_refuses_an_untrusted_certificate(smtp_server: Mailbox, tmp_path: Path) -> None:
    other_ca = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    with pytest.raises(DeliveryError, match="TLS failed") as caught:
        _email(smtp_server, ca=str(other_ca)).send(_alert())
    assert not caught.value.retriable
    assert smtp_server.messages == []


def test_a_refused_login_is_not_retried(smtp_server: Mailbox) -> None:
    slept: list[float] = []
    channel = _email(smtp_server, password="wrong")
    deliveries = Notifier([channel], FAST, sleep=slept.append).send(_alert())
    assert deliveries[0].error == "SMTP 535"
    assert slept == []
    assert smtp_server.messages == []


def test_an_unreachable_smtp_server_is_retried() -> None:
    box = Mailbox("127.0.0.1", free_port(), ca_file="")
    settings_channel = _email(box, ca=ssl.get_default_verify_paths().cafile or None)
    slept: list[float] = []
    deliveries = Notifier([settings_channel], FAST, sleep=slept.append).send(_alert())
    assert deliveries[0].error == "SMTP connection failed (ConnectionRefusedError)"
    assert len(slept) == FAST.max_attempts - 1


# -- the loop: events in, messages out --------------------------------------------------------


def test_one_alert_while_the_cause_lasts_a_reminder_then_a_recovery(receiver: Receiver) -> None:
    store = MemoryIncidentStore()
    channel = WebhookChannel("webhook", SecretStr(receiver.url("/hook")), HttpSender())

    def alerter() -> Alerter:  # a new one per "process": incidents live in the store
        return Alerter(
            store,
            IncidentTracker(timedelta(hours=4)),
            Notifier([channel], FAST),
            command=lambda source: f"syncd status -c syncd.toml --source {source}",
        )

    refused = RunFacts("hubspot", T0, error="401 INVALID_AUTHENTICATION", auth_failure=True)
    actions = []
    for minutes in (0, 15, 30):
        at = T0 + timedelta(minutes=minutes)
        actions += [d.action for d in alerter().observe_all(assess_run(_at(refused, at)))]
    assert actions == [Action.OPEN, Action.UPDATE, Action.UPDATE]
    assert [r.json()["kind"] for r in receiver.requests] == ["opened"]

    later = T0 + timedelta(hours=4, minutes=1)
    alerter().observe_all(assess_run(_at(refused, later)))
    assert [r.json()["kind"] for r in receiver.requests] == ["opened", "reminder"]
    assert receiver.requests[-1].json()["count"] == 4

    recovered = RunFacts("hubspot", later + timedelta(minutes=15), operations=10)
    decisions = alerter().observe_all(assess_run(recovered))
    assert [d.action for d in decisions if d.notify] == [Action.RESOLVE]
    last = receiver.requests[-1].json()
    assert (last["kind"], last["cause"], last["count"]) == ("resolved", "auth", 4)
    assert last["command"] == "syncd status -c syncd.toml --source hubspot"
    assert store.open_incidents("hubspot") == []


def _at(facts: RunFacts, at: datetime) -> RunFacts:
    return replace(facts, at=at)


# -- heartbeat --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_heartbeat_pings_its_url(
    receiver: Receiver, method: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BEAT_URL", receiver.url("/ping/abc"))
    settings = AlertsSettings(heartbeat_url="${BEAT_URL:-}", heartbeat_method=method)  # type: ignore[arg-type]
    beat = settings.heartbeat(tmp_path)
    assert beat is not None
    assert beat.ping()
    assert [(r.method, r.path) for r in receiver.requests] == [(method, "/ping/abc")]


def test_a_failed_heartbeat_is_logged_only(receiver: Receiver) -> None:
    receiver.statuses = [500, 500]
    beat = Heartbeat(SecretStr(receiver.url("/ping/secret-uuid")), sleep=lambda s: None)
    with structlog.testing.capture_logs() as logs:
        assert beat.ping() is False
    assert len(receiver.requests) == 2
    assert logs[-1]["to"] == "heartbeat"
    assert "secret-uuid" not in repr(logs)
