"""The request bodies of the ingest API in /api/schema/, generated from the
msgspec Structs that decode them (results.report_schema), so the schema and
the validation cannot disagree.

msgspec writes JSON Schema 2020-12; drf-spectacular serves OpenAPI 3.0, so
`openapi30` rewrites what 3.0 says otherwise: null as `nullable`, exclusive
bounds as booleans, no `propertyNames` or empty `required`.
"""
from __future__ import annotations

import copy
import inspect
from functools import cache
from typing import Any

import msgspec
from core.openapi import ApiAutoSchema
from drf_spectacular.plumbing import ResolvedComponent

REF = "#/components/schemas/{name}"
INT32_MAX = 2**31 - 1


@cache
def struct_components(struct: type[msgspec.Struct]) -> tuple[dict, dict[str, dict]]:
    """(the schema of `struct`, every component it refers to), in OpenAPI 3.0."""
    (schema,), components = msgspec.json.schema_components([struct], ref_template=REF)
    return openapi30(schema), {name: openapi30(component) for name, component in components.items()}


def openapi30(node: Any) -> Any:
    """A JSON Schema 2020-12 node (as msgspec writes it) in OpenAPI 3.0 terms."""
    if isinstance(node, list):
        return [openapi30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: openapi30(value) for key, value in node.items() if key != "propertyNames"}
    if isinstance(node.get("description"), str):
        node["description"] = inspect.cleandoc(node["description"])  # msgspec keeps docstrings' indents
    if node.get("required") == []:
        del node["required"]  # 3.0: a required list is never empty
    options = node.get("anyOf")
    if options and {"type": "null"} in options:
        rest = [option for option in options if option != {"type": "null"}]
        del node["anyOf"]
        if len(rest) > 1:  # Optional[Union[X, Y]] (a sweep's knob value): anyOf [X, Y], nullable
            node["anyOf"] = rest
            rest = [{}]
        (only,) = rest  # msgspec writes Optional[X] as anyOf [X, null]
        if "$ref" in only:
            node["allOf"] = [only]
        else:
            node.update(only)
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        node["nullable"] = True
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(bound), (int, float)) and not isinstance(node[bound], bool):
            node[plain], node[bound] = node[bound], True
    if "enum" in node and "type" not in node and all(isinstance(v, str) for v in node["enum"] if v is not None):
        node["type"] = "string"
    if node.get("type") == "integer" and node.get("maximum", 0) > INT32_MAX:
        node["format"] = "int64"
    if node.get("type") == "number":
        node.setdefault("format", "double")
    return node


class StructRequestSchema(ApiAutoSchema):
    """drf-spectacular's AutoSchema where `extend_schema(request=...)` may name a
    msgspec Struct: its schema and components go into the document."""

    def _get_request_for_media_type(self, serializer, direction="request"):
        if isinstance(serializer, type) and issubclass(serializer, msgspec.Struct):
            # Copies: the postprocessing hooks edit the document in place (postprocess_schema_enums
            # moves enums into components of that document only), and the cached schema must reach
            # the next request's document as msgspec wrote it, not with $refs to enums it lacks.
            schema, components = copy.deepcopy(struct_components(serializer))
            for name, component in components.items():
                self.registry.register_on_missing(
                    ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=component)
                )
            return schema, True
        return super()._get_request_for_media_type(serializer, direction)
