"""DRF fields that accept only the JSON type they name.

DRF's stock fields coerce ("12" becomes 12, NaN and 1e999 pass as floats); a run
report is machine-written, so a wrong type is a bug upstream and is rejected.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinLengthValidator,
    MinValueValidator,
    ProhibitNullCharactersValidator,
)
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from core.json_body import MAX_JSON_DEPTH, nested_deeper_than
from core.text import unstorable

BIGINT_MAX = 2**63 - 1  # models.BigIntegerField
POSITIVE_INT_MAX = 2**31 - 1  # models.PositiveIntegerField on PostgreSQL


class NonFiniteLiteral:
    """What the report parser puts where the body held NaN, Infinity or -Infinity,
    so the field that holds it can be named in the error instead of failing the parse."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal

    def __repr__(self) -> str:
        return self.literal


def json_type_name(value: Any) -> str:
    """The JSON name of a parsed value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, NonFiniteLiteral)):
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
        if isinstance(data, NonFiniteLiteral):
            self.fail("not_finite", literal=data.literal)
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


class StrictURLField(_StringOnly, serializers.URLField):
    default_error_messages = {"invalid_type": "Expected a string, got {type}."}


class StrictDateTimeField(_StringOnly, serializers.DateTimeField):
    default_error_messages = {"invalid_type": "Expected an ISO 8601 datetime string, got {type}."}


class StrictUUIDField(_StringOnly, serializers.UUIDField):
    default_error_messages = {"invalid_type": "Expected a UUID string, got {type}."}


class StrictChoiceField(serializers.ChoiceField):
    default_error_messages = {"invalid_choice": "{input!r} is not one of {expected}."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str) or data not in self.choice_strings_to_values:
            expected = ", ".join(repr(c) for c in self.choice_strings_to_values)
            self.fail("invalid_choice", input=data, expected=expected)
        return self.choice_strings_to_values[data]


@extend_schema_field(OpenApiTypes.OBJECT)
class JSONObjectField(serializers.Field):
    """A JSON object of free-form values (benchmark params, feature flags),
    stored as jsonb: every number finite, no key or string with text
    PostgreSQL cannot store (core.text), nested at most MAX_JSON_DEPTH deep."""

    default_error_messages = {
        "not_object": "Expected a JSON object, got {type}.",
        "not_finite": "Expected finite numbers only, got {literal} at {where}.",
        "unstorable": "Must not contain {what}; found at {where}.",
        "too_deep": "Nested more than {depth} levels deep.",
    }

    def to_internal_value(self, data: Any) -> dict:
        if not isinstance(data, Mapping):
            self.fail("not_object", type=json_type_name(data))
        if nested_deeper_than(data, MAX_JSON_DEPTH):
            self.fail("too_deep", depth=MAX_JSON_DEPTH)
        self._check_values(data, self.field_name or "value")
        return dict(data)

    def to_representation(self, value: Any) -> Any:
        return value

    def _check_values(self, data: Mapping, where: str) -> None:
        pending: list[tuple[Any, str]] = [(data, where)]
        while pending:
            node, where = pending.pop()
            if isinstance(node, NonFiniteLiteral):
                self.fail("not_finite", literal=node.literal, where=where)
            if isinstance(node, float) and not math.isfinite(node):
                self.fail("not_finite", literal=repr(node), where=where)
            if isinstance(node, str) and (what := unstorable(node)):
                self.fail("unstorable", what=what, where=where)
            if isinstance(node, Mapping):
                for key in node:
                    if what := unstorable(key):
                        self.fail("unstorable", what=what, where=f"a key of {where}: {key!r}")
                children = [(value, f"{where}.{key}") for key, value in node.items()]
            elif isinstance(node, (list, tuple)):
                children = [(value, f"{where}[{i}]") for i, value in enumerate(node)]
            else:
                continue
            pending.extend(reversed(children))  # popped in document order


# --- quick checks ---------------------------------------------------------------------------------------------
# DRF validates a 100-layer report in ~15 ms, most of it in per-field machinery.
# A quick check is a plain function per field that returns exactly what the
# field's run_validation would return for values it can vouch for, and raises
# NotVouched for anything else, so DRF's own validation runs and words the error.
# It may refuse more than DRF (that only costs time), never accept more.

QuickCheck = Callable[[Any], Any]
# The validators DRF attaches to the fields below; a field carrying any other
# validator gets the generic check (its own run_validation).
QUICK_VALIDATORS = {
    StrictCharField: {MaxLengthValidator, MinLengthValidator, ProhibitNullCharactersValidator,
                      ProhibitSurrogateCharactersValidator},
    StrictIntegerField: {MinValueValidator, MaxValueValidator},
    StrictFloatField: {MinValueValidator, MaxValueValidator},
    StrictChoiceField: set(),
}


class NotVouched(Exception):
    """A quick check cannot vouch for a value: run the full validation."""


def quick_field_check(field: serializers.Field) -> QuickCheck:
    """The quick check of a bound leaf field: built-in for the strict fields
    above, the field's own run_validation for any other."""
    known = QUICK_VALIDATORS.get(type(field))
    if known is None or not {type(v) for v in field.validators} <= known:
        check = _generic_check(field)
    elif isinstance(field, StrictCharField):
        check = _char_check(field)
    elif isinstance(field, StrictIntegerField):
        check = _range_check(field, lambda data: data if type(data) is int else _not_vouched())
    elif isinstance(field, StrictFloatField):
        check = _range_check(field, _finite_float)
    else:
        choices = dict(field.choice_strings_to_values)

        def check(data: Any) -> Any:
            if type(data) is not str or data not in choices:
                raise NotVouched
            return choices[data]
    return allowing_null(field, check)


