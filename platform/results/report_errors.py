"""Why a body msgspec refused is wrong, in the API's words: every problem at
once, by field path ("layers[3].time.median": [message]).

msgspec stops at the first problem and cannot name the field of a NaN literal
(to it, that is malformed JSON). So a refused body is read again, on this slow
path only: the API's JSON parser first (core.json_body: malformed JSON, bad
UTF-8 and deep nesting are a 400 naming why, before any field), then each
value is checked against its field of the Structs (results.report_schema),
leaves by msgspec itself so the rules cannot drift apart.
"""
from __future__ import annotations

import re
import typing
from typing import Any

import msgspec

from core.json_body import load_json
from core.text import unstorable
from results.report_schema import SCHEMA, Problems, free_form_problem


class NonFinite(str):
    """What the parser puts where the body held NaN, Infinity or -Infinity, so
    the field that holds it can be named."""

    non_finite = True


def parse_leniently(raw: bytes) -> Any:
    """The body as Python values, NaN/Infinity literals kept as NonFinite;
    ParseError when it is no JSON at all."""
    return load_json(raw, parse_constant=NonFinite)


def json_type_name(value: Any) -> str:
    """The JSON name of a parsed value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, NonFinite)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    return "array" if isinstance(value, list) else type(value).__name__


def report_errors(value: Any, struct: type[msgspec.Struct]) -> Problems:
    """Every problem of a parsed report (or batch envelope) against `struct`.
    A report of another schema version gets only that said: field errors
    against the wrong schema are noise."""
    if struct.__name__ == "Report" and isinstance(value, dict) and value.get("schema") != SCHEMA:
        got = value.get("schema")
        if got is None:
            return {"schema": [f"This field is required: this server accepts {SCHEMA!r} reports."]}
        return {"schema": [f"Unsupported report schema {got!r}: this server accepts {SCHEMA!r} only."]}
    problems: Problems = {}
    _check(value, struct, "", problems)
    return problems


def _add(problems: Problems, path: str, message: str) -> None:
    problems.setdefault(path or "non_field_errors", []).append(message)


def _check(value: Any, annotation: Any, path: str, problems: Problems) -> None:
    """Problems of `value` against a field's type: Structs and lists of them
    field by field, any other type by msgspec.convert."""
    inner, nullable = _unwrap(annotation)
    if value is None and nullable:
        return
    item = typing.get_args(inner)[0] if typing.get_origin(inner) is list else None
    if isinstance(inner, type) and issubclass(inner, msgspec.Struct):
        _check_struct(value, inner, path, problems)
    elif (item is msgspec.Raw or _is_struct(item)) and isinstance(value, list):
        if message := _length_problem(value, annotation):
            _add(problems, path, message)
        for i, child in enumerate(value if item is not msgspec.Raw else ()):
            _check(child, item, f"{path}[{i}]", problems)
    elif message := _leaf_problem(value, annotation, path):
        _add(problems, path, message)


def _length_problem(value: list, annotation: Any) -> str | None:
    """The length limits a list field declares (msgspec.Meta in Annotated)."""
    for meta in typing.get_args(annotation)[1:] if typing.get_origin(annotation) is typing.Annotated else ():
        if meta.min_length is not None and len(value) < meta.min_length:
            return f"Expected an array of length >= {meta.min_length}, got {len(value)} items."
        if meta.max_length is not None and len(value) > meta.max_length:
            return f"Expected an array of length <= {meta.max_length}, got {len(value)} items."
    return None


def _check_struct(value: Any, struct: type[msgspec.Struct], path: str, problems: Problems) -> None:
    if not isinstance(value, dict):
        _add(problems, path, f"Expected a JSON object, got {json_type_name(value)}.")
        return
    fields = {f.encode_name: f for f in msgspec.structs.fields(struct)}
    prefix = f"{path}." if path else ""
    for key in value:
        if key not in fields:
            _add(problems, f"{prefix}{key}", f"Unknown field; expected only: {', '.join(fields)}.")
    for name, field in fields.items():
        if name in value:
            _check(value[name], field.type, f"{prefix}{name}", problems)
        elif field.required:
            _add(problems, f"{prefix}{name}", "This field is required.")


def _leaf_problem(value: Any, annotation: Any, path: str) -> str | None:
    """msgspec's own verdict on a value that is no Struct, or the API's words
    where it has none (NaN literals, NUL, free-form objects)."""
    if isinstance(value, NonFinite) or (isinstance(value, float) and value - value != 0):
        return f"Expected a finite number, got {value}: NaN and Infinity are not allowed."
    if isinstance(value, str) and (what := unstorable(value)):
        return f"Must not contain {what}."
    for i, item in enumerate(value if isinstance(value, list) else ()):
        if isinstance(item, str) and (what := unstorable(item)):
            return f"Must not contain {what} (at [{i}])."
    inner, _ = _unwrap(annotation)
    if typing.get_origin(inner) is typing.Literal and value not in typing.get_args(inner):
        return f"{value!r} is not one of {', '.join(map(repr, typing.get_args(inner)))}."
    if isinstance(value, dict) and _is_free_form(annotation):
        if message := free_form_problem(value, path.rsplit(".", 1)[-1]):
            return message
    try:
        msgspec.convert(_finite_markers_as_str(value), annotation, strict=True)
    except msgspec.ValidationError as exc:
        return _worded(str(exc), value)
    return None


def _finite_markers_as_str(value: Any) -> Any:
    return str(value) if isinstance(value, NonFinite) else value


# msgspec's type names in its messages, as the API words them.
TYPE_WORDS = {
    "int": "an integer", "float": "a number", "str": "a string", "bool": "a boolean", "object": "a JSON object",
    "array": "an array", "null": "null", "uuid": "a UUID", "datetime": "an RFC 3339 datetime",
}


def _worded(message: str, original: Any) -> str:
    """msgspec's message in the API's words, without its path suffix (the
    field path says where) but with the place inside a list or object kept:
    "Expected an integer >= 0 (at [2])."."""
    text, _, where = message.partition(" - at `$")
    where = where.rstrip("`")
    text = text.replace(" - at `key` in `$`", " (a key)")
    expected, got_sep, _ = text.partition(", got `")
    expected = re.sub(r"`([\w |]+)`", lambda m: " or ".join(
        TYPE_WORDS.get(name, name) for name in m.group(1).split(" | ")), expected)
    if got_sep:
        value = _at(original, where)
        got = json_type_name(value)
        if got == "number" and expected == "Expected an integer":
            got = f"number {value!r}"
        text = f"{expected}, got {got}"
    else:
        text = expected
    return f"{text} (at {where})." if where else f"{text}."


def _at(value: Any, where: str) -> Any:
    """The value at a msgspec relative path such as "[2]" (best effort)."""
    if where.startswith("[") and where.endswith("]") and where[1:-1].isdigit() and isinstance(value, list):
        index = int(where[1:-1])
        return value[index] if index < len(value) else value
    return value


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the type without Annotated, Optional and UnsetType, whether null is allowed)."""
    nullable = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, _UnionType):
            args = [a for a in typing.get_args(annotation) if a not in (type(None), msgspec.UnsetType)]
            nullable |= type(None) in typing.get_args(annotation)
            if len(args) != 1:
                return annotation, nullable
            annotation = args[0]
        else:
            return annotation, nullable


_UnionType = type(int | None)


def _is_struct(annotation: Any) -> bool:
    inner, _ = _unwrap(annotation) if annotation is not None else (None, False)
    return isinstance(inner, type) and issubclass(inner, msgspec.Struct)


def _is_free_form(annotation: Any) -> bool:
    inner, _ = _unwrap(annotation)
    return typing.get_origin(inner) is dict and typing.get_args(inner)[1] is Any
