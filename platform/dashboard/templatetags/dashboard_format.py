"""Number formatting for dashboard tables: a few significant digits, never
scientific notation, thousands separated."""
from __future__ import annotations

import math

from django import template
from django.utils.html import format_html

from dashboard.roofline import above_roof_title, shown_roof_pct

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


@register.filter
def roof_pct(percent: float | None) -> str:
    """A % of roof as every page shows it: at most 100 (roofline.shown_roof_pct);
    above its roof, capped with a marker whose title says why."""
    if percent is None or percent == "" or not math.isfinite(float(percent)):
        return EMPTY
    shown = format_sig(shown_roof_pct(float(percent)), 2)
    if float(percent) <= shown_roof_pct(float(percent)):
        return f"{shown}%"
    return format_html('<span class="capped" title="{}">{}%<span class="above-roof" aria-label="above its roof">'
                       '▲</span></span>', above_roof_title(float(percent)), shown)


@register.filter
def sorted_row_sizes(gather_gbs: dict | None) -> list[tuple]:
    """Gather GB/s by row size ({"256": 6.3, "64": 1.9}), smallest rows first."""
    return sorted((gather_gbs or {}).items(), key=lambda item: int(item[0]) if str(item[0]).isdigit() else 0)


@register.filter
def signed_pct(percent: float | None) -> str:
    """A change in percent with its sign: 197.9 -> "+198%", -4.25 -> "−4.25%"."""
    if percent is None or not math.isfinite(float(percent)):
        return EMPTY
    sign = "+" if percent > 0 else "−" if percent < 0 else ""
    return f"{sign}{format_sig(abs(percent))}%"


@register.filter
def rel_pct(rel_change: float | None) -> str:
    """A relative change (after/before - 1) as a signed percent."""
    return EMPTY if rel_change is None else signed_pct(rel_change * 100.0)


@register.filter
def seconds_ms(seconds: float | None) -> str:
    """Seconds as "12.3 ms" (or "45.6 µs" under a millisecond)."""
    if seconds is None:
        return EMPTY
    if abs(seconds) < 1e-3:
        return f"{format_sig(seconds * 1e6)} µs"
    return f"{format_sig(seconds * 1e3)} ms"


@register.filter
def si(value: float | int | None) -> str:
    """Counts with an SI prefix: 33554432 -> "33.6 M"."""
    if value is None:
        return EMPTY
    x = float(value)
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= factor:
            return f"{format_sig(x / factor)} {prefix}"
    return format_sig(x)


@register.filter
def get(mapping: dict | None, key):
    return (mapping or {}).get(key)
