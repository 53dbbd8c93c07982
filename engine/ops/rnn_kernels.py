"""Compiled GRU / AUGRU recurrence (numba), used when numba is importable.

One nogil kernel, `_recur`, runs the whole recurrence of a range of batch
rows: per step the input projection x_t W and the recurrent product h R of
the rows still inside their sequence, then one fused pass over the gates
that writes the new state and the output row. Nothing but the two small
products and that pass happens per step (no numpy temporaries, no Python).

Variable lengths: the rows are taken in order of decreasing length, so at
step t the rows still running are a prefix of that order; a step computes
only them (rounded up to a block of 4), and a range stops once its longest
row has ended. Padded steps cost nothing but the zeros written into Y.

The products are 4-row x 2-column blocks of dot products over the inner
dimension (the weights transposed, (3H, I) and (3H, H), once per call);
`fastmath` reassociation lets LLVM vectorize each dot product, which
reorders the float32 sums: results match the numpy path to float32
rounding, not bit for bit. sigmoid(v) = 0.5 tanh(v / 2) + 0.5 and tanh is
the rational approximation MLAS and Eigen use (odd degree 13 over even
degree 6 on [-9, 9]; a few ulp of float32), which LLVM vectorizes, where a
call to libm's tanh would not be.

Threads follow the BLAS thread limit (engine.ops.parallel): the rows are
cut into that many ranges of about equal work (sum of lengths), each run by
the same kernel on the engine's pool; every range has its own state and
scratch, and writes only its own rows of Y and Y_h.

Measured (dien's GRU: T = 50, I = H = 64, lengths uniform in 1..50; one
thread, medians of 7, one process, load 2.0 on the 2-core VM): batch 64,
numpy step loop 6.2 ms, this kernel 2.2 ms (4.1 ms with every row at full
length); batch 256, 24 ms and 8.7 ms (16 ms at full length). The products
run at about 49 GFLOP/s alone (numpy's sgemm 50-75 on the same shapes).
"""
from __future__ import annotations

import numpy as np

from engine.ops.parallel import pool, threads_allowed

try:
    import numba
except ImportError:  # engine.ops.rnn then runs the numpy step loop
    numba = None

AVAILABLE = numba is not None
# Batch rows each thread must get before the rows are split.
MIN_ROWS_PER_THREAD = 16

# tanh(v) ~ v * P(v^2) / Q(v^2) on [-9, 9] (MLAS's MlasTanhKernel, Eigen's fast tanh)
TANH_CLAMP = np.float32(9.0)
P13, P11, P9, P7, P5, P3, P1 = (np.float32(c) for c in (
    -2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
    1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03))
Q6, Q4, Q2, Q0 = (np.float32(c) for c in (
    1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03))
HALF, ONE = np.float32(0.5), np.float32(1.0)

