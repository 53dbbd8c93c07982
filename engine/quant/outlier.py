"""Outlier-aware weight decomposition: W = W_main + W_outlier.

A few large weights stretch a per-tensor (or per-channel) int8 range and
waste its resolution on values almost no weight has. Here the clip
threshold t is a high percentile of |W| (default 99.9: about 0.1% of the
entries land beyond it); the entries with |w| > t go, exactly and in fp32,
into a sparse CSR matrix W_outlier, and are zeroed in W_main, which is
quantized to int8 with one scale per output channel from the remaining
range (so each channel still uses its full grid).

Reconstruction: dequant(W_main) + W_outlier equals W within half a step of
the channel's scale everywhere (an outlier entry is exact: its main part is
exactly 0). The kernel is engine.ops.quantized.Int8OutlierLinear.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse

from engine.quant.numeric import amax_per_channel, dequantize, quantize, scale_for

DEFAULT_PERCENTILE = 99.9


@dataclass(frozen=True)
class OutlierSplit:
    weight: np.ndarray          # int8 (K, N): W_main quantized
    scale: np.ndarray           # float32 (N,): W_main's per-channel scale
    values: np.ndarray          # float32 (nnz,): W_outlier's CSR arrays
    indices: np.ndarray         # int32 (nnz,)
    indptr: np.ndarray          # int32 (K + 1,)
    threshold: float

    @property
    def fraction(self) -> float:
        """Share of the weights kept as outliers."""
        return self.values.size / self.weight.size

    def outlier_matrix(self) -> scipy.sparse.csr_array:
        return scipy.sparse.csr_array((self.values, self.indices, self.indptr), shape=self.weight.shape)

    def reconstruct(self) -> np.ndarray:
        """dequant(W_main) + W_outlier as a dense float32 (K, N) array."""
        return dequantize(self.weight, self.scale) + self.outlier_matrix().toarray()


def split_outliers(w: np.ndarray, *, percentile: float = DEFAULT_PERCENTILE) -> OutlierSplit:
    """Split a Linear weight (in_features, out_features) at the `percentile`
    of |w| (0 < percentile <= 100; 100 keeps no outliers)."""
    w = np.asarray(w)
    if w.ndim != 2 or w.size == 0:
        raise ValueError(f"weight must be a non-empty 2-D (in_features, out_features) array, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weight holds NaN or inf; it cannot be quantized")
    if isinstance(percentile, bool) or not isinstance(percentile, (int, float)) or not 0 < percentile <= 100:
        raise ValueError(f"percentile must be a number in (0, 100], got {percentile!r}")
    w = w.astype(np.float32, copy=False)
    threshold = float(np.percentile(np.abs(w), percentile))
    outlier = np.abs(w) > threshold
    main = np.where(outlier, np.float32(0), w)
    scale = scale_for(amax_per_channel(main, axis=1))
    sparse = scipy.sparse.csr_array(np.where(outlier, w, np.float32(0)))
    sparse.sort_indices()
    return OutlierSplit(
        weight=quantize(main, scale),
        scale=scale,
        values=sparse.data.astype(np.float32),
        indices=sparse.indices.astype(np.int32),
        indptr=sparse.indptr.astype(np.int32),
        threshold=threshold,
    )


__all__ = ["DEFAULT_PERCENTILE", "OutlierSplit", "split_outliers"]