def allowing_null(field: serializers.Field, check: QuickCheck) -> QuickCheck:
    """None as DRF's validate_empty_values treats it: the value when allow_null, refused otherwise."""
    if not field.allow_null:
        return check
    return lambda data: None if data is None else check(data)


def _not_vouched() -> Any:
    raise NotVouched


def _generic_check(field: serializers.Field) -> QuickCheck:
    def check(data: Any) -> Any:
        try:
            return field.run_validation(data)
        except (serializers.ValidationError, DjangoValidationError, SkipField):
            raise NotVouched from None
    return check


def _char_check(field: StrictCharField) -> QuickCheck:
    allow_blank, longest, shortest = field.allow_blank, field.max_length, field.min_length
    if field.trim_whitespace:
        return _generic_check(field)

    def check(data: Any) -> str:
        if type(data) is not str:
            raise NotVouched
        if not data:
            if allow_blank:
                return ""
            raise NotVouched
        if (longest is not None and len(data) > longest) or (shortest is not None and len(data) < shortest):
            raise NotVouched
        if "\x00" in data:
            raise NotVouched
        if not data.isascii():
            try:
                data.encode()  # fails on exactly the surrogate code points DRF refuses
            except UnicodeEncodeError:
                raise NotVouched from None
        return data
    return check


def _finite_float(data: Any) -> float:
    kind = type(data)
    if kind is int:
        try:
            data = float(data)
        except OverflowError:
            raise NotVouched from None
    elif kind is not float:
        raise NotVouched
    if not math.isfinite(data):
        raise NotVouched
    return data


def _range_check(field: serializers.Field, convert: QuickCheck) -> QuickCheck:
    low, high = field.min_value, field.max_value

    def check(data: Any) -> Any:
        value = convert(data)
        if (low is not None and value < low) or (high is not None and value > high):
            raise NotVouched
        return value
    return check


class StorableSlugRelatedField(serializers.SlugRelatedField):
    """A lookup by name: a string PostgreSQL can compare (no NUL, no lone
    surrogates), else a 400 naming why instead of a database error."""

    default_error_messages = {"not_a_string": "Expected a string, got {type}."}

    def to_internal_value(self, data: Any):
        if not isinstance(data, str):
            self.fail("not_a_string", type=json_type_name(data))
        if what := unstorable(data):
            raise serializers.ValidationError(f"Must not contain {what}.")
        return super().to_internal_value(data)
