"""The request pipeline of the Salesforce sandbox: route, authenticate, count against the daily
allowance, dispatch, and answer with ``Sforce-Limit-Info``.

``SalesforceApp.decide`` is the fault-injection seam (asked first, per request);
``SalesforceApp.answer`` serves a request as its fault says and counts it in ``state.traffic``;
``SalesforceApp.handle`` answers as Salesforce would. Route templates are spelled as
Salesforce's REST reference spells them (``/services/data/v{version}/sobjects/{sObject}/...``);
the traffic counters use them as labels. Both trailing-slash forms are routed, since the SDK
sends both.

Authentication: REST and Bulk calls need ``Authorization: Bearer <session id>`` of a session
that a login made (SOAP ``login``, or the OAuth token endpoint: password, client credentials or
JWT bearer grants); SOAP calls carry it in ``SessionHeader``. An unknown session answers 401
``INVALID_SESSION_ID`` (a SOAP fault for SOAP). Every authenticated API call but ``limits/``
and ``userinfo`` counts against the rolling 24-hour allowance; a call beyond it answers 403
``REQUEST_LIMIT_EXCEEDED`` (?: whether ``limits/`` itself counts is not documented; here it
does not, so a client can always probe it).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from sandbox.http.control import ControlApi
from sandbox.http.faults import Fault
from sandbox.http.stats import Drop
from sandbox.http.wire import BadRequestError, Request, Response
from sandbox.salesforce import bulk, rest, soap
from sandbox.salesforce.faults import SalesforceFaults, injected_error
from sandbox.salesforce.schema import API_VERSION, sobject
from sandbox.salesforce.store import ORG_ID, Exchange, SalesforceState
from sandbox.salesforce.wire import SalesforceError, invalid_session, limit_exceeded, not_found

Handler = Callable[[SalesforceState, Request, Mapping[str, str]], Response]
Route = tuple[str, str, re.Pattern[str], Handler]

_SEGMENT = r"[^/]+"
_DATA = "/services/data/v{version}"
_SOBJECT = _DATA + "/sobjects/{sObject}"
_TABLE: list[tuple[str, str, Handler]] = [
    ("GET", _DATA + "/query", rest.query),
    ("GET", _DATA + "/query/{locator}", rest.query_more),
    ("GET", _DATA + "/queryAll", rest.query_all),
    ("GET", _DATA + "/queryAll/{locator}", rest.query_more),
    ("GET", _DATA + "/limits", rest.limits),
    ("GET", _DATA + "/sobjects", rest.describe_global),
    ("GET", _SOBJECT + "/describe", rest.describe),
    ("GET", _SOBJECT + "/updated", rest.updated),
    ("GET", _SOBJECT + "/deleted", rest.deleted),
    ("GET", _SOBJECT, rest.sobject_info),
    ("POST", _SOBJECT, rest.create_row),
    ("GET", _SOBJECT + "/{id}", rest.get_row),
    ("PATCH", _SOBJECT + "/{id}", rest.update_row),
    ("DELETE", _SOBJECT + "/{id}", rest.delete_row),
    ("POST", _DATA + "/composite/sobjects", rest.collection_create),
    ("PATCH", _DATA + "/composite/sobjects", rest.collection_update),
    ("DELETE", _DATA + "/composite/sobjects", rest.collection_delete),
    ("GET", _DATA + "/composite/sobjects/{sObject}", rest.collection_retrieve),
    ("POST", _DATA + "/jobs/query", bulk.create),
    ("GET", _DATA + "/jobs/query/{job}", bulk.status),
    ("PATCH", _DATA + "/jobs/query/{job}", bulk.abort),
    ("DELETE", _DATA + "/jobs/query/{job}", bulk.delete),
    ("GET", _DATA + "/jobs/query/{job}/results", bulk.results),
]
_UNCOUNTED = frozenset({f"GET {_DATA}/limits"})
_SOAP = re.compile(r"^/services/Soap/u/(?P<version>\d+\.\d)(?:/(?P<org>[^/]+))?/?$")
_TOKEN = "/services/oauth2/token"
_USERINFO = "/services/oauth2/userinfo"
_VERSIONS = "/services/data"

_CONTROL = ControlApi(SalesforceFaults)
_CONTROL_TABLE: dict[tuple[str, str], Callable[..., Response]] = {
    ("GET", "/_sandbox/faults"): _CONTROL.get_faults,
    ("PUT", "/_sandbox/faults"): _CONTROL.put_faults,
    ("DELETE", "/_sandbox/faults"): _CONTROL.delete_faults,
    ("GET", "/_sandbox/stats"): _CONTROL.get_stats,
    ("DELETE", "/_sandbox/stats"): _CONTROL.delete_stats,
    ("GET", "/_sandbox/clock"): _CONTROL.get_clock,
    ("POST", "/_sandbox/clock"): _CONTROL.post_clock,
}


def _group(match: re.Match[str]) -> str:
    name = match.group(1)
    if name == "version":
        return r"(?P<version>\d+\.\d)"
    return f"(?P<{name}>{_SEGMENT})"


_ROUTES: list[Route] = [
    (method, template, re.compile(re.sub(r"\{(\w+)\}", _group, template)), handler)
    for method, template, handler in _TABLE
]
UNROUTED = "(unrouted)"


class SalesforceApp:
    """The emulated org over a :class:`SalesforceState`. ``scheme`` is what the server serves
    (``https`` with a certificate), for the URLs a login answers."""

    def __init__(self, state: SalesforceState, *, scheme: str = "https") -> None:
        self.state = state
        self.scheme = scheme

    @staticmethod
    def is_control(request: Request) -> bool:
        return request.path.startswith("/_sandbox/")

    def decide(self, request: Request) -> Fault | None:
        policy = self.state.faults
        if policy is None or self.is_control(request):
            return None
        return policy.decide(request)

    @staticmethod
    def route_label(request: Request) -> str:
        path = request.path.rstrip("/") or "/"
        if _SOAP.match(path):
            return f"{request.method} /services/Soap/u/{{version}}"
        if path in (_TOKEN, _USERINFO, _VERSIONS):
            return f"{request.method} {path}"
        for method, template, pattern, _ in _ROUTES:
            if method == request.method and pattern.fullmatch(path):
                return f"{method} {template}"
        return f"{request.method} {UNROUTED}"

    def answer(self, request: Request, fault: Fault | None) -> Response | None:
        """Serve ``request`` as ``fault`` says and count it (see
        :meth:`sandbox.hubspot.app.HubSpotApp.answer`, which this mirrors)."""
        if self.is_control(request):
            return self.control(request)
        label = self.route_label(request)
        traffic = self.state.traffic
        if fault is not None and fault.drop:
            traffic.record(label, status=None, dropped="before", injected=True)
            return None
        if fault is not None and fault.response is not None:
            response = fault.response
        elif fault is not None and fault.status is not None:
            soap_call = _SOAP.match(request.path) is not None
            response = injected_error(fault.status, self._limit_header(), soap=soap_call)
        else:
            response = self.handle(request)
        self.record(request, response)
        dropped: Drop | None = "after" if fault is not None and fault.drop_after else None
        injected = fault is not None and fault.injects
        limited = response.status == 403 and "REQUEST_LIMIT_EXCEEDED" in json.dumps(response.body)
        traffic.record(
            label, status=response.status, dropped=dropped, injected=injected, rate_limited=limited
        )
        return None if dropped else response

    # -- serving --------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one API request as Salesforce would."""
        path = request.path.rstrip("/") or "/"
        with self.state.lock:
            try:
                soap_match = _SOAP.match(path)
                if soap_match is not None and request.method == "POST":
                    return self._soap(request, soap_match.group("version"))
                if path == _TOKEN and request.method == "POST":
                    return self._token(request)
                if path == _VERSIONS and request.method == "GET":
                    return Response(
                        200,
                        [
                            {
                                "label": "Winter '24",
                                "url": f"/services/data/v{API_VERSION}",
                                "version": API_VERSION,
                            }
                        ],
                    )
                if path == _USERINFO:
                    self._authenticate(request)
                    return rest.userinfo(self.state, request, {}, self._base(request))
                return self._rest(request, path)
            except SalesforceError as error:
                response = error.response()
                if error.status != 401:
                    response.headers.update(self._limit_header())
                return response
            except BadRequestError as bad:
                return SalesforceError(bad.status, "INVALID_FIELD", bad.message).response()

    def _rest(self, request: Request, path: str) -> Response:
        handler, params, label = self._route(request.method, path)
        self._authenticate(request)
        if label not in _UNCOUNTED and not self.state.spend():
            raise limit_exceeded()
        if handler is None:
            raise not_found(f"Could not find a match for URL {request.path}")
        response = handler(self.state, request, params)
        response.headers.update(self._limit_header())
        return response

    def _route(self, method: str, path: str) -> tuple[Handler | None, dict[str, str], str]:
        allowed: list[str] = []
        for route_method, template, pattern, handler in _ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method == method:
                params = {k: unquote(v) for k, v in match.groupdict().items()}
                if "sObject" in params:
                    params["sobject"] = params.pop("sObject")
                return handler, params, f"{method} {template}"
            allowed.append(route_method)
        if allowed:
            raise SalesforceError(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{method}' not allowed. Allowed are {','.join(sorted(set(allowed)))}",
            )
        return None, {}, ""

    def _authenticate(self, request: Request) -> None:
        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or token.strip() not in self.state.sessions:
            raise invalid_session()

    def _limit_header(self) -> dict[str, str]:
        used, limit = self.state.api_usage()
        return {"Sforce-Limit-Info": f"api-usage={used}/{limit}"}

    def _base(self, request: Request) -> str:
        host = request.header("Host") or "127.0.0.1"
        return f"{self.scheme}://{host}"

    # -- SOAP -------------------------------------------------------------------------------------

    def _soap(self, request: Request, version: str) -> Response:
        try:
            call = soap.parse(request.raw)
        except soap.SoapRequestError as bad:
            return soap.fault("soapenv:Client", str(bad))
        if call.operation == "login":
            return self._login(call, request, version)
        if call.session_id is None or call.session_id not in self.state.sessions:
            return soap.fault(
                "sf:INVALID_SESSION_ID",
                "Invalid Session ID found in SessionHeader: Illegal Session",
            )
        if not self.state.spend():
            return soap.fault("sf:REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if call.operation == "merge":
            return self._merge(call)
        return soap.fault("sf:INVALID_OPERATION", f"operation {call.operation} is not emulated")

    def _login(self, call: soap.SoapCall, request: Request, version: str) -> Response:
        try:
            username, password = soap.login_credentials(call)
        except soap.SoapRequestError as bad:
            return soap.fault("soapenv:Client", str(bad))
        state = self.state
        if (
            not state.login_allowed
            or username != state.username
            or password != state.password + state.security_token
        ):
            return soap.fault(
                "INVALID_LOGIN",
                "Invalid username, password, security token; or user locked out.",
                login=True,
            )
        user = state.live("User", state.api_user_id)
        assert user is not None
        session = state.new_session()
        return soap.login_response(
            server_url=f"{self._base(request)}/services/Soap/u/{version}/{ORG_ID}",
            session_id=session,
            user_id=user.id,
            org_id=ORG_ID,
            username=username,
            email=str(user.values.get("Email")),
            full_name=f"{user.values.get('FirstName')} {user.values.get('LastName')}",
        )

    def _merge(self, call: soap.SoapCall) -> Response:
        try:
            requests = soap.merge_requests(call)
        except soap.SoapRequestError as bad:
            return soap.fault("soapenv:Client", str(bad))
        return soap.merge_response([self._merge_one(r) for r in requests])

    def _merge_one(self, request: soap.MergeRequest) -> soap.MergeResult:
        state = self.state
        schema = sobject(request.sobject)
        if schema is None or not schema.mergeable:
            return _merge_error("INVALID_TYPE", f"Cannot merge records of type {request.sobject}")
        if not 1 <= len(request.merged_ids) <= 2:
            # A master and at most two records per request: "Up to three records can be merged
            # in a single request, including the master record" (SOAP API guide, merge(); the
            # limits cheat sheet says the same). invented: the statusCode and message of the
            # refusal, which no source at hand shows (LIMIT_EXCEEDED is in partner.wsdl's
            # StatusCode list); the request fails alone, as each request is its own transaction.
            return _merge_error("LIMIT_EXCEEDED", "Can only merge up to 3 records at a time")
        for record_id in (request.master_id, *request.merged_ids):
            found_type = state.sobject_of(record_id)
            if found_type != schema.name:
                return _merge_error("INVALID_ID_FIELD", f"invalid record id: {record_id}")
            record = state.find(schema.name, record_id)
            if record is None:
                return _merge_error("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
            if record.deleted:
                return _merge_error("ENTITY_IS_DELETED", "entity is deleted")
        if request.master_id in request.merged_ids:
            return _merge_error(
                "INVALID_ID_FIELD", "The master record cannot be merged with itself"
            )
        people = {
            bool(state.find(schema.name, i).values.get("IsPersonAccount"))  # type: ignore[union-attr]
            for i in (request.master_id, *request.merged_ids)
        }
        if schema.name == "Account" and len(people) > 1:
            # Salesforce merges person accounts only with person accounts (Help, "Merge
            # Duplicate Person Accounts"). invented: the statusCode and message
            return _merge_error(
                "INVALID_PERSON_ACCOUNT_OPERATION",
                "a person account cannot be merged with a business account",
            )
        if schema.name == "Contact" and True in people:
            # a person contact merges with its person account (Account merge). invented: the
            # statusCode and message
            return _merge_error(
                "INVALID_PERSON_ACCOUNT_OPERATION",
                "cannot merge a person contact: merge its person account",
            )
        if request.values:
            _, errors = state.save(schema.name, request.master_id, request.values)
            if errors:
                return soap.MergeResult(
                    success=False,
                    errors=tuple((e.code, e.message, e.fields) for e in errors),
                )
        related = _related(state, request.merged_ids)
        master = state.merge(schema.name, request.master_id, request.merged_ids)
        return soap.MergeResult(
            success=True,
            master_id=master,
            merged_ids=tuple(state.find(schema.name, i).id for i in request.merged_ids),  # type: ignore[union-attr]
            updated_related_ids=tuple(related),
        )

    # -- OAuth ------------------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        """``POST /services/oauth2/token``: password, client credentials and JWT bearer grants
        (the JWT as :meth:`_jwt_problem` checks it)."""
        form = {k: v[0] for k, v in parse_qs(request.raw.decode("utf-8", "replace")).items()}
        state = self.state
        grant = form.get("grant_type")
        key, secret = form.get("client_id"), form.get("client_secret")
        basic = request.header("Authorization") or ""
        if basic.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(basic[6:]).decode()
            except ValueError:
                decoded = ":"
            key, _, secret = decoded.partition(":")
        if grant == "password":
            if key != state.consumer_key or secret != state.consumer_secret:
                return _oauth_error("invalid_client_id", "client identifier invalid")
            if (
                not state.login_allowed
                or form.get("username") != state.username
                or form.get("password")
                not in (state.password, state.password + state.security_token)
            ):
                return _oauth_error("invalid_grant", "authentication failure")
        elif grant == "client_credentials":
            if key != state.consumer_key or secret != state.consumer_secret:
                return _oauth_error("invalid_client", "invalid client credentials")
            if not state.login_allowed:
                return _oauth_error("invalid_grant", "authentication failure")
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            problem = self._jwt_problem(form.get("assertion") or "", request)
            if problem is not None:
                return _oauth_error(*problem)
        else:
            return _oauth_error("unsupported_grant_type", "grant type not supported")
        base = self._base(request)
        session = state.new_session()
        body: dict[str, Any] = {
            "access_token": session,
            "instance_url": base,
            "id": f"{base}/id/{ORG_ID}/{state.api_user_id}",
            "token_type": "Bearer",
            "issued_at": str(int(state.clock().timestamp() * 1000)),
            "signature": base64.b64encode(session.encode()[:32]).decode(),
        }
        return Response(200, body)

    def _jwt_problem(self, assertion: str, request: Request) -> tuple[str, str] | None:
        """Why a JWT bearer assertion is refused, as ``(error, error_description)``; None when
        it is good. As Salesforce checks it ("OAuth 2.0 JWT Bearer Flow for Server-to-Server
        Integration"): ``iss`` names the connected app (its consumer key), the RS256 signature
        verifies with the certificate uploaded to that app (``state.jwt_certificate``; none
        uploaded, nothing verifies), ``sub`` is the user, ``aud`` the login server, ``exp`` not
        passed. Descriptions seen from real orgs: "invalid assertion" (salesforce.stackexchange
        "Authorization via JWT yields an invalid assertion error"), "audience is invalid"
        (useparagon.com, "Salesforce invalid_grant audience is invalid"), "expired
        authorization code" for an ``exp`` passed (salesforce.stackexchange 282513). The
        docs ask for an ``exp`` within 3 minutes; whether a later one is refused is not
        documented (?): accepted here. ``exp`` is compared with the wall clock, not the data
        clock: clients sign with theirs."""
        state = self.state
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            return "invalid_grant", "invalid assertion"
        if claims.get("iss") != state.consumer_key:
            # (?) the description for an unknown consumer key is the password flow's
            return "invalid_client_id", "client identifier invalid"
        key = _certificate_key(state.jwt_certificate)
        if key is None or header.get("alg") != "RS256":
            return "invalid_grant", "invalid assertion"
        try:
            jwt.decode(
                assertion,
                key,  # type: ignore[arg-type]
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_aud": False, "verify_iss": False},
            )
        except jwt.PyJWTError:
            return "invalid_grant", "invalid assertion"
        problem = self._jwt_claims_problem(claims, request)
        return None if problem is None else ("invalid_grant", problem)

    def _jwt_claims_problem(self, claims: Mapping[str, Any], request: Request) -> str | None:
        state = self.state
        if claims.get("sub") != state.username or not state.login_allowed:
            return "user hasn't approved this consumer"
        audiences = {
            self._base(request),
            "https://login.salesforce.com",
            "https://test.salesforce.com",
        }
        if claims.get("aud") not in audiences:
            return "audience is invalid"
        try:
            expires = float(claims["exp"])
        except (KeyError, TypeError, ValueError):
            return "invalid assertion"  # (?) the description for a missing exp
        if expires <= datetime.now(UTC).timestamp():
            return "expired authorization code"
        return None

    # -- control ----------------------------------------------------------------------------------

    def control(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        try:
            if path == "/_sandbox/health":
                return Response(200, {"status": "ok", "counts": self.state.counts()})
            if path == "/_sandbox/auth":
                return self._auth_control(request)
            if path == "/_sandbox/limits":
                return self._limits_control(request)
            handler = _CONTROL_TABLE.get((request.method, path))
            if handler is None:
                return Response(404, {"error": f"no control endpoint {request.method} {path}"})
            with self.state.lock:
                response: Response = handler(self.state, request, {})
                return response
        except BadRequestError as bad:
            return Response(bad.status, {"error": bad.message})

    def _auth_control(self, request: Request) -> Response:
        """``/_sandbox/auth`` (invented): ``GET`` → ``{"username", "login_allowed",
        "sessions"}``; ``PUT`` with any of ``password``, ``security_token``,
        ``login_allowed`` (false: every login is refused, as for a frozen user),
        ``expire_sessions`` (true: every session ends now) and ``jwt_certificate`` (the PEM
        certificate or public key of the connected app, which JWT bearer assertions must be
        signed for; null: none)."""
        state = self.state
        if request.method == "PUT":
            body = request.json_object()
            known = {
                "password",
                "security_token",
                "login_allowed",
                "expire_sessions",
                "jwt_certificate",
            }
            unknown = set(body) - known
            if unknown:
                raise BadRequestError(f"unknown setting(s) {sorted(unknown)}")
            with state.lock:
                for key in ("password", "security_token"):
                    if key in body:
                        if not isinstance(body[key], str):
                            raise BadRequestError(f"{key} must be a string")
                        setattr(state, key, body[key])
                if "login_allowed" in body:
                    if not isinstance(body["login_allowed"], bool):
                        raise BadRequestError("login_allowed must be true or false")
                    state.login_allowed = body["login_allowed"]
                if body.get("expire_sessions") is True:
                    state.expire_sessions()
                if "jwt_certificate" in body:
                    pem = body["jwt_certificate"]
                    if pem is not None and _certificate_key(pem) is None:
                        raise BadRequestError("jwt_certificate must be a PEM certificate or key")
                    state.jwt_certificate = pem
        elif request.method != "GET":
            raise BadRequestError(f"Method {request.method} is not allowed", status=405)
        return Response(
            200,
            {
                "username": state.username,
                "login_allowed": state.login_allowed,
                "sessions": len(state.sessions),
            },
        )

    def _limits_control(self, request: Request) -> Response:
        """``/_sandbox/limits`` (invented): ``GET`` → ``{"used", "max"}``; ``PUT`` with
        ``daily_limit`` (a number, or null: not enforced) and/or ``use`` (requests others
        spend now)."""
        state = self.state
        if request.method == "PUT":
            body = request.json_object()
            if "daily_limit" in body:
                value = body["daily_limit"]
                if value is not None and (not isinstance(value, int) or value < 0):
                    raise BadRequestError("daily_limit must be a non-negative integer or null")
                state.daily_limit = value
            if "use" in body:
                if not isinstance(body["use"], int) or body["use"] < 0:
                    raise BadRequestError("use must be a non-negative integer")
                state.use_allowance(body["use"])
        used, limit = state.api_usage()
        return Response(
            200, {"used": used, "max": limit, "enforced": state.daily_limit is not None}
        )

    # -- recording ------------------------------------------------------------------------------

    def record(self, request: Request, response: Response) -> None:
        state = self.state
        if not state.record_exchanges or self.is_control(request):
            return
        text = None
        if request.body is None and request.raw:
            text = request.raw.decode("utf-8", "replace")
        exchange = Exchange(
            method=request.method,
            path=request.path,
            query={k: list(v) for k, v in request.query.items()},
            headers=dict(request.headers),
            request_json=request.body,
            request_text=text,
            status=response.status,
            response_json=response.body,
            response_headers=dict(response.headers),
        )
        with state.lock:
            state.request_log.append(exchange)


def _merge_error(code: str, message: str) -> soap.MergeResult:
    return soap.MergeResult(success=False, errors=((code, message, ()),))


def _certificate_key(pem: str | None) -> object | None:
    """The public key of a PEM certificate (or bare public key); None when there is none."""
    if not pem:
        return None
    data = pem.encode()
    try:
        if b"BEGIN CERTIFICATE" in data:
            return x509.load_pem_x509_certificate(data).public_key()
        return load_pem_public_key(data)
    except ValueError:
        return None


def _oauth_error(error: str, description: str) -> Response:
    return Response(400, {"error": error, "error_description": description})


def _related(state: SalesforceState, merged_ids: tuple[str, ...]) -> list[str]:
    """Ids of records that point at the merged ones (and will move to the master)."""
    found: list[str] = []
    wanted = set()
    for record_id in merged_ids:
        sobject_name = state.sobject_of(record_id)
        record = state.find(sobject_name, record_id) if sobject_name else None
        if record is not None:
            wanted.add(record.id)
    for name, fields in (
        ("Task", ("WhoId", "WhatId")),
        ("Contact", ("AccountId",)),
        ("Opportunity", ("AccountId",)),
    ):
        for child in state.records(name):
            if any(child.values.get(f) in wanted for f in fields):
                found.append(child.id)
    return found
