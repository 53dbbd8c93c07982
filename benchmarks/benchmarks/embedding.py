"""EmbeddingBag on a table bigger than the last-level cache (256 MiB, uniform
random ids, a fresh id set per call until 128 MiB of rows have been read, so
rows of one call are not in cache for the next), through the engine's two paths: the compiled kernel (numba) and
the numpy fallback. Times one call and tracks the achieved GB/s (minimum
traffic, as the profiler counts it). Side-by-side ratios and the share of the
machine's peak: benchmarks/embedding_bandwidth.py.

EmbeddingBagRowwiseBigTable: the same table as fp32, 8-bit and 4-bit
row-wise rows (engine.quant.rowwise). DlrmLookups: dlrm's 26 lookups as 26
EmbeddingBag calls against one GroupedEmbeddingBag call (dedup off / on)
and its 8-bit form. Side-by-side ratios: benchmarks/embedding_fusion.py."""
from __future__ import annotations

import functools
import itertools
import math
import time

import numpy as np

from engine.ops import embedding_kernels
from engine.ops.embedding import EmbeddingBag, embedding_bag_numpy
from engine.ops.embedding_rowwise import EmbeddingBagRowwise, GroupedEmbeddingBagRowwise
from engine.ops.fused import GroupedEmbeddingBag
from engine.quant.rowwise import quantize_rows

from ._support import Skip, built, node_inputs

TABLE_BYTES = 256 << 20
POOLING = 20
ROTATION_BYTES = 128 << 20


@functools.lru_cache(maxsize=1)
def table(dim: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((TABLE_BYTES // (4 * dim), dim), dtype=np.float32)


class _CallBandwidth:
    """One call of `self.call` (set in setup), and the GB/s it moves (`self.nbytes`)."""

    def time_embedding_bag(self, *params: object) -> None:
        self.call()

    def track_gbs(self, *params: object) -> float:
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            self.call()
            times.append(time.perf_counter() - t0)
        return self.nbytes / float(np.median(times)) / 1e9

    track_gbs.unit = "GB/s"


class EmbeddingBagBigTable(_CallBandwidth):
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


@functools.lru_cache(maxsize=2)
def packed_table(dim: int, bits: int) -> np.ndarray:
    return quantize_rows(table(dim), bits)


class EmbeddingBagRowwiseBigTable(_CallBandwidth):
    params = (["fp32", "8-bit", "4-bit"], [2048])
    param_names = ("table", "batch")
    timeout = 300
    dim = 64

    def setup(self, kind: str, batch: int) -> None:
        n = batch * POOLING
        rng = np.random.default_rng(batch)
        rows = table(self.dim).shape[0]
        id_sets = [rng.integers(0, rows, n, dtype=np.int64)
                   for _ in range(math.ceil(ROTATION_BYTES / (n * self.dim * 4)))]
        next_ids = itertools.cycle(id_sets).__next__
        offsets = np.arange(0, n, POOLING, dtype=np.int64)
        if kind == "fp32":
            weight = table(self.dim)
            self.call = lambda: EmbeddingBag.run([weight, next_ids(), offsets], {"mode": "sum"})
        else:
            bits = 8 if kind == "8-bit" else 4
            weight = packed_table(self.dim, bits)
            attrs = {"mode": "sum", "bits": bits, "dim": self.dim}
            self.call = lambda: EmbeddingBagRowwise.run([weight, next_ids(), offsets], attrs)
        self.call()  # JIT or load from numba's cache
        self.nbytes = EmbeddingBag.bytes([weight.shape, (n,), offsets.shape], [(batch, self.dim)],
                                         [str(weight.dtype), "int64", "int64", "float32"])


class DlrmLookups:
    """dlrm's 26 lookups (inputs as a forward pass feeds them), per call of the ops' run."""

    params = (["separate", "grouped", "grouped-dedup", "grouped-8bit"], [128, 256])
    param_names = ("variant", "batch")
    timeout = 300

    def setup(self, variant: str, batch: int) -> None:
        _, plan, inputs = built("dlrm", batch)
        steps = [s for s in plan.steps if s.node.op == "EmbeddingBag"]
        lookups = [node_inputs(plan, inputs, s.node.name) for s in steps]
        if variant == "separate":
            self.call = lambda: [EmbeddingBag.run(args, {"mode": "sum"}) for args in lookups]
        else:
            flat = [a for args in lookups for a in args]
            if variant == "grouped-8bit":
                flat[0::3] = [packed_table_of(w) for w in flat[0::3]]
                attrs = {"mode": "sum", "bits": 8, "dims": [args[0].shape[1] for args in lookups]}
                self.call = lambda: GroupedEmbeddingBagRowwise.run(flat, attrs)
            else:
                attrs = {"mode": "sum", "dedup": int(variant == "grouped-dedup")}
                self.call = lambda: GroupedEmbeddingBag.run(flat, attrs)
        self.call()  # JIT or load from numba's cache

    def time_lookups(self, variant: str, batch: int) -> None:
        self.call()


_packed_by_id: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def packed_table_of(weight: np.ndarray) -> np.ndarray:
    """8-bit rows of a model's table, quantized once per process."""
    if id(weight) not in _packed_by_id:
        _packed_by_id[id(weight)] = (weight, quantize_rows(weight, 8))
    return _packed_by_id[id(weight)][1]
