"""Activation ranges from calibration data: min-max, percentile and KL
divergence (TensorRT's entropy calibration) over a 2048-bin histogram.

`HistogramCollector` sees the calibration batches one at a time and keeps
the exact running max |x| plus a histogram of |x| (of max(x, 0) for an
unsigned range) over [0, range) with 2048 bins.

Range growth. TensorRT (pytorch-quantization calib/histogram.py) keeps the
first batch's bin width and appends bins when a later batch goes past the
range, so the bin count is unbounded; onnxruntime re-bins by splitting old
counts proportionally, which is inexact. Here the range doubles as often as
needed (range * 2^k >= new max) and the old histogram is re-binned by
summing each run of 2^k adjacent bins into one: old bin edges are new bin
edges, so no count is ever split, and the histogram stays 2048 bins (the
price: after growing, the range may be up to twice the max, so the bins are
up to twice as wide as a tight range's). Like TensorRT's, the first batch
sets the initial range [0, max |x|]. percentile and kl answer with a bin
edge, capped at the max seen: no range needs to be wider than that.

amax methods (`METHODS`):
- minmax: the exact max |x| seen (not histogram-bound).
- percentile: the upper edge of the bin where the cumulative count reaches
  `percentile` % (default 99.99), so at least that share of values fits.
- kl: TensorRT's entropy algorithm. Bin 0 takes bin 1's count (TensorRT:
  zeros, e.g. after a ReLU, would otherwise dominate); for every candidate
  i in 128..2048, P = bins[:i] with the outlier mass bins[i:] added to its
  last bin; Q = bins[:i] merged into `target` groups (np.linspace edges, as
  TensorRT) with each group's mass spread evenly over its non-zero bins; the
  candidate with the least KL(P || Q) wins (the largest i among ties), and
  amax = bin_edges[i]. `target` is the number of levels the quantized grid
  has on [0, amax]: 128 for signed int8 (|x| in 0..127, the sign doubling
  them), 256 for unsigned uint8 (0..255 all on the non-negative side) —
  TensorRT's 1 << (bits - 1 + unsigned). Q models what that grid can tell
  apart, so with twice the levels an unsigned range is judged against a
  finer Q and can afford to keep a wider range.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

METHODS = ("minmax", "percentile", "kl")
NUM_BINS = 2048
DEFAULT_PERCENTILE = 99.99
KL_START_BIN = 128


class CalibrationError(ValueError):
    """Calibration that cannot give a range: no data, no finite values, a bad method."""


class HistogramCollector:
    """Running max and 2048-bin histogram of |x| over calibration batches."""

    def __init__(self, *, unsigned: bool = False, num_bins: int = NUM_BINS) -> None:
        if num_bins < KL_START_BIN or num_bins & (num_bins - 1):
            raise CalibrationError(f"num_bins must be a power of two >= {KL_START_BIN}, got {num_bins}")
        self.unsigned = unsigned
        self.num_bins = num_bins
        self.hist = np.zeros(num_bins, dtype=np.int64)
        self.range = 0.0  # histogram covers [0, range); 0 until a non-zero value is seen
        self.max = 0.0
        self.count = 0  # finite values seen
        self.nonfinite = 0
        self.batches = 0
        self._zeros = 0  # values seen while the range was still 0

    @property
    def bin_edges(self) -> np.ndarray:
        return np.linspace(0.0, self.range, self.num_bins + 1)

    def collect(self, x: np.ndarray) -> None:
        x = np.asarray(x)
        if x.size == 0:
            raise CalibrationError(f"calibration batch #{self.batches} is empty (shape {x.shape})")
        if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
            raise CalibrationError(f"calibration batch #{self.batches} has dtype {x.dtype}; expected real numbers")
        v = x.astype(np.float64, copy=False).ravel()
        finite = np.isfinite(v)
        if not finite.all():
            self.nonfinite += int(v.size - finite.sum())
            v = v[finite]
        self.batches += 1
        if v.size == 0:
            return
        v = np.maximum(v, 0.0) if self.unsigned else np.abs(v)
        vmax = float(v.max())
        self.count += v.size
        self.max = max(self.max, vmax)
        if vmax == 0.0 and self.range == 0.0:
            self._zeros += v.size
            return
        if self.range == 0.0:
            self.range = vmax
            self.hist[0] += self._zeros
        elif vmax > self.range:
            self._grow(vmax)
        idx = np.minimum((v * (self.num_bins / self.range)).astype(np.int64), self.num_bins - 1)
        self.hist += np.bincount(idx, minlength=self.num_bins)

    def _grow(self, vmax: float) -> None:
        k = 0
        while self.range * 2 ** k < vmax:
            k += 1
        factor = 2 ** k
        if factor >= self.num_bins:  # everything old falls into the first bin
            merged = np.zeros(self.num_bins, dtype=np.int64)
            merged[0] = self.hist.sum()
        else:
            merged = np.zeros(self.num_bins, dtype=np.int64)
            merged[: self.num_bins // factor] = self.hist.reshape(-1, factor).sum(axis=1)
        self.hist = merged
        self.range *= factor

    def _check(self) -> None:
        if self.batches == 0:
            raise CalibrationError("no calibration data: collect() was never called with a batch")
        if self.count == 0:
            raise CalibrationError(
                f"no finite values in {self.batches} calibration batch(es) ({self.nonfinite} NaN/inf values)"
            )

    def amax(self, method: str = "kl", *, percentile: float = DEFAULT_PERCENTILE, bits: int = 8) -> float:
        if method not in METHODS:
            raise CalibrationError(f"unknown calibration method {method!r}; valid methods: {', '.join(METHODS)}")
        self._check()
        if method == "minmax" or self.range == 0.0:  # all zeros: every method says 0
            return float(self.max)
        if method == "percentile":
            amax = percentile_amax(self.hist, self.bin_edges, percentile)
        else:
            amax = kl_amax(self.hist, self.bin_edges, bits=bits, unsigned=self.unsigned)
        return min(amax, float(self.max))  # a bin edge may lie past the largest value seen


def percentile_amax(hist: np.ndarray, edges: np.ndarray, percentile: float) -> float:
    if isinstance(percentile, bool) or not isinstance(percentile, (int, float)) or not 0 < percentile <= 100:
        raise CalibrationError(f"percentile must be a number in (0, 100], got {percentile!r}")
    cdf = np.cumsum(hist, dtype=np.float64)
    idx = int(np.searchsorted(cdf, cdf[-1] * (percentile / 100.0)))
    return float(edges[min(idx, len(hist) - 1) + 1])


def kl_amax(hist: np.ndarray, edges: np.ndarray, *, bits: int = 8, unsigned: bool = False,
            start_bin: int = KL_START_BIN) -> float:
    """TensorRT's entropy calibration; see the module docstring."""
    bins = hist.astype(np.float64)
    bins[0] = bins[1]
    target = 1 << (bits - 1 + int(unsigned))
    nonzero = bins != 0
    tail = np.concatenate([np.cumsum(bins[::-1])[::-1], [0.0]])  # tail[i] = bins[i:].sum()
    best_i, best_kl = len(bins), np.inf
    for i in range(start_bin, len(bins) + 1):
        p = bins[:i].copy()
        p[-1] += tail[i]
        if p.sum() == 0:
            continue
        group = np.digitize(np.arange(i), np.linspace(0, i, target + 1)) - 1
        nz = nonzero[:i]
        mass = np.bincount(group[nz], weights=bins[:i][nz], minlength=target)
        size = np.bincount(group[nz], minlength=target)
        q = np.zeros(i)
        q[nz] = mass[group[nz]] / size[group[nz]]
        kl = _kl(p, q)
        if kl <= best_kl:  # <=: the largest i among ties, as TensorRT's last argmin
            best_i, best_kl = i, kl
    return float(edges[best_i])


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    """KL(P || Q) of the normalized counts, as scipy.stats.entropy(p, q)
    (inf where P has mass and Q none) without its per-call overhead."""
    p = p / p.sum()
    q_sum = q.sum()
    if q_sum == 0:
        return np.inf
    q = q / q_sum
    mass = p > 0
    if np.any(q[mass] == 0):
        return np.inf
    return float(np.sum(p[mass] * np.log(p[mass] / q[mass])))


def calibrate(batches: Iterable[np.ndarray], method: str = "kl", *, unsigned: bool = False,
              percentile: float = DEFAULT_PERCENTILE, bits: int = 8) -> float:
    """amax of the values in `batches` by `method` (one of METHODS)."""
    if method not in METHODS:
        raise CalibrationError(f"unknown calibration method {method!r}; valid methods: {', '.join(METHODS)}")
    collector = HistogramCollector(unsigned=unsigned)
    for batch in batches:
        collector.collect(batch)
    return collector.amax(method, percentile=percentile, bits=bits)


__all__ = ["DEFAULT_PERCENTILE", "METHODS", "NUM_BINS", "CalibrationError", "HistogramCollector",
           "calibrate", "kl_amax", "percentile_amax"]
