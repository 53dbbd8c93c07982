"""Print side-by-side ratios for embedding-lookup fusion and row-wise quantized tables.

    .venv/bin/python benchmarks/embedding_fusion.py [--repeats N] [--batches 128,256] [--threads 1,2]
                                                    [--rows 4000000] [--skip-dlrm] [--skip-big]

1. dlrm (26 EmbeddingBags, dim 64, Zipf ids): the graph without passes (26
   EmbeddingBag nodes) against the embedding_group pass's graph (one
   GroupedEmbeddingBag node), with dedup off and on, and that node
   quantized to 8-bit rows (GroupedEmbeddingBagRowwise), and "grouped
   split" with the ids split over threads from SPLIT_IDS ids a thread (the
   default, MIN_IDS_PER_THREAD, keeps dlrm's batches on one thread).
   Each is timed through engine.profile.profile, as a real run times it
   (per-node executor overhead included); "lookups" is the summed median
   time of the embedding nodes, "graph" the whole forward pass. Goal:
   grouped >= 3x. "kernel" lines time the compiled kernel alone (26 calls,
   or one grouped call, no checks), called back to back so its rows stay
   cached, and "kernel grp cold" after the cache is flushed: against "26
   separate" they show what per-node overhead and the cold cache of a real
   forward pass (other layers run between lookups) cost.
2. A table bigger than the cache (--rows x 64, uniform ids, a fresh id set
   per call until 4x the last-level cache of rows has been read, so a call
   finds few rows cached): EmbeddingBag fp32 against EmbeddingBagRowwise
   8-bit and 4-bit, through the ops' run (what the engine calls). Goal:
   8-bit >= 2x faster than fp32; and the tables' memory ratios.

Every variant runs in one process, round-robin within each repeat (the
order rotating every repeat); the tables show medians over the repeats and
the median of the per-repeat ratios. The machine is shared: see `uptime`.
"""
from __future__ import annotations

import argparse
import itertools
import math
import os
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from engine.ir import Graph
from engine.machine import last_level_cache_bytes
from engine.models import build_model
from engine.ops import embedding_kernels
from engine.ops.embedding import EmbeddingBag
from engine.ops.embedding_rowwise import EmbeddingBagRowwise
from engine.passes import run_passes
from engine.profile import profile
from engine.quant.rowwise import quantize_rows
from engine.quant.rowwise_nodes import quantize_embedding_node

EMBEDDING_OPS = ("EmbeddingBag", "GroupedEmbeddingBag", "EmbeddingBagRowwise", "GroupedEmbeddingBagRowwise")
BIG_DIM = 64
BIG_BATCH = 2048
BIG_POOLING = 20
SPLIT_IDS = 8192  # "grouped split": ids per thread before the grouped node splits (default MIN_IDS_PER_THREAD)


def _with_attrs(graph: Graph, **attrs: object) -> Graph:
    """The graph with attrs set on its GroupedEmbeddingBag node(s)."""
    nodes = tuple(n if n.op != "GroupedEmbeddingBag" else type(n)(n.name, n.op, n.inputs, n.outputs,
                                                                   {**n.attrs, **attrs}) for n in graph.nodes)
    return Graph(graph.name, graph.inputs, graph.initializers, nodes, graph.outputs)


def _quantized(graph: Graph, bits: int) -> Graph:
    inits = dict(graph.initializers)
    nodes = []
    for node in graph.nodes:
        if node.op == "GroupedEmbeddingBag":
            node, packed = quantize_embedding_node(graph, node, bits)
            inits.update(packed)
        nodes.append(node)
    used = {t for n in nodes for t in n.inputs}
    return Graph(graph.name, graph.inputs, {k: v for k, v in inits.items() if k in used}, tuple(nodes), graph.outputs)


def _rotated(names: Sequence[str], r: int) -> list[str]:
    return list(names[r % len(names):]) + list(names[:r % len(names)])


