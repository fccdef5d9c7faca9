"""Wire-format checking against HubSpot's published OpenAPI descriptions.

:class:`SpecValidator` loads ``*.json`` from the specs directory (``SYNCD_SPECS_DIR``, else
``<repo>/../shared/specs/hubspot``), finds the operation a concrete method and path belong to
(``/crm/v3/objects/contacts/search`` is ``contacts.json``'s own path; a type without its own file
falls back to ``objects.json``'s ``/crm/v3/objects/{objectType}/...``), and validates:

- responses **strictly**: the status must be one the operation declares (the SDK deserializes
  only those; an undeclared 2xx comes back as None), the body must match the schema, and objects
  may carry no field their schema does not name;
- requests **leniently**: HubSpot's request schemas over-require fields the SDK leaves out, so
  ``required`` is not enforced, but every field sent must be known and well-typed, and every
  query parameter must exist on the operation with a value of its type.

Where HubSpot's live API knowingly differs from its description, :data:`DEVIATIONS` widens the
schema; each entry says what and why. Needs the dev dependency ``openapi-schema-validator``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30Validator, oas30_format_checker

from sandbox.hubspot.store import Exchange

Schema = dict[str, Any]

#: Known differences between HubSpot's descriptions and what its API (and the SDK) really do.
#: (mode, schema name, patch, reason); mode is "response" or "request".
DEVIATIONS: list[tuple[str, str, Callable[[Schema], None], str]] = []


def _deviation(mode: str, name: str, reason: str) -> Callable[[Callable[[Schema], None]], None]:
    def register(patch: Callable[[Schema], None]) -> None:
        DEVIATIONS.append((mode, name, patch, reason))

    return register


def _error_extras(schema: Schema) -> None:
    for field in ("status", "policyName", "errorType", "requestId"):
        schema["properties"][field] = {"type": "string"}


_deviation(
    "response",
    "Error",
    "HubSpot's error bodies carry status: 'error' (and on 429 policyName, errorType, requestId) "
    "besides the described fields.",
)(_error_extras)


def _or_search_rate_limited(schema: Schema) -> None:
    described = copy.deepcopy(schema)
    schema.clear()
    schema["anyOf"] = [
        described,
        {
            "type": "object",
            "required": ["status", "message", "category"],
            "properties": {
                "status": {"type": "string", "enum": ["error"]},
                "message": {"type": "string"},
                "category": {"type": "string", "enum": ["RATE_LIMITS"]},
            },
        },
    ]


_deviation(
    "response",
    "Error",
    "Search's own 429 body is only {status, message, category}: no correlationId (it travels "
    "in the X-HubSpot-Correlation-Id header), no policyName (shared/notes/hubspot.md).",
)(_or_search_rate_limited)


def _nullable_values(schema: Schema) -> None:
    schema["properties"]["properties"]["additionalProperties"] = {
        "type": "string",
        "nullable": True,
    }


for _name in ("SimplePublicObject", "SimplePublicObjectWithAssociations"):
    _deviation(
        "response",
        _name,
        "A requested property without a value comes back as null, not as a string.",
    )(_nullable_values)


def _object_sorts(schema: Schema) -> None:
    schema["properties"]["sorts"]["items"] = {
        "anyOf": [
            {"type": "string"},
            {
                "type": "object",
                "properties": {
                    "propertyName": {"type": "string"},
                    "direction": {"type": "string", "enum": ["ASCENDING", "DESCENDING"]},
                },
                "additionalProperties": False,
            },
        ]
    }


_deviation(
    "request",
    "PublicObjectSearchRequest",
    "HubSpot's documentation and the SDK's users send sorts as {propertyName, direction} objects; "
    "the description types them as strings.",
)(_object_sorts)


class SpecViolationError(AssertionError):
    """A request or response that does not match HubSpot's description."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of one spec file, matched to a concrete path."""

    spec: str
    template: str
    method: str
    definition: Mapping[str, Any]
    path_params: Mapping[str, str]

    @property
    def parameters(self) -> list[Mapping[str, Any]]:
        return list(self.definition.get("parameters") or [])


