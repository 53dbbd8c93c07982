"""Roofline arithmetic for display: how close a layer came to its machine's roof.

Presentation only; the engine computes each layer's achieved GFLOP/s, GB/s,
arithmetic intensity and bound, and this module never recomputes those.
"""
from __future__ import annotations


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
    (1.0 = on the roof). None when the machine's peaks were never measured.

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
