"""The integer GEMM behind Int8Linear: onnxruntime's MLAS u8 x s8 kernel,
kept exact.

numpy has no integer GEMM. onnxruntime (a dependency already) does: MLAS,
reached here through one prepared single-node MatMulInteger session per
(weight, zero point, thread count), the int8 weight an initializer so that
MLAS packs it once. On AVX2 without VNNI (the project's machines) MLAS's
u8 x s8 kernel multiplies with VPMADDUBSW, which adds two neighbouring
u8*s8 products into an int16 with saturation: with activations up to 255
and weights up to 127 a pair can reach 64770 and clip (onnxruntime's
quantization docs say so; measured here: all-255 rows against +127 weights
come out wrong, all-129 rows exact, 130 wrong). The u8 x u8 kernel widens
to int16 first and is exact, but measured 1.3-1.7x the fp32 GEMM's speed
against u8 x s8's 1.7-2.2x at batch 256 on the mlp and dlrm shapes (one
thread, `benchmarks/quant_dense.py --kernels`), too little once x is
quantized around it.

So the activation operand A is kept where no pair can saturate. MLAS's
packing pairs K positions (2i, 2i+1); with A in 0..255 and weights in
-128..127, a pair stays inside int16 when A[2i] + A[2i+1] <= PAIR_SUM
(256: 127 * 256 = 32512, -128 * 256 = -32768). That pairing is an
implementation detail, so the first session built runs a probe
(`pairing_holds`): rows at that limit whose other pairings would saturate,
against columns of +127 and -128 weights, at M = 1 and 16. Each session
then holds W's rows in `pair_order`, so that pair i is x's elements i and
i + K//2 (contiguous in x: the split vectorizes). Where the probe fails
(another kernel, another pairing), every A is kept at most A_MAX = 128
instead: any two products then fit, whatever the pairing. The quantized x
(q, on the signed -127..127 or unsigned 0..255 grid) is split as
q = (A - zero_point) + R:

- unsigned x: zero point 0; A = q, except that a pair over the limit
  takes the excess off its two elements, half each;
- signed x: zero point 64 (MatMulInteger's a_zero_point): A = q + 64 where
  that is >= 0, then the pair rule as above (over 256 needs a pair's two q
  to sum past 128, rare);

and the residual R (int8, zero for most entries) is added back in int32 by
`_finish`: acc += R @ W, row by row, over the entries where R is not 0.
MLAS computes sum (A - zp) * w as sum A*w minus zp * (column sums of W),
all in int32, so acc ends up bit for bit the int32 sum of q * w, as an
int8 kernel with an int32 accumulator computes it.

Cost of the residual, on the mlp and dlrm layers at batch 256: 0.002-0.2%
of the entries of an unsigned (ReLU) x carry one (1-3% under the per-element
rule), 0.01-2.5% of a signed x's (q < -64, or a pair over the limit); each
costs N multiply-adds. An adversarial x (every pair far over the limit)
would make the residual a second, slower GEMM: exact, not fast.

The passes around the GEMM are compiled (numba), their rows split over the
engine's threads where big enough (engine.ops.parallel): `_split_pairs` or
`_split_elements` (x -> A and R in one pass) and `_finish` (the residual,
then y = float32(acc) * scale + bias, Relu). Without numba, Int8Linear
keeps its float32 path (engine.ops.quantized).

Threads: each session runs MLAS on intra_op_num_threads = the engine's
thread limit (threads_allowed(), read per call), so a session is prepared
per thread count. Spinning is off (`allow_spinning` 0): with it on, each
layer's finished pool spins on while the next layer's runs, and mlp's int8
layers at 2 threads took 5-12 ms (fastest pass) instead of 2-3 ms (2-core
VM, load ~5). With it off, a sleeping worker wakes late: on that loaded VM
2 threads were no faster than 1 (a lone session: 2.9 ms at 1 or 2 threads
off, 1.7 ms at 2 threads on; 256 x 1024 x 1024).
"""
from __future__ import annotations

import threading
import weakref

import numpy as np

from engine.ops.parallel import run_parts, split_threads

try:
    import numba
except ImportError:  # Int8Linear then keeps its float32 path
    numba = None

AVAILABLE = numba is not None
A_MAX = 128  # without the pairing: the largest A; no two u8 x s8 products then leave int16
PAIR_SUM = 256  # with it: the largest sum of a pair of activation operands
SIGNED_ZERO_POINT = 64  # signed q in -64..64 goes into A whole

