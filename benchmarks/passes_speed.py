"""Graph passes raced, each configuration in its own process: none vs passes (and ORT).

The unoptimized graph against `--passes all` (or a chosen list), and the
transformer with and without them against onnxruntime.

    .venv/bin/python benchmarks/passes_speed.py [--models mlp,dlrm,wdl,transformer] [--batches 64,256]
        [--passes all] [--threads N] [--repeats 30] [--warmup 3] [--blocks 5] [--no-ort] [--per-layer]

For each model and batch, every configuration runs in its own worker
process (engine/onnx_io/process_race.py): "none" (the engine on the
unoptimized graph), "passes" (the engine after the requested passes) and,
for the transformer with onnxruntime installed, "ort" (CPUExecutionProvider,
full graph optimization) on the exported *unoptimized* graph, where ORT runs
its own fusions. Each is limited to the same thread count; after a warmup
they take turns in blocks of passes, one running at a time, each block
waiting for the last worker's threads to stop spinning and opening with one
untimed pass. Engine workers keep freed memory in the heap, as every engine
run does (engine.malloc_tuning), so neither graph pays page faults the other
does not. The table shows each median with its p25-p75 spread, none/passes
(above 1: the passes help), ours/ORT with and without our passes (below 1:
the engine is faster) and the 1-minute load average before-after the row.
Timings on a shared machine are noisy; compare ratios, not absolute times.

`--per-layer` adds, under each model's row, every layer the passes fused:
its median time against the median of the summed times of the layers it
covers (its `sources`) in the unoptimized graph; "2nd.. us" is the part of
the sources after the first (for a FusedLinear: the bias Add and the
activation), the most fusing them into the GEMM's node could save. These
come from the engine's own step timing (the profiler's timed pass) and run
in this process: engine only, no other runtime's threads about, the two
graphs timed one whole pass at a time, alternating, under the same BLAS pool
and heap setting. The Gemm+bias+activation report is

    .venv/bin/python benchmarks/passes_speed.py --models mlp,dlrm --passes linear_activation --per-layer --no-ort
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Mapping, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from engine.executor import Plan, make_plan, run_program, start_env
from engine.malloc_tuning import keep_heap_memory
from engine.models import MODELS, build_model
from engine.onnx_io import OnnxIOError
from engine.onnx_io.process_race import RaceWorkerError, RunnerSpec, load_average, load_text, race_processes
from engine.passes import UnknownPassError, resolve_passes, run_passes
from engine.roofline import blas_threads
from vs_onnxruntime import spread_ms

DEFAULT_MODELS = ("mlp", "dlrm", "wdl", "transformer")


def _timed_steps(plan: Plan, inputs: Mapping[str, np.ndarray], step_ns: np.ndarray) -> None:
    """One forward pass, each step's kernel timed: the engine's own loop, as the profiler's timed pass."""
    run_program(plan.program, start_env(plan, inputs), node_ns=step_ns)


def fused_layer_rows(name: str, batch: int, passes: list[str], threads: int, repeats: int,
                     warmup: int) -> list[str]:
    """Per fused layer: none (its sources summed) vs fused, medians over alternating whole passes."""
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


def ort_missing() -> str | None:
    """Why the ORT runner cannot run here, or None."""
    return None if importlib.util.find_spec("onnxruntime") else "onnxruntime is not installed"


def row(name: str, batch: int, passes: list[str], threads: int, repeats: int, warmup: int, blocks: int,
        ort: bool) -> str:
    model = build_model(name, batch=batch)
    optimized = run_passes(model.graph, passes)
    nodes, fused, applied = len(model.graph.nodes), len(optimized.graph.nodes), optimized.applied
    del model, optimized  # the workers build their own
    params = {"batch": batch}
    specs = {"none": RunnerSpec("engine", name, params, threads),
             "passes": RunnerSpec("engine", name, params, threads, passes=",".join(passes) or None)}
    ort_note = ""
    if ort and name.startswith("transformer"):
        missing = ort_missing()
        if missing:
            ort_note = f"  ORT skipped: {missing}"
        else:
            specs["ort"] = RunnerSpec("ort", name, params, threads)  # the unoptimized graph: ORT fuses it itself
    label = f"{name:<17} {batch:>6} {nodes:>6} {fused:>6}"
    try:
        result = race_processes(specs, repeats=repeats, warmup=warmup, blocks=blocks)
    except (RaceWorkerError, OnnxIOError) as e:
        return f"{label}  skipped: {e}"
    none, fast = result.samples["none"], result.samples["passes"]
    text = (f"{label} {spread_ms(none):>28} {spread_ms(fast):>28} {result.ratio('none', 'passes'):9.2f} "
            f"{load_text(result.load_before):>5}-{load_text(result.load_after):<5}")
    if "ort" in result.samples:
        text += (f"   ORT {spread_ms(result.samples['ort']).strip()} ms, ours/ORT none "
                 f"{result.ratio('none', 'ort'):.2f}, with passes {result.ratio('passes', 'ort'):.2f}")
    return text + ort_note + f"   applied: {', '.join(applied) or 'none'}"


