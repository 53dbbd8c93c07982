"""Two runs side by side: per-layer deltas, largest absolute time change first.

Runs of the same backend are matched by layer name. Runs of different backends
(our engine and onnxruntime: `config.backend`) name their layers differently,
so they are matched through their `sources`, the original graph's nodes each
layer covers: layers whose source sets intersect, on either side, form one
row (connected components, so a fused engine layer faces every onnxruntime
node that computes part of it, and onnxruntime's reshape-Gemm-reshape cluster
faces the one engine Linear). A side of several layers shows their summed time
and work (`combined`), with no roof verdict of its own.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.report import BACKEND_ENGINE
from results.models import Run

from .layer_table import LayerRow, layer_rows


@dataclass(frozen=True)
class LayerDelta:
    name: str
    op: str
    before: LayerRow | None  # None: the layer exists after only; several layers: their `combined` row
    after: LayerRow | None  # None: before only
    # Matched by sources: every layer of the row on each side, and the original nodes they share.
    before_layers: tuple[LayerRow, ...] = ()
    after_layers: tuple[LayerRow, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def before_ms(self) -> float:
        return self.before.median_ms if self.before else 0.0

    @property
    def after_ms(self) -> float:
        return self.after.median_ms if self.after else 0.0

    @property
    def delta_ms(self) -> float:
        return self.after_ms - self.before_ms

    @property
    def rel_pct(self) -> float | None:
        if self.before is None or self.after is None or self.before_ms <= 0:
            return None
        return (self.after_ms / self.before_ms - 1.0) * 100.0

    @property
    def bound_changed(self) -> bool:
        return bool(self.before and self.after and self.before.bound and self.after.bound
                    and self.before.bound != self.after.bound)


def backend(run: Run) -> str:
    """What ran the model (engine.report.BACKENDS); reports without config.backend are the engine's."""
    return (run.config or {}).get("backend") or BACKEND_ENGINE


def same_model(before: Run, after: Run) -> bool:
    """The same model and params but for the backend (which puts the runs in different benchmarks)."""
    params_b, params_a = ({k: v for k, v in (run.benchmark.params or {}).items() if k != "backend"}
                          for run in (before, after))
    return before.benchmark.model == after.benchmark.model and params_b == params_a


def matched_by_sources(before: Run, after: Run) -> bool:
    return backend(before) != backend(after)


def layer_deltas(before: Run, after: Run) -> list[LayerDelta]:
    """Layers matched by name, or through their sources when the runs' backends
    differ; needs both runs' layers prefetched."""
    rows_b = layer_rows(before.layers.all(), before.peak_gflops, before.peak_gbs)
    rows_a = layer_rows(after.layers.all(), after.peak_gflops, after.peak_gbs)
    deltas = _by_sources(rows_b, rows_a) if matched_by_sources(before, after) else _by_name(rows_b, rows_a)
    deltas.sort(key=lambda d: -abs(d.delta_ms))
    return deltas


def _by_name(rows_b: list[LayerRow], rows_a: list[LayerRow]) -> list[LayerDelta]:
    by_b, by_a = {row.name: row for row in rows_b}, {row.name: row for row in rows_a}
    names = list(by_b) + [name for name in by_a if name not in by_b]
    return [LayerDelta(name, (by_a.get(name) or by_b[name]).op, by_b.get(name), by_a.get(name)) for name in names]


def _by_sources(rows_b: list[LayerRow], rows_a: list[LayerRow]) -> list[LayerDelta]:
    """One delta per group of layers linked by a shared source, in the before
    run's execution order (a layer without sources stands alone)."""
    rows = [("b", row) for row in rows_b] + [("a", row) for row in rows_a]
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with: dict[str, int] = {}
    for i, (_, row) in enumerate(rows):
        for source in row.sources:
            j = first_with.setdefault(source, i)
            parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(rows)):
        groups.setdefault(root(i), []).append(i)
    deltas = []
    for members in groups.values():  # dicts keep insertion order: before's layers first, by index
        side_b = tuple(rows[i][1] for i in members if rows[i][0] == "b")
        side_a = tuple(rows[i][1] for i in members if rows[i][0] == "a")
        shared = _shared_sources(side_b, side_a)
        named = side_a or side_b
        deltas.append(LayerDelta(
            name=" + ".join(row.name for row in named), op=" + ".join(dict.fromkeys(row.op for row in named)),
            before=_one(side_b), after=_one(side_a), before_layers=side_b, after_layers=side_a, sources=shared,
        ))
    return deltas


