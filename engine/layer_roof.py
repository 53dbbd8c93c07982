"""Which roofs judge a layer: those of the threads its kernel really runs on,
with the bandwidth roof its memory traffic can reach.

A numpy elementwise kernel runs on one thread whatever the engine's thread
limit, so at 2 threads it is judged against the 1-thread roofs; a BLAS or
split kernel against the limit's (Op.threads). A lookup's random rows
(Op.gathered) cannot stream: that traffic is judged against the gather roof
at its row size, the rest of its bytes (ids, offsets, output) against the
stream roof, and the layer's bandwidth roof is the rate of both together:
bytes / (gathered / gather GB/s + the rest / stream GB/s). Without a
measured gather roof (fake or old peaks) the stream roof judges all bytes.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.gather_roof import gather_gbs_at
from engine.machine import Peaks
from engine.ops import Op
from engine.ops.base import Attrs, Shapes
from engine.report import BOUNDS, ROOF_KINDS, Layer


@dataclass(frozen=True)
class LayerRoof:
    threads: int  # the kernel's own thread count
    kind: str  # one of ROOF_KINDS
    gflops: float
    gbs: float

    @property
    def ridge(self) -> float:
        return self.gflops / self.gbs

    def bound(self, ai: float) -> str:
        """'compute' when the intensity reaches this roof's ridge point, else 'bandwidth'."""
        return BOUNDS[0] if ai >= self.ridge else BOUNDS[1]

    def attainable_gflops(self, ai: float) -> float:
        return min(self.gflops, ai * self.gbs)


def fraction_of_roof(layer: Layer) -> float | None:
    """Achieved over attainable at the layer's intensity, on its own roof (a
    layer without FLOPs: GB/s over the bandwidth roof); None without one or
    without known work."""
    if layer.roof_gflops is None or layer.roof_gbs is None or layer.ai is None:  # ai None: work unknown
        return None
    roof = LayerRoof(layer.threads or 1, layer.roof or ROOF_KINDS[0], layer.roof_gflops, layer.roof_gbs)
    attainable = roof.attainable_gflops(layer.ai)
    return layer.gflops / attainable if attainable > 0 else layer.gbs / roof.gbs


def beats_measured_roof(layer: Layer, cache_bytes: int) -> bool:
    """A layer above its roof where the roof must hold: a compute-bound one
    (no cache lifts the GEMM peak), or a bandwidth-bound one moving more than
    twice the last-level cache (it cannot be served from cache). Either means
    the peaks were measured low: re-measure. A small layer whose data was
    still in cache from the pass before can beat a DRAM roof honestly."""
    fraction = fraction_of_roof(layer)
    if fraction is None or fraction <= 1.0:
        return False
    return layer.bound == BOUNDS[0] or layer.bytes > 2 * cache_bytes


def peaks_for(roofs: Mapping[int, Peaks], threads: int) -> Peaks:
    """The roofs measured at `threads`, else at the fewest measured threads
    above it (a kernel is never judged against fewer threads than it has),
    else at the most measured."""
    if not roofs:
        raise ValueError("no roofs to judge a layer against")
    above = [t for t in roofs if t >= threads]
    return roofs[min(above)] if above else roofs[max(roofs)]


def layer_roof(op: type[Op], input_shapes: Shapes, dtypes: list[str], attrs: Attrs, nbytes: int, limit: int,
               roofs: Mapping[int, Peaks]) -> LayerRoof:
    """The roof that judges a layer of `op` moving `nbytes` at the engine's thread `limit`."""
    return roof_at(op.threads(input_shapes, attrs, limit), op.gathered(input_shapes, dtypes, attrs), nbytes, roofs)


def roof_at(threads: int, rows: list[tuple[int, int]], nbytes: int, roofs: Mapping[int, Peaks]) -> LayerRoof:
    """The roof of a kernel on `threads` threads moving `nbytes`, of which
    `rows` ((row bytes, bytes read), Op.gathered) are read at random; also
    how another runtime's kernels are judged (engine.onnx_io.ort_backend)."""
    peaks = peaks_for(roofs, threads)
    if not rows or not peaks.gather or nbytes <= 0:
        return LayerRoof(threads, ROOF_KINDS[0], peaks.gflops, peaks.gbs)
    seconds = sum(read / gather_gbs_at(peaks.gather, row) for row, read in rows)  # per 1e9 bytes
    rest = max(nbytes - sum(read for _, read in rows), 0)
    return LayerRoof(threads, ROOF_KINDS[1], peaks.gflops, nbytes / (seconds + rest / peaks.gbs))
