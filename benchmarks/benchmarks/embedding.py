"""EmbeddingBag on a table bigger than the last-level cache (256 MiB, uniform
random ids, a fresh id set per call until 128 MiB of rows have been read, so
rows of one call are not in cache for the next), through the engine's two paths: the compiled kernel (numba) and
the numpy fallback. Times one call and tracks the achieved GB/s (minimum
traffic, as the profiler counts it). Side-by-side ratios and the share of the
machine's peak: benchmarks/embedding_bandwidth.py."""
from __future__ import annotations

import functools
import itertools
import math
import time

import numpy as np

from engine.ops import embedding_kernels
from engine.ops.embedding import EmbeddingBag, embedding_bag_numpy

from ._support import Skip

TABLE_BYTES = 256 << 20
POOLING = 20
ROTATION_BYTES = 128 << 20


@functools.lru_cache(maxsize=1)
def table(dim: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((TABLE_BYTES // (4 * dim), dim), dtype=np.float32)


class EmbeddingBagBigTable:
    params = (["numba", "numpy"], [16, 64, 128], [256, 2048])
    param_names = ("path", "dim", "batch")
    timeout = 300

    def setup(self, path: str, dim: int, batch: int) -> None:
        if path == "numba" and not embedding_kernels.AVAILABLE:
            raise Skip("numba is not installed")
        self.weight = table(dim)
        n = batch * POOLING
        rng = np.random.default_rng(batch)
        id_sets = [rng.integers(0, self.weight.shape[0], n, dtype=np.int64)
                   for _ in range(math.ceil(ROTATION_BYTES / (n * dim * 4)))]
        self.next_ids = itertools.cycle(id_sets).__next__
        offsets = np.arange(0, n, POOLING, dtype=np.int64)
        if path == "numba":
            self.call = lambda: embedding_kernels.pool_bags(self.weight, self.next_ids(), offsets, False)
        else:
            self.call = lambda: embedding_bag_numpy(self.weight, self.next_ids(), offsets, "sum")
        self.call()  # JIT or load from numba's cache
        self.nbytes = EmbeddingBag.bytes([self.weight.shape, (n,), offsets.shape],
                                         [(batch, dim)], ["float32", "int64", "int64", "float32"])

    def time_embedding_bag(self, path: str, dim: int, batch: int) -> None:
        self.call()

    def track_gbs(self, path: str, dim: int, batch: int) -> float:
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            self.call()
            times.append(time.perf_counter() - t0)
        return self.nbytes / float(np.median(times)) / 1e9

    track_gbs.unit = "GB/s"