def _shared_sources(side_b: Sequence[LayerRow], side_a: Sequence[LayerRow]) -> tuple[str, ...]:
    """The original nodes covered on both sides (all of one side's where the other is empty), in order."""
    covered_b = dict.fromkeys(s for row in side_b for s in row.sources)
    covered_a = dict.fromkeys(s for row in side_a for s in row.sources)
    if not side_b or not side_a:
        return tuple(covered_b or covered_a)
    return tuple(s for s in covered_b if s in covered_a)


def _one(side: Sequence[LayerRow]) -> LayerRow | None:
    if not side:
        return None
    return side[0] if len(side) == 1 else combined(side)


def combined(rows: Sequence[LayerRow]) -> LayerRow:
    """Several layers as one row: summed time (quartiles summed too: a bound, not a
    quartile of the sum) and work, GFLOP/s, GB/s and AI from those sums; unknown
    work where any layer's is unknown. No bound or % of roof: the layers' roofs differ."""
    median_ms = sum(row.median_ms for row in rows)
    known = all(row.flops is not None for row in rows)
    flops = sum(row.flops for row in rows) if known else None
    nbytes = sum(row.bytes for row in rows) if known else None
    seconds = median_ms / 1e3
    reasons = [row.work_unknown for row in rows if row.work_unknown]
    return LayerRow(
        index=min(row.index for row in rows), name=" + ".join(row.name for row in rows),
        op=" + ".join(dict.fromkeys(row.op for row in rows)),
        sources=list(dict.fromkeys(s for row in rows for s in row.sources)),
        flops=flops, bytes=nbytes, kernel_bytes=None, median_ms=median_ms,
        p25_ms=sum(row.p25_ms for row in rows), p75_ms=sum(row.p75_ms for row in rows),
        ci_low_ms=None, ci_high_ms=None,
        gflops=flops / seconds / 1e9 if known and seconds > 0 else None,
        gbs=nbytes / seconds / 1e9 if known and seconds > 0 else None,
        ai=flops / nbytes if known and nbytes else None,
        bound=None, threads=None, roof=None, own_roof=False, roof_pct=None,
        share_pct=sum(row.share_pct for row in rows),
        work_unknown=reasons[0] if reasons else None,
    )


def peaks(before: Run, after: Run) -> dict:
    """The roofs the compare chart draws: the after run's, else the before run's."""
    run = after if after.peak_gflops and after.peak_gbs else before
    return {"gflops": run.peak_gflops, "gbs": run.peak_gbs}


def point(row: LayerRow | None) -> dict | None:
    if row is None:
        return None
    # roof_pct uncapped; compare.js shows it capped at 100 (roofline.js roofText), as the table does.
    # Unknown work (ai, gflops, bound null) or a combined side (bound null): no point on the chart.
    return {"ai": row.ai, "gflops": row.gflops, "share_pct": row.share_pct, "bound": row.bound,
            "median_ms": row.median_ms, "roof_pct": row.roof_pct}


def chart_data(deltas: list[LayerDelta]) -> list[dict]:
    """What compare.js draws (/dash-api/compare/): each layer's roofline point before and after."""
    return [
        {"name": d.name, "op": d.op, "before": point(d.before), "after": point(d.after), "delta_ms": d.delta_ms,
         "rel_pct": d.rel_pct,
         **({"before_layers": [row.name for row in d.before_layers], "after_layers": [row.name for row in d.after_layers],
             "sources": list(d.sources)} if d.before_layers or d.after_layers else {})}
        for d in deltas
    ]
