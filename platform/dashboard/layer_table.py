"""The per-layer rows of a run page's table (its charts load the run from /api/v1/runs/<id>/)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from results.models import LayerMeasurement

from .roofline import above_roof_title, fraction_of_roof, judging_roofs, shown_roof_pct


@dataclass(frozen=True)
class LayerRow:
    index: int
    name: str
    op: str
    sources: list[str]  # nodes of the original graph this layer covers (fused lineage)
    flops: int | None  # None (with bytes, gflops, gbs, ai, bound): the work is unknown, see work_unknown
    bytes: int | None  # the minimum traffic
    kernel_bytes: int | None  # what the kernel really moves, where more than `bytes`; None otherwise or not known
    median_ms: float
    p25_ms: float
    p75_ms: float
    ci_low_ms: float | None  # 95% confidence interval of the median; None in older reports
    ci_high_ms: float | None
    gflops: float | None
    gbs: float | None
    ai: float | None
    bound: str | None
    threads: int | None  # threads its kernel really runs on; None in older reports
    roof: str | None  # "stream" | "gather": the bandwidth roof that judges it; None in older reports
    own_roof: bool  # judged against its own roofs (else the run's peaks)
    roof_pct: float | None  # achieved / attainable GFLOP/s, in percent, uncapped; None without measured roofs
    share_pct: float  # this layer's share of the summed layer medians, in percent
    work_unknown: str | None = None  # why FLOPs and bytes are not known (an onnxruntime node); None: known

    @property
    def roof_pct_shown(self) -> float | None:
        """% of roof as the page shows it: capped at 100 (see above_roof)."""
        return shown_roof_pct(self.roof_pct)

    @property
    def above_roof(self) -> bool:
        """Measured above its roof: shown capped and marked."""
        return self.roof_pct is not None and self.roof_pct > self.roof_pct_shown

    @property
    def above_roof_title(self) -> str:
        return above_roof_title(self.roof_pct) if self.above_roof else ""

    @property
    def roof_bar_pct(self) -> int:
        """Width of the % of roof meter."""
        return 0 if self.roof_pct is None else round(self.roof_pct_shown)


def layer_rows(
    layers: Iterable[LayerMeasurement], peak_gflops: float | None, peak_gbs: float | None
) -> list[LayerRow]:
    """One row per layer, in execution order; each judged against its own roofs
    when it carries them, else the run's peaks."""
    layers = sorted(layers, key=lambda layer: layer.index)
    total = sum(layer.median for layer in layers)
    rows = []
    for layer in layers:
        roof_gflops, roof_gbs = judging_roofs(layer.roof_gflops, layer.roof_gbs, peak_gflops, peak_gbs)
        fraction = None if layer.work_unknown else fraction_of_roof(layer.gflops, layer.gbs, layer.ai, roof_gflops,
                                                                    roof_gbs)
        rows.append(
            LayerRow(
                index=layer.index,
                name=layer.name,
                op=layer.op,
                sources=list(layer.sources or []),
                flops=layer.flops,
                bytes=layer.bytes,
                kernel_bytes=layer.kernel_bytes,
                median_ms=layer.median * 1e3,
                p25_ms=layer.p25 * 1e3,
                p75_ms=layer.p75 * 1e3,
                ci_low_ms=None if layer.ci_low is None else layer.ci_low * 1e3,
                ci_high_ms=None if layer.ci_high is None else layer.ci_high * 1e3,
                gflops=layer.gflops,
                gbs=layer.gbs,
                ai=layer.ai,
                bound=layer.bound,
                threads=layer.threads,
                roof=layer.roof,
                own_roof=bool(layer.roof_gflops and layer.roof_gbs),
                roof_pct=None if fraction is None else fraction * 100.0,
                share_pct=layer.median / total * 100.0 if total > 0 else 0.0,
                work_unknown=layer.work_unknown,
            )
        )
    return rows


def is_fused(row: LayerRow) -> bool:
    """A layer that covers other nodes than itself (a fusion pass merged them)."""
    return row.sources != [row.name] and bool(row.sources)
