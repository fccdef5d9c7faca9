"""The request pipeline, independent of sockets: route, authenticate, rate-limit, dispatch.

``HubSpotApp.decide`` is the fault-injection seam (asked first, per request);
``HubSpotApp.answer`` serves a request as its fault says and counts it in ``state.traffic``;
``HubSpotApp.handle`` answers a request as HubSpot would; ``HubSpotApp.record`` logs an exchange
when the state asks for it. The HTTP server in :mod:`sandbox.hubspot.server` only moves bytes.

In the order HubSpot applies them (``shared/notes/hubspot.md``): a malformed token gets the
edge's 530; a token not accepted 401; a token without the route's scope 403 ``MISSING_SCOPES``
(:mod:`sandbox.hubspot.access`); a request past a rate limit 429 (search has its own per-second
limit, sends no rate-limit headers, and its 429 body has no ``policyName``); a write while the
portal is locked by heavy writes 423 Locked. Every answer of HubSpot's carries
``X-HubSpot-Correlation-Id`` (the error body's ``correlationId`` when it has one); a gateway's
or the edge's page does not.

Route templates are spelled as HubSpot's API reference spells them (``{objectType}``,
``{objectId}``, ...); the traffic counters use them as labels.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from urllib.parse import unquote

from sandbox.hubspot import control_api, objects_api, other_api
from sandbox.hubspot.access import (
    edge_refusal,
    granted,
    is_write,
    malformed,
    missing_scopes,
    required_scope,
)
from sandbox.hubspot.faults import Fault, injected_error
from sandbox.hubspot.ratelimit import retry_after_header
from sandbox.hubspot.stats import Drop
from sandbox.hubspot.store import Exchange, SandboxState
from sandbox.hubspot.wire import (
    SEARCH_RATE_LIMITED,
    ApiError,
    BadRequestError,
    Request,
    Response,
    error_body,
    from_bad_request,
    invalid,
    locked,
    rate_limited,
)

CORRELATION_HEADER = "X-HubSpot-Correlation-Id"

Handler = Callable[[SandboxState, Request, Mapping[str, str]], Response]
Route = tuple[str, str, re.Pattern[str], Handler]

_SEGMENT = r"[^/]+"
_OBJECTS = "/crm/v3/objects/{objectType}"
_ROUTE_TABLE: list[tuple[str, str, Handler]] = [
    ("GET", _OBJECTS, objects_api.list_objects),
    ("POST", _OBJECTS, objects_api.create_object),
    ("POST", f"{_OBJECTS}/search", objects_api.search_objects),
    ("POST", f"{_OBJECTS}/merge", objects_api.merge_objects),
    ("POST", f"{_OBJECTS}/batch/read", objects_api.batch_read),
    ("POST", f"{_OBJECTS}/batch/create", objects_api.batch_create),
    ("POST", f"{_OBJECTS}/batch/update", objects_api.batch_update),
    ("POST", f"{_OBJECTS}/batch/archive", objects_api.batch_archive),
    ("GET", f"{_OBJECTS}/{{objectId}}", objects_api.get_object),
    ("PATCH", f"{_OBJECTS}/{{objectId}}", objects_api.update_object),
    ("DELETE", f"{_OBJECTS}/{{objectId}}", objects_api.archive_object),
    ("GET", "/crm/v3/owners", other_api.list_owners),
    ("GET", "/crm/v3/owners/{ownerId}", other_api.get_owner),
    ("GET", "/crm/v3/properties/{objectType}", other_api.list_properties),
    ("GET", "/crm/v3/pipelines/{objectType}", other_api.list_pipelines),
    ("GET", "/crm/v3/pipelines/{objectType}/{pipelineId}", other_api.get_pipeline),
    ("GET", "/account-info/v3/details", other_api.account_details),
    ("GET", "/crm/v3/properties/{objectType}/{propertyName}", other_api.get_property),
    (
        "POST",
        "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read",
        other_api.batch_read_associations,
    ),
    (
        "PUT",
        "/crm/v4/objects/{fromObjectType}/{fromObjectId}/associations/default/{toObjectType}/"
        "{toObjectId}",
        other_api.associate_default,
    ),
]
_CONTROL_TABLE: list[tuple[str, str, Handler]] = [
    ("GET", "/_sandbox/health", other_api.health),
    ("GET", "/_sandbox/faults", control_api.get_faults),
    ("PUT", "/_sandbox/faults", control_api.put_faults),
    ("DELETE", "/_sandbox/faults", control_api.delete_faults),
    ("GET", "/_sandbox/stats", control_api.get_stats),
    ("DELETE", "/_sandbox/stats", control_api.delete_stats),
    ("GET", "/_sandbox/clock", control_api.get_clock),
    ("POST", "/_sandbox/clock", control_api.post_clock),
]


def _group(match: re.Match[str]) -> str:
    return f"(?P<{match.group(1)}>{_SEGMENT})"


def _compile(table: list[tuple[str, str, Handler]]) -> list[Route]:
    compiled = []
    for method, template, handler in table:
        pattern = re.sub(r"\{(\w+)\}", _group, template)
        compiled.append((method, template, re.compile(pattern), handler))
    return compiled


_ROUTES = _compile(_ROUTE_TABLE)
_CONTROL = _compile(_CONTROL_TABLE)

UNROUTED = "(unrouted)"

_AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


def _route(
    routes: list[Route], method: str, path: str
) -> tuple[str, Handler, dict[str, str]] | None:
    """The template, handler and path parameters for a request; 405 when only the method is
    wrong."""
    path = path.rstrip("/") or "/"
    allowed = False
    for route_method, template, pattern, handler in routes:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        if route_method == method:
            return template, handler, {k: unquote(v) for k, v in match.groupdict().items()}
        allowed = True
    if allowed:
        raise ApiError(405, "VALIDATION_ERROR", f"Method {method} is not allowed on {path}")
    return None


_AUTH_CONTROL = "/_sandbox/auth"


class HubSpotApp:
    """The emulated API over a :class:`SandboxState`.

    With ``token_required`` every API request needs ``Authorization: Bearer <token>``;
    ``tokens``, when given, is the set of tokens accepted (any non-empty token otherwise).
    ``scopes`` maps a token to the scopes it was granted; a token it does not list has them
    all. All three can be changed while serving through ``/_sandbox/auth``
    (:meth:`auth_control`).
    """

    def __init__(
        self,
        state: SandboxState,
        *,
        token_required: bool = True,
        tokens: Collection[str] | None = None,
        scopes: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        self.state = state
        self.token_required = token_required
        self.tokens = frozenset(tokens) if tokens is not None else None
        self.scopes: dict[str, frozenset[str]] | None = (
            {token: frozenset(granted) for token, granted in scopes.items()}
            if scopes is not None
            else None
        )

    @staticmethod
    def is_control(request: Request) -> bool:
        return request.path.startswith("/_sandbox/")

    def decide(self, request: Request) -> Fault | None:
        """The fault to inject into ``request``, if any (control requests never fail)."""
        policy = self.state.faults
        if policy is None or self.is_control(request):
            return None
        return policy.decide(request)

    @staticmethod
    def route_label(request: Request) -> str:
        """``METHOD template`` of the API route a request takes (``METHOD (unrouted)`` if none)."""
        path = request.path.rstrip("/") or "/"
        for method, template, pattern, _ in _ROUTES:
            if method == request.method and pattern.fullmatch(path):
                return f"{method} {template}"
        return f"{request.method} {UNROUTED}"

    def answer(self, request: Request, fault: Fault | None) -> Response | None:
        """Serve ``request`` as ``fault`` says (latency is the caller's to wait) and count it.

        Returns the response to send, or None when the connection is to be closed without one
        (``fault.drop``: before processing; ``fault.drop_after``: after). Control requests
        ignore ``fault`` and are not counted.
        """
        if self.is_control(request):
            return self.handle(request)
        label = self.route_label(request)
        traffic = self.state.traffic
        if fault is not None and fault.drop:
            traffic.record(label, status=None, dropped="before", injected=True)
            return None
        if fault is not None and fault.response is not None:
            response = self._correlated(fault.response)
            self.record(request, response)
        elif fault is not None and fault.status is not None:
            response = self._correlated(
                injected_error(
                    fault.status,
                    self.state.correlation_id(),
                    self.state.rate_limiter.headers(),
                    fault.retry_after_s,
                )
            )
            self.record(request, response)
        else:
            response = self.handle(request)
        dropped: Drop | None = "after" if fault is not None and fault.drop_after else None
        injected = fault is not None and fault.injects
        traffic.record(label, status=response.status, dropped=dropped, injected=injected)
        return None if dropped else response

    def handle(self, request: Request) -> Response:
        """Answer one request as HubSpot would (see the module docstring), and record it if
        asked."""
        if self.is_control(request):
            if request.path.rstrip("/") == _AUTH_CONTROL:
                return self.auth_control(request)
            return self._dispatch(_CONTROL, request)
        response = self._correlated(self._api(request))
        self.record(request, response)
        return response

    def _api(self, request: Request) -> Response:
        state = self.state
        token = _bearer(request)
        if token is not None and malformed(token):
            return edge_refusal()
        if not self._authorized(token):
            response = self._error(ApiError(401, "INVALID_AUTHENTICATION", _AUTH_MESSAGE))
            response.headers.update(state.rate_limiter.headers())
            return response
        try:
            found = _route(_ROUTES, request.method, request.path)
        except ApiError:  # 405: answered by the dispatch below
            found = None
        is_search = request.method == "POST" and request.path.rstrip("/").endswith("/search")
        scope = required_scope(request.method, found[0], found[2]) if found else None
        have = granted(self.scopes, token or "")
        if scope is not None and have is not None and scope not in have:
            response = self._error(missing_scopes((scope,)))
            if not is_search:
                response.headers.update(state.rate_limiter.headers())
            return response
        verdict = state.rate_limiter.check(search=is_search, today=state.clock().date())
        wait = (
            state.rate_limiter.check_write()
            if verdict.policy is None and found and is_write(request.method, found[0])
            else None
        )
        if verdict.policy is not None and is_search:
            response = Response(429, dict(SEARCH_RATE_LIMITED))
        elif verdict.policy is not None:
            error = rate_limited(verdict.policy)
            if state.send_retry_after:
                error.headers["Retry-After"] = retry_after_header(verdict.retry_after_s)
            response = self._error(error)
        elif wait is not None:
            response = self._error(locked())
        else:
            response = self._dispatch(_ROUTES, request)
        if not is_search:  # search sends no rate-limit headers
            response.headers.update(verdict.headers)
        return response

    def _correlated(self, response: Response) -> Response:
        """``response`` with ``X-HubSpot-Correlation-Id``: its body's ``correlationId`` when it
        has one, else a fresh one. A page a gateway or the edge sends (``raw``: 502, 504, 530)
        is not HubSpot's answer and carries none."""
        if response.raw is not None or any(
            name.lower() == CORRELATION_HEADER.lower() for name in response.headers
        ):
            return response
        body = response.body
        found = body.get("correlationId") if isinstance(body, dict) else None
        response.headers[CORRELATION_HEADER] = str(found) if found else self.state.correlation_id()
        return response

    def record(self, request: Request, response: Response) -> None:
        """Append the exchange to ``state.request_log`` when ``state.record_exchanges``."""
        state = self.state
        if not state.record_exchanges or self.is_control(request):
            return
        exchange = Exchange(
            method=request.method,
            path=request.path,
            query={k: list(v) for k, v in request.query.items()},
            request_json=request.body,
            status=response.status,
            response_json=response.body,
            response_headers=dict(response.headers),
        )
        with state.lock:
            state.request_log.append(exchange)

    def auth_control(self, request: Request) -> Response:
        """``/_sandbox/auth``: which bearer tokens the API accepts, read and changed at run time.

        Invented (HubSpot has no such endpoint): it stands for revoking a private app's token
        and installing it again, so a test can watch syncd be refused, alert, and recover.
        ``GET``: ``{"token_required": bool, "tokens": [..] | null, "scopes": {token: [..]} |
        null}`` (tokens null: any non-empty token; scopes null, or a token not listed: every
        scope). ``PUT`` with any of the keys changes it and answers as ``GET``; 400 for a bad
        value.
        """
        try:
            if request.method == "PUT":
                body = request.json_object()
                unknown = set(body) - {"tokens", "token_required", "scopes"}
                if unknown:
                    raise invalid(f"unknown setting(s) {sorted(unknown)}")
                if "token_required" in body:
                    if not isinstance(body["token_required"], bool):
                        raise invalid("token_required must be true or false")
                    self.token_required = body["token_required"]
                if "tokens" in body:
                    self.tokens = _token_set(body["tokens"])
                if "scopes" in body:
                    self.scopes = _scope_map(body["scopes"])
            elif request.method != "GET":
                raise ApiError(405, "VALIDATION_ERROR", f"Method {request.method} is not allowed")
        except ApiError as error:
            return self._error(error)
        except BadRequestError as bad:
            return self._error(from_bad_request(bad))
        tokens = sorted(self.tokens) if self.tokens is not None else None
        scopes = (
            {token: sorted(have) for token, have in self.scopes.items()}
            if self.scopes is not None
            else None
        )
        return Response(
            200, {"token_required": self.token_required, "tokens": tokens, "scopes": scopes}
        )

    def _authorized(self, token: str | None) -> bool:
        if not self.token_required:
            return True
        if not token:
            return False
        return self.tokens is None or token in self.tokens

    def _dispatch(self, routes: list[Route], request: Request) -> Response:
        try:
            if request.malformed:
                raise invalid("Invalid input JSON on line 1: the body is not JSON")
            found = _route(routes, request.method, request.path)
            if found is None:
                raise ApiError(
                    404, "OBJECT_NOT_FOUND", f"No route for {request.method} {request.path}"
                )
            _, handler, params = found
            with self.state.lock:
                return handler(self.state, request, params)
        except ApiError as error:
            return self._error(error)
        except BadRequestError as bad:
            return self._error(from_bad_request(bad))

    def _error(self, error: ApiError) -> Response:
        body = error.body(self.state.correlation_id())
        return Response(error.status, body, dict(error.headers))


def _bearer(request: Request) -> str | None:
    """The bearer token of a request, None when it sends none."""
    header = request.header("Authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _scope_map(value: object) -> dict[str, frozenset[str]] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in value.values()
    ):
        raise invalid("scopes must be null or an object of tokens to lists of scopes")
    return {str(token): frozenset(granted) for token, granted in value.items()}


def _token_set(value: object) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
        raise invalid("tokens must be null or a list of non-empty strings")
    return frozenset(t.strip() for t in value)


__all__ = ["HubSpotApp", "error_body"]