def dlrm_section(batches: Sequence[int], threads: Sequence[int], repeats: int) -> None:
    print("1. dlrm: 26 EmbeddingBag nodes vs one grouped node, through engine.profile (medians, microseconds)")
    print(f"{'batch':>5} {'thr':>3} | {'variant':<16} | {'lookups':>8} {'x vs 26':>8} | {'graph':>8} {'x':>6}")
    for batch in batches:
        model = build_model("dlrm", batch=batch)
        feeds = model.make_inputs(0)
        grouped = run_passes(model.graph, "embedding_group").graph
        graphs = {"26 separate": model.graph, "grouped": grouped, "grouped split": grouped,
                  "grouped dedup": _with_attrs(grouped, dedup=1), "grouped 8-bit": _quantized(grouped, 8)}
        reference = None
        for t in threads:
            with threadpool_limits(t, user_api="blas"):
                lookups: dict[str, list[float]] = {n: [] for n in graphs}
                whole: dict[str, list[float]] = {n: [] for n in graphs}
                for r in range(-1, repeats):  # r = -1: JIT and warm-up, not recorded
                    for name in _rotated(list(graphs), r):
                        split = SPLIT_IDS if name == "grouped split" else embedding_kernels.MIN_IDS_PER_THREAD
                        saved, embedding_kernels.MIN_IDS_PER_THREAD = embedding_kernels.MIN_IDS_PER_THREAD, split
                        try:
                            result = profile(graphs[name], feeds, warmup=2, repeats=10)
                        finally:
                            embedding_kernels.MIN_IDS_PER_THREAD = saved
                        if r < 0:
                            if name == "26 separate":
                                reference = result.outputs
                            elif name != "grouped 8-bit":  # fp32 variants: bit-identical outputs
                                for k, v in result.outputs.items():
                                    np.testing.assert_array_equal(v, reference[k], err_msg=name)
                            continue
                        lookups[name].append(sum(layer.time.median for layer in result.layers
                                                 if layer.op in EMBEDDING_OPS))
                        whole[name].append(result.end_to_end.median)
            kernel = _kernel_times(model.graph, feeds, repeats)
            base_l, base_g = lookups["26 separate"], whole["26 separate"]
            for name in graphs:
                ratio_l = statistics.median(b / v for b, v in zip(base_l, lookups[name]))
                ratio_g = statistics.median(b / v for b, v in zip(base_g, whole[name]))
                print(f"{batch:>5} {t:>3} | {name:<16} | {statistics.median(lookups[name]) * 1e6:8.0f} "
                      f"{ratio_l:7.2f}x | {statistics.median(whole[name]) * 1e6:8.0f} {ratio_g:5.2f}x", flush=True)
            for name, ts in kernel.items():
                print(f"{batch:>5} {t:>3} | {name:<16} | {statistics.median(ts) * 1e6:8.0f} "
                      f"{statistics.median(base_l) / statistics.median(ts):7.2f}x |", flush=True)


