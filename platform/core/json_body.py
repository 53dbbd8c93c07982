"""Reading JSON request bodies: every way a body can fail to be JSON we accept
is a 400 (ParseError) whose message names the problem, never a 500.

- bytes that are not valid in the request's charset (UTF-8 by default),
- malformed JSON, and NaN / Infinity literals (not JSON numbers),
- nesting deeper than MAX_JSON_DEPTH levels: Python's parser recurses, so a
  body of 100,000 "[" would otherwise end in RecursionError, and a few hundred
  levels that it does parse would make every later walk over the value recurse
  as deep.

What a string may hold is the fields' business (a run report refuses NUL, a
job's stderr tail replaces it), see core.text.

`JSONBodyParser` is the API's only parser (settings REST_FRAMEWORK); views
that read a body themselves (the hooks) call `load_json`.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Levels of arrays and objects in one body. A run report needs 4 (layers[i].time),
# free-form params and flags a few more; GitHub's push payloads about 6.
MAX_JSON_DEPTH = 32


def refuse_non_finite(literal: str) -> Any:
    raise ValueError(f"{literal} is not a JSON number (NaN and Infinity are not allowed)")


def load_json(raw: bytes | str, encoding: str = "utf-8",
              parse_constant: Callable[[str], Any] = refuse_non_finite) -> Any:
    """The value of a JSON body, or ParseError naming what is wrong with it."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode(encoding)
        except LookupError:
            raise ParseError(f"Unknown charset {encoding!r}; send JSON as UTF-8.") from None
        except UnicodeDecodeError as exc:
            raise ParseError(f"The body is not valid {encoding}: {exc.reason} at byte {exc.start}.") from None
    try:
        value = json.loads(raw, parse_constant=parse_constant)
    except RecursionError:
        raise ParseError(too_deep_message(raw)) from None
    except ValueError as exc:  # JSONDecodeError, and parse_constant's refusal
        raise ParseError(f"Malformed JSON: {exc}") from None
    if nested_deeper_than(value, MAX_JSON_DEPTH):
        raise ParseError(too_deep_message(raw))
    return value


def too_deep_message(text: str) -> str:
    where = too_deep_path(text, MAX_JSON_DEPTH)
    return (f"JSON nested too deeply at {where or 'the top level'}: "
            f"at most {MAX_JSON_DEPTH} levels of arrays and objects.")


# The tokens of JSON text that move between levels and members: strings, brackets, commas and colons.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]')


def too_deep_path(text: str, limit: int) -> str | None:
    """The path ("benchmark.params.x[0][0]") of the first array or object
    nested more than `limit` levels deep in JSON text, read without recursion
    (the parser recursed too deep for a value to exist); None if none is."""
    path: list[str] = []  # the step to each open level's current member
    key: str | None = None  # the last string of an object, a key once its colon comes
    for token in _TOKENS.finditer(text):
        t = token.group()
        if t in "[{":
            if len(path) == limit:
                return "".join(path).lstrip(".")
            path.append("[0]" if t == "[" else ".")
        elif t in "]}":
            if path:
                path.pop()
        elif t == ",":
            if path and path[-1].startswith("["):
                path[-1] = f"[{int(path[-1][1:-1]) + 1}]"
        elif t == ":":
            if path and key is not None:
                path[-1] = f".{key}"
        else:
            key = t[1:-1]
    return None


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects in `value` nest more than `limit` levels (no recursion)."""
    level = [value]  # the values inside as many arrays and objects as turns of the loop
    for _ in range(limit):
        level = [child for node in level if isinstance(node, (dict, list))
                 for child in (node.values() if isinstance(node, dict) else node)]
        if not level:
            return False
    return any(isinstance(node, (dict, list)) for node in level)


class JSONBodyParser(JSONParser):
    """DRF's JSON parser with load_json's errors. Subclasses bound the size by
    overriding `read` and may keep non-finite literals with `parse_constant`."""

    parse_constant: Callable[[str], Any] = staticmethod(refuse_non_finite)

    def read(self, stream) -> bytes:
        return stream.read() if stream is not None else b""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        return load_json(self.read(stream), encoding, self.parse_constant)
