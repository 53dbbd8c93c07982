"""Query-string values of the API, read strictly: a value that is present
but malformed (`limit=true`, `offset=null`, `offset=1.5e-38`, an empty
`benchmark=`) is a 400 naming the parameter, never ignored; a parameter
given twice is refused before any view runs (core.middleware)."""
from __future__ import annotations

import re
from collections.abc import Mapping

from rest_framework.exceptions import ValidationError

WHOLE_NUMBER = re.compile(r"-?[0-9]+")  # ASCII digits only: int() would take " 7", "1_000" and "٣"


def parse_int(name: str, value: str, minimum: int, maximum: int | None = None) -> int:
    """The whole number in query parameter `name`, within [minimum, maximum]."""
    try:
        number = int(value) if WHOLE_NUMBER.fullmatch(value) else None
    except ValueError:  # more digits than Python converts (4,300)
        number = None
    if number is None or number < minimum or (maximum is not None and number > maximum):
        bounds = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
        raise ValidationError({name: [f"Expected a whole number {bounds}; got {value!r}."]})
    return number


def optional_int(params: Mapping[str, str], name: str, minimum: int, maximum: int | None = None) -> int | None:
    """parse_int of ?name= when it is there (empty included), else None."""
    return parse_int(name, params[name], minimum, maximum) if name in params else None
