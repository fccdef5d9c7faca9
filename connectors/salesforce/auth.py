"""Logging in, as simple-salesforce offers it, for a real org and the local sandbox alike.

Every flow goes to :attr:`SalesforceSettings.login_base` (``https://login.salesforce.com``,
``https://test.salesforce.com``, ``https://acme.my.salesforce.com`` or the sandbox's URL) through
the SDK's own login functions and the ``requests`` session syncd hands it:

- ``password``: the SOAP ``login`` (``SalesforceLogin`` with that base as ``scratch_url``);
- ``client_credentials``: the OAuth token endpoint, consumer key and secret in Basic auth
  (``token_login``);
- ``jwt``: the OAuth JWT bearer grant, the assertion signed RS256 with the connected app's key;
- ``session``: no login: the session id and instance URL as given.

Each answers ``(session id, instance host[:port])``, which build the SDK's ``Salesforce``.
"""

from __future__ import annotations

import base64
import time
from urllib.parse import urlsplit

import jwt
import requests
from simple_salesforce.login import SalesforceLogin, token_login

from connectors.salesforce.settings import Credentials, SalesforceSettings

JWT_LIFETIME_S = 180


def _secret(value: object) -> str:
    getter = getattr(value, "get_secret_value", None)
    if getter is None:
        raise ValueError("a credential is missing")
    return str(getter())


def jwt_audience(settings: SalesforceSettings) -> str:
    """The ``aud`` of a JWT bearer assertion: ``https://test.salesforce.com`` for a Salesforce
    sandbox, the URL itself for a URL, else ``https://login.salesforce.com`` (My Domains too)."""
    if settings.login_url.startswith("https://"):
        return settings.login_url
    if settings.login_url == "test":
        return "https://test.salesforce.com"
    return "https://login.salesforce.com"


def login(
    settings: SalesforceSettings, credentials: Credentials, session: requests.Session
) -> tuple[str, str]:
    """Log in as :attr:`SalesforceSettings.auth` says; ``(session id, instance)``. Raises the
    SDK's ``SalesforceAuthenticationFailed`` when refused."""
    base = settings.login_base
    token_url = f"{base}/services/oauth2/token"
    if settings.auth == "password":
        session_id, instance = SalesforceLogin(
            username=credentials.username,
            password=_secret(credentials.password),
            security_token=_secret(credentials.security_token),
            sf_version=settings.api_version,
            session=session,
            client_id="syncd",
            scratch_url=base,
        )
        return str(session_id), str(instance)
    if settings.auth == "client_credentials":
        pair = f"{credentials.client_id}:{_secret(credentials.client_secret)}"
        headers = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
        token, instance = token_login(
            token_url,
            {"grant_type": "client_credentials"},
            settings.login_url,
            str(credentials.client_id),
            headers,
            None,
            session,
        )
        return str(token), str(instance).rstrip("/")
    if settings.auth == "jwt":
        claims = {
            "iss": credentials.client_id,
            "sub": credentials.username,
            "aud": jwt_audience(settings),
            "exp": int(time.time()) + JWT_LIFETIME_S,
        }
        assertion = jwt.encode(claims, _secret(credentials.private_key), algorithm="RS256")
        token, instance = token_login(
            token_url,
            {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
            settings.login_url,
            str(credentials.client_id),
            None,
            None,
            session,
        )
        return str(token), str(instance).rstrip("/")
    assert settings.instance_url is not None
    split = urlsplit(settings.instance_url)
    host = split.hostname or ""
    instance = host if split.port in (None, 443) else f"{host}:{split.port}"
    return _secret(credentials.session_id), instance
