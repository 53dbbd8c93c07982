"""The per-layer profiler: runs a graph node by node, times every node and
the whole pass, and turns FLOPs and bytes into achieved GFLOP/s, GB/s,
arithmetic intensity and a roofline verdict."""
from __future__ import annotations

import gc
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engine.executor import Plan, check_inputs, make_plan, run_graph
from engine.ir import Graph
from engine.report import Layer, TimeStats
from engine.roofline import Peaks, bound_of, measure_peaks


@dataclass(frozen=True)
class ProfileResult:
    layers: list[Layer]  # in execution order; Layer.index is the position
    end_to_end: TimeStats  # one whole forward pass
    warmup: int
    repeats: int
    peaks: Peaks
    outputs: dict[str, np.ndarray]  # the last pass's graph outputs


def time_stats(samples_ns: Sequence[int] | np.ndarray) -> TimeStats:
    s = np.asarray(samples_ns, dtype=np.float64) / 1e9
    if s.size == 0:
        raise ValueError("time_stats needs at least one sample")
    p25, median, p75 = np.percentile(s, [25, 50, 75])
    return TimeStats(median=float(median), p25=float(p25), p75=float(p75), min=float(s.min()), n=int(s.size))


def _layer(plan: Plan, index: int, stats: TimeStats, peaks: Peaks) -> Layer:
    step = plan.steps[index]
    ins = [plan.specs[t] for t in step.node.inputs]
    outs = [plan.specs[t] for t in step.node.outputs]
    flops = step.op.flops([s.shape for s in ins], step.attrs)
    nbytes = step.op.bytes([s.shape for s in ins], [s.shape for s in outs], [s.dtype for s in (*ins, *outs)])
    ai = flops / nbytes if nbytes else 0.0
    seconds = max(stats.median, 1e-9)  # a sub-nanosecond median would be a timer artefact
    return Layer(
        name=step.node.name,
        op=step.node.op,
        index=index,
        sources=[step.node.name],
        flops=int(flops),
        bytes=int(nbytes),
        time=stats,
        gflops=flops / seconds / 1e9,
        gbs=nbytes / seconds / 1e9,
        ai=ai,
        bound=bound_of(ai, peaks),
    )


def profile(
    graph: Graph,
    inputs: Mapping[str, np.ndarray],
    *,
    warmup: int = 3,
    repeats: int = 10,
    peaks: Peaks | None = None,
) -> ProfileResult:
    """Run `warmup` untimed and `repeats` timed forward passes. `peaks`
    defaults to this machine's measured (cached) peaks."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    plan = make_plan(graph)
    check_inputs(plan, inputs)
    peaks = peaks if peaks is not None else measure_peaks()

    steps = plan.steps
    node_ns = np.zeros((len(steps), repeats), dtype=np.int64)
    pass_ns = np.zeros(repeats, dtype=np.int64)
    clock = time.perf_counter_ns
    outputs: dict[str, np.ndarray] = {}
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection inside a timed node is noise, not the node's cost
    try:
        for r in range(-warmup, repeats):
            env = {**graph.initializers, **inputs}
            start = clock()
            for i, step in enumerate(steps):
                args = [env[t] for t in step.node.inputs]
                t0 = clock()
                outs = step.op.run(args, step.attrs)
                t1 = clock()
                env.update(zip(step.node.outputs, outs))
                for t in step.release:
                    del env[t]
                if r >= 0:
                    node_ns[i, r] = t1 - t0
            end = clock()
            if r >= 0:
                pass_ns[r] = end - start
            outputs = {t: env[t] for t in graph.outputs}
    finally:
        if gc_was_enabled:
            gc.enable()

    layers = [_layer(plan, i, time_stats(node_ns[i]), peaks) for i in range(len(steps))]
    return ProfileResult(layers, time_stats(pass_ns), warmup, repeats, peaks, outputs)


__all__ = ["ProfileResult", "profile", "run_graph", "time_stats"]