def zoo_models(parser: argparse.ArgumentParser, models: str) -> list[str]:
    """`--models`' comma-separated names; a usage error names those not in the zoo."""
    names = models.split(",")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; the zoo is {', '.join(MODELS)}")
    return names


def batch_sizes(parser: argparse.ArgumentParser, batches: str) -> list[int]:
    """`--batches`' comma-separated sizes; a usage error names a bad one."""
    try:
        sizes = [int(b) for b in batches.split(",")]
    except ValueError:
        parser.error(f"--batches takes comma-separated positive integers, got {batches!r}")
    if any(b < 1 for b in sizes):
        parser.error(f"--batches takes comma-separated positive integers, got {batches!r}")
    return sizes


def add_race_options(parser: argparse.ArgumentParser, repeats: int, warmup: int) -> None:
    """The options of a process race: threads, repeats, warmup, blocks."""
    parser.add_argument("--threads", type=int, default=None, help="BLAS/ORT threads (default: BLAS's count)")
    parser.add_argument("--repeats", type=int, default=repeats, help=f"timed passes of each runner (default {repeats})")
    parser.add_argument("--warmup", type=int, default=warmup, help=f"untimed passes of each first (default {warmup})")
    parser.add_argument("--blocks", type=int, default=5, help="turns each runner takes (default 5)")


def check_race_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Usage errors for bad counts; the thread count to use."""
    for option in ("threads", "repeats", "blocks"):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f"--{option} must be >= 1, got {value}")
    if args.warmup < 0:
        parser.error(f"--warmup must be >= 0, got {args.warmup}")
    return args.threads or blas_threads()


def print_table_start(what: str, args: argparse.Namespace, threads: int, header: str) -> None:
    """The line saying what a process race compares and how, then the table's header."""
    print(f"{what}, each in its own process, threads {threads}, {args.repeats} repeats in {args.blocks} blocks, "
          f"warmup {args.warmup}; medians of one forward pass (p25-p75), 1-minute load average before-after "
          f"each row; load now {load_text(load_average())}")
    print(header)
    print("-" * len(header))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated zoo models")
    parser.add_argument("--batches", default="64,256", help="comma-separated batch sizes (default 64,256)")
    parser.add_argument("--passes", default="all", help="the passes to compare against none (default all)")
    add_race_options(parser, repeats=30, warmup=3)
    parser.add_argument("--no-ort", action="store_true", help="skip the onnxruntime race of the transformer")
    parser.add_argument("--per-layer", action="store_true",
                        help="also time each fused layer against the layers it covers (sources), in this process")
    args = parser.parse_args(argv)
    names = zoo_models(parser, args.models)
    batches = batch_sizes(parser, args.batches)
    try:
        passes = resolve_passes(args.passes)
    except UnknownPassError as e:
        parser.error(str(e))
    threads = check_race_options(parser, args)
    if args.per_layer:
        keep_heap_memory()  # as the engine workers: the per-layer passes run here
    header = (f"{'model':<17} {'batch':>6} {'nodes':>6} {'fused':>6} {'none ms (p25-p75)':>28} "
              f"{'passes ms (p25-p75)':>28} {'none/pass':>9} {'load':>11}")
    print_table_start(f"engine with passes {','.join(passes) or 'none'} vs none", args, threads, header)
    for name in names:
        for batch in batches:
            print(row(name, batch, passes, threads, args.repeats, args.warmup, args.blocks, not args.no_ort),
                  flush=True)
            if args.per_layer:
                print(f"    {'fused layer':<28} {'op':<18} {'output':>10} {'sources us':>11} {'2nd.. us':>9} "
                      f"{'fused us':>11} {'src/fused':>8}")
                for text in fused_layer_rows(name, batch, passes, threads, args.repeats, args.warmup):
                    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
