"""Compiled EmbeddingBag pooling (numba), used when numba is importable.

One kernel body, `_pool_runs`, serves the single lookup, the grouped lookup
(all tables of a batch in one call) and the FBGEMM row-wise quantized tables
(`bits` 8 or 4: the table is uint8, each row D codes then scale and bias,
dequantized in the same pass; see engine.quant.rowwise), compiled once per
table format (KERNELS: `bits` is a constant in each, so each keeps only its
own inner loops). Its work list is a list of runs (table, first bag, end
bag); it walks them in order, adding each row straight into its bag's output
row (nothing is gathered into a scratch block and read back), and
prefetches the rows a few ids ahead (a burst of PREFETCH_AHEAD at the start
of each run), so that many cache misses are in flight at once (a lookup is
latency-bound, not bandwidth-bound, without that). Ids are range-checked in
the same pass.

Row-wise quantized rows are taken four at a time and added in one
expression, acc + v0 + v1 + v2 + v3, which Python evaluates left to right:
the same float32 operations in the same order as one id at a time, so
results stay bit-identical to the numpy path, but the accumulator stays in
registers across the four instead of a store and a reload per id. Every
dequantized element is multiplied by the bag's factor m (1/len in mean
mode, 1 in sum mode: x * 1 is exact), as the numpy path's CSR values do.
Float32 tables keep the one-id-at-a-time loop (`_pool_span_f32`): on them
the groups of four measured 5-15% slower.

De-duplication (`_pool_runs_dedup`): each run's distinct ids are found with
an open-addressing hash, their rows gathered (dequantized) once into a
scratch block, and the bags pooled from it; same operations, same order,
bit-identical. It does not pay on dlrm (0.8-1.0x of the plain grouped
kernel, benchmarks/embedding_fusion.py): a repeated row is already in cache
when it comes round again, and the hash and the extra copy cost more than
the misses saved, so GroupedEmbeddingBag keeps it off by default.

Threads follow the BLAS thread limit (engine.ops.parallel): the runs are
split into that many parts of about equal id counts, each pooled by the
same nogil kernel on the engine's pool.

JIT: kernels are compiled on first use per tuple length (10-30 s on the 2-core VM) and
cached on disk (`cache=True`: __pycache__ beside this file, or
NUMBA_CACHE_DIR), so later processes load them in milliseconds; a
profiler's warm-up pass absorbs either. Tables, ids, offsets and outputs
are passed as tuples of arrays (numba types a 26-tuple in ~3 us).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.ops.parallel import pool, threads_allowed

try:
    import numba
    from llvmlite import ir
    from numba.core import cgutils
    from numba.extending import intrinsic
except ImportError:  # the engine then pools with numpy (engine.ops.embedding)
    numba = None

PREFETCH_AHEAD = 32  # ids; of 16 and 32, 32 measured 1.0-1.3x on float32 rows (embedding_bandwidth.py, 2026-12-06)
PREFETCH_AHEAD_ROWWISE = 32  # ids of a row-wise table (1-3 lines a row); of 16, 32, 64 on 8-bit rows, 32 measured best
# Ids each thread must get before the bags are split: on the project's 2-core
# VM a split only paid (0.9-1.8x) from about 100k ids per thread and lost below.
MIN_IDS_PER_THREAD = 65536
LINE_BYTES = 64
LINE_FLOATS = LINE_BYTES // 4

AVAILABLE = numba is not None


if AVAILABLE:
    def _item_pointer(context, builder, signature, args):
        """i8* to &table[row, col] (no bounds check)."""
        table_type = signature.args[0]
        arr = context.make_array(table_type)(context, builder, args[0])
        row_i, col_i = (context.cast(builder, v, t, numba.types.intp)
                        for v, t in zip(args[1:3], signature.args[1:3]))
        ptr = cgutils.get_item_pointer2(
            context, builder, data=arr.data, shape=cgutils.unpack_tuple(builder, arr.shape),
            strides=cgutils.unpack_tuple(builder, arr.strides), layout=table_type.layout,
            inds=[row_i, col_i], wraparound=False)
        return builder.bitcast(ptr, ir.IntType(8).as_pointer())

    @intrinsic
    def _prefetch(typingctx, table, row, col):
        """llvm.prefetch (read, locality 2: prefetcht1, into L2) of &table[row, col].
        Locality 3 (prefetcht0, into L1) holds L1's few miss buffers and
        measured 10-20% slower on dlrm's lookups from a cold cache, and no
        faster on uniform ids (benchmarks/embedding_bandwidth.py)."""
        def codegen(context, builder, signature, args):
            i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
            fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
            builder.call(fn, [_item_pointer(context, builder, signature, args), i32(0), i32(2), i32(1)])
            return context.get_dummy_value()
        return numba.types.void(table, row, col), codegen

    @intrinsic
    def _load_f32(typingctx, table, row, byte):
        """The float32 stored at byte `byte` of row `row` of a uint8 table (unaligned)."""
        def codegen(context, builder, signature, args):
            ptr = builder.bitcast(_item_pointer(context, builder, signature, args), ir.FloatType().as_pointer())
            return builder.load(ptr, align=1)
        return numba.types.float32(table, row, byte), codegen

    @intrinsic
    def _load_f16(typingctx, table, row, byte):
        """The float16 stored at byte `byte` of row `row` of a uint8 table, widened (exactly) to float32."""
        def codegen(context, builder, signature, args):
            ptr = builder.bitcast(_item_pointer(context, builder, signature, args), ir.HalfType().as_pointer())
            return builder.fpext(builder.load(ptr, align=1), ir.FloatType())
        return numba.types.float32(table, row, byte), codegen

    @numba.njit(nogil=True, boundscheck=False, inline="always")
    def _prefetch_rows(table, idx, shift, first, end, step, lines):
        """Prefetches the rows of the ids at positions first..end-1 (`lines`
        cache lines of `step` items each, and the row's last item)."""
        rows, cols = table.shape
        for p in range(first, end):
            i = idx[p - shift]
            if 0 <= i < rows:
                for c in range(lines):  # not range(0, cols, step): that divides per call
                    _prefetch(table, i, c * step)
                _prefetch(table, i, cols - 1)  # a row need not start on a cache line

    @numba.njit(nogil=True, boundscheck=False, inline="always")
    def _scale_bias(table, i, bits, dim):
        """(scale, bias) of row i of a row-wise quantized table (bits 8 or 4)."""
        if bits == 8:
            return _load_f32(table, i, dim), _load_f32(table, i, dim + 4)
        packed = (dim * bits + 7) // 8
        return _load_f16(table, i, packed), _load_f16(table, i, packed + 2)

    @numba.njit(nogil=True, boundscheck=False, inline="always")
    def _dequantize4(row, scale, bias, dim, dst):
        """dst[:dim] = the 4-bit row's codes * scale + bias, a byte (two codes) at a time."""
        for h in range(dim >> 1):
            c = np.int32(row[h])
            dst[2 * h] = np.float32(c & 15) * scale + bias
            dst[2 * h + 1] = np.float32(c >> 4) * scale + bias
        if dim & 1:
            dst[dim - 1] = np.float32(np.int32(row[dim >> 1]) & 15) * scale + bias

    @numba.njit(nogil=True, boundscheck=False, inline="always")
    def _pool_span_f32(weight, idx, shift, offsets, first, end, n, out, mean):
        """_pool_span for a float32 table: one id at a time, the prefetch
        interleaved per id (measured 5-15% faster than the 4-id groups here)."""
        rows, dim = weight.shape
        batch = offsets.size
        stop = offsets[end] if end < batch else n
        if first < batch:  # a burst for the first ids: their misses overlap
            _prefetch_rows(weight, idx, shift, offsets[first], min(offsets[first] + PREFETCH_AHEAD, stop),
                           LINE_FLOATS, (dim + LINE_FLOATS - 1) // LINE_FLOATS)
        for b in range(first, end):
            lo = offsets[b]
            hi = offsets[b + 1] if b + 1 < batch else n
            scale = np.float32(1.0 / max(hi - lo, 1))  # as the numpy path: float64 quotient, rounded once
            acc = out[b]
            for j in range(lo, hi):
                ahead = j + PREFETCH_AHEAD
                if ahead < stop:
                    nxt = idx[ahead - shift]
                    if 0 <= nxt < rows:
                        for c in range(0, dim, LINE_FLOATS):
                            _prefetch(weight, nxt, c)
                        _prefetch(weight, nxt, dim - 1)  # a row need not start on a cache line
                i = idx[j - shift]
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

    @numba.njit(nogil=True, boundscheck=False, inline="always")
    def _pool_span(table, idx, shift, offsets, first, end, n, out, mean, bits, dim):
        """Pools bags first..end-1 (ids at global positions offsets[b].., read
        from idx[position - shift]) of a row-wise quantized `table` (bits 8
        or 4) into out; returns -1, or the position of the first id outside
        the table."""
        rows, batch = table.shape[0], offsets.size
        step = LINE_BYTES // table.itemsize
        lines = (table.shape[1] + step - 1) // step
        scratch = np.empty((4 if bits == 4 else 0, dim), dtype=np.float32)  # 4-bit rows, unpacked
        far = PREFETCH_AHEAD_ROWWISE
        stop = offsets[end] if end < batch else n
        if first < batch:  # a burst for the first ids: their misses overlap
            _prefetch_rows(table, idx, shift, offsets[first], min(offsets[first] + far, stop), step, lines)
        for b in range(first, end):
            lo = offsets[b]
            hi = offsets[b + 1] if b + 1 < batch else n
            # as the numpy path: float64 quotient, rounded once; 1 in sum mode
            m = np.float32(1.0 / max(hi - lo, 1)) if mean else np.float32(1.0)
            acc = out[b]
            j = lo
            while j < hi:
                group = 4 if j + 4 <= hi else 1
                ahead = j + far
                _prefetch_rows(table, idx, shift, ahead, min(ahead + group, stop), step, lines)
                for p in range(j, j + group):
                    i = idx[p - shift]
                    if i < 0 or i >= rows:
                        return p
                if group == 4:
                    r0, r1 = table[idx[j - shift]], table[idx[j + 1 - shift]]
                    r2, r3 = table[idx[j + 2 - shift]], table[idx[j + 3 - shift]]
                    s0, b0 = _scale_bias(table, idx[j - shift], bits, dim)
                    s1, b1 = _scale_bias(table, idx[j + 1 - shift], bits, dim)
                    s2, b2 = _scale_bias(table, idx[j + 2 - shift], bits, dim)
                    s3, b3 = _scale_bias(table, idx[j + 3 - shift], bits, dim)
                    if bits == 8:
                        for d in range(dim):
                            acc[d] = (acc[d] + (np.float32(r0[d]) * s0 + b0) * m
                                      + (np.float32(r1[d]) * s1 + b1) * m
                                      + (np.float32(r2[d]) * s2 + b2) * m
                                      + (np.float32(r3[d]) * s3 + b3) * m)
                    else:  # unpacked into float32 first: a code-per-element loop does not vectorize
                        v0, v1, v2, v3 = scratch[0], scratch[1], scratch[2], scratch[3]
                        _dequantize4(r0, s0, b0, dim, v0)
                        _dequantize4(r1, s1, b1, dim, v1)
                        _dequantize4(r2, s2, b2, dim, v2)
                        _dequantize4(r3, s3, b3, dim, v3)
                        for d in range(dim):
                            acc[d] = acc[d] + v0[d] * m + v1[d] * m + v2[d] * m + v3[d] * m
                else:
                    r0 = table[idx[j - shift]]
                    s0, b0 = _scale_bias(table, idx[j - shift], bits, dim)
                    if bits == 8:
                        for d in range(dim):
                            acc[d] += (np.float32(r0[d]) * s0 + b0) * m
                    else:
                        v0 = scratch[0]
                        _dequantize4(r0, s0, b0, dim, v0)
                        for d in range(dim):
                            acc[d] += v0[d] * m
                j += group
        return -1

    @numba.njit(nogil=True, boundscheck=False, inline="always")
    def _pool_runs(tables, indices, offsets, outs, runs, bits, dims, mean):
        """Pools the runs (rows of `runs`: table, first bag, end bag) in order;
        returns (-1, -1), or (table, position) of the first id outside its table."""
        count = runs.shape[0]
        for r in range(count):
            k, first, end = runs[r, 0], runs[r, 1], runs[r, 2]
            idx = indices[k]
            if bits == 0:
                bad = _pool_span_f32(tables[k], idx, 0, offsets[k], first, end, idx.size, outs[k], mean)
            else:
                bad = _pool_span(tables[k], idx, 0, offsets[k], first, end, idx.size, outs[k], mean, bits, dims[k])
            if bad >= 0:
                return k, bad
        return -1, -1

    @numba.njit(nogil=True, boundscheck=False, inline="always")
    def _distinct(idx, lo, hi, rows):
        """(unique ids in first-seen order, inverse: idx[lo + j] == unique[inverse[j]], bad position or -1)."""
        n = hi - lo
        size = 16
        while size < 2 * n:
            size *= 2
        keys = np.full(size, -1, dtype=np.int64)
        slot = np.empty(size, dtype=np.int64)
        unique = np.empty(n, dtype=np.int64)
        inverse = np.empty(n, dtype=np.int64)
        count = 0
        shift = np.uint64(64 - int(np.log2(size)))
        for j in range(n):
            i = idx[lo + j]
            if i < 0 or i >= rows:
                return unique[:count], inverse, lo + j
            h = np.int64((np.uint64(i) * np.uint64(0x9E3779B97F4A7C15)) >> shift)
            while keys[h] != -1 and keys[h] != i:
                h = (h + 1) & (size - 1)
            if keys[h] == -1:
                keys[h] = i
                slot[h] = count
                unique[count] = i
                count += 1
            inverse[j] = slot[h]
        return unique[:count], inverse, -1

    @numba.njit(nogil=True, boundscheck=False, inline="always")
    def _pool_runs_dedup(tables, indices, offsets, outs, runs, bits, dims, mean):
        """_pool_runs, reading each distinct row of a run once (see the module docstring)."""
        for r in range(runs.shape[0]):
            k, first, end = runs[r, 0], runs[r, 1], runs[r, 2]
            table, idx, offs, dim = tables[k], indices[k], offsets[k], dims[k]
            if first >= offs.size:
                continue
            lo = offs[first]
            hi = offs[end] if end < offs.size else idx.size
            unique, inverse, bad = _distinct(idx, lo, hi, table.shape[0])
            if bad >= 0:
                return k, bad
            rows = np.empty((unique.size, dim), dtype=np.float32)
            step = LINE_BYTES // table.itemsize
            lines = (table.shape[1] + step - 1) // step
            _prefetch_rows(table, unique, 0, 0, min(PREFETCH_AHEAD, unique.size), step, lines)
            for u in range(unique.size):
                if u + PREFETCH_AHEAD < unique.size:
                    _prefetch_rows(table, unique, 0, u + PREFETCH_AHEAD, u + PREFETCH_AHEAD + 1, step, lines)
                i = unique[u]
                row, src = rows[u], table[i]
                if bits == 0:
                    for d in range(dim):
                        row[d] = np.float32(src[d])
                else:
                    s, b = _scale_bias(table, i, bits, dim)
                    if bits == 8:
                        for d in range(dim):
                            row[d] = np.float32(src[d]) * s + b
                    else:
                        _dequantize4(src, s, b, dim, row)
            _pool_span_f32(rows, inverse, lo, offs, first, end, idx.size, outs[k], mean)
        return -1, -1

    # Entry points, one per table format: `bits` is a constant after inlining,
    # so each compiles only its own inner loops. They are spelled out, not made
    # by a factory: numba's cache cannot key a closure that captures a
    # dispatcher (numba#6264), so each would recompile in every process.
    _jit = numba.njit(cache=True, nogil=True, boundscheck=False)

    @_jit
    def _runs_f32(tables, indices, offsets, outs, runs, dims, mean):
        return _pool_runs(tables, indices, offsets, outs, runs, 0, dims, mean)

    @_jit
    def _runs_q8(tables, indices, offsets, outs, runs, dims, mean):
        return _pool_runs(tables, indices, offsets, outs, runs, 8, dims, mean)

    @_jit
    def _runs_q4(tables, indices, offsets, outs, runs, dims, mean):
        return _pool_runs(tables, indices, offsets, outs, runs, 4, dims, mean)

    @_jit
    def _dedup_f32(tables, indices, offsets, outs, runs, dims, mean):
        return _pool_runs_dedup(tables, indices, offsets, outs, runs, 0, dims, mean)

    @_jit
    def _dedup_q8(tables, indices, offsets, outs, runs, dims, mean):
        return _pool_runs_dedup(tables, indices, offsets, outs, runs, 8, dims, mean)

    @_jit
    def _dedup_q4(tables, indices, offsets, outs, runs, dims, mean):
        return _pool_runs_dedup(tables, indices, offsets, outs, runs, 4, dims, mean)

    KERNELS = {(0, False): _runs_f32, (8, False): _runs_q8, (4, False): _runs_q4,
               (0, True): _dedup_f32, (8, True): _dedup_q8, (4, True): _dedup_q4}

    @numba.njit(cache=True, nogil=True)
    def _first_bad_offsets(indices, offsets):
        """The first table whose offsets do not start at 0, decrease, or run past its ids; or -1."""
        for k in range(len(offsets)):
            offs, n = offsets[k], indices[k].size
            if offs.size == 0:
                continue
            if offs[0] != 0 or offs[offs.size - 1] > n:
                return k
            for b in range(1, offs.size):
                if offs[b] < offs[b - 1]:
                    return k
        return -1
else:
    KERNELS = {}
    _first_bad_offsets = None

def _splits(offsets: np.ndarray, n: int, parts: int) -> list[tuple[int, int]]:
    """`parts` runs of whole bags (first, end) with about n / parts ids each."""
    targets = np.arange(1, parts, dtype=np.int64) * n // parts
    cuts = np.searchsorted(offsets, targets, side="left")
    edges = np.unique(np.concatenate([[0], cuts, [offsets.size]]))
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _grouped_splits(indices: Sequence[np.ndarray], offsets: Sequence[np.ndarray], parts: int) -> list[np.ndarray]:
    """The tables' bags, in table order, cut into `parts` work lists of runs
    (table, first bag, end bag) with about equal id counts."""
    sizes = np.array([i.size for i in indices], dtype=np.int64)
    batches = np.array([o.size for o in offsets], dtype=np.int64)
    bases = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    starts = np.concatenate([o + base for o, base in zip(offsets, bases)])  # global start of every bag
    table_of = np.repeat(np.arange(len(offsets)), batches)
    bag_of = np.arange(starts.size) - np.repeat(np.concatenate([[0], np.cumsum(batches)[:-1]]), batches)
    targets = np.arange(1, parts, dtype=np.int64) * int(sizes.sum()) // parts
    edges = np.unique(np.concatenate([[0], np.searchsorted(starts, targets, side="left"), [starts.size]]))
    work = []
    for a, b in zip(edges[:-1], edges[1:]):
        runs = []
        g = int(a)
        while g < b:
            k = int(table_of[g])
            end = min(int(b), g + int(batches[k]) - int(bag_of[g]))  # up to the table's last bag
            runs.append((k, int(bag_of[g]), int(bag_of[g]) + end - g))
            g = end
        work.append(np.array(runs, dtype=np.int64).reshape(-1, 3))
    return work


def _outputs(batches: Sequence[int], dims: Sequence[int]) -> tuple[np.ndarray, ...]:
    """Zeroed (batch, dim) outputs; one block when all tables agree (one allocation)."""
    if len(set(batches)) == 1 and len(set(dims)) == 1:
        return tuple(np.zeros((len(batches), batches[0], dims[0]), dtype=np.float32))
    return tuple(np.zeros((b, d), dtype=np.float32) for b, d in zip(batches, dims))


def pool_threads(ids: int, bags: int, limit: int) -> int:
    """How many threads a lookup of `ids` ids in `bags` bags is split over
    under the thread `limit`: one unless each thread gets MIN_IDS_PER_THREAD."""
    useful = min(ids // MIN_IDS_PER_THREAD, bags)
    return 1 if useful <= 1 else min(limit, useful)


def pool_grouped(tables: Sequence[np.ndarray], indices: Sequence[np.ndarray], offsets: Sequence[np.ndarray],
                 mean: bool, *, bits: int = 0, dims: Sequence[int] | None = None, dedup: bool = False,
                 threads: int | None = None) -> tuple[tuple[np.ndarray, ...], int, int]:
    """(outs, table, bad): the k pooled (batch_k, dim_k) outputs, and
    (-1, -1) or the table and first position of an out-of-range id (outs
    are then incomplete). `tables` are float32 (bits 0) or row-wise packed
    uint8 (bits 8 or 4, `dims` their float widths); all C-contiguous.
    Offsets must already be checked (first_bad_offsets)."""
    if dims is None and bits:
        raise ValueError("pool_grouped: row-wise quantized tables need their float widths (dims)")
    dims = tuple(int(t.shape[1]) for t in tables) if dims is None else tuple(dims)
    outs = _outputs([o.size for o in offsets], dims)
    n = sum(i.size for i in indices)
    # reading the limit costs ~8 us: only where a split can happen
    threads = 1 if n < 2 * MIN_IDS_PER_THREAD else pool_threads(n, sum(o.size for o in offsets),
                                                                  threads or threads_allowed())
    kernel = KERNELS[bits, dedup]
    args = (tuple(tables), tuple(indices), tuple(offsets), outs)
    dims_arr = np.array(dims, dtype=np.int64)
    if threads <= 1:
        runs = np.array([(k, 0, o.size) for k, o in enumerate(offsets)], dtype=np.int64).reshape(-1, 3)
        k, bad = kernel(*args, runs, dims_arr, mean)
        return outs, int(k), int(bad)
    work = _grouped_splits(indices, offsets, threads)
    futures = [pool().submit(kernel, *args, runs, dims_arr, mean) for runs in work[1:]]
    results = [kernel(*args, work[0], dims_arr, mean)] + [f.result() for f in futures]
    bads = [(int(k), int(b)) for k, b in results if k >= 0]
    k, bad = min(bads, default=(-1, -1))  # work lists are in table order: the first is the earliest
    return outs, k, bad


def first_bad_offsets(indices: Sequence[np.ndarray], offsets: Sequence[np.ndarray]) -> int:
    """The first table whose offsets are invalid (see embedding._check_offsets for the message), or -1."""
    return int(_first_bad_offsets(tuple(indices), tuple(offsets)))


def pool_bags(weight: np.ndarray, indices: np.ndarray, offsets: np.ndarray, mean: bool,
              threads: int | None = None, *, bits: int = 0, dim: int | None = None) -> tuple[np.ndarray, int]:
    """(out, bad) where out is the (batch, dim) pooled output and bad is -1
    or the first position of an out-of-range id (out is then incomplete).
    `offsets` must already be checked (start at 0, non-decreasing, in range)."""
    if dim is None and bits:
        raise ValueError("pool_bags: a row-wise quantized table needs its float width (dim)")
    dim = weight.shape[1] if dim is None else dim
    batch = offsets.size
    out = np.zeros((batch, dim), dtype=np.float32)
    tables, ids, offs, outs = (weight,), (indices,), (offsets,), (out,)
    dims = np.array([dim], dtype=np.int64)
    kernel = KERNELS[bits, False]
    # reading the limit costs ~8 us: only where a split can happen
    threads = 1 if indices.size < 2 * MIN_IDS_PER_THREAD else pool_threads(indices.size, batch,
                                                                            threads or threads_allowed())
    if threads <= 1:
        runs = np.array([[0, 0, batch]], dtype=np.int64)
        return out, int(kernel(tables, ids, offs, outs, runs, dims, mean)[1])
    work = [np.array([[0, a, b]], dtype=np.int64) for a, b in _splits(offsets, indices.size, threads)]
    futures = [pool().submit(kernel, tables, ids, offs, outs, runs, dims, mean) for runs in work[1:]]
    bads = [int(kernel(tables, ids, offs, outs, work[0], dims, mean)[1])]
    bads += [int(f.result()[1]) for f in futures]
    return out, min((b for b in bads if b >= 0), default=-1)
