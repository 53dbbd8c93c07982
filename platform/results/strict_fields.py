"""DRF fields that accept only the JSON type they name, for API bodies other
than run reports (those are msgspec Structs: results.report_schema).

DRF's stock fields coerce ("12" becomes 12, NaN and 1e999 pass as floats); a
wrong type is a bug in the caller and is rejected.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from core.references import MissingIsNotFound
from core.text import unstorable

BIGINT_MAX = 2**63 - 1  # models.BigIntegerField
POSITIVE_INT_MAX = 2**31 - 1  # models.PositiveIntegerField on PostgreSQL


def json_type_name(value: Any) -> str:
    """The JSON name of a parsed value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


class StrictFloatField(serializers.FloatField):
    default_error_messages = {
        "invalid": "Expected a number, got {type}.",
        "not_finite": "Expected a finite number, got {literal}: NaN and Infinity are not allowed.",
    }

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("invalid", type=json_type_name(data))
        try:
            value = float(data)
        except OverflowError:
            self.fail("not_finite", literal="a number too large for a float")
        if not math.isfinite(value):
            self.fail("not_finite", literal=repr(value))
        return value


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "Expected an integer, got {type}."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            kind = json_type_name(data)
            self.fail("invalid", type=f"{kind} {data!r}" if kind == "number" else kind)
        return data


class _StringOnly:
    """Refuses any input but a JSON string before the field's own parsing (DRF's
    CharField would stringify a number, its UUIDField read an integer)."""

    type_error = "invalid_type"  # the key of the field's "Expected ..., got {type}." message

    def to_internal_value(self, data: Any):
        if not isinstance(data, str):
            self.fail(self.type_error, type=json_type_name(data))
        return super().to_internal_value(data)


class StrictCharField(_StringOnly, serializers.CharField):
    type_error = "invalid"
    default_error_messages = {"invalid": "Expected a string, got {type}."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)


class StrictChoiceField(serializers.ChoiceField):
    default_error_messages = {"invalid_choice": "{input!r} is not one of {expected}."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or data not in self.choice_strings_to_values:
            expected = ", ".join(repr(c) for c in self.choice_strings_to_values)
            self.fail("invalid_choice", input=data, expected=expected)
        return self.choice_strings_to_values[data]


class StorableSlugRelatedField(MissingIsNotFound, serializers.SlugRelatedField):
    """A lookup by name: a string PostgreSQL can compare (no NUL, no lone
    surrogates), else a 400 naming why instead of a database error; a name
    that names nothing is a 404 (core.references)."""

    default_error_messages = {"not_a_string": "Expected a string, got {type}."}

    def to_internal_value(self, data: Any):
        if not isinstance(data, str):
            self.fail("not_a_string", type=json_type_name(data))
        if what := unstorable(data):
            raise serializers.ValidationError(f"Must not contain {what}.")
        return super().to_internal_value(data)
