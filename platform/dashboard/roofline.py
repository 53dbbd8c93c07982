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
MAX_OTHER_ROOF_LINES = 4  # besides the run's stream roof: those judging the most layer time; more is clutter
ROOF_MATCH = 0.005  # roofs within 0.5% are one line (and a gather roof that close to a measured row size's is it)


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


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= ROOF_MATCH * max(abs(a), abs(b))


def _row_size(roofs: list[dict] | None, threads: int | None, gbs: float) -> str | None:
    """The measured gather row size (bytes, as the report's key) whose roof at
    `threads` is `gbs`; None where the layer's roof is none of them (the engine
    interpolates between row sizes and blends in the layer's streamed bytes)."""
    for roof in roofs or []:
        if threads is not None and roof.get("threads") != threads:
            continue
        for size, value in (roof.get("gather_gbs") or {}).items():
            if isinstance(value, (int, float)) and _close(value, gbs):
                return size
    return None


def _gbs_text(gbs: float) -> str:
    """3 significant digits, no trailing zeros: 6.3, 23, 11.5."""
    return f"{gbs:.3g}" if gbs < 1000 else f"{gbs:,.0f}"


def _label(kind: str, threads: int | None, run_threads: int | None, gbs: float, roofs: list[dict] | None) -> str:
    on = f", {threads} thread{'s' if threads != 1 else ''}" if threads is not None and threads != run_threads else ""
    if kind == "gather":
        size = _row_size(roofs, threads, gbs)
        return f"gather{f' {size} B rows' if size else ''}, {_gbs_text(gbs)} GB/s{on}"
    return f"stream, {_gbs_text(gbs)} GB/s{on}"


def roof_lines(
    peak_gflops: float | None, peak_gbs: float | None, roofs: list[dict] | None, threads: int | None,
    layers: Iterable[Any],
) -> list[RoofLine]:
    """The roofs a run's chart draws: the run's stream roof, then the other
    roofs that judge its layers (`layers` have threads, roof, roof_gflops,
    roof_gbs and median), those judging the most layer time first, at most
    MAX_OTHER_ROOF_LINES: a gather roof as its own line, labelled with its row
    size where it is a measured one ("gather 256 B rows, 6.3 GB/s"), and a
    1-thread roof where layers run on one thread. Old runs (no layer roofs)
    get the stream roof only; runs without peaks none."""
    lines: list[RoofLine] = []
    if peak_gflops and peak_gbs:
        lines.append(RoofLine("stream", threads, peak_gflops, peak_gbs, _label("stream", threads, threads, peak_gbs,
                                                                               roofs)))
    others: list[tuple[RoofLine, float]] = []  # with the layer time each judges
    for layer in layers:
        if not (layer.roof_gflops and layer.roof_gbs) or getattr(layer, "work_unknown", None):
            continue  # no roofs of its own, or work unknown (no point on the chart)
        kind = layer.roof or "stream"
        line = RoofLine(kind, layer.threads, layer.roof_gflops, layer.roof_gbs, "")
        if any(_same(line, drawn) for drawn in lines):
            continue  # the run's own stream roof
        for i, (other, seconds) in enumerate(others):
            if _same(line, other):
                others[i] = (other, seconds + layer.median)
                break
        else:
            others.append((line, layer.median))
    others.sort(key=lambda item: -item[1])
    for line, _ in others[:MAX_OTHER_ROOF_LINES]:
        lines.append(RoofLine(line.kind, line.threads, line.gflops, line.gbs,
                              _label(line.kind, line.threads, threads, line.gbs, roofs)))
    return lines


def _same(a: RoofLine, b: RoofLine) -> bool:
    """One line on the chart: the same kind of roof at (nearly) the same GFLOP/s and GB/s."""
    return a.kind == b.kind and _close(a.gflops, b.gflops) and _close(a.gbs, b.gbs)