if AVAILABLE:
    @numba.njit(nogil=True, cache=True, inline="always")
    def _quantized(v, inv, lo, hi, zp):  # pragma: no cover - compiled
        """clip(rint(v * inv), lo, hi) + zp: quantize()'s float32 steps."""
        return min(max(np.rint(v * inv), lo), hi) + zp

    @numba.njit(nogil=True, cache=True)
    def _split_elements(x, inv, lo, hi, zp, a, r, m0, m1):  # pragma: no cover - compiled
        """Rows m0..m1-1, every A at most A_MAX: a = clip(t, 0, A_MAX),
        r = t - a, with t = q + zp; float32 until the stores (vectorized)."""
        for m in range(m0, m1):
            for k in range(x.shape[1]):
                t = _quantized(x[m, k], inv, lo, hi, zp)
                c = min(max(t, np.float32(0)), np.float32(A_MAX))
                a[m, k] = np.int32(c)
                r[m, k] = np.int32(t - c)

    @numba.njit(nogil=True, cache=True)
    def _split_pairs(x, inv, lo, hi, zp, a, r, m0, m1):  # pragma: no cover - compiled
        """Rows m0..m1-1, MLAS pair i holding x's elements i and i + K//2
        (`pair_order`; contiguous loads vectorize, strided ones did not):
        t = q + zp clipped to 0..255, a pair's excess over PAIR_SUM taken
        off both halves (ceil and floor: each <= 127, each <= its element),
        r = t - a in x's order. An odd K's last element meets MLAS's zero
        padding: only clipped."""
        zero, top, limit, half = np.float32(0), np.float32(255), np.float32(PAIR_SUM), np.float32(0.5)
        h, last = x.shape[1] // 2, x.shape[1] - 1
        for m in range(m0, m1):
            for i in range(h):
                t0, t1 = _quantized(x[m, i], inv, lo, hi, zp), _quantized(x[m, i + h], inv, lo, hi, zp)
                c0, c1 = min(max(t0, zero), top), min(max(t1, zero), top)
                excess = max(c0 + c1 - limit, zero)
                d0 = np.floor((excess + np.float32(1)) * half)
                a0, a1 = c0 - d0, c1 - (excess - d0)
                a[m, 2 * i], a[m, 2 * i + 1] = np.int32(a0), np.int32(a1)
                r[m, i], r[m, i + h] = np.int32(t0 - a0), np.int32(t1 - a1)
            if last % 2 == 0:
                t = _quantized(x[m, last], inv, lo, hi, zp)
                c = min(max(t, zero), top)
                a[m, last], r[m, last] = np.int32(c), np.int32(t - c)

    @numba.njit(nogil=True, cache=True)
    def _finish(acc, r, w, sx, w_scale, bias, floor, y, m0, m1):  # pragma: no cover - compiled
        """Rows m0..m1-1: acc += r @ w (int32, over r's non-zero entries, found
        8 at a time through a uint64 view), then y = float32(acc) * (sx *
        w_scale) + bias, then max(y, floor) (Relu: floor 0; else -inf, which
        changes nothing), numpy's float32 steps; w_scale has N entries or 1.
        One loop, so that it vectorizes: without a bias, bias is zeros
        (float32(acc) * scale is never -0.0 with a positive scale, so + 0
        changes no bit). 2-D indexing only (a row view per entry costs a
        reference count), and y apart from acc (an alias would keep the
        loop scalar)."""
        words = r.view(np.uint64)
        n_cols = acc.shape[1]
        scale = np.empty(n_cols, np.float32)
        for n in range(n_cols):
            scale[n] = sx * w_scale[n if w_scale.shape[0] > 1 else 0]
        for m in range(m0, m1):
            for i in range(words.shape[1]):
                if words[m, i] != 0:
                    for k in range(8 * i, min(8 * i + 8, w.shape[0])):
                        rk = np.int32(r[m, k])
                        if rk != 0:
                            for n in range(n_cols):
                                acc[m, n] += rk * np.int32(w[k, n])
            for n in range(n_cols):
                y[m, n] = np.maximum(np.float32(acc[m, n]) * scale[n] + bias[n], floor)


class _Sessions:
    """Prepared MatMulInteger sessions, one per (weight array, zero point,
    threads); an entry goes when its weight array is freed. The weight is
    read once, when its session is built: weights are initializers, never
    written after a graph is built."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[int, int, int], tuple[weakref.ref, object]] = {}

    def get(self, wq: np.ndarray, zero_point: int, threads: int):
        key = (id(wq), zero_point, threads)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0]() is wq:
                return entry[1]
        session = _build_session(wq, zero_point, threads, pair_order(wq.shape[0]) if pairing_holds() else None)
        with self._lock:
            self._entries[key] = (weakref.ref(wq), session)
        weakref.finalize(wq, self._drop, key, weakref.ref(session))
        return session

    def _drop(self, key: tuple[int, int, int], session_ref: weakref.ref) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[1] is session_ref():
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)


def pair_order(k: int) -> np.ndarray:
    """The A and W positions of x's K elements: 0, h, 1, h + 1, ... (h = K // 2),
    and an odd K's last element last."""
    h = k // 2
    return np.concatenate([np.stack([np.arange(h), np.arange(h, 2 * h)], axis=1).ravel(), np.arange(2 * h, k)])


