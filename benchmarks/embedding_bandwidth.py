"""Print EmbeddingBag GB/s per implementation on tables bigger than the cache,
as a share of the roof that judges it: this machine's measured gather roof at
the table's row size (engine.layer_roof). Goal: the engine's kernel >= 80%.

    .venv/bin/python benchmarks/embedding_bandwidth.py [--threads N] [--repeats N] [--table-mib N]

Every implementation runs side by side in one process, round-robin within
each repeat (starting one further along each repeat), on the same uniform random ids (every lookup a likely miss), with
the caches flushed (a buffer twice the last-level cache read) before
each timed call; the table shows the median over the repeats. GB/s counts
the kernel's own minimum traffic (EmbeddingBag.bytes: ids, offsets, gathered
rows, output); the roof is engine.layer_roof's for that lookup: the rows at
the gather roof (random rows of a table far beyond the cache, at this row
size) and the rest at the stream roof, measured (engine.roofline, cached) at
the threads the engine's kernel splits the lookup over under the same BLAS
thread limit. Implementations:

    numpy    the engine's numpy path (np.take into scratch + scipy CSR pooling)
    chunked  the same in cache-sized chunks through a preallocated scratch (take out=)
    reduceat np.add.reduceat(weight[ids], offsets) (empty bags fixed up)
    numba1   the compiled kernel alone, on one thread
    numba    what the engine's EmbeddingBag runs: its checks, then the compiled
             kernel under the thread limit (embedding.embedding_bag)

Pooling factor 1 is one-hot (offsets = arange); others are multi-hot with
bag lengths drawn uniformly from 1..2L-1 (mean L).
"""
from __future__ import annotations

import argparse
import os
import contextlib
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from engine.ops import embedding, embedding_kernels
from engine.ops.embedding import EmbeddingBag, embedding_bag_numpy, pool_gathered
from engine.machine import last_level_cache_bytes
from engine.malloc_tuning import keep_heap_memory
from engine.layer_roof import layer_roof
from engine.roofline import blas_threads, measure_roofs

GOAL = 0.80
DIMS = (16, 64, 128)
BATCHES = (256, 2048)
POOLING = (1, 20, 100)
MODES = ("sum", "mean")
CHUNK_BYTES = 1 << 20  # scratch per chunk: fits in L2

Impl = Callable[[np.ndarray, np.ndarray, np.ndarray, str], np.ndarray]


