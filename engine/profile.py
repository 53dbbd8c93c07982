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

Steady state: malloc keeps freed heap pages (engine.malloc_tuning, applied
here unless `keep_heap=False`), and warmup goes on past the requested passes,
up to `settle` more pairs, until SETTLED_AFTER pairs in a row take no minor
page fault.
The faults the recorded pairs take are counted (`timed_page_faults`: 0 in a
steady state).

Precision on demand: with `target_ci` (percent), pairs are added after the
requested repeats until the end-to-end median's 95% confidence interval has a
half-width ((ci_high - ci_low) / 2) of at most that percent of the median, or
the passes have used `budget_s` seconds (warmup included).
"""
from __future__ import annotations

import dataclasses
import gc
import resource
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.stats import binom

from engine.executor import Clock, Instruction, Plan, check_inputs, make_plan, run_graph, run_program, start_env
from engine.inject import Injection, check_layers, extra_work, parse_injections, stream_buffer, with_extra_work
from engine.ir import Graph
from engine.malloc_tuning import keep_heap_memory
from engine.layer_roof import layer_roof
from engine.report import CONFIDENCE, Layer, TimeStats
from engine.roofline import Peaks, blas_threads, measure_peaks


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
    timed_page_faults: int = 0  # minor page faults during the recorded pairs (0: steady state)
    target_met: bool | None = None  # with target_ci: whether the end-to-end CI reached it


SETTLE_PAIRS = 20  # at most this many warmup pairs past the requested ones while pages still fault
SETTLED_AFTER = 2  # fault-free warmup pairs in a row that end the settling (faults can be sporadic)
RESETTLE_PAIRS = 3  # --target-ci: at most this many unrecorded pairs after each growth, until one is fault-free
DEFAULT_BUDGET_S = 60.0  # --target-ci's default time budget


@lru_cache(maxsize=512)
def median_ci_ranks(n: int, confidence: float = CONFIDENCE) -> tuple[int, int] | None:
    """0-based ranks (lo, hi) of the sorted sample whose values bound the
    median with at least `confidence`: the distribution-free interval from
    order statistics. [x(j), x(n+1-j)] (1-based) covers the median with
    probability 1 - 2 P(B <= j - 1), B ~ Binomial(n, 1/2); j is the largest
    rank that keeps that >= confidence. None when even [min, max] falls
    short (n < 6 at 95%)."""
    tail = binom.cdf(np.arange(n), n, 0.5)
    ok = np.flatnonzero(tail <= (1.0 - confidence) / 2)
    if ok.size == 0:
        return None
    j = int(ok[-1])  # j - 1 in the 1-based formula
    return j, n - 1 - j


def time_stats(samples_ns: Sequence[int] | np.ndarray) -> TimeStats:
    """Percentiles in seconds and the median's CONFIDENCE interval (None when
    there are too few samples for one): the one place both are computed."""
    s = np.asarray(samples_ns, dtype=np.float64) / 1e9
    if s.size == 0:
        raise ValueError("time_stats needs at least one sample")
    p25, median, p75 = np.percentile(s, [25, 50, 75])
    ranks = median_ci_ranks(int(s.size))
    ci_low = ci_high = None
    if ranks is not None:
        lo, hi = ranks
        part = np.partition(s, (lo, hi))
        ci_low, ci_high = float(part[lo]), float(part[hi])
    return TimeStats(median=float(median), p25=float(p25), p75=float(p75), min=float(s.min()), n=int(s.size),
                     ci_low=ci_low, ci_high=ci_high)


def ci_half_width_pct(stats: TimeStats) -> float | None:
    """The median's CI half-width in percent of the median; None without a CI."""
    if stats.ci_low is None or stats.ci_high is None or stats.median <= 0:
        return None
    return (stats.ci_high - stats.ci_low) / 2 / stats.median * 100.0


def check_target(target_ci: float | None, budget_s: float | None) -> None:
    """--target-ci is a percent in (0, 100); the budget a positive number of seconds."""
    if target_ci is not None and not 0 < target_ci < 100:
        raise ValueError(f"target_ci must be a percent between 0 and 100 (exclusive), got {target_ci}")
    if budget_s is not None and not budget_s > 0:
        raise ValueError(f"budget_s must be > 0 seconds, got {budget_s}")


def minor_faults() -> int:
    """Minor page faults of this process so far (every thread's)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _step_specs(plan: Plan, index: int) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]], list[str]]:
    """Input shapes, output shapes and the dtypes of both (inputs first) of step `index`."""
    step = plan.steps[index]
    ins = [plan.specs[t] for t in step.node.inputs]
    outs = [plan.specs[t] for t in step.node.outputs]
    return [s.shape for s in ins], [s.shape for s in outs], [s.dtype for s in (*ins, *outs)]


def layer_counts(plan: Plan, index: int) -> tuple[int, int]:
    """(flops, bytes) of step `index`, from the op's formulas and the tensor specs."""
    step = plan.steps[index]
    in_shapes, out_shapes, dtypes = _step_specs(plan, index)
    return int(step.op.flops(in_shapes, step.attrs)), int(step.op.bytes(in_shapes, out_shapes, dtypes))


