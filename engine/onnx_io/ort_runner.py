"""Running an exported graph in onnxruntime beside the engine: sessions with
a fixed thread count, a one-off run, and a side-by-side latency race."""
from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import onnx
import onnxruntime as ort
from threadpoolctl import threadpool_limits

from engine.executor import check_inputs, execute, make_plan
from engine.ir import Graph
from engine.onnx_io.export_graph import export_onnx


def ort_session(model: onnx.ModelProto, threads: int | None = None) -> ort.InferenceSession:
    """A CPUExecutionProvider session at full graph optimization; `threads`
    sets intra_op_num_threads (inter-op stays sequential, as the engine is)."""
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no warnings about folded initializers
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def run_ort(model: onnx.ModelProto, inputs: Mapping[str, np.ndarray], threads: int | None = None
            ) -> dict[str, np.ndarray]:
    session = ort_session(model, threads)
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(inputs)), strict=False))


@dataclass(frozen=True)
class Race:
    ours_s: float  # median seconds of one forward pass
    ort_s: float
    repeats: int
    threads: int | None

    @property
    def ratio(self) -> float:
        """ours / onnxruntime: below 1 the engine is faster."""
        return self.ours_s / self.ort_s


def race_runners(runners: Mapping[str, Callable[[], object]], *, threads: int | None = None, repeats: int = 20,
                 warmup: int = 3, blocks: int = 5) -> dict[str, float]:
    """Median seconds of one call of each runner, under one BLAS thread limit.

    The runners take turns in `blocks` blocks of calls so that slow drift in
    machine load hits them alike; each block starts with one untimed call,
    since the previous runner's worker threads may still be spinning (both
    OpenBLAS and onnxruntime busy-wait a little after a call)."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    samples: dict[str, list[float]] = {name: [] for name in runners}
    sizes = [len(chunk) for chunk in np.array_split(np.arange(repeats), min(blocks, repeats))]
    limit = threadpool_limits(limits=threads, user_api="blas") if threads else contextlib.nullcontext()
    clock = time.perf_counter
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with limit:
            for fn in runners.values():
                for _ in range(warmup):
                    fn()
            for size in sizes:
                for name, fn in runners.items():
                    fn()  # untimed: let the previous runner's threads settle
                    for _ in range(size):
                        t0 = clock()
                        fn()
                        samples[name].append(clock() - t0)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: float(np.median(times)) for name, times in samples.items()}


def race(graph: Graph, inputs: Mapping[str, np.ndarray], *, threads: int | None = None, repeats: int = 20,
         warmup: int = 3, blocks: int = 5) -> Race:
    """Median latency of one forward pass of `graph` in the engine and of its
    ONNX export in onnxruntime, same inputs, same thread count (BLAS via
    threadpoolctl, ORT via intra_op_num_threads), raced by race_runners."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    plan = make_plan(graph)
    check_inputs(plan, inputs)
    session = ort_session(export_onnx(graph), threads)
    feed = dict(inputs)
    medians = race_runners({"ours": lambda: execute(plan, inputs), "ort": lambda: session.run(None, feed)},
                           threads=threads, repeats=repeats, warmup=warmup, blocks=blocks)
    return Race(medians["ours"], medians["ort"], repeats, threads)