def numpy_chunked(weight: np.ndarray, indices: np.ndarray, offsets: np.ndarray, mode: str) -> np.ndarray:
    batch, dim = offsets.size, weight.shape[1]
    out = np.empty((batch, dim), dtype=weight.dtype)
    per_chunk = max(1, CHUNK_BYTES // (dim * weight.itemsize))
    scratch = np.empty((per_chunk, dim), dtype=weight.dtype)
    ends = np.append(offsets[1:], indices.size)
    b = 0
    while b < batch:
        # whole bags up to per_chunk ids (a longer bag goes alone)
        last = max(b + 1, int(np.searchsorted(ends, offsets[b] + per_chunk, side="right")))
        lo, hi = int(offsets[b]), int(ends[last - 1])
        block = scratch if hi - lo <= per_chunk else np.empty((hi - lo, dim), dtype=weight.dtype)
        np.take(weight, indices[lo:hi], axis=0, mode="clip", out=block[:hi - lo])
        out[b:last] = pool_gathered(block[:hi - lo], offsets[b:last] - lo, mode)
        b = last
    return out


def numpy_reduceat(weight: np.ndarray, indices: np.ndarray, offsets: np.ndarray, mode: str) -> np.ndarray:
    out = np.zeros((offsets.size, weight.shape[1]), dtype=weight.dtype)
    lengths = np.diff(np.append(offsets, indices.size))
    full = lengths > 0
    out[full] = np.add.reduceat(weight[indices], offsets[full], axis=0)
    if mode == "mean":
        out[full] /= lengths[full, None].astype(weight.dtype)
    return out


def compiled(threads: int | None) -> Impl:
    def run(weight: np.ndarray, indices: np.ndarray, offsets: np.ndarray, mode: str) -> np.ndarray:
        out, bad = embedding_kernels.pool_bags(weight, indices, offsets, mode == "mean", threads=threads)
        assert bad < 0
        return out
    return run


def implementations() -> dict[str, Impl]:
    impls: dict[str, Impl] = {"numpy": embedding_bag_numpy, "chunked": numpy_chunked, "reduceat": numpy_reduceat}
    if embedding_kernels.AVAILABLE:
        impls["numba1"] = compiled(1)
        impls["numba"] = embedding.embedding_bag
    return impls


def bags(rng: np.random.Generator, rows: int, batch: int, pooling: int) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.ones(batch, dtype=np.int64) if pooling == 1 else rng.integers(1, 2 * pooling, batch)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return rng.integers(0, rows, int(lengths.sum()), dtype=np.int64), offsets


def measure_case(impls: dict[str, Impl], weight: np.ndarray, indices: np.ndarray, offsets: np.ndarray,
                 mode: str, repeats: int, flush: np.ndarray) -> dict[str, float]:
    """Median seconds per implementation, cold cache, round-robin from a rotating start."""
    expected = embedding.embedding_bag(weight, indices, offsets, mode)
    for name, impl in impls.items():  # warm (JIT, thread pool) and check
        np.testing.assert_allclose(impl(weight, indices, offsets, mode), expected, rtol=1e-4, atol=1e-4,
                                   err_msg=name)
    times: dict[str, list[float]] = {name: [] for name in impls}
    names = list(impls)
    for r in range(repeats):
        # each repeat starts at the next implementation: the one run after
        # another finds the page-table caches warm, so no one always follows
        for name in names[r % len(names):] + names[:r % len(names)]:
            impl = impls[name]
            flush.sum()  # reads a buffer twice the LLC: the table's rows leave the cache, no dirty lines stay
            t0 = time.perf_counter()
            impl(weight, indices, offsets, mode)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="BLAS (and compiled kernel) thread limit (default: all)")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per implementation (default 7)")
    parser.add_argument("--table-mib", type=int, default=512, help="size of each table in MiB (default 512)")
    parser.add_argument("--dims", default=",".join(map(str, DIMS)))
    parser.add_argument("--pooling", default=",".join(map(str, POOLING)))
    args = parser.parse_args(argv)
    llc = last_level_cache_bytes()
    keep_heap_memory()  # as every engine run: outputs reuse heap pages instead of faulting fresh ones in per call
    limit = threadpool_limits(args.threads, user_api="blas") if args.threads else contextlib.nullcontext()
    with limit:
        threads = blas_threads()
        roofs = measure_roofs(threads)
        impls = implementations()
        for t, peaks in roofs.items():
            gather = ", ".join(f"{row} B {gbs:.1f}" for row, gbs in sorted(peaks.gather.items()))
            print(f"{t} thread(s): stream copy {peaks.gbs:.1f} GB/s; gather GB/s by row size: {gather}")
        print(f"last-level cache {llc >> 20} MiB; tables {args.table_mib} MiB; median of {args.repeats}, cold cache; "
              f"goal: the engine's kernel at {GOAL:.0%} of its roof (cells: 'GB/s (% of roof)')")
        if not embedding_kernels.AVAILABLE:
            print("numba is not importable: compiled kernel not measured")
        names = list(impls)
        header = f"{'dim':>4} {'batch':>5} {'L':>4} {'mode':>4} | " + " | ".join(f"{n:>14}" for n in names)
        if "numba" in impls:
            header += " | numba/numpy"
        print(header)
        print("-" * len(header))
        flush = np.ones(2 * llc // 4, dtype=np.float32)
        rng = np.random.default_rng(0)
        shares = []
        for dim in map(int, args.dims.split(",")):
            weight = rng.standard_normal(((args.table_mib << 20) // (4 * dim), dim), dtype=np.float32)
            for batch in BATCHES:
                for pooling in map(int, args.pooling.split(",")):
                    indices, offsets = bags(rng, weight.shape[0], batch, pooling)
                    for mode in MODES:
                        seconds = measure_case(impls, weight, indices, offsets, mode, args.repeats, flush)
                        shapes = [weight.shape, indices.shape, offsets.shape]
                        dtypes = ["float32", "int64", "int64", "float32"]
                        nbytes = EmbeddingBag.bytes(shapes, [(batch, dim)], dtypes)
                        roof = layer_roof(EmbeddingBag, shapes, dtypes, {"mode": mode}, nbytes, threads, roofs).gbs
                        gbs = {n: nbytes / s / 1e9 for n, s in seconds.items()}
                        row = f"{dim:>4} {batch:>5} {pooling:>4} {mode:>4} | " + " | ".join(
                            f"{gbs[n]:5.1f} ({100 * gbs[n] / roof:3.0f}%)".rjust(14) for n in names)
                        if "numba" in impls:
                            row += f" | {seconds['numpy'] / seconds['numba']:10.1f}x"
                            shares.append(gbs["numba"] / roof)
                        print(row, flush=True)
            del weight
        if shares:
            print(f"engine kernel (numba): median {statistics.median(shares):.0%} of its roof, "
                  f"min {min(shares):.0%}, max {max(shares):.0%}; goal {GOAL:.0%}: "
                  f"{'met' if statistics.median(shares) >= GOAL else 'MISSED'} at the median")
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