def judged(layer: Layer, plan: Plan, threads: int, roofs: Mapping[int, Peaks]) -> Layer:
    """`layer` (step layer.index of `plan`) with the roof that judges it at the
    engine's thread limit `threads` (engine.layer_roof), its bound on that
    roof, and its kernel's own traffic."""
    step = plan.steps[layer.index]
    in_shapes, out_shapes, dtypes = _step_specs(plan, layer.index)
    roof = layer_roof(step.op, in_shapes, dtypes, step.attrs, layer.bytes, threads, roofs)
    return dataclasses.replace(layer, bound=roof.bound(layer.ai), threads=roof.threads, roof=roof.kind,
                               roof_gflops=roof.gflops, roof_gbs=roof.gbs,
                               kernel_bytes=step.op.kernel_bytes(in_shapes, out_shapes, dtypes, step.attrs))


def rejudged(result: ProfileResult, graph: Graph, roofs: Mapping[int, Peaks]) -> ProfileResult:
    """`result` (a profile of `graph`) with every layer judged again against `roofs`."""
    plan, threads = make_plan(graph), blas_threads()
    return dataclasses.replace(result, layers=[judged(ly, plan, threads, roofs) for ly in result.layers])


def _layer(plan: Plan, index: int, counts: tuple[int, int], stats: TimeStats) -> Layer:
    """Step `index` as a report layer, before judging (`judged`)."""
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
        bound="",  # set by `judged`
    )


def _injected_program(plan: Plan, injections: Sequence[Injection], counts: Sequence[tuple[int, int]]
                      ) -> list[Instruction]:
    """The plan's program, with the injected layers' kernels doing their extra work too."""
    index_of = {step.node.name: i for i, step in enumerate(plan.steps)}
    check_layers(injections, list(index_of))
    buffer: list[np.ndarray] = []  # the stream buffer, allocated once and only if needed

    def shared_buffer() -> np.ndarray:
        if not buffer:
            buffer.append(stream_buffer())
        return buffer[0]

    work: dict[int, list[Callable[[], None]]] = {}
    for inj in injections:
        i = index_of[inj.layer]
        work.setdefault(i, []).append(extra_work(inj, *counts[i], shared_buffer))
    return [(with_extra_work(ins[0], work[i]), *ins[1:]) if i in work else ins
            for i, ins in enumerate(plan.program)]


def _filled_rows(n: int, width: int | None = None) -> np.ndarray:
    """Sample rows, written inside timed passes: filled now (np.zeros' pages
    would be faulted in by the first write, inside a pass)."""
    a = np.empty((n, width) if width is not None else n, dtype=np.int64)
    a.fill(0)
    return a


class _Pairs:
    """The (timed pass, plain pass) pairs of one profile and their samples."""

    def __init__(self, program: Sequence[Instruction], first_env: list[Any], steps: int, repeats: int,
                 clock: Clock) -> None:
        self.program, self.first_env, self.clock = program, first_env, clock
        self.node_ns = _filled_rows(repeats, steps)
        self.scratch_ns = _filled_rows(steps)  # unrecorded pairs' rows, thrown away
        self.timed_ns, self.plain_ns = _filled_rows(repeats), _filled_rows(repeats)
        self.env = first_env
        self.spent_ns = 0  # the passes' own time, unrecorded pairs included: what the budget bounds
        self.unrecorded = 0
        self.faults = 0  # minor page faults during the recorded pairs

    def run(self, row: int | None) -> int:
        """One pair, recorded in `row` unless None; its minor faults."""
        clock = self.clock
        self.env = self.first_env.copy()
        f0 = minor_faults()
        start = clock()
        run_program(self.program, self.env, self.node_ns[row] if row is not None else self.scratch_ns, clock)
        end = clock()
        timed = end - start
        self.env = self.first_env.copy()
        start = clock()
        run_program(self.program, self.env)
        end = clock()
        faults = minor_faults() - f0
        self.spent_ns += timed + end - start
        if row is None:
            self.unrecorded += 1
        else:
            self.timed_ns[row], self.plain_ns[row] = timed, end - start
            self.faults += faults
        return faults

    def settle(self, at_least: int, at_most: int, clean_needed: int) -> None:
        """Unrecorded pairs: `at_least`, then more (up to `at_most` in all)
        until `clean_needed` in a row took no minor page fault."""
        ran = clean = 0
        while ran < at_least or (clean < clean_needed and ran < at_most):
            clean = clean + 1 if self.run(None) == 0 else 0
            ran += 1

    def record(self, first: int) -> None:
        for r in range(first, len(self.timed_ns)):
            self.run(r)

    def grow(self, more: int) -> None:
        self.node_ns = np.concatenate([self.node_ns, _filled_rows(more, self.node_ns.shape[1])])
        self.timed_ns = np.concatenate([self.timed_ns, _filled_rows(more)])
        self.plain_ns = np.concatenate([self.plain_ns, _filled_rows(more)])