if AVAILABLE:
    # error_model="numpy": a float division by zero gives inf instead of raising; the check
    # Python's model adds before each division kept LLVM from vectorizing the gate loop.
    _inline = numba.njit(nogil=True, boundscheck=False, error_model="numpy", inline="always")

    @_inline
    def _tanh(v):
        v = min(max(v, -TANH_CLAMP), TANH_CLAMP)
        v2 = v * v
        p = ((((((P13 * v2 + P11) * v2 + P9) * v2 + P7) * v2 + P5) * v2 + P3) * v2 + P1) * v
        q = ((Q6 * v2 + Q4) * v2 + Q2) * v2 + Q0
        return p / q

    @_inline
    def _sigmoid(v):
        return HALF * _tanh(HALF * v) + HALF

    @numba.njit(nogil=True, boundscheck=False, fastmath={"reassoc", "contract"})
    def _rows_times(a, rows, n, wt, out):
        """out[q] = a[rows[q]] @ wt.T for q < n (a multiple of 4)."""
        cols, inner = wt.shape
        for q in range(0, n, 4):
            a0, a1, a2, a3 = a[rows[q]], a[rows[q + 1]], a[rows[q + 2]], a[rows[q + 3]]
            for j in range(0, cols - 1, 2):
                w0, w1 = wt[j], wt[j + 1]
                s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = np.float32(0.0)
                for k in range(inner):
                    v0, v1 = w0[k], w1[k]
                    s00 += a0[k] * v0
                    s01 += a0[k] * v1
                    s10 += a1[k] * v0
                    s11 += a1[k] * v1
                    s20 += a2[k] * v0
                    s21 += a2[k] * v1
                    s30 += a3[k] * v0
                    s31 += a3[k] * v1
                out[q, j], out[q, j + 1], out[q + 1, j], out[q + 1, j + 1] = s00, s01, s10, s11
                out[q + 2, j], out[q + 2, j + 1], out[q + 3, j], out[q + 3, j + 1] = s20, s21, s30, s31
            if cols % 2:  # an odd last column
                w0 = wt[cols - 1]
                s00 = s10 = s20 = s30 = np.float32(0.0)
                for k in range(inner):
                    s00 += a0[k] * w0[k]
                    s10 += a1[k] * w0[k]
                    s20 += a2[k] * w0[k]
                    s30 += a3[k] * w0[k]
                out[q, cols - 1], out[q + 1, cols - 1], out[q + 2, cols - 1], out[q + 3, cols - 1] = s00, s10, s20, s30

    @_inline
    def _gates(xg, hg, wb, rb, state, out, a, attention):
        """One row's fused step: xg = x_t W and hg = h R (biases still to add),
        state h (updated in place) and out (Y's row) get h'."""
        hid = state.size
        for j in range(hid):
            z = _sigmoid(xg[j] + wb[j] + (hg[j] + rb[j]))
            reset = _sigmoid(xg[hid + j] + wb[hid + j] + (hg[hid + j] + rb[hid + j]))
            cand = _tanh(xg[2 * hid + j] + wb[2 * hid + j] + reset * (hg[2 * hid + j] + rb[2 * hid + j]))
            prev = state[j]
            if attention:  # DIEN: u' = a * (1 - z); h' = h + u' * (h~ - h)
                new = prev + a * (ONE - z) * (cand - prev)
            else:  # h' = h~ + z * (h - h~)
                new = cand + z * (prev - cand)
            state[j] = new
            out[j] = new

    @numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")
    def _recur(x2, steps, scores, wt, rt, wb, rb, order, lens, first, end, y, last):
        """The recurrence of rows order[first:end] (their lengths `lens`,
        non-increasing); x2 is X as (B * T, I); an empty `scores` is a GRU."""
        attention = scores.shape[0] > 0
        cols, hid = rt.shape
        count = end - first
        padded = (count + 3) // 4 * 4
        h = np.zeros((padded, hid), dtype=np.float32)
        h_rows = np.arange(padded)
        x_rows = np.empty(padded, dtype=np.int64)
        xw = np.empty((padded, cols), dtype=np.float32)
        hr = np.empty((padded, cols), dtype=np.float32)
        n = count
        for t in range(steps):
            while n > 0 and lens[first + n - 1] <= t:
                n -= 1
            if n == 0:
                break
            m = (n + 3) // 4 * 4
            for q in range(m):  # rows past n are computed, never stored
                x_rows[q] = order[first + min(q, n - 1)] * steps + t
            _rows_times(x2, x_rows, m, wt, xw)
            _rows_times(h, h_rows, m, rt, hr)
            for q in range(n):
                b = order[first + q]
                a = scores[b, t] if attention else ONE
                _gates(xw[q], hr[q], wb, rb, h[q], y[b, t], a, attention)
        for q in range(count):
            b = order[first + q]
            last[b] = h[q]
            y[b, lens[first + q]:] = 0.0


def recurrence_threads(batch: int, limit: int) -> int:
    """Threads the recurrence of `batch` rows runs on under the thread `limit`."""
    return max(1, min(limit, batch // MIN_ROWS_PER_THREAD))


def _ranges(lens: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """`parts` ranges of the (non-increasing) lengths with about equal sums."""
    work = np.cumsum(lens)
    targets = np.arange(1, parts) * (int(work[-1]) if work.size else 0) // parts
    edges = np.unique(np.concatenate([[0], np.searchsorted(work, targets, side="right"), [lens.size]]))
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def recurrence(x: np.ndarray, scores: np.ndarray | None, w: np.ndarray, r: np.ndarray, wb: np.ndarray,
               rb: np.ndarray, lens: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(Y (B, T, H), Y_h (B, H)) of a GRU, or of an AUGRU where `scores`
    (B, T) are given; semantics as engine.ops.rnn's. Lengths must be checked."""
    b, t, i = x.shape
    hid = r.shape[0]
    lens = np.full(b, t, dtype=np.int64) if lens is None else lens.astype(np.int64, copy=False)
    order = np.argsort(-lens, kind="stable")
    args = (np.ascontiguousarray(x, dtype=np.float32).reshape(b * t, i), t,
            np.zeros((0, 0), np.float32) if scores is None else np.ascontiguousarray(scores, dtype=np.float32),
            np.ascontiguousarray(w.T), np.ascontiguousarray(r.T), np.ascontiguousarray(wb),
            np.ascontiguousarray(rb), order, np.ascontiguousarray(lens[order]))
    y = np.empty((b, t, hid), dtype=np.float32)
    last = np.empty((b, hid), dtype=np.float32)
    parts = 1 if b < 2 * MIN_ROWS_PER_THREAD else recurrence_threads(b, threads_allowed())
    ranges = _ranges(args[-1], parts)
    futures = [pool().submit(_recur, *args, lo, hi, y, last) for lo, hi in ranges[1:]]
    try:
        for lo, hi in ranges[:1]:
            _recur(*args, lo, hi, y, last)
    finally:
        for f in futures:
            f.result()
    return y, last
