"""The per-layer profiler: runs a graph node by node, times every node and
the whole pass, and turns FLOPs and bytes into achieved GFLOP/s, GB/s,
arithmetic intensity and a roofline verdict.

Two kinds of forward pass alternate, timed then plain, once per repeat (and
per warmup pass), so drift and noise hit both alike:

- a timed pass reads the clock around every node's kernel: the layer times;
- a plain pass runs with no clock between nodes: the honest end-to-end
  latency.

Both run engine.executor.run_program, the loop `execute` (and so the
onnxruntime race) runs too.

The ratio of the two medians, minus 1, is the profiler's own overhead.
"""
from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.executor import Clock, Instruction, Plan, check_inputs, make_plan, run_graph, run_program, start_env
from engine.inject import Injection, check_layers, extra_work, parse_injections, stream_buffer, with_extra_work
from engine.ir import Graph
from engine.report import Layer, TimeStats
from engine.roofline import Peaks, bound_of, measure_peaks


@dataclass(frozen=True)
class ProfileResult:
    layers: list[Layer]  # in execution order; Layer.index is the position
    end_to_end: TimeStats  # plain passes: no per-layer timing inside them
    warmup: int
    repeats: int
    peaks: Peaks
    outputs: dict[str, np.ndarray]  # the last pass's graph outputs
    timed_end_to_end: TimeStats  # the timed passes, per-layer clock reads included
    profiler_overhead: float  # timed median / plain median - 1


def time_stats(samples_ns: Sequence[int] | np.ndarray) -> TimeStats:
    s = np.asarray(samples_ns, dtype=np.float64) / 1e9
    if s.size == 0:
        raise ValueError("time_stats needs at least one sample")
    p25, median, p75 = np.percentile(s, [25, 50, 75])
    return TimeStats(median=float(median), p25=float(p25), p75=float(p75), min=float(s.min()), n=int(s.size))


def layer_counts(plan: Plan, index: int) -> tuple[int, int]:
    """(flops, bytes) of step `index`, from the op's formulas and the tensor specs."""
    step = plan.steps[index]
    ins = [plan.specs[t] for t in step.node.inputs]
    outs = [plan.specs[t] for t in step.node.outputs]
    flops = step.op.flops([s.shape for s in ins], step.attrs)
    nbytes = step.op.bytes([s.shape for s in ins], [s.shape for s in outs], [s.dtype for s in (*ins, *outs)])
    return int(flops), int(nbytes)


def _layer(plan: Plan, index: int, counts: tuple[int, int], stats: TimeStats, peaks: Peaks) -> Layer:
    node = plan.steps[index].node
    flops, nbytes = counts
    ai = flops / nbytes if nbytes else 0.0
    seconds = max(stats.median, 1e-9)  # a sub-nanosecond median would be a timer artefact
    return Layer(
        name=node.name,
        op=node.op,
        index=index,
        sources=[node.name],
        flops=flops,
        bytes=nbytes,
        time=stats,
        gflops=flops / seconds / 1e9,
        gbs=nbytes / seconds / 1e9,
        ai=ai,
        bound=bound_of(ai, peaks),
    )


def _with_injections(plan: Plan, work: Mapping[int, list[Callable[[], None]]]) -> list[Instruction]:
    """The plan's program, with the injected layers' kernels doing their extra work too."""
    return [(with_extra_work(ins[0], work[i]), *ins[1:]) if i in work else ins
            for i, ins in enumerate(plan.program)]


def profile(
    graph: Graph,
    inputs: Mapping[str, np.ndarray],
    *,
    warmup: int = 3,
    repeats: int = 10,
    peaks: Peaks | None = None,
    inject: Sequence[str | Injection] = (),
    clock: Clock = time.perf_counter_ns,
) -> ProfileResult:
    """Run `warmup` + `repeats` pairs of (timed pass, plain pass); only the
    last `repeats` pairs are recorded. Layer times come from the timed passes;
    `end_to_end` from the plain ones, which carry no per-layer clock reads
    (the honest latency). `peaks` defaults to this machine's measured (cached)
    peaks. `inject` (Injections or "kind:layer:factor" specs) makes the
    named layers do extra work (engine.inject); `clock` is for tests."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    plan = make_plan(graph)
    check_inputs(plan, inputs)
    steps = plan.steps
    index_of = {step.node.name: i for i, step in enumerate(steps)}
    injections = parse_injections(inject)
    check_layers(injections, list(index_of))
    peaks = peaks if peaks is not None else measure_peaks()
    counts = [layer_counts(plan, i) for i in range(len(steps))]

    buffer: list[np.ndarray] = []  # the stream buffer, allocated once and only if needed

    def shared_buffer() -> np.ndarray:
        if not buffer:
            buffer.append(stream_buffer())
        return buffer[0]

    work: dict[int, list[Callable[[], None]]] = {}
    for inj in injections:
        i = index_of[inj.layer]
        work.setdefault(i, []).append(extra_work(inj, *counts[i], shared_buffer))
    program = _with_injections(plan, work)
    first_env = start_env(plan, inputs)

    node_ns = np.zeros((repeats, len(steps)), dtype=np.int64)  # one preallocated row per repeat
    scratch_ns = np.zeros(len(steps), dtype=np.int64)  # warmup rows, thrown away
    timed_ns = np.zeros(repeats, dtype=np.int64)
    plain_ns = np.zeros(repeats, dtype=np.int64)
    env: list[Any] = first_env
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection inside a timed node is noise, not the node's cost
    try:
        for r in range(-warmup, repeats):
            env = first_env.copy()
            start = clock()
            run_program(program, env, node_ns[r] if r >= 0 else scratch_ns, clock)
            end = clock()
            if r >= 0:
                timed_ns[r] = end - start
            env = first_env.copy()
            start = clock()
            run_program(program, env)
            end = clock()
            if r >= 0:
                plain_ns[r] = end - start
    finally:
        if gc_was_enabled:
            gc.enable()

    outputs = {t: env[plan.slots[t]] for t in graph.outputs}
    layers = [_layer(plan, i, counts[i], time_stats(node_ns[:, i]), peaks) for i in range(len(steps))]
    plain, timed = time_stats(plain_ns), time_stats(timed_ns)
    overhead = timed.median / plain.median - 1.0 if plain.median > 0 else 0.0
    return ProfileResult(layers, plain, warmup, repeats, peaks, outputs, timed, overhead)


__all__ = ["ProfileResult", "layer_counts", "profile", "run_graph", "time_stats"]
