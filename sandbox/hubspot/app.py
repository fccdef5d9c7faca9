"""The request pipeline, independent of sockets: route, authenticate, rate-limit, dispatch.

``HubSpotApp.decide`` is the fault-injection seam (asked first, per request);
``HubSpotApp.handle`` answers a request; ``HubSpotApp.record`` logs an exchange when the state
asks for it. The HTTP server in :mod:`sandbox.hubspot.server` only moves bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from urllib.parse import unquote

from sandbox.hubspot import objects_api, other_api
from sandbox.hubspot.faults import Fault
from sandbox.hubspot.ratelimit import retry_after_header
from sandbox.hubspot.store import Exchange, SandboxState
from sandbox.hubspot.wire import ApiError, Request, Response, error_body, invalid

Handler = Callable[[SandboxState, Request, Mapping[str, str]], Response]

_SEGMENT = r"[^/]+"
_ROUTE_TABLE: list[tuple[str, str, Handler]] = [
    ("GET", "/crm/v3/objects/{type}", objects_api.list_objects),
    ("POST", "/crm/v3/objects/{type}", objects_api.create_object),
    ("POST", "/crm/v3/objects/{type}/search", objects_api.search_objects),
    ("POST", "/crm/v3/objects/{type}/merge", objects_api.merge_objects),
    ("POST", "/crm/v3/objects/{type}/batch/read", objects_api.batch_read),
    ("POST", "/crm/v3/objects/{type}/batch/create", objects_api.batch_create),
    ("POST", "/crm/v3/objects/{type}/batch/update", objects_api.batch_update),
    ("POST", "/crm/v3/objects/{type}/batch/archive", objects_api.batch_archive),
    ("GET", "/crm/v3/objects/{type}/{id}", objects_api.get_object),
    ("PATCH", "/crm/v3/objects/{type}/{id}", objects_api.update_object),
    ("DELETE", "/crm/v3/objects/{type}/{id}", objects_api.archive_object),
    ("GET", "/crm/v3/owners", other_api.list_owners),
    ("GET", "/crm/v3/owners/{id}", other_api.get_owner),
    ("GET", "/crm/v3/properties/{type}", other_api.list_properties),
    ("GET", "/crm/v3/properties/{type}/{name}", other_api.get_property),
    ("POST", "/crm/v4/associations/{from}/{to}/batch/read", other_api.batch_read_associations),
    (
        "PUT",
        "/crm/v4/objects/{from}/{fromId}/associations/default/{to}/{toId}",
        other_api.associate_default,
    ),
]
_CONTROL_TABLE: list[tuple[str, str, Handler]] = [
    ("GET", "/_sandbox/health", other_api.health),
]


def _group(match: re.Match[str]) -> str:
    return f"(?P<{match.group(1)}>{_SEGMENT})"


def _compile(table: list[tuple[str, str, Handler]]) -> list[tuple[str, re.Pattern[str], Handler]]:
    compiled = []
    for method, template, handler in table:
        pattern = re.sub(r"\{(\w+)\}", _group, template)
        compiled.append((method, re.compile(pattern), handler))
    return compiled


_ROUTES = _compile(_ROUTE_TABLE)
_CONTROL = _compile(_CONTROL_TABLE)

_AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
_RATE_MESSAGES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "SECONDLY": "You have reached your secondly limit.",
    "DAILY": "You have reached your daily limit.",
}


def _route(
    routes: list[tuple[str, re.Pattern[str], Handler]], method: str, path: str
) -> tuple[Handler, dict[str, str]] | None:
    """The handler and path parameters for a request; 405 when only the method is wrong."""
    path = path.rstrip("/") or "/"
    allowed = False
    for route_method, pattern, handler in routes:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        if route_method == method:
            return handler, {k: unquote(v) for k, v in match.groupdict().items()}
        allowed = True
    if allowed:
        raise ApiError(405, "VALIDATION_ERROR", f"Method {method} is not allowed on {path}")
    return None


class HubSpotApp:
    """The emulated API over a :class:`SandboxState`.

    With ``token_required`` every API request needs ``Authorization: Bearer <token>``;
    ``tokens``, when given, is the set of tokens accepted (any non-empty token otherwise).
    """

    def __init__(
        self,
        state: SandboxState,
        *,
        token_required: bool = True,
        tokens: Collection[str] | None = None,
    ) -> None:
        self.state = state
        self.token_required = token_required
        self.tokens = frozenset(tokens) if tokens is not None else None

    @staticmethod
    def is_control(request: Request) -> bool:
        return request.path.startswith("/_sandbox/")

    def decide(self, request: Request) -> Fault | None:
        """The fault to inject into ``request``, if any (control requests never fail)."""
        policy = self.state.faults
        if policy is None or self.is_control(request):
            return None
        return policy.decide(request)

    def handle(self, request: Request) -> Response:
        """Answer one request, with rate-limit headers, and record it if asked."""
        if self.is_control(request):
            return self._dispatch(_CONTROL, request)
        state = self.state
        if not self._authorized(request):
            response = self._error(ApiError(401, "INVALID_AUTHENTICATION", _AUTH_MESSAGE))
            response.headers.update(state.rate_limiter.headers())
            self.record(request, response)
            return response
        is_search = request.method == "POST" and request.path.rstrip("/").endswith("/search")
        verdict = state.rate_limiter.check(search=is_search, today=state.clock().date())
        if verdict.policy is not None:
            error = ApiError(
                429,
                "RATE_LIMITS",
                _RATE_MESSAGES[verdict.policy],
                extra={"errorType": "RATE_LIMIT", "policyName": verdict.policy},
            )
            if state.send_retry_after:
                error.headers["Retry-After"] = retry_after_header(verdict.retry_after_s)
            response = self._error(error)
        else:
            response = self._dispatch(_ROUTES, request)
        response.headers.update(verdict.headers)
        self.record(request, response)
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

    def _authorized(self, request: Request) -> bool:
        if not self.token_required:
            return True
        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        return self.tokens is None or token.strip() in self.tokens

    def _dispatch(
        self, routes: list[tuple[str, re.Pattern[str], Handler]], request: Request
    ) -> Response:
        try:
            if request.malformed:
                raise invalid("Invalid input JSON on line 1: the body is not JSON")
            found = _route(routes, request.method, request.path)
            if found is None:
                raise ApiError(
                    404, "OBJECT_NOT_FOUND", f"No route for {request.method} {request.path}"
                )
            handler, params = found
            with self.state.lock:
                return handler(self.state, request, params)
        except ApiError as error:
            return self._error(error)

    def _error(self, error: ApiError) -> Response:
        body = error.body(self.state.correlation_id())
        return Response(error.status, body, dict(error.headers))


__all__ = ["HubSpotApp", "error_body"]
