"""Two runs side by side: per-layer deltas, largest absolute time change first."""
from __future__ import annotations

from dataclasses import dataclass

from results.models import Run

from .layer_table import LayerRow, layer_rows


@dataclass(frozen=True)
class LayerDelta:
    name: str
    op: str
    before: LayerRow | None  # None: the layer exists after only
    after: LayerRow | None  # None: before only

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
        return bool(self.before and self.after and self.before.bound != self.after.bound)


def layer_deltas(before: Run, after: Run) -> list[LayerDelta]:
    """Layers matched by name; needs both runs' layers prefetched."""
    rows_b = {row.name: row for row in layer_rows(before.layers.all(), before.peak_gflops, before.peak_gbs)}
    rows_a = {row.name: row for row in layer_rows(after.layers.all(), after.peak_gflops, after.peak_gbs)}
    names = list(rows_b) + [name for name in rows_a if name not in rows_b]
    deltas = [
        LayerDelta(name, (rows_a.get(name) or rows_b[name]).op, rows_b.get(name), rows_a.get(name)) for name in names
    ]
    deltas.sort(key=lambda d: -abs(d.delta_ms))
    return deltas


def peaks(before: Run, after: Run) -> dict:
    """The roofs the compare chart draws: the after run's, else the before run's."""
    run = after if after.peak_gflops and after.peak_gbs else before
    return {"gflops": run.peak_gflops, "gbs": run.peak_gbs}


def point(row: LayerRow | None) -> dict | None:
    if row is None:
        return None
    # roof_pct uncapped; compare.js shows it capped at 100 (roofline.js roofText), as the table does.
    return {"ai": row.ai, "gflops": row.gflops, "share_pct": row.share_pct, "bound": row.bound,
            "median_ms": row.median_ms, "roof_pct": row.roof_pct}


def chart_data(deltas: list[LayerDelta]) -> list[dict]:
    """What compare.js draws (/dash-api/compare/): each layer's roofline point before and after."""
    return [
        {"name": d.name, "op": d.op, "before": point(d.before), "after": point(d.after), "delta_ms": d.delta_ms,
         "rel_pct": d.rel_pct}
        for d in deltas
    ]