def default_specs_dir() -> Path:
    """``$SYNCD_SPECS_DIR``, else ``<repo>/../shared/specs/hubspot``."""
    configured = os.environ.get("SYNCD_SPECS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "hubspot"


def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def _format_checker() -> Any:
    checker = copy.copy(oas30_format_checker)
    checker.checkers = dict(oas30_format_checker.checkers)
    checker.checks("date-time")(_is_datetime)
    checker.checks("uuid")(_is_uuid)
    return checker


def _close_objects(schema: object, *, drop_required: bool) -> None:
    """Forbid unnamed fields on every object schema that names its fields (recursively).

    With ``drop_required`` the ``required`` lists go too (lenient request checking).
    """
    if not isinstance(schema, dict):
        return
    if drop_required and isinstance(schema.get("required"), list):
        del schema["required"]
    fields = schema.get("properties")
    if isinstance(fields, dict):
        schema.setdefault("additionalProperties", False)
        for field_schema in fields.values():
            _close_objects(field_schema, drop_required=drop_required)
    for key in ("items", "additionalProperties", "not"):
        _close_objects(schema.get(key), drop_required=drop_required)
    for key in ("allOf", "anyOf", "oneOf"):
        for member in schema.get(key) or ():
            _close_objects(member, drop_required=drop_required)


class SpecValidator:
    """Validates exchanges against HubSpot's OpenAPI descriptions (see the module docstring)."""

    def __init__(self, specs_dir: str | Path | None = None) -> None:
        directory = Path(specs_dir) if specs_dir is not None else default_specs_dir()
        files = sorted(directory.glob("*.json")) if directory.is_dir() else []
        if not files:
            raise FileNotFoundError(
                f"No HubSpot OpenAPI descriptions (*.json) in {directory}; "
                "set SYNCD_SPECS_DIR to the directory that holds them"
            )
        self._docs: dict[str, Schema] = {f.stem: json.loads(f.read_text()) for f in files}
        self._routes: list[tuple[tuple[int, tuple[int, ...]], str, str, re.Pattern[str]]] = []
        for name, doc in self._docs.items():
            for template in doc.get("paths", {}):
                segments = template.strip("/").split("/")
                rank = tuple(1 if s.startswith("{") else 0 for s in segments)
                pattern = re.sub(
                    r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template.rstrip("/"))
                )
                self._routes.append(((sum(rank), rank), name, template, re.compile(pattern)))
        self._routes.sort(key=lambda route: route[0])
        self._components: dict[tuple[str, str], Schema] = {}
        self._validators: dict[tuple[str, str, str], Any] = {}
        self._checker = _format_checker()

    # ------------------------------------------------------------------ lookup

    def find_operation(self, method: str, path: str) -> Operation | None:
        """The operation for ``method`` and a concrete ``path`` (most specific template wins)."""
        wanted = method.lower()
        candidates = [path.rstrip("/") or "/"]
        alias = re.sub(r"^/crm/v3/objects/deals(?=/|$)", "/crm/v3/objects/0-3", candidates[0])
        if alias != candidates[0]:
            candidates.append(alias)
        for _, spec, template, pattern in self._routes:
            operation = self._docs[spec]["paths"][template].get(wanted)
            if operation is None:
                continue
            for candidate in candidates:
                match = pattern.fullmatch(candidate)
                if match is not None:
                    return Operation(spec, template, wanted, operation, match.groupdict())
        return None

    # ------------------------------------------------------------------ responses

    def response_problems(self, method: str, path: str, status: int, body: Any) -> list[str]:
        """Everything wrong with a response, strictly (empty when it is valid)."""
        where = f"{method.upper()} {path} -> {status}"
        operation = self.find_operation(method, path)
        if operation is None:
            return [f"{where}: no operation in the HubSpot specs"]
        responses = operation.definition.get("responses", {})
        declared = responses.get(str(status))
        if declared is None and 200 <= status < 300:
            return [
                f"{where}: status {status} is not declared ({sorted(responses)}); "
                "the SDK returns None for it"
            ]
        declared = declared if declared is not None else responses.get("default")
        if declared is None:
            return [f"{where}: status {status} is not declared and there is no default"]
        declared = self._resolve(operation.spec, declared)
        content = declared.get("content") or {}
        if not content:
            return [] if body in (None, b"", "") else [f"{where}: declares no body but got one"]
        media = (
            content.get("application/json") or content.get("*/*") or next(iter(content.values()))
        )
        return self._schema_problems(operation.spec, "response", media["schema"], body, where)

    def validate_response(self, method: str, path: str, status: int, body: Any) -> None:
        problems = self.response_problems(method, path, status, body)
        if problems:
            raise SpecViolationError(problems)

    # ------------------------------------------------------------------ requests

    def request_problems(
        self, method: str, path: str, query: Mapping[str, Iterable[str]] | None, body: Any
    ) -> list[str]:
        """Everything wrong with a request, leniently (empty when it is acceptable)."""
        where = f"{method.upper()} {path}"
        operation = self.find_operation(method, path)
        if operation is None:
            return [f"{where}: no operation in the HubSpot specs"]
        problems: list[str] = []
        declared = {p["name"]: p for p in operation.parameters if p.get("in") == "query"}
        for name, values in (query or {}).items():
            parameter = declared.get(name)
            if parameter is None:
                problems.append(
                    f"{where}: unknown query parameter {name!r} (known: {sorted(declared)})"
                )
                continue
            for value in values:
                problems.extend(
                    _query_value_problems(where, name, parameter.get("schema", {}), value)
                )
        request_body = operation.definition.get("requestBody")
        if body is not None:
            if request_body is None:
                problems.append(f"{where}: the operation takes no body")
            else:
                media = request_body["content"].get("application/json") or next(
                    iter(request_body["content"].values())
                )
                problems.extend(
                    self._schema_problems(operation.spec, "request", media["schema"], body, where)
                )
        elif request_body is not None and request_body.get("required"):
            problems.append(f"{where}: the operation requires a body")
        return problems

    def validate_request(
        self, method: str, path: str, query: Mapping[str, Iterable[str]] | None, body: Any
    ) -> None:
        problems = self.request_problems(method, path, query, body)
        if problems:
            raise SpecViolationError(problems)

    def validate_exchange(self, exchange: Exchange) -> None:
        """Validate a recorded :class:`~sandbox.hubspot.store.Exchange` (request and response)."""
        problems = self.request_problems(
            exchange.method, exchange.path, exchange.query, exchange.request_json
        ) + self.response_problems(
            exchange.method, exchange.path, exchange.status, exchange.response_json
        )
        if problems:
            raise SpecViolationError(problems)

    # ------------------------------------------------------------------ internals

    def _resolve(self, spec: str, node: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in node:
            target: Any = self._docs[spec]
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def _prepared_components(self, spec: str, mode: str) -> Schema:
        key = (spec, mode)
        if key not in self._components:
            components = copy.deepcopy(self._docs[spec].get("components", {}))
            schemas = components.get("schemas", {})
            for deviation_mode, name, patch, _ in DEVIATIONS:
                if deviation_mode == mode and name in schemas:
                    patch(schemas[name])
            for schema in schemas.values():
                _close_objects(schema, drop_required=mode == "request")
            self._components[key] = components
        return self._components[key]

    def _schema_problems(
        self, spec: str, mode: str, schema: Mapping[str, Any], instance: Any, where: str
    ) -> list[str]:
        key = (spec, mode, json.dumps(schema, sort_keys=True))
        validator = self._validators.get(key)
        if validator is None:
            local = copy.deepcopy(dict(schema))
            _close_objects(local, drop_required=mode == "request")
            root = {"allOf": [local], "components": self._prepared_components(spec, mode)}
            validator = OAS30Validator(root, format_checker=self._checker)
            self._validators[key] = validator
        problems = []
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
            location = "/".join(str(p) for p in error.absolute_path) or "<body>"
            # an alternative a deviation added: say what the described schema found wrong
            why = [e.message for e in error.context or () if list(e.schema_path)[:1] == [0]]
            detail = f" ({'; '.join(why)})" if error.validator == "anyOf" and why else ""
            problems.append(f"{where}: {mode} {location}: {error.message}{detail}")
        return problems


def _query_value_problems(
    where: str, name: str, schema: Mapping[str, Any], value: str
) -> list[str]:
    kind = schema.get("type", "string")
    if kind == "array":
        item_schema = schema.get("items", {})
        return [
            problem
            for part in value.split(",")
            for problem in _query_value_problems(where, name, item_schema, part)
        ]
    problem = f"{where}: query {name}={value!r} is not a valid {kind}"
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return [problem]
    if kind == "boolean" and value.lower() not in {"true", "false"}:
        return [problem]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: query {name}={value!r} is not one of {schema['enum']}"]
    return []
