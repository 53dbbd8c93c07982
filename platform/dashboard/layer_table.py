"""The per-layer rows of a run page's table (its charts load the run from /api/v1/runs/<id>/)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from results.models import LayerMeasurement

from .roofline import fraction_of_roof


@dataclass(frozen=True)
class LayerRow:
    index: int
    name: str
    op: str
    sources: list[str]  # nodes of the original graph this layer covers (fused lineage)
    flops: int
    bytes: int
    median_ms: float
    p25_ms: float
    p75_ms: float
    gflops: float
    gbs: float
    ai: float
    bound: str
    roof_pct: float | None  # achieved / attainable GFLOP/s, in percent; None without measured peaks
    share_pct: float  # this layer's share of the summed layer medians, in percent

    @property
    def roof_bar_pct(self) -> int:
        """Width of the % of roof meter: a noisy run can land above the roof."""
        return 0 if self.roof_pct is None else round(min(max(self.roof_pct, 0.0), 100.0))


def layer_rows(
    layers: Iterable[LayerMeasurement], peak_gflops: float | None, peak_gbs: float | None
) -> list[LayerRow]:
    """One row per layer, in execution order."""
    layers = sorted(layers, key=lambda layer: layer.index)
    total = sum(layer.median for layer in layers)
    rows = []
    for layer in layers:
        fraction = fraction_of_roof(layer.gflops, layer.gbs, layer.ai, peak_gflops, peak_gbs)
        rows.append(
            LayerRow(
                index=layer.index,
                name=layer.name,
                op=layer.op,
                sources=list(layer.sources or []),
                flops=layer.flops,
                bytes=layer.bytes,
                median_ms=layer.median * 1e3,
                p25_ms=layer.p25 * 1e3,
                p75_ms=layer.p75 * 1e3,
                gflops=layer.gflops,
                gbs=layer.gbs,
                ai=layer.ai,
                bound=layer.bound,
                roof_pct=None if fraction is None else fraction * 100.0,
                share_pct=layer.median / total * 100.0 if total > 0 else 0.0,
            )
        )
    return rows


def is_fused(row: LayerRow) -> bool:
    """A layer that covers other nodes than itself (a fusion pass merged them)."""
    return row.sources != [row.name] and bool(row.sources)
