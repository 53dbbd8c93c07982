"""Graph passes, side by side: the unoptimized graph against `--passes all`
(or a chosen list), and the transformer with passes against onnxruntime.

    .venv/bin/python benchmarks/passes_speed.py [--models mlp,dlrm,wdl,transformer] [--batches 64,256]
        [--passes all] [--threads N] [--repeats 20] [--warmup 3] [--no-ort] [--per-layer]

`--per-layer` adds, under each model's row, every layer the passes fused:
its median time against the median of the summed times of the layers it
covers (its `sources`) in the unoptimized graph, both timed node by node in
interleaved rounds; "2nd.. us" is the part of the sources after the first
(for a FusedLinear: the bias Add and the activation), the most fusing them
into the GEMM's node could save. The Gemm+bias+activation report is

    .venv/bin/python benchmarks/passes_speed.py --models mlp,dlrm --passes linear_activation --per-layer --no-ort

For each model and batch, in one process, the runners take turns pass by
pass (`repeats` rounds, each timing every runner once; with ORT in the race
each timed pass follows an untimed one, so the other runtime's threads
settle), all under the same BLAS thread limit; the table
shows the median of one forward pass each and none/passes (above 1: the
passes help). With onnxruntime installed, the transformer rows also race ORT
(CPUExecutionProvider, full graph optimization, same thread count) on the
exported *unoptimized* graph: ORT runs its own fusions on it, and the table
shows ours/ORT with and without our passes (below 1: the engine is faster).
Timings on a shared machine are noisy; compare ratios, not absolute times.
Like `roofwatch-engine run`, the script keeps freed memory in the heap
(engine.malloc_tuning), so neither graph pays page faults the other does not.
"""
from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from engine.executor import Plan, check_inputs, execute, make_plan, run_program, start_env
from engine.malloc_tuning import keep_heap_memory
from engine.models import MODELS, build_model
from engine.passes import resolve_passes, run_passes
from engine.roofline import blas_threads

DEFAULT_MODELS = ("mlp", "dlrm", "wdl", "transformer")


def interleaved_medians(runners: Sequence[Callable[[], object]], repeats: int, warmup: int,
                        settle: bool = False) -> list[float]:
    """Median seconds of each runner over `repeats` rounds; each round times
    every runner once, in turn, so load bursts on a shared machine hit all
    alike. `settle` adds an untimed pass before each timed one (when racing
    another runtime, whose worker threads may still be spinning)."""
    samples: list[list[float]] = [[] for _ in runners]
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for fn in runners:
            for _ in range(warmup):
                fn()
        for _ in range(repeats):
            for fn, times in zip(runners, samples):
                if settle:
                    fn()
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
    finally:
        if gc_was_enabled:
            gc.enable()
    return [float(np.median(t)) for t in samples]


def _ort_runner(graph, inputs, threads: int) -> Callable[[], object] | str:
    try:
        from engine.onnx_io.export_graph import export_onnx
        from engine.onnx_io.ort_runner import ort_session
    except ImportError as e:
        return f"onnxruntime unavailable ({e})"
    session = ort_session(export_onnx(graph), threads)
    feed = dict(inputs)
    return lambda: session.run(None, feed)


def _timed_steps(plan: Plan, inputs: Mapping[str, np.ndarray], step_ns: np.ndarray) -> None:
    """One forward pass, each step's kernel timed: the engine's own loop, as the profiler's timed pass."""
    run_program(plan.program, start_env(plan, inputs), node_ns=step_ns)


def fused_layer_rows(name: str, batch: int, passes: list[str], threads: int, repeats: int,
                     warmup: int) -> list[str]:
    """Per fused layer: none (its sources summed) vs fused, medians over interleaved rounds."""
    model = build_model(name, batch=batch)
    inputs = model.make_inputs(0)
    optimized = run_passes(model.graph, passes)
    plans = make_plan(model.graph), make_plan(optimized.graph)
    samples = [np.zeros((repeats, len(p.steps)), dtype=np.int64) for p in plans]
    with threadpool_limits(limits=threads, user_api="blas"):
        for _ in range(warmup):
            for plan, ns in zip(plans, samples):
                _timed_steps(plan, inputs, ns[0])
        for r in range(repeats):
            for plan, ns in zip(plans, samples):
                _timed_steps(plan, inputs, ns[r])
    plain_index = {step.node.name: i for i, step in enumerate(plans[0].steps)}
    rows = []
    for i, step in enumerate(plans[1].steps):
        sources = optimized.lineage[step.node.name]
        if len(sources) < 2:
            continue
        parts = samples[0][:, [plain_index[s] for s in sources]]
        plain = float(np.median(parts.sum(axis=1))) / 1e3
        rest = float(np.median(parts[:, 1:].sum(axis=1))) / 1e3  # what the first (main) node did not do
        fused = float(np.median(samples[1][:, i])) / 1e3
        shape = "x".join(map(str, plans[1].specs[step.node.outputs[0]].shape))
        rows.append(f"    {step.node.name:<28} {step.node.op:<18} {shape:>10} {plain:11.1f} {rest:9.1f} "
                    f"{fused:11.1f} {plain / fused:8.2f}")
    return rows