def profile(
    graph: Graph,
    inputs: Mapping[str, np.ndarray],
    *,
    warmup: int = 3,
    repeats: int = 10,
    peaks: Peaks | None = None,
    roofs: Mapping[int, Peaks] | None = None,
    inject: Sequence[str | Injection] = (),
    clock: Clock = time.perf_counter_ns,
    target_ci: float | None = None,
    budget_s: float | None = None,
    settle: int = SETTLE_PAIRS,
    keep_heap: bool = True,
) -> ProfileResult:
    """Run `warmup` + `repeats` pairs of (timed pass, plain pass); only the
    last `repeats` pairs are recorded. Layer times come from the timed passes;
    `end_to_end` from the plain ones, which carry no per-layer clock reads
    (the honest latency). `peaks` defaults to this machine's measured (cached)
    peaks at the current BLAS thread limit; each layer is judged against
    `roofs` (thread count -> peaks, engine.roofline.measure_roofs) at the
    threads its kernel runs on, or against `peaks` alone without them.
    `inject` (Injections or "kind:layer:factor" specs) makes the named layers
    do extra work (engine.inject); `clock` is for tests.

    When warmup > 0, up to `settle` more warmup pairs run until SETTLED_AFTER
    pairs in a row took no minor page fault; `keep_heap` applies
    keep_heap_memory() first.
    `target_ci` (percent): more pairs after `repeats` until the end-to-end
    median's CI half-width is within it, while the passes have used less than
    `budget_s` (DEFAULT_BUDGET_S) seconds; before each batch of added pairs
    up to RESETTLE_PAIRS unrecorded pairs run until one takes no fault. The
    result's warmup (every unrecorded pair) and repeats are the pairs really run."""
    for name, value, least in (("repeats", repeats, 1), ("warmup", warmup, 0), ("settle", settle, 0)):
        if value < least:
            raise ValueError(f"{name} must be >= {least}, got {value}")
    check_target(target_ci, budget_s)
    budget_ns = (budget_s if budget_s is not None else DEFAULT_BUDGET_S) * 1e9
    plan = make_plan(graph)
    check_inputs(plan, inputs)
    steps = plan.steps
    counts = [layer_counts(plan, i) for i in range(len(steps))]
    program = _injected_program(plan, parse_injections(inject), counts)  # bad injections fail before the probes
    peaks = peaks if peaks is not None else measure_peaks()
    threads = blas_threads()
    roofs = roofs if roofs else {peaks.threads or threads: peaks}
    if keep_heap:
        keep_heap_memory()  # freed intermediates stay in the heap: no fresh pages to fault in every pass
    pairs = _Pairs(program, start_env(plan, inputs), len(steps), repeats, clock)

    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection inside a timed node is noise, not the node's cost
    target_met = None
    try:
        pairs.settle(warmup, warmup + settle if warmup else 0, SETTLED_AFTER)
        done = 0
        while True:
            pairs.record(done)
            done = len(pairs.timed_ns)
            if target_ci is None:
                break
            width = ci_half_width_pct(time_stats(pairs.plain_ns))
            target_met = width is not None and width <= target_ci
            per_pair = pairs.spent_ns / (pairs.unrecorded + done)
            if target_met or pairs.spent_ns + per_pair > budget_ns:
                break
            # grow by an eighth (at least one pair), no more than the budget still allows
            pairs.grow(max(1, min(done // 8, int((budget_ns - pairs.spent_ns) / max(per_pair, 1.0)))))
            # The CI's arithmetic and the new rows moved memory about (Python's own
            # object arenas among it): settle again before recording more.
            if warmup:
                pairs.settle(0, RESETTLE_PAIRS, 1)
    finally:
        if gc_was_enabled:
            gc.enable()

    outputs = {t: pairs.env[plan.slots[t]] for t in graph.outputs}
    layers = [judged(_layer(plan, i, counts[i], time_stats(pairs.node_ns[:, i])), plan, threads, roofs)
              for i in range(len(steps))]
    plain, timed = time_stats(pairs.plain_ns), time_stats(pairs.timed_ns)
    overhead = timed.median / plain.median - 1.0 if plain.median > 0 else 0.0
    return ProfileResult(layers, plain, pairs.unrecorded, len(pairs.plain_ns), peaks, outputs, timed, overhead,
                         pairs.faults, target_met)


__all__ = ["ProfileResult", "judged", "layer_counts", "profile", "rejudged", "run_graph", "time_stats"]