def _build_session(wq: np.ndarray, zero_point: int, threads: int, order: np.ndarray | None = None):
    """A one-node onnxruntime session: Y (M, N) int32 = MatMulInteger(A (M, K) uint8, W[order], [zero_point])."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    k, n = wq.shape
    inits = [numpy_helper.from_array(np.ascontiguousarray(wq if order is None else wq[order]), "W")]
    if zero_point:
        inits.append(numpy_helper.from_array(np.array(zero_point, np.uint8), "A_zero_point"))
    node = helper.make_node("MatMulInteger", ["A", "W", *(["A_zero_point"] if zero_point else [])], ["Y"])
    graph = helper.make_graph([node], "int8_gemm", [helper.make_tensor_value_info("A", TensorProto.UINT8, ["M", k])],
                              [helper.make_tensor_value_info("Y", TensorProto.INT32, ["M", n])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


SESSIONS = _Sessions()


_pairing: list[bool] = []  # the probe's answer, once per process


def pairing_holds() -> bool:
    """Whether this onnxruntime's u8 x s8 GEMM is exact for every A whose
    pairs (2i, 2i+1) sum to at most PAIR_SUM (see the module docstring);
    probed once, with A at that limit in random splits (any other pairing
    would put two large elements together) against columns of +127 and
    -128 weights, at M = 16 and M = 1."""
    if not _pairing:
        rng = np.random.default_rng(0)
        k = 258  # odd pair count: tails of MLAS's 4-element packing too
        w = np.empty((k, 16), np.int8)
        w[:, :4], w[:, 4:8], w[:, 8:] = 127, -128, rng.choice(np.array([127, -128], np.int8), (k, 8))
        u = rng.integers(1, 256, (16, k // 2))
        a = np.empty((16, k), np.uint8)
        a[:, 0::2], a[:, 1::2] = u, PAIR_SUM - u
        session = _build_session(w, 0, 1)
        exact = a.astype(np.int64) @ w.astype(np.int64)
        _pairing.append(all(np.array_equal(session.run(None, {"A": rows})[0], exact[: len(rows)])
                            for rows in (a, a[:1])))
    return _pairing[0]


def zero_point(unsigned: bool) -> int:
    return 0 if unsigned else SIGNED_ZERO_POINT


def split(x: np.ndarray, inv_scale: np.float32, lo: int, hi: int, unsigned: bool,
          threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(A uint8, R int8) of the quantized x (2-D float32, C-contiguous); see
    the module docstring. A's columns are in `pair_order` where the pairing
    holds, R's in x's order, padded with zeros to whole uint64 words."""
    a = np.empty(x.shape, np.uint8)
    r = (np.empty if x.shape[1] % 8 == 0 else np.zeros)((x.shape[0], -(-x.shape[1] // 8) * 8), np.int8)
    kernel = _split_pairs if pairing_holds() else _split_elements
    args = (x, np.float32(inv_scale), np.float32(lo), np.float32(hi), np.float32(zero_point(unsigned)), a, r)
    run_parts(lambda m0, m1: kernel(*args, m0, m1), x.shape[0], split_threads(x.size, threads, x.shape[0]))
    return a, r


def int8_matmul(x: np.ndarray, inv_scale: np.float32, lo: int, hi: int, unsigned: bool, wq: np.ndarray,
                sx: np.float32, w_scale: np.ndarray, bias: np.ndarray | None, relu: bool,
                threads: int) -> tuple[np.ndarray, np.ndarray]:
    """(y, acc): acc (M, N) the exact int32 sum of q * wq with q = clip(rint(x
    * inv_scale), lo, hi), and y = float32(acc) * (sx * w_scale) (+ bias)
    (Relu); x (M, K) float32 C-contiguous, wq (K, N) int8, w_scale (N,) or
    (1,) float32. The GEMM runs on `threads` threads, and so do the passes
    around it where big enough."""
    a, r = split(x, inv_scale, lo, hi, unsigned, threads)
    acc = SESSIONS.get(wq, zero_point(unsigned), threads).run(None, {"A": a})[0]
    y = np.empty(acc.shape, np.float32)
    bias = np.zeros(acc.shape[1], np.float32) if bias is None else bias
    args = (acc, r, wq, np.float32(sx), w_scale, bias, np.float32(0 if relu else -np.inf), y)
    run_parts(lambda m0, m1: _finish(*args, m0, m1), acc.shape[0], split_threads(acc.size, threads, acc.shape[0]))
    return y, acc


__all__ = ["AVAILABLE", "A_MAX", "PAIR_SUM", "SESSIONS", "SIGNED_ZERO_POINT", "int8_matmul", "pair_order",
           "pairing_holds", "split", "zero_point"]
