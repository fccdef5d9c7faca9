"""The daily allowance and logging in, against the sandbox: a reserve kept for people, a spent
allowance pauses the source, an expired session logs in again once, every login flow works."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr, ValidationError

from connectors.salesforce import AllowanceSpentError, SalesforceConnector, SalesforceSettings
from connectors.salesforce.settings import Credentials
from model.errors import ConfigError, SourceFatalError
from sandbox.salesforce import Fault, ScriptedFaults
from tests.connectors.salesforce.world import World


def test_the_reserve_is_kept_for_people_and_other_tools(world: World) -> None:
    world.contact(firstname="Ann")
    world.state.daily_limit = 100
    world.state.use_allowance(85)  # others used 85 of 100 today
    connector = world.connector(api_reserve=0.2)

    with pytest.raises(AllowanceSpentError) as spent:
        world.pull(connector, "contacts")

    assert isinstance(spent.value, SourceFatalError), "the service raises an incident"
    assert (spent.value.used, spent.value.limit) == (86, 100)
    assert connector.calls["limits"] == 1, "probed before pausing"
    assert connector.calls["query"] == 0
    assert world.state.api_usage()[0] < 100, "Salesforce never had to refuse anyone"
    assert world.sleeps == []


def test_the_source_resumes_once_the_rolling_day_frees_room(world: World) -> None:
    contact = world.contact(firstname="Ann")
    world.state.daily_limit = 100
    world.state.use_allowance(90)
    with pytest.raises(AllowanceSpentError):
        world.pull(world.connector(), "contacts")
    world.clock.tick(hours=25)

    pulled = world.pull(world.connector(), "contacts")

    assert contact in pulled.by_id


def test_a_spent_allowance_stops_at_once(world: World) -> None:
    world.state.daily_limit = 5
    world.state.use_allowance(5)
    connector = world.connector()

    with pytest.raises(AllowanceSpentError, match="REQUEST_LIMIT_EXCEEDED"):
        world.pull(connector, "contacts")

    assert world.sleeps == [], "no retry outwaits a daily allowance"
    assert world.state.stats()["rate_limited"] == 1


def test_an_expired_session_logs_in_again_once(world: World) -> None:
    contact = world.contact(firstname="Ann")
    connector = world.connector()
    world.pull(connector, "contacts")
    world.state.expire_sessions()

    pulled = world.pull(connector, "contacts")

    assert contact in pulled.by_id
    assert world.state.logins == 2


def test_a_session_refused_again_after_a_new_login_stops_the_source(world: World) -> None:
    world.state.faults = ScriptedFaults(
        Fault(status=401), Fault(status=401), Fault(status=401), match="/services/data/"
    )
    connector = world.connector()

    with pytest.raises(SourceFatalError):
        world.pull(connector, "contacts")

    assert world.state.logins == 2, "logged in again once, never in a loop"
    assert world.sleeps == []


def test_a_session_id_is_used_as_given_and_never_renewed(world: World) -> None:
    contact = world.contact(firstname="Ann")
    session = world.state.new_session()
    logins = world.state.logins
    creds = Credentials()
    creds.session_id = SecretStr(session)
    connector = world.connector(
        creds,
        auth="session",
        session_id="${SALESFORCE_SESSION_ID}",
        instance_url=world.sandbox.base_url,
    )

    assert contact in world.pull(connector, "contacts").by_id
    world.state.expire_sessions()
    with pytest.raises(SourceFatalError):
        world.pull(connector, "contacts")
    assert world.state.logins == logins


def test_oauth_client_credentials_log_in_at_the_login_url(world: World) -> None:
    contact = world.contact(firstname="Ann")
    creds = Credentials(client_id="sandbox")
    creds.client_secret = SecretStr("sandbox")
    connector = world.connector(
        creds, auth="client_credentials", client_id="sandbox", client_secret="${SF_SECRET}"
    )

    assert contact in world.pull(connector, "contacts").by_id
    assert connector.calls["login"] == 1


def _jwt_connector(world: World, key: rsa.RSAPrivateKey) -> SalesforceConnector:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    creds = Credentials(username="sandbox", client_id="sandbox")
    creds.private_key = SecretStr(pem)
    return world.connector(
        creds, auth="jwt", client_id="sandbox", private_key_file="/run/secrets/jwt.key"
    )


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_a_jwt_bearer_assertion_logs_in(world: World) -> None:
    contact = world.contact(firstname="Ann")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    world.state.jwt_certificate = _public_pem(key)  # the connected app's certificate

    assert contact in world.pull(_jwt_connector(world, key), "contacts").by_id


def test_a_jwt_signed_with_another_key_is_refused(world: World) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    world.state.jwt_certificate = _public_pem(other)

    with pytest.raises(SourceFatalError, match="invalid assertion"):
        world.pull(_jwt_connector(world, key), "contacts")


def test_the_ca_file_is_trusted_whatever_requests_ca_bundle_says(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    contact = world.contact(firstname="Ann")

    assert contact in world.pull(world.connector(), "contacts").by_id


def test_refused_credentials_say_so(world: World) -> None:
    world.state.password = "changed"

    with pytest.raises(SourceFatalError, match="INVALID_LOGIN"):
        world.pull(world.connector(), "contacts")


def test_secrets_never_live_in_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = {"username": "u", "security_token": "${TOKEN}"}
    with pytest.raises(ValidationError, match="secrets are refused"):
        SalesforceSettings.model_validate({**base, "password": "hunter2"})
    with pytest.raises(ValidationError, match="needs password or password_file"):
        SalesforceSettings.model_validate(base)
    with pytest.raises(ValidationError, match="My Domain"):
        SalesforceSettings.model_validate(
            {"auth": "client_credentials", "client_id": "c", "client_secret": "${S}"}
        )
    (tmp_path / "pw").write_text("from-a-file\n")
    monkeypatch.setenv("TOKEN", "tok")
    settings = SalesforceSettings.model_validate({**base, "password_file": "pw"})
    creds = settings.secrets(tmp_path, "sources.sf")
    assert creds.password is not None
    assert creds.password.get_secret_value() == "from-a-file"
    assert "from-a-file" not in repr(creds)
    monkeypatch.delenv("TOKEN")
    with pytest.raises(ConfigError, match=r"sources\.sf\.security_token"):
        settings.secrets(tmp_path, "sources.sf")


def test_usage_counts_every_answer_and_the_refusals(world: World) -> None:
    world.contact(firstname="Ann")
    world.state.daily_limit = 1000
    world.state.use_allowance(10)
    connector = world.connector()
    world.pull(connector, "contacts")
    usage = connector.usage()

    assert usage.calls == sum(connector.calls.values()) > 1
    assert usage.rate_limited == 0
    assert usage.allowance is not None
    assert usage.allowance.limit == 1000
    assert usage.allowance.used == world.state.api_usage()[0]
    assert usage.allowance.ceiling == 800, "the allowance less the 20 % reserve"

    world.state.use_allowance(1000)
    refused = world.connector()
    with pytest.raises(AllowanceSpentError, match="REQUEST_LIMIT_EXCEEDED") as spent:
        world.pull(refused, "contacts")
    assert refused.usage().rate_limited == 1
    assert (spent.value.used, spent.value.limit) == (world.state.api_usage()[0], 1000)


def test_the_allowance_probe_reads_limits_without_spending(world: World) -> None:
    world.state.daily_limit = 100
    world.state.use_allowance(90)
    connector = world.connector()

    reading = connector.allowance()

    assert reading is not None
    assert (reading.used, reading.limit, reading.ceiling) == (90, 100, 80)
    assert not reading.has_room
    assert connector.calls["limits"] == 1
    assert world.state.api_usage()[0] == 90, "limits/ is not counted"
    world.clock.tick(hours=24, seconds=1)
    later = connector.allowance()
    assert later is not None
    assert later.has_room
    assert later.used == 0
