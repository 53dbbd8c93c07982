"""The gather roof: how many GB/s this machine moves when it reads random rows
of a table far bigger than the last-level cache, at a given row size.

A lookup (EmbeddingBag, Gather, the row-wise quantized tables) reads whole
rows at random addresses, so each row costs one or more cache-line misses
and a DRAM page opening: it cannot reach the streaming-copy roof. Judging
it against the copy roof reads "13-31% of roof" for a kernel that may
already be at the physical limit. This probe measures that limit: uniform
random ids over a GATHER_MIB table, each row read whole (summed as 8-byte
words, so nothing is optimised away), with the rows a few ids ahead
prefetched (every cache line of the row, as the engine's lookups do) and
without (the best counts: the roof is what the machine can do, not what one
kernel does), split over `threads` Python
threads running the same nogil kernel (as the engine's lookups are).

Row sizes (ROW_BYTES) are those the models use: float32 rows of 16-128
columns (64-512 B), FBGEMM row-wise 8-bit rows (dim + 8 B) and 4-bit rows
(dim / 2 + 8 B). A layer's row size between two measured ones gets the
roof interpolated linearly in the row size (`gather_gbs_at`).
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from engine.ops import embedding_kernels

GATHER_MIB = 1024  # the table: 32x a 32 MiB L3, so nearly every row misses every cache
ROW_BYTES = (16, 24, 40, 64, 72, 128, 136, 256, 264, 512)
IDS = 1 << 20  # ids per timed sweep
REPEATS = 3
PREFETCH_AHEADS = (16, 32)  # ids; the best of these (and of none) counts
LINE_WORDS = 8  # 8-byte words in a 64-byte cache line

if embedding_kernels.AVAILABLE:
    import numba

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def _sweep(table, ids, first, end, ahead):
        """Sum of the rows of ids[first:end] of `table` (uint64 words),
        prefetching the row `ahead` ids on when ahead > 0."""
        words = table.shape[1]
        total = np.uint64(0)
        n = ids.size
        for p in range(first, end):
            if ahead > 0 and p + ahead < n:
                for w in range(0, words, LINE_WORDS):  # every line the row touches
                    embedding_kernels._prefetch(table, ids[p + ahead], w)
                embedding_kernels._prefetch(table, ids[p + ahead], words - 1)
            row = table[ids[p]]
            for w in range(words):
                total += row[w]
        return total
else:
    _sweep = None


def _numpy_sweep(table: np.ndarray, ids: np.ndarray, first: int, end: int, ahead: int) -> int:
    """Without numba: numpy's take (one thread per call; it releases the GIL)."""
    return int(np.take(table, ids[first:end], axis=0).sum(dtype=np.uint64))


def measure_gather_gbs(threads: int = 1, row_bytes: tuple[int, ...] = ROW_BYTES, mib: int = GATHER_MIB,
                       ids: int = IDS, repeats: int = REPEATS) -> dict[int, float]:
    """Best random-row gather GB/s (row bytes read per ns) at each row size,
    with `threads` threads sharing the ids."""
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    buffer = np.empty(mib * 2**20, dtype=np.uint8)
    buffer.fill(1)  # touch every page before timing
    rng = np.random.default_rng(0)
    sweep = _sweep if _sweep is not None else _numpy_sweep
    bounds = np.linspace(0, ids, threads + 1, dtype=np.int64)
    parts = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
    found: dict[int, float] = {}
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for size in row_bytes:
            if size % 8:
                raise ValueError(f"row size {size} B: the probe reads 8-byte words, so it must be a multiple of 8")
            rows = buffer.size // size
            table = buffer[: rows * size].view(np.uint64).reshape(rows, size // 8)
            row_ids = rng.integers(0, rows, size=ids, dtype=np.int64)
            best = 0.0
            for ahead in (0, *PREFETCH_AHEADS) if _sweep is not None else (0,):
                list(pool.map(lambda part: sweep(table, row_ids, *part, ahead), parts))  # warm: JIT, TLB
                for _ in range(repeats):
                    t0 = time.perf_counter_ns()
                    list(pool.map(lambda part: sweep(table, row_ids, *part, ahead), parts))
                    best = max(best, ids * size / (time.perf_counter_ns() - t0))
            found[size] = best
    return found


def gather_gbs_at(roof: Mapping[int, float], row_bytes: float) -> float | None:
    """The gather roof at `row_bytes`, linear between the two measured sizes
    around it (the nearest end outside them); None with nothing measured."""
    if not roof:
        return None
    sizes = sorted(roof)
    return float(np.interp(row_bytes, sizes, [roof[s] for s in sizes]))
