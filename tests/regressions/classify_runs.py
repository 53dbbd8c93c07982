"""Synthetic RunObs for the classification tests: a small model on a machine
with peaks 180 GFLOP/s and 23 GB/s (ridge 7.8 FLOP/B).

    runs(n=3)                                  # the baseline model, 3 runs
    runs(n=3, scale={"fc": 2.0})               # fc takes twice as long
    runs(n=3, counts={"fc": (2 * F, B)})       # fc does twice the FLOPs
"""
from __future__ import annotations

from regressions.classify import LayerObs, RunObs

PEAK_GFLOPS = 180.0
PEAK_GBS = 23.0
# name: (op, flops, bytes, median seconds)
BASE = {
    "fc": ("Linear", 134_217_728, 4_722_688, 1.0e-3),  # AI 28: compute-bound, 75% of roof
    "relu": ("Relu", 65_536, 524_288, 40e-6),  # AI 0.125: memory-bound, 57% of roof
    "emb": ("EmbeddingBag", 1_000_000, 8_000_000, 800e-6),  # AI 0.125: memory-bound, 43% of roof
    "sigmoid": ("Sigmoid", 64, 512, 5e-6),  # tiny: dispatch
}
JITTER = (1.0, 1.006, 0.995, 1.003, 0.998, 1.004)  # run-to-run scatter, well under the 3% floor
FRAMEWORK = 20e-6  # end-to-end time outside the layers


def runs(n: int = 3, *, scale: dict[str, float] | None = None, counts: dict[str, tuple[int, int]] | None = None,
         drop: tuple[str, ...] = (), add: dict[str, tuple[str, int, int, float]] | None = None,
         extra_e2e: float = 0.0, peaks: tuple[float | None, float | None] = (PEAK_GFLOPS, PEAK_GBS),
         iqr: float | None = None) -> list[RunObs]:
    """`n` runs of the model; `iqr` (relative) gives each layer and the end-to-end time within-run quartiles."""
    scale, counts, add = scale or {}, counts or {}, add or {}
    out = []
    for i in range(n):
        j = JITTER[i % len(JITTER)]
        layers = []
        for name, (op, flops, nbytes, median) in {**BASE, **add}.items():
            if name in drop:
                continue
            flops, nbytes = counts.get(name, (flops, nbytes))
            t = median * scale.get(name, 1.0) * j
            q = (t * (1 - iqr / 2), t * (1 + iqr / 2)) if iqr is not None else (None, None)
            layers.append(LayerObs(name, op, flops, nbytes, t, *q))
        e2e = (sum(ly.median for ly in layers) + FRAMEWORK + extra_e2e) * j
        q = (e2e * (1 - iqr / 2), e2e * (1 + iqr / 2)) if iqr is not None else (None, None)
        out.append(RunObs(tuple(layers), e2e, *peaks, *q))
    return out
