"""Compiled helper for Int8OutlierLinear (numba), used when numba is importable.

`sparse_addmm(y, x, values, indices, indptr)`: y (M, N) += x (M, K) @ W, W a
(K, N) CSR matrix (the few weights beyond the int8 clip). Row by row of x,
one flat loop over the outliers (each one's weight row id spelled out once
per call): y[m, col] += x[m, k] * w; x's row and y's row stay in cache, so
it is M * nnz multiply-adds and no copy, each y element's terms added in CSR
order. The flat loop measured 3-3.6x the speed of one loop per weight row
with outliers (most hold one or two: the short inner loops cost more than
their work; 1024 x 1024, 0.1% outliers, batch 256: 0.27 ms against 0.97).
scipy's dense @ CSR (the fallback) first transposes x into a full copy:
at the MLP shapes of benchmarks/quant_dense.py (batch 256, ~0.1% outliers)
it took ~1.3 ms, numpy column gathers and scatters longer still.
Compiled on first use and cached on disk (cache=True), as
engine/ops/embedding_kernels.py.
"""
from __future__ import annotations

import numpy as np

try:
    import numba
except ImportError:  # Int8OutlierLinear then uses scipy
    numba = None

AVAILABLE = numba is not None

if AVAILABLE:
    @numba.njit(nogil=True, cache=True)
    def _sparse_addmm(y, x, values, indices, indptr):  # pragma: no cover - compiled
        rows = np.empty(values.size, np.int64)  # each outlier's weight row
        for k in range(indptr.size - 1):
            for j in range(indptr[k], indptr[k + 1]):
                rows[j] = k
        for m in range(x.shape[0]):
            for j in range(values.size):
                y[m, indices[j]] += x[m, rows[j]] * values[j]


def sparse_addmm(y: np.ndarray, x: np.ndarray, values: np.ndarray, indices: np.ndarray,
                 indptr: np.ndarray) -> None:
    """y += x @ W_outlier in place; y (M, N) and x (M, K) float32 and C-contiguous."""
    if values.size == 0:
        return
    if AVAILABLE:
        _sparse_addmm(y, np.ascontiguousarray(x), values, indices, indptr)
        return
    import scipy.sparse
    k, n = indptr.size - 1, y.shape[1]
    y += np.asarray(x @ scipy.sparse.csr_array((values, indices, indptr), shape=(k, n)), dtype=np.float32)
