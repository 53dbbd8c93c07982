"""MatMul with numpy (= ONNX) semantics: 1-D operands are promoted and the
promoted axis dropped again, leading (batch) axes broadcast.

How the products reach BLAS: numpy's matmul runs one sgemm per leading
index, so an N-D left operand times a 2-D right one (a transformer's
projections, (B, S, E) @ (E, E)) runs as one 2-D GEMM over all its rows
instead (`matmul`): one packing of the right operand, one BLAS call
that can use every thread; 1.1-1.2x at (64, 64, 512) @ (512, 512) on one
thread, and far more on two, where 64 small calls each wake BLAS's
threads."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.ops.base import Attrs, Names, Op, Shape, ShapeError, Shapes, fmt_shape, numel


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


# Multiply-adds (M * K * N) at or below which OpenBLAS runs a product on the
# calling thread whatever its thread count (interface/gemm.c: SMP_THRESHOLD_MIN
# 65536 * GEMM_MULTITHREAD_THRESHOLD 4), so products this small can run side by
# side on the engine's own threads.
SMALL_GEMM = 1 << 18


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.matmul(a, b), where a C-contiguous a of rank > 2 times a 2-D b
    runs as one 2-D GEMM over all of a's leading axes."""
    if a.ndim <= 2 or b.ndim != 2 or not a.flags.c_contiguous:
        return np.matmul(a, b)
    return np.matmul(a.reshape(-1, a.shape[-1]), b).reshape(*a.shape[:-1], b.shape[1])


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
        return (matmul(inputs[0], inputs[1]),)

    @classmethod
    def flops(cls, input_shapes: Sequence[Shape], attrs: Mapping[str, Any]) -> int:
        batch, m, k, n, _ = _dims(tuple(input_shapes[0]), tuple(input_shapes[1]), None)
        return 2 * numel(batch) * m * k * n
