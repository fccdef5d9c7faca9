"""The SDK, wrapped once: the ``requests`` session, logging in (and again once when a session
expires), retries, the daily allowance, and a count of calls.

The session carries what the SDK cannot be told: a timeout on every request, trust in the
``ca_file`` (through a transport adapter, because ``REQUESTS_CA_BUNDLE`` in the environment
would otherwise override ``session.verify`` for every request), and a response hook that reads
``Sforce-Limit-Info`` from every answer, whichever SDK object made the call
(``sf.api_usage`` only sees calls made through ``sf`` itself).

The SDK is always built from a session id (``Salesforce(session_id=..., instance=...)``), so it
never logs in again by itself (with credentials it would retry ``sf.Contact.*`` calls without
end); :meth:`SalesforceClient.call` logs in again once when a call answers 401
``INVALID_SESSION_ID``, and a second refusal stops the source.
"""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import requests
import structlog
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)

from connectors.retry import RetrySettings, call_with_retry
from connectors.salesforce import auth
from connectors.salesforce.errors import (
    LIMIT_EXCEEDED,
    AllowanceSpentError,
    classify,
    describe,
    error_code,
    is_expired_session,
)
from connectors.salesforce.limits import Allowance, Usage, spent, usage_of_limits
from connectors.salesforce.settings import Credentials, SalesforceSettings
from model.errors import SourceFatalError

T = TypeVar("T")
log = structlog.get_logger(__name__)

_LABELS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), label)
    for pattern, label in (
        (r"/services/Soap/u/", "soap"),
        (r"/services/oauth2/token", "login"),
        (r"/services/oauth2/userinfo", "userinfo"),
        (r"/jobs/query", "bulk"),
        (r"/query(All)?/[^/?]+", "query_more"),
        (r"/query(All)?/?(\?|$)", "query"),
        (r"/composite/sobjects", "collections"),
        (r"/sobjects/\w+/describe", "describe"),
        (r"/sobjects/\w+/deleted", "deleted"),
        (r"/limits", "limits"),
    )
)


def call_label(url: str) -> str:
    """What a request did, in one word (for :attr:`SalesforceClient.calls`)."""
    return next((label for pattern, label in _LABELS if pattern.search(url)), "other")


class TrustingAdapter(HTTPAdapter):
    """Sends every request with the configured CA bundle and a timeout, whatever the
    environment says (``REQUESTS_CA_BUNDLE`` would win over ``session.verify``)."""

    def __init__(self, ca_file: Path | None, timeout: float) -> None:
        super().__init__()
        self.ca_file = ca_file
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if self.ca_file is not None:
            kwargs["verify"] = str(self.ca_file)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


def make_session(
    ca_file: Path | None, timeout: float, on_response: Callable[[requests.Response], None]
) -> requests.Session:
    """The session the SDK is handed (see the module docstring)."""
    session = requests.Session()
    adapter = TrustingAdapter(ca_file, timeout)
    session.mount("https://", adapter)
    session.mount("http://", adapter)

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        on_response(response)

    session.hooks["response"].append(hook)
    return session


