"""Who may call what: the scopes a route needs, a token's granted scopes, a malformed token.

HubSpot answers a private app's call that needs a scope its token was not granted with 403
``MISSING_SCOPES`` naming the scopes, and a token too malformed to be one with a 530 from its
edge instead of a 401 (``shared/notes/hubspot.md``). The scope names follow HubSpot's
(``crm.objects.contacts.read``, ``crm.schemas.deals.read``, ``crm.objects.owners.read``); which
scope each route needs is the sandbox's reading of them: HubSpot lists a scope per endpoint in
its reference, the sandbox derives it from the object type in the path (tasks included, whose
real scope naming the notes do not give) and asks none for ``/account-info/v3/details``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sandbox.hubspot.model import canonical_type
from sandbox.hubspot.wire import ApiError, Response

SCOPES_LINK = "https://developers.hubspot.com/scopes"
_SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. Read more about "
    f"required scopes here: {SCOPES_LINK}."
)

#: A bearer token as RFC 6750 spells one (``b64token``); anything else is malformed.
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")

#: Object types whose scopes the sandbox's routes ask for.
_SCOPED_TYPES = ("contacts", "companies", "deals", "tasks", "notes")
#: Every scope :func:`required_scope` can ask for.
ALL_SCOPES: frozenset[str] = frozenset(
    [
        "crm.objects.owners.read",
        *(f"crm.objects.{t}.{access}" for t in _SCOPED_TYPES for access in ("read", "write")),
        *(f"crm.schemas.{t}.read" for t in _SCOPED_TYPES),
    ]
)

#: Route templates that only read though they are POSTs.
_READING_POSTS = ("/search", "/batch/read")


def is_write(method: str, template: str) -> bool:
    """Whether a request on route ``template`` writes (what HubSpot's write lock counts)."""
    if method == "GET":
        return False
    return not (method == "POST" and template.endswith(_READING_POSTS))


def required_scope(method: str, template: str, params: Mapping[str, str]) -> str | None:
    """The scope a request needs (None: any valid token will do)."""
    if template.startswith("/crm/v3/owners"):
        return "crm.objects.owners.read"
    if template.startswith("/crm/v3/properties/"):
        return f"crm.schemas.{_kind(params.get('objectType'))}.read"
    if template.startswith("/crm/v3/pipelines/"):
        return f"crm.objects.{_kind(params.get('objectType'))}.read"
    if template.startswith("/crm/v3/objects/"):
        access = "write" if is_write(method, template) else "read"
        return f"crm.objects.{_kind(params.get('objectType'))}.{access}"
    if template.startswith("/crm/v4/"):
        access = "write" if is_write(method, template) else "read"
        return f"crm.objects.{_kind(params.get('fromObjectType'))}.{access}"
    return None


def _kind(raw: str | None) -> str:
    return canonical_type(raw or "") or (raw or "unknown")


def missing_scopes(scopes: tuple[str, ...]) -> ApiError:
    """HubSpot's 403 for a token without a scope the call needs."""
    return ApiError(
        403,
        "MISSING_SCOPES",
        _SCOPES_MESSAGE,
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": list(scopes)},
            }
        ],
        extra={"links": {"scopes": SCOPES_LINK}},
    )


def malformed(token: str) -> bool:
    """Whether ``token`` (the part after ``Bearer``) cannot be a token at all."""
    return _TOKEN.fullmatch(token) is None


def edge_refusal() -> Response:
    """What HubSpot's edge answers for a malformed token: a 530 page, no HubSpot JSON.

    The page is invented (its wording is not documented); its status is the notes'."""
    page = (
        "<html>\r\n<head><title>530</title></head>\r\n<body>\r\n"
        "<center><h1>530</h1><p>error code: 1016</p></center>\r\n</body>\r\n</html>\r\n"
    )
    return Response(530, None, {"Content-Type": "text/html; charset=utf-8"}, raw=page.encode())


def granted(scopes: Mapping[str, frozenset[str]] | None, token: str) -> frozenset[str] | None:
    """The scopes ``token`` was granted; None when the token has every scope (not listed)."""
    if scopes is None:
        return None
    return scopes.get(token)
