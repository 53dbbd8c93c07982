"""MatMul with numpy (= ONNX) semantics: 1-D operands are promoted and the
promoted axis dropped again, leading (batch) axes broadcast.

How the products reach BLAS: numpy's matmul runs one sgemm per leading
index, so an N-D left operand times a 2-D right one (a transformer's
projections, (B, S, E) @ (E, E)) runs as one 2-D GEMM over all its rows
instead (`matmul`): one packing of the right operand, one BLAS call
that can use every thread; 1.1-1.2x at (64, 64, 512) @ (512, 512) on one
thread, and far more on two, where 64 small calls each wake BLAS's
threads. A batch of small products (a transformer's per-head scores and
weighted sums, (B, H, S, D) @ (B, H, D, S)) is one sgemm per matrix that
BLAS runs on the calling thread whatever its limit (SMALL_GEMM), so the
batch is cut by its first axis over the engine's threads (`batch_parts`),
each run an np.matmul, which releases the GIL."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.ops.base import Attrs, Names, Op, Shape, ShapeError, Shapes, fmt_shape, numel
from engine.ops.parallel import run_parts, split_threads, threads_allowed


def _dims(a: Shape, b: Shape, names: Sequence[str] | None) -> tuple[Shape, int, int, int, Shape]:
    """(batch shape, M, K, N, output shape) of a @ b."""
    label = MatMul.label
    if not a or not b:
        which = 0 if not a else 1
        raise ShapeError(f"{label(which, names)} is a scalar; MatMul needs at least 1-D operands")
    a2 = (1,) + tuple(a) if len(a) == 1 else tuple(a)
    b2 = tuple(b) + (1,) if len(b) == 1 else tuple(b)
    m, k = a2[-2:]
    k2, n = b2[-2:]
    if k != k2:
        raise ShapeError(
            f"{label(0, names)} has shape {fmt_shape(a)} and {label(1, names)} has shape {fmt_shape(b)}; "
            f"the contracted dimensions {k} and {k2} differ"
        )
    try:
        batch = tuple(np.broadcast_shapes(a2[:-2], b2[:-2]))
    except ValueError:
        raise ShapeError(
            f"{label(0, names)} has shape {fmt_shape(a)} and {label(1, names)} has shape {fmt_shape(b)}; "
            f"their batch dimensions {fmt_shape(a2[:-2])} and {fmt_shape(b2[:-2])} do not broadcast"
        ) from None
    out = batch + ((m,) if len(a) > 1 else ()) + ((n,) if len(b) > 1 else ())
    return batch, m, k, n, out


# Multiply-adds (M * K * N) below which OpenBLAS runs a product on the calling
# thread whatever its thread limit, so such products can run side by side on
# the engine's own threads. Measured on numpy 2.4's OpenBLAS 0.3.31 at a limit
# of 2 (per-thread CPU ticks): 127 x 64 x 64 runs on one thread, 128 x 64 x 64
# on two.
SMALL_GEMM = 1 << 19


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.matmul(a, b), where a C-contiguous a of rank > 2 times a 2-D b
    runs as one 2-D GEMM over all of a's leading axes."""
    if a.ndim <= 2 or b.ndim != 2 or not a.flags.c_contiguous:
        return np.matmul(a, b)
    return np.matmul(a.reshape(-1, a.shape[-1]), b).reshape(*a.shape[:-1], b.shape[1])


def batch_parts(a: Shape, b: Shape, limit: int) -> int:
    """Threads a batch of small products (both operands of the same rank > 2,
    the same batch axes, each product under SMALL_GEMM) is split over, by
    its first axis, under the thread `limit`; 1 for every other product."""
    if len(a) < 3 or len(a) != len(b) or tuple(a[:-2]) != tuple(b[:-2]) or a[-1] != b[-2]:
        return 1
    m, k, n = a[-2], a[-1], b[-1]
    return 1 if m * k * n >= SMALL_GEMM else split_threads(numel(a[:-2]) * m * n, limit, a[0])


def _split_batch(a: np.ndarray, b: np.ndarray, parts: int) -> np.ndarray:
    """a @ b with the first axis cut into `parts` runs, each an np.matmul on its own thread."""
    out = np.empty((*a.shape[:-1], b.shape[-1]), dtype=np.result_type(a, b))
    run_parts(lambda lo, hi: np.matmul(a[lo:hi], b[lo:hi], out=out[lo:hi]), a.shape[0], parts)
    return out


class MatMul(Op):
    """y = a @ b. FLOPs: 2 per multiply-add, 2 * batch * M * K * N. Bytes: the
    default, each operand read once (a broadcast right operand counts once)
    and the output written once."""

    op_type = "MatMul"
    multithreaded = True  # BLAS
    input_roles = ("a", "b")
    min_inputs = 2

    @classmethod
    def infer_shape(cls, input_shapes: Shapes, attrs: Attrs, names: Names = None) -> tuple[Shape, ...]:
        return (_dims(tuple(input_shapes[0]), tuple(input_shapes[1]), names)[4],)

    @classmethod
    def run(cls, inputs: Sequence[np.ndarray], attrs: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
        a, b = inputs[0], inputs[1]
        parts = batch_parts(a.shape, b.shape, threads_allowed()) if a.ndim > 2 and b.ndim > 2 else 1
        return (matmul(a, b) if parts == 1 else _split_batch(a, b, parts),)

    @classmethod
    def threads(cls, input_shapes: Shapes, attrs: Attrs, limit: int) -> int:
        """A batch of small products split over the engine's threads: that
        many; other products under SMALL_GEMM: one (BLAS keeps them on the
        calling thread); the rest: BLAS's `limit`."""
        a, b = tuple(input_shapes[0]), tuple(input_shapes[1])
        parts = batch_parts(a, b, limit)
        if parts > 1:
            return parts
        _, m, k, n, _ = _dims(a, b, None)
        return 1 if m * k * n < SMALL_GEMM else limit

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        batch, m, k, n, _ = _dims(tuple(input_shapes[0]), tuple(input_shapes[1]), None)
        return 2 * numel(batch) * m * k * n