def row(name: str, batch: int, passes: list[str], threads: int, repeats: int, warmup: int, ort: bool) -> str:
    model = build_model(name, batch=batch)
    inputs = model.make_inputs(0)
    optimized = run_passes(model.graph, passes)
    plain_plan, fast_plan = make_plan(model.graph), make_plan(optimized.graph)
    check_inputs(plain_plan, inputs)
    runners: list[Callable[[], object]] = [lambda: execute(plain_plan, inputs), lambda: execute(fast_plan, inputs)]
    ort_note = ""
    if ort and name.startswith("transformer"):
        runner = _ort_runner(model.graph, inputs, threads)
        if isinstance(runner, str):
            ort_note = f"  ORT skipped: {runner}"
        else:
            runners.append(runner)
    with threadpool_limits(limits=threads, user_api="blas"):
        medians = interleaved_medians(runners, repeats, warmup, settle=len(runners) > 2)
    plain, fast = medians[0], medians[1]
    text = (f"{name:<12} {batch:>6} {len(model.graph.nodes):>6} {len(optimized.graph.nodes):>6} "
            f"{plain * 1e3:11.3f} {fast * 1e3:11.3f} {plain / fast:8.2f}")
    if len(medians) > 2:
        ort_s = medians[2]
        text += f"   ORT {ort_s * 1e3:.3f} ms, ours/ORT none {plain / ort_s:.2f}, with passes {fast / ort_s:.2f}"
    return text + ort_note + f"   applied: {', '.join(optimized.applied) or 'none'}"


def zoo_models(parser: argparse.ArgumentParser, models: str) -> list[str]:
    """`--models`' comma-separated names; a usage error names those not in the zoo."""
    names = models.split(",")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; the zoo is {', '.join(MODELS)}")
    return names


def print_table_start(what: str, threads: int, repeats: int, warmup: int, header: str) -> None:
    """The line saying what an interleaved race compares and how, then the table's header."""
    print(f"{what}, threads {threads}, {repeats} rounds interleaved pass by pass, warmup {warmup}; "
          "medians of one forward pass")
    print(header)
    print("-" * len(header))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated zoo models")
    parser.add_argument("--batches", default="64,256", help="comma-separated batch sizes (default 64,256)")
    parser.add_argument("--passes", default="all", help="the passes to compare against none (default all)")
    parser.add_argument("--threads", type=int, default=None, help="BLAS/ORT threads (default: BLAS's count)")
    parser.add_argument("--repeats", type=int, default=30, help="timed passes of each runner (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed passes of each first (default 3)")
    parser.add_argument("--no-ort", action="store_true", help="skip the onnxruntime race of the transformer")
    parser.add_argument("--per-layer", action="store_true",
                        help="also time each fused layer against the layers it covers (sources)")
    args = parser.parse_args(argv)
    names = zoo_models(parser, args.models)
    passes = resolve_passes(args.passes)
    threads = args.threads or blas_threads()
    keep_heap_memory()  # as engine.benchmark does for every run: big tensors reuse heap pages, no fresh mmaps
    header = (f"{'model':<12} {'batch':>6} {'nodes':>6} {'fused':>6} {'none ms':>11} {'passes ms':>11} "
              f"{'none/pass':>8}")
    print_table_start(f"passes {','.join(passes) or 'none'} vs none", threads, args.repeats, args.warmup, header)
    for name in names:
        for batch in (int(b) for b in args.batches.split(",")):
            print(row(name, batch, passes, threads, args.repeats, args.warmup, not args.no_ort), flush=True)
            if args.per_layer:
                print(f"    {'fused layer':<28} {'op':<18} {'output':>10} {'sources us':>11} {'2nd.. us':>9} "
                      f"{'fused us':>11} {'src/fused':>8}")
                for text in fused_layer_rows(name, batch, passes, threads, args.repeats, args.warmup):
                    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