class SalesforceClient:
    """One org's SDK client (see the module docstring). ``calls`` counts HTTP answers by
    :func:`call_label`."""

    def __init__(
        self,
        settings: SalesforceSettings,
        credentials: Credentials,
        *,
        ca_file: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._credentials = credentials
        self._retry: RetrySettings = settings.retry.settings()
        self._sleep = sleep
        self.calls: Counter[str] = Counter()
        #: Answers saying the org's allowance is spent (``REQUEST_LIMIT_EXCEEDED``).
        self.rate_limited = 0
        self.allowance = Allowance(settings.api_reserve)
        self.logins = 0
        self.session = make_session(ca_file, settings.request_timeout_seconds, self._observe)
        self._sf: Salesforce | None = None
        self._user_id: str | None = None
        self._last_login_status: int | None = None

    def _observe(self, response: requests.Response) -> None:
        label = call_label(response.url)
        self.calls[label] += 1
        if label in ("soap", "login"):
            self._last_login_status = response.status_code
        if response.status_code in (403, 500) and LIMIT_EXCEEDED.encode() in response.content:
            self.rate_limited += 1  # a 403, or a SOAP fault (500): small bodies, read whole
        self.allowance.observe(response.headers)

    # -- the SDK ----------------------------------------------------------------------------

    @property
    def sf(self) -> Salesforce:
        """The SDK client, logged in on first use."""
        if self._sf is None:
            self._last_login_status = None
            try:
                session_id, instance = auth.login(self.settings, self._credentials, self.session)
            except SalesforceAuthenticationFailed as refused:
                status = self._last_login_status
                if isinstance(refused.code, str) or status is None or status < 500:
                    raise  # Salesforce's own refusal: a fault code, an OAuth error
                # no SOAP fault, no OAuth error: a gateway or an outage answered the login
                raise SalesforceGeneralError(
                    self.settings.login_base, status, "login", refused.auth_message.encode()
                ) from refused
            self.logins += 1
            self._sf = Salesforce(
                session_id=session_id,
                instance=instance,
                version=self.settings.api_version,
                session=self.session,
            )
        return self._sf

    @property
    def can_log_in_again(self) -> bool:
        return self.settings.auth != "session"

    def close(self) -> None:
        self.session.close()

    def call(
        self,
        fn: Callable[[Salesforce], T],
        *,
        single_record: bool = False,
        idempotent: bool = True,
    ) -> T:
        """``fn(sf)`` with retries of transient failures, one new login when the session
        expired, and the allowance kept (see :mod:`connectors.salesforce.limits`). A call that
        is not ``idempotent`` (a create) is never resent here: its caller checks what landed
        first."""
        self.allowance.check(self._probe)
        retry = self._retry if idempotent else RetrySettings(max_attempts=1)
        relogged = False

        def attempt() -> T:
            return fn(self.sf)

        while True:
            try:
                return call_with_retry(
                    attempt,
                    retry,
                    classify=lambda exc: classify(exc, single_record=single_record),
                    describe=describe,
                    sleep=self._sleep,
                )
            except SourceFatalError as stop:
                cause = stop.__cause__
                if cause is not None and error_code(cause) == LIMIT_EXCEEDED:
                    raise spent(
                        self.allowance.last, self.allowance.reserve, refused=True
                    ) from cause
                expired = cause is not None and is_expired_session(cause)
                if expired and not relogged and self.can_log_in_again and self._sf is not None:
                    log.info("session expired, logging in again")
                    relogged = True
                    self._sf = None
                    continue
                raise

    def _probe(self) -> Usage | None:
        """A fresh reading of the allowance (``limits/``, which does not spend it)."""
        try:
            body = self.sf.limits()
        except SalesforceError:
            return None
        return usage_of_limits(body) if isinstance(body, Mapping) else None

    def _limits_now(self) -> Any:
        return self.sf.limits()

    def probe(self) -> Usage | None:
        """A fresh reading of the allowance from ``limits/`` (which does not spend it), with
        retries but without the reserve check of :meth:`call` (the point is to look past it);
        kept as the latest reading."""
        body = call_with_retry(
            self._limits_now,
            self._retry,
            classify=classify,
            describe=describe,
            sleep=self._sleep,
        )
        found = usage_of_limits(body) if isinstance(body, Mapping) else None
        self.allowance.note(found)
        return found

    # -- calls ---------------------------------------------------------------------------------

    def query_pages(self, soql: str, *, include_deleted: bool = False) -> Iterator[list[Any]]:
        """The records of a query, page by page (``nextRecordsUrl``)."""
        headers = {"Sforce-Query-Options": f"batchSize={self.settings.query_batch_size}"}
        page = self.call(
            lambda sf: sf.query(soql, include_deleted=include_deleted, headers=headers)
        )
        while True:
            yield list(page.get("records") or [])
            following = page.get("nextRecordsUrl")
            if page.get("done", True) or not following:
                return
            page = self.call(_more(str(following), headers))

    def count(self, soql: str) -> int:
        body = self.call(lambda sf: sf.query(soql))
        return int(body.get("totalSize") or 0)

    def describe(self, sobject: str) -> dict[str, Any]:
        body = self.call(lambda sf: getattr(sf, sobject).describe())
        return dict(body)

    def deleted(self, sobject: str, start: Any, end: Any) -> dict[str, Any]:
        body = self.call(lambda sf: getattr(sf, sobject).deleted(start, end))
        return dict(body)

    def collections(self, method: str, **kwargs: Any) -> list[Any]:
        """One sObject Collections call (``composite/sobjects``); its per-record results. A
        ``POST`` creates records: it is not resent after a failure that may have landed."""
        body = self.call(
            lambda sf: sf.restful("composite/sobjects", method=method, **kwargs),
            idempotent=method != "POST",
        )
        return list(body or [])

    def limits(self) -> Usage | None:
        body = self.call(lambda sf: sf.limits())
        return usage_of_limits(body) if isinstance(body, Mapping) else None

    def user_id(self) -> str:
        """The id of the user syncd acts as (``/services/oauth2/userinfo``), asked once."""
        if self._user_id is None:
            body = self.call(lambda sf: sf.oauth2("userinfo"))
            self._user_id = str((body or {}).get("user_id") or "")
        return self._user_id

    def bulk_download(self, sobject: str, soql: str, folder: Path) -> list[Path]:
        """A Bulk API 2.0 query job's CSV pages, downloaded into ``folder``."""

        def run(sf: Salesforce) -> list[Path]:
            for stale in folder.glob("*.csv"):  # a retried job starts over
                stale.unlink()
            handler = getattr(sf.bulk2, sobject)
            pages = handler.download(soql, str(folder), wait=self.settings.bulk_poll_seconds)
            return [Path(str(page["file"])) for page in pages]

        return self.call(run)

    def soap(self, action: str, envelope: str) -> ET.Element:
        """POST a Partner SOAP envelope with the session; the ``Body`` of the answer. A fault
        raises as the SDK would raise a REST error of its kind (an invalid session as
        ``SalesforceExpiredSession``, so it is logged in again once), a 5xx without a fault as
        ``SalesforceGeneralError`` (retried)."""

        def post(sf: Salesforce) -> ET.Element:
            url = f"https://{sf.sf_instance}/services/Soap/u/{self.settings.api_version}"
            body = envelope.replace("{SESSION_ID}", _xml_escape(sf.session_id))
            response = sf.session.post(
                url,
                data=body.encode("utf-8"),
                headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": action},
            )
            return parse_soap(url, action, response)

        return self.call(post)


def _more(url: str, headers: Mapping[str, str]) -> Callable[[Salesforce], Any]:
    def more(sf: Salesforce) -> Any:
        return sf.query_more(url, identifier_is_url=True, headers=dict(headers))

    return more


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_soap(url: str, action: str, response: requests.Response) -> ET.Element:
    """The ``Body`` of a SOAP answer, or the SDK error its fault (or status) stands for."""
    try:
        root = ET.fromstring(response.content)
    except ET.ParseError:
        root = None
    body = next((c for c in root if _local(c.tag) == "Body"), None) if root is not None else None
    fault = next((c for c in body if _local(c.tag) == "Fault"), None) if body is not None else None
    if fault is not None:
        code = next((c.text or "" for c in fault.iter() if _local(c.tag) == "exceptionCode"), "")
        if not code:
            raw = next((c.text or "" for c in fault if _local(c.tag) == "faultcode"), "")
            code = raw.rsplit(":", 1)[-1]
        message = next((c.text or "" for c in fault if _local(c.tag) == "faultstring"), "")
        content = json.dumps([{"errorCode": code, "message": message}]).encode()
        if code == "INVALID_SESSION_ID":
            raise SalesforceExpiredSession(url, 401, action, content)
        if code == LIMIT_EXCEEDED:
            raise SalesforceRefusedRequest(url, 403, action, content)
        raise SalesforceGeneralError(url, response.status_code, action, content)
    if response.status_code >= 300 or body is None:
        raise SalesforceGeneralError(url, response.status_code, action, response.content[:200])
    return body


__all__ = ["AllowanceSpentError", "SalesforceClient", "call_label", "make_session"]
