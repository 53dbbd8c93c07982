"""Number formatting for dashboard tables: a few significant digits, never
scientific notation, thousands separated."""
from __future__ import annotations

import math

from django import template

register = template.Library()

EMPTY = "—"


def format_sig(value: float | int | None, digits: int = 3) -> str:
    """`digits` significant digits, at least every integer digit:
    1234.5 -> "1,235", 12.345 -> "12.3", 0.012345 -> "0.0123", 0 -> "0"."""
    if value is None:
        return EMPTY
    x = float(value)
    if not math.isfinite(x):
        return EMPTY
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    decimals = max(digits - 1 - magnitude, 0)
    return f"{x:,.{decimals}f}"


@register.filter
def sig(value: float | int | None, digits: int = 3) -> str:
    return format_sig(value, int(digits))


@register.filter
def ms(seconds: float | None) -> str:
    """Seconds as milliseconds, e.g. 0.0123 -> "12.3"."""
    return EMPTY if seconds is None else format_sig(seconds * 1e3)


@register.filter
def short_sha(commit: str) -> str:
    return commit[:10]


@register.filter
def bytes_gib(n: int | None) -> str:
    return EMPTY if not n else f"{format_sig(n / 2**30)} GiB"


@register.filter
def sorted_items(mapping: dict | None) -> list[tuple]:
    """A dict's items by key: JSON columns do not keep key order on PostgreSQL."""
    return sorted((mapping or {}).items(), key=lambda item: str(item[0]))
