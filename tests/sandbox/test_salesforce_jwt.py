"""The Salesforce sandbox checks JWT bearer assertions as Salesforce does: the connected app's
certificate verifies the RS256 signature, and each claim has its own refusal."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sandbox.salesforce import SalesforceSandbox, SalesforceState
from tests.sandbox.support import Clock
from tests.sandbox.test_salesforce_sandbox import session_trusting

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(key: rsa.RSAPrivateKey) -> str:
    """A self-signed certificate of ``key``, as a connected app's "Use digital signatures"
    takes it."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "syncd")])
    now = datetime.now(UTC)
    built = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return built.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def served(clock: Clock, tmp_path: Path) -> Iterator[tuple[SalesforceState, str, requests.Session]]:
    state = SalesforceState(clock, daily_limit=None)
    with SalesforceSandbox(state) as sandbox:
        yield state, sandbox.base_url, session_trusting(sandbox.ca_file(tmp_path / "ca.pem"))


def token(
    served: tuple[SalesforceState, str, requests.Session],
    key: rsa.RSAPrivateKey = KEY,
    algorithm: str = "RS256",
    **claims: Any,
) -> requests.Response:
    _, base, session = served
    body = {
        "iss": "sandbox",
        "sub": "sandbox",
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 180,
        **claims,
    }
    signing: Any = key if algorithm == "RS256" else "a shared secret of at least 32 bytes"
    assertion = jwt.encode(body, signing, algorithm=algorithm)
    grant = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
    return session.post(f"{base}/services/oauth2/token", data=grant)


def test_an_assertion_signed_for_the_apps_certificate_logs_in(
    served: tuple[SalesforceState, str, requests.Session],
) -> None:
    state, base, session = served
    assert token(served).json() == {
        "error": "invalid_grant",
        "error_description": "invalid assertion",
    }, "no certificate uploaded: nothing verifies"
    answer = session.put(f"{base}/_sandbox/auth", json={"jwt_certificate": certificate(KEY)})
    assert answer.status_code == 200

    good = token(served)

    assert good.status_code == 200
    assert good.json()["access_token"] in state.sessions


@pytest.mark.parametrize(
    ("change", "error", "description"),
    [
        ({"key": rsa.generate_private_key(public_exponent=65537, key_size=2048)},
         "invalid_grant", "invalid assertion"),
        ({"algorithm": "HS256"}, "invalid_grant", "invalid assertion"),
        ({"iss": "another app"}, "invalid_client_id", "client identifier invalid"),
        ({"sub": "someone@else.com"}, "invalid_grant", "user hasn't approved this consumer"),
        ({"aud": "https://example.com"}, "invalid_grant", "audience is invalid"),
        ({"exp": int(time.time()) - 5}, "invalid_grant", "expired authorization code"),
    ],
)  # fmt: skip
def test_each_claim_is_refused_as_salesforce_refuses_it(
    served: tuple[SalesforceState, str, requests.Session],
    change: dict[str, Any],
    error: str,
    description: str,
) -> None:
    state = served[0]
    state.jwt_certificate = certificate(KEY)

    refused = token(served, **change)

    assert refused.status_code == 400
    assert refused.json() == {"error": error, "error_description": description}
    assert state.sessions == set()
