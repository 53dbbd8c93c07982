"""What every API operation shares, stated in the OpenAPI schema by a
drf-spectacular postprocessing hook (settings SPECTACULAR_SETTINGS), so
the schema is the truth without each view repeating it:

- the error answers any operation can give: 400 (a malformed query value or
  body, a NUL in the query: core.query, core.middleware), 401 (an
  Authorization header that is no valid agent token: core.agent_auth), 403,
  404 where the path names an object, 413 where a body is read, 429 where a
  token is checked (core.ratelimit);
- a request body is required wherever its schema needs a key (a required
  key, or one in every branch of a oneOf/anyOf rule): the server reads a
  missing body as `{}`, which such a schema refuses;
- anonymous reading (`{}` in the security of reads while
  ROOFWATCH_ANONYMOUS_READ is on: core.access);
- no NUL in any free text query value (refused by core.middleware) or
  request body string (refused by DRF's CharField and the report validators).
"""
from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import SAFE_METHODS

from core.access import ReadOrSignedInUserWrites, anonymous_read

MAX_ID = 2**63 - 1  # the largest primary key of a BigAutoField
NO_NUL = "^[^\\x00]*$"
ERROR = {"$ref": "#/components/schemas/ApiError"}
COMMON_ERRORS = {
    "400": "Invalid input: a malformed query value or body; `errors` names each field or parameter.",
    "401": "An Authorization header that is not a valid 'Token <token>' (an unknown scheme, a bad token).",
    "403": "This caller may not do this (or reading is not anonymous here).",
}
READS = {"get", "head"}
SESSION_SCHEME = "cookieAuth"  # drf-spectacular's name for DRF's SessionAuthentication


def id_parameter(name: str, description: str, location: str = OpenApiParameter.QUERY) -> OpenApiParameter:
    """An object id in the query or path: a whole number from 1 to MAX_ID."""
    schema = {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}
    return OpenApiParameter(name, schema, location, description=description)


def complete_operations(result: dict, generator, request, public) -> dict:
    """The drf-spectacular postprocessing hook (see the module docstring)."""
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            _add_errors(path, operation)
            body = operation.get("requestBody")
            if body and any(_needs_a_key(media.get("schema", {}), result) for media in body["content"].values()):
                body["required"] = True
            if method in READS and anonymous_read() and {} not in operation.get("security", [{}]):
                operation["security"].append({})
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    _refuse_nul(parameter.get("schema", {}))
            for media in (body or {}).get("content", {}).values():
                _refuse_nul_within(media.get("schema", {}), result, set())
    return result


def _refuse_nul(schema: dict) -> None:
    """Free text (a string with no enum, pattern or format) states that it takes no NUL."""
    if schema.get("type") == "string" and not {"enum", "pattern", "format"} & set(schema):
        schema["pattern"] = NO_NUL


def _refuse_nul_within(schema, result: dict, seen: set[str]) -> None:
    """_refuse_nul on every schema within `schema`, following $refs (each component once)."""
    if isinstance(schema, list):
        for part in schema:
            _refuse_nul_within(part, result, seen)
        return
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        name, component = _component(schema, result)
        if name not in seen:
            seen.add(name)
            _refuse_nul_within(component, result, seen)
        return
    _refuse_nul(schema)
    for value in schema.values():
        _refuse_nul_within(value, result, seen)


def _needs_a_key(schema: dict, result: dict) -> bool:
    """Whether `schema` refuses an empty object: it names a required key, or
    every branch of one of its oneOf/anyOf rules does."""
    if "$ref" in schema:
        _, schema = _component(schema, result)
    if schema.get("required") or any(_needs_a_key(part, result) for part in schema.get("allOf", [])):
        return True
    return any(branches and all(_needs_a_key(branch, result) for branch in branches)
               for branches in (schema.get("oneOf"), schema.get("anyOf")))


def _component(reference: dict, result: dict) -> tuple[str, dict]:
    """The name and schema of the component `reference` ({"$ref": ...}) names."""
    name = reference["$ref"].rsplit("/", 1)[1]
    return name, result["components"]["schemas"][name]


def _add_errors(path: str, operation: dict) -> None:
    responses = operation["responses"]
    errors = dict(COMMON_ERRORS)
    if "{" in path or "requestBody" in operation:
        errors["404"] = "No such object: the path or a body value names none."
    if "requestBody" in operation:
        errors["413"] = "The request body is over the size limit."
    if any("agentToken" in scheme for scheme in operation.get("security", [])):
        errors["429"] = "Too many failed token checks from this address; wait and retry."
    for status, description in errors.items():
        responses.setdefault(status, {"content": {"application/json": {"schema": ERROR}},
                                      "description": description})


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema (settings DEFAULT_SCHEMA_CLASS) where a write
    that only a signed-in person may make (triage: ReadOrSignedInUserWrites)
    declares the session alone, not the agent token that is refused there."""

    def get_auth(self) -> list[dict]:
        auths = super().get_auth()
        if self.method not in SAFE_METHODS and any(
                isinstance(permission, ReadOrSignedInUserWrites) for permission in self.view.get_permissions()):
            return [auth for auth in auths if SESSION_SCHEME in auth]
        return auths
