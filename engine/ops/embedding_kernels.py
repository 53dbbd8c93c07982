"""Compiled EmbeddingBag pooling (numba), used when numba is importable.

One pass over the ids: each row is added straight into its bag's output row,
so nothing is gathered into a scratch block and read back, and the rows a few
ids ahead are prefetched, so that many cache misses to a table far bigger
than the cache are in flight at once (a lookup is latency-bound, not
bandwidth-bound, without that). Ids are range-checked in the same pass.

Threads follow the BLAS thread limit (threadpoolctl, the engine's `--threads`):
the bags are split into that many runs of about equal id counts, each pooled
by the same nogil kernel on a Python thread. numba's own parallel layer is not
used (its workqueue layer refuses concurrent callers and its pool would not
follow the limit).

JIT: the kernel is compiled on first use (about a second) and cached on disk
(`cache=True`: __pycache__ beside this file, or NUMBA_CACHE_DIR), so later
processes load it in milliseconds; a profiler's warm-up pass absorbs either.

Results are bit-identical to the numpy path in engine.ops.embedding: the same
float32 operations in the same order (mean multiplies each row by 1/len).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

try:
    import numba
    from llvmlite import ir
    from numba.core import cgutils
    from numba.extending import intrinsic
except ImportError:  # the engine then pools with numpy (engine.ops.embedding)
    numba = None

PREFETCH_AHEAD = 16  # ids; measured with benchmarks/embedding_bandwidth.py
# Ids each thread must get before the bags are split: on the project's 2-core
# VM a split only paid (0.9-1.8x) from about 100k ids per thread and lost below.
MIN_IDS_PER_THREAD = 65536
LINE_FLOATS = 16  # float32 per 64-byte cache line

AVAILABLE = numba is not None


if AVAILABLE:
    @intrinsic
    def _prefetch(typingctx, table, row, col):
        """llvm.prefetch (read, keep in all cache levels) of &table[row, col]."""
        def codegen(context, builder, signature, args):
            table_type = signature.args[0]
            arr = context.make_array(table_type)(context, builder, args[0])
            row_i, col_i = (context.cast(builder, v, t, numba.types.intp)
                            for v, t in zip(args[1:], signature.args[1:]))
            ptr = cgutils.get_item_pointer2(
                context, builder, data=arr.data, shape=cgutils.unpack_tuple(builder, arr.shape),
                strides=cgutils.unpack_tuple(builder, arr.strides), layout=table_type.layout,
                inds=[row_i, col_i], wraparound=False)
            i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
            fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
            builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
            return context.get_dummy_value()
        return numba.types.void(table, row, col), codegen

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def _pool_bags(weight, indices, offsets, first_bag, end_bag, mean, out):
        """Pools bags first_bag..end_bag-1 into out; returns -1, or the
        position in `indices` of the first id outside the table."""
        rows, dim = weight.shape
        n, batch = indices.size, offsets.size
        stop = offsets[end_bag] if end_bag < batch else n
        for b in range(first_bag, end_bag):
            lo = offsets[b]
            hi = offsets[b + 1] if b + 1 < batch else n
            scale = np.float32(1.0 / max(hi - lo, 1))  # as the numpy path: float64 quotient, rounded once
            acc = out[b]
            for j in range(lo, hi):
                ahead = j + PREFETCH_AHEAD
                if ahead < stop:
                    nxt = indices[ahead]
                    if 0 <= nxt < rows:
                        for c in range(0, dim, LINE_FLOATS):
                            _prefetch(weight, nxt, c)
                        _prefetch(weight, nxt, dim - 1)  # a row need not start on a cache line
                i = indices[j]
                if i < 0 or i >= rows:
                    return j
                row = weight[i]
                if mean:
                    for d in range(dim):
                        acc[d] += row[d] * scale
                else:
                    for d in range(dim):
                        acc[d] += row[d]
        return -1
else:
    _pool_bags = None

_pool_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_blas = None  # threadpoolctl's BLAS controllers, found once numpy's BLAS is loaded


def threads_allowed() -> int:
    """The current BLAS thread limit (what `threadpool_limits` set), read
    from the libraries themselves (a few microseconds)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController().select(user_api="blas").lib_controllers
    return max([n for lib in _blas if (n := lib.num_threads)], default=os.cpu_count() or 1)


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _pool_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=os.cpu_count() or 1,
                                           thread_name_prefix="embedding-bag")
        return _executor


def _splits(offsets: np.ndarray, n: int, parts: int) -> list[tuple[int, int]]:
    """`parts` runs of whole bags (first, end) with about n / parts ids each."""
    targets = np.arange(1, parts, dtype=np.int64) * n // parts
    cuts = np.searchsorted(offsets, targets, side="left")
    edges = np.unique(np.concatenate([[0], cuts, [offsets.size]]))
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def pool_bags(weight: np.ndarray, indices: np.ndarray, offsets: np.ndarray, mean: bool,
              threads: int | None = None) -> tuple[np.ndarray, int]:
    """(out, bad) where out is the (batch, dim) pooled output and bad is -1
    or the first position of an out-of-range id (out is then incomplete).
    `offsets` must already be checked (start at 0, non-decreasing, in range)."""
    batch, dim = offsets.size, weight.shape[1]
    out = np.zeros((batch, dim), dtype=weight.dtype)
    useful = min(indices.size // MIN_IDS_PER_THREAD, batch)
    threads = 1 if useful <= 1 else min(threads or threads_allowed(), useful)  # reading the limit costs ~8 us
    if threads <= 1:
        return out, int(_pool_bags(weight, indices, offsets, 0, batch, mean, out))
    runs = _splits(offsets, indices.size, threads)
    futures = [_pool().submit(_pool_bags, weight, indices, offsets, a, b, mean, out) for a, b in runs[1:]]
    first = _pool_bags(weight, indices, offsets, runs[0][0], runs[0][1], mean, out)
    bads = [int(first)] + [int(f.result()) for f in futures]
    return out, min((b for b in bads if b >= 0), default=-1)
