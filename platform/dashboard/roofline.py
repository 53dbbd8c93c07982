"""Roofline arithmetic for display: how close a layer came to its roof, and
which roofs a run's chart draws.

Presentation only; the engine computes each layer's achieved GFLOP/s, GB/s,
arithmetic intensity and bound, and this module never recomputes those.

Which roof judges a layer: its own (`roof_gflops`/`roof_gbs`: the threads its
kernel really runs on, and the stream or gather bandwidth roof) when the report
carried them, else the run's peaks (reports from before the engine measured
them). No page shows more than 100% of roof: a layer above its roof is shown
capped (`shown_roof_pct`) with ABOVE_ROOF_TITLE saying why.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ROOF_CAP_PCT = 100.0
ABOVE_ROOF_TITLE = (
    "Measured {pct}% of its roof, shown capped at 100%: more than the roof allows, so its data was most likely "
    "still in cache (bytes count the minimum traffic as if from memory) or the roofs were measured low. "
    "The engine re-measures its peaks when this happens."
)
MAX_ROOF_LINES = 6  # the run's stream roof plus at most five others: more is clutter, not information


def attainable_gflops(ai: float, peak_gflops: float, peak_gbs: float) -> float:
    """The roof at arithmetic intensity `ai` (FLOPs per byte):
    min(peak GFLOP/s, ai * peak GB/s)."""
    if ai < 0:
        raise ValueError(f"ai: expected FLOPs per byte >= 0, got {ai!r}")
    return min(peak_gflops, ai * peak_gbs)


def fraction_of_roof(
    gflops: float, gbs: float, ai: float, peak_gflops: float | None, peak_gbs: float | None
) -> float | None:
    """Achieved GFLOP/s over the attainable GFLOP/s at this layer's intensity
    (1.0 = on the roof; uncapped, see shown_roof_pct). None when the roofs were
    never measured.

    A layer with no FLOPs (a gather, a copy) has ai = 0 and an attainable
    GFLOP/s of 0; there the fraction is taken on the bandwidth roof,
    gbs / peak_gbs, which is the limit of the formula as ai -> 0 on the
    bandwidth slope.
    """
    if not peak_gflops or peak_gflops <= 0 or not peak_gbs or peak_gbs <= 0:
        return None
    roof = attainable_gflops(ai, peak_gflops, peak_gbs)
    if roof <= 0:
        return gbs / peak_gbs
    return gflops / roof


def judging_roofs(
    roof_gflops: float | None, roof_gbs: float | None, peak_gflops: float | None, peak_gbs: float | None
) -> tuple[float | None, float | None]:
    """The (GFLOP/s, GB/s) roofs that judge a layer: its own when it carries both, else the run's peaks."""
    if roof_gflops and roof_gbs:
        return roof_gflops, roof_gbs
    return peak_gflops, peak_gbs


def shown_roof_pct(pct: float | None) -> float | None:
    """A % of roof as pages show it: never above ROOF_CAP_PCT (nor below 0)."""
    return None if pct is None else min(max(pct, 0.0), ROOF_CAP_PCT)


def above_roof_title(pct: float) -> str:
    """Why a layer shown at 100% is marked: its measured % of roof was above it."""
    return ABOVE_ROOF_TITLE.format(pct=f"{pct:.0f}")


@dataclass(frozen=True)
class RoofLine:
    """One roof the run's chart draws: a bandwidth slope up to its ridge, then flat."""

    kind: str  # "stream" | "gather"
    threads: int | None
    gflops: float
    gbs: float
    label: str

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "threads": self.threads, "gflops": self.gflops, "gbs": self.gbs,
                "label": self.label}


def run_threads(config: dict | None, roofs: list[dict] | None, peak_gflops: float | None,
                peak_gbs: float | None) -> int | None:
    """The run's thread count: its config's, else the thread count whose stream roofs are its peaks."""
    threads = (config or {}).get("threads")
    if threads:
        return threads
    for roof in roofs or []:
        if roof.get("gflops") == peak_gflops and roof.get("gbs") == peak_gbs:
            return roof.get("threads")
    return None


def _row_size(roofs: list[dict] | None, threads: int | None, gbs: float) -> str | None:
    """The gather row size (bytes, as the report's key) whose roof at `threads` is `gbs`."""
    for roof in roofs or []:
        if threads is not None and roof.get("threads") != threads:
            continue
        for size, value in (roof.get("gather_gbs") or {}).items():
            if value == gbs:
                return size
    return None


def _gbs_text(gbs: float) -> str:
    """3 significant digits, no trailing zeros: 6.3, 23, 11.5."""
    return f"{gbs:.3g}" if gbs < 1000 else f"{gbs:,.0f}"


def roof_lines(
    peak_gflops: float | None, peak_gbs: float | None, roofs: list[dict] | None, threads: int | None,
    layers: Iterable[Any],
) -> list[RoofLine]:
    """The roofs a run's chart draws: the run's stream roof, then every other
    roof that judges one of its layers (`layers` have threads, roof,
    roof_gflops, roof_gbs): a gather roof as its own line, labelled with its
    row size from the run's per-thread roofs ("gather 256 B rows, 6.3 GB/s"),
    and a 1-thread roof where layers run on one thread. Old runs (no layer
    roofs) get the stream roof only; runs without peaks get none."""
    lines: list[RoofLine] = []
    seen: set[tuple] = set()
    if peak_gflops and peak_gbs:
        lines.append(RoofLine("stream", threads, peak_gflops, peak_gbs, f"stream, {_gbs_text(peak_gbs)} GB/s"))
        seen.add(("stream", peak_gflops, peak_gbs))
    for layer in layers:
        if not (layer.roof_gflops and layer.roof_gbs):
            continue
        kind = layer.roof or "stream"
        key = (kind, layer.roof_gflops, layer.roof_gbs)
        if key in seen or len(lines) >= MAX_ROOF_LINES:
            continue
        seen.add(key)
        other_threads = layer.threads is not None and layer.threads != threads
        on = f", {layer.threads} thread{'s' if layer.threads != 1 else ''}" if other_threads else ""
        if kind == "gather":
            size = _row_size(roofs, layer.threads, layer.roof_gbs)
            rows = f" {size} B rows" if size else ""
            label = f"gather{rows}, {_gbs_text(layer.roof_gbs)} GB/s{on}"
        else:
            label = f"stream, {_gbs_text(layer.roof_gbs)} GB/s{on}"
        lines.append(RoofLine(kind, layer.threads, layer.roof_gflops, layer.roof_gbs, label))
    return lines
