"""Request bodies that refuse keys they do not declare, and say so in the
OpenAPI schema (`additionalProperties: false`), so a client generated from
it never sends a key the server refuses."""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, NotFound, ValidationError


class SchemaRules:
    """A serializer mixin: `schema_rules`, what its `validate` checks that fields
    cannot say, in JSON Schema (anyOf / oneOf of required keys; a property's
    schema replaced), added to its request schema."""

    schema_rules: dict[str, Any] = {}


class KnownKeysSerializer(SchemaRules, serializers.Serializer):
    """Refuses keys it does not declare, naming them: a misspelt optional key
    would otherwise be dropped without a word."""

    def to_internal_value(self, data: Any) -> dict:
        if not isinstance(data, Mapping):
            raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
        errors: dict[str, Any] = {}
        unknown = {key: [ErrorDetail(f"Unknown field; expected only: {', '.join(self.fields)}.",
                                     code="unknown_field")] for key in data if key not in self.fields}
        try:
            value = super().to_internal_value(data)
        except ValidationError as exc:
            errors = dict(exc.detail)
        except NotFound:
            if not unknown:
                raise
            # a malformed body is a 400 before any id in it is looked up (core.references' 404)
        errors.update(unknown)
        if errors:
            raise ValidationError(errors)
        return value


class SchemaRulesSchema(OpenApiSerializerExtension):
    """drf-spectacular: a request body of a SchemaRules serializer gets its
    rules, and additionalProperties false where it is a KnownKeysSerializer."""

    target_class = SchemaRules
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        if direction == "request":
            if isinstance(self.target, KnownKeysSerializer) or (
                    isinstance(self.target, type) and issubclass(self.target, KnownKeysSerializer)):
                schema["additionalProperties"] = False
            # A partial update of a stored object (PATCH) is checked with the object's values: no rules.
            partial_update = getattr(self.target, "partial", False) and isinstance(self.target, serializers.ModelSerializer)
            # A deep copy: the postprocessing hooks edit the document in place (enums become $refs
            # to components of that document), which must not reach the class's rules.
            rules = {} if partial_update else copy.deepcopy(self.target.schema_rules)
            schema["properties"].update(rules.pop("properties", {}))
            schema.update(rules)
        return schema