def _kernel_times(graph: Graph, feeds: dict[str, np.ndarray], repeats: int) -> dict[str, list[float]]:
    """Seconds of the bare compiled kernel: 26 single-table calls, and one grouped call."""
    nodes = [n for n in graph.nodes if n.op == "EmbeddingBag"]
    tables = [graph.initializers[n.inputs[0]] for n in nodes]
    ids = [feeds[n.inputs[1]] for n in nodes]
    offs = [feeds[n.inputs[2]] for n in nodes]
    flush = np.ones(2 * last_level_cache_bytes() // 4, dtype=np.float32)
    calls = {"kernel x26": lambda: [embedding_kernels.pool_bags(w, i, o, False) for w, i, o in zip(tables, ids, offs)],
             "kernel grouped": lambda: embedding_kernels.pool_grouped(tables, ids, offs, False),
             "kernel grp cold": lambda: embedding_kernels.pool_grouped(tables, ids, offs, False)}
    times: dict[str, list[float]] = {name: [] for name in calls}
    for r in range(-1, repeats):
        for name in _rotated(list(calls), r):
            samples = []
            for _ in range(10):
                if name.endswith("cold"):
                    flush.sum()  # reads twice the last-level cache: the tables' rows leave it
                t0 = time.perf_counter()
                calls[name]()
                samples.append(time.perf_counter() - t0)
            if r >= 0:
                times[name].append(statistics.median(samples))
    return times


def big_section(rows: int, threads: Sequence[int], repeats: int) -> None:
    rng = np.random.default_rng(0)
    table = rng.standard_normal((rows, BIG_DIM), dtype=np.float32)
    packed = {bits: quantize_rows(table, bits) for bits in (8, 4)}
    fp32_mib = table.nbytes / 2**20
    print(f"\n2. EmbeddingBag on a {rows} x {BIG_DIM} table (fp32 {fp32_mib:.0f} MiB), batch {BIG_BATCH}, "
          f"pooling {BIG_POOLING}, uniform ids (medians)")
    for bits, p in packed.items():
        print(f"   {bits}-bit table {p.nbytes / 2**20:.0f} MiB: {table.nbytes / p.nbytes:.2f}x less memory "
              f"({p.shape[1]} bytes a row against {4 * BIG_DIM})")
    n, dim = BIG_BATCH * BIG_POOLING, BIG_DIM
    offsets = np.arange(0, n, BIG_POOLING, dtype=np.int64)
    id_sets = [rng.integers(0, rows, n, dtype=np.int64)
               for _ in range(max(2, math.ceil(4 * last_level_cache_bytes() / (n * BIG_DIM * 4))))]
    calls: dict[str, Callable[[np.ndarray], object]] = {
        "fp32": lambda ids: EmbeddingBag.run([table, ids, offsets], {"mode": "sum"}),
        "8-bit": lambda ids: EmbeddingBagRowwise.run([packed[8], ids, offsets], {"mode": "sum", "bits": 8, "dim": dim}),
        "4-bit": lambda ids: EmbeddingBagRowwise.run([packed[4], ids, offsets], {"mode": "sum", "bits": 4, "dim": dim}),
    }
    row_bytes = {"fp32": 4 * BIG_DIM, "8-bit": packed[8].shape[1], "4-bit": packed[4].shape[1]}
    print(f"{'thr':>3} | {'variant':<6} | {'us':>8} {'GB/s':>6} {'x vs fp32':>9}")
    for t in threads:
        with threadpool_limits(t, user_api="blas"):
            next_ids = itertools.cycle(id_sets).__next__
            for call in calls.values():
                call(next_ids())  # JIT / cache load
            times: dict[str, list[float]] = {name: [] for name in calls}
            for r in range(repeats):
                for name in _rotated(list(calls), r):
                    ids = next_ids()
                    t0 = time.perf_counter()
                    calls[name](ids)
                    times[name].append(time.perf_counter() - t0)
            for name in calls:
                med = statistics.median(times[name])
                ratio = statistics.median(f / v for f, v in zip(times["fp32"], times[name]))
                gbs = n * row_bytes[name] / med / 1e9
                print(f"{t:>3} | {name:<6} | {med * 1e6:8.0f} {gbs:6.1f} {ratio:8.2f}x", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="interleaved repeats (default 15)")
    parser.add_argument("--batches", default="128,256", help="dlrm batch sizes (default 128,256)")
    parser.add_argument("--threads", default=f"1,{os.cpu_count() or 1}", help="BLAS thread limits (default 1,all)")
    parser.add_argument("--rows", type=int, default=4_000_000, help="rows of the big table (default 4M: 1 GiB fp32)")
    parser.add_argument("--skip-dlrm", action="store_true")
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args(argv)
    threads = sorted(set(int(t) for t in args.threads.split(",")))
    print(f"load: {os.getloadavg()[0]:.2f} (1-min average) on {os.cpu_count()} cores")
    if not args.skip_dlrm:
        dlrm_section([int(b) for b in args.batches.split(",")], threads, args.repeats)
    if not args.skip_big:
        big_section(args.rows, threads, args.repeats)
    print(f"load: {os.getloadavg()[0]:.2f} (1-min average)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
