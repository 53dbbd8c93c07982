"""Race every zoo model against onnxruntime, side by side in one process.

    .venv/bin/python benchmarks/vs_onnxruntime.py [--batches 64,256] [--threads N] [--repeats 20] [--models a,b]

For each registered model (the `_small` test variants left out) at each
batch: export to ONNX, then alternate one engine pass and one onnxruntime
pass (CPUExecutionProvider, full graph optimization) `repeats` times after a
warmup, both limited to the same thread count (BLAS via threadpoolctl, ORT via
intra_op_num_threads). The table shows each median and ours/ORT. The goal is
ours/ORT <= 1.3 on dlrm, wdl, mlp and transformer at batch 256.

Heavy rows get fewer repeats (never below MIN_REPEATS) so that one row
stays within about --row-budget-s; the table shows the repeats used. A
combination is skipped, with the reason printed, when the model cannot be
built, run or exported, or when one engine pass already takes longer than
--max-pass-s (even MIN_REPEATS races would then take minutes).
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from threadpoolctl import threadpool_limits

from engine.executor import run_graph
from engine.ir import GraphError
from engine.malloc_tuning import keep_heap_memory
from engine.models import MODELS, ModelParamError, build_model
from engine.onnx_io import OnnxIOError
from engine.onnx_io.ort_runner import race
from engine.roofline import blas_threads

GOAL = 1.3
GOAL_MODELS = ("dlrm", "wdl", "mlp", "transformer")
GOAL_BATCH = 256
MIN_REPEATS = 3


def zoo() -> list[str]:
    return [name for name in MODELS if not name.endswith("_small")]


def row(name: str, batch: int, threads: int, repeats: int, warmup: int, max_pass_s: float,
        row_budget_s: float) -> str:
    spec = MODELS[name]
    params = {"batch": batch} if any(p.name == "batch" for p in spec.params) else {}
    label = f"{name:<14} {batch:>6}"
    try:
        model = build_model(name, **params)
        inputs = model.make_inputs(0)
        with threadpool_limits(limits=threads, user_api="blas"):
            start = time.perf_counter()
            run_graph(model.graph, inputs)
            first = time.perf_counter() - start
    except (ModelParamError, GraphError) as e:
        return f"{label}  skipped: the engine cannot run it: {e}"
    if first > max_pass_s:
        return (f"{label}  skipped: one engine pass takes {first:.1f} s (> --max-pass-s {max_pass_s:g}); "
                f"{MIN_REPEATS + warmup} races would take minutes")
    # each race pass runs both engines; assume ORT is no slower than us for the budget
    repeats = max(MIN_REPEATS, min(repeats, int(row_budget_s / (2 * first)) - warmup))
    try:
        result = race(model.graph, inputs, threads=threads, repeats=repeats, warmup=warmup)
    except OnnxIOError as e:
        return f"{label}  skipped: cannot export: {e}"
    goal = ""
    if name in GOAL_MODELS and batch == GOAL_BATCH:
        goal = "  goal met" if result.ratio <= GOAL else f"  GOAL MISSED (> {GOAL})"
    return (f"{label} {result.ours_s * 1e3:12.3f} {result.ort_s * 1e3:12.3f} {result.ratio:9.2f} "
            f"{repeats:>7}{goal}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="64,256", help="comma-separated batch sizes (default 64,256)")
    parser.add_argument("--threads", type=int, default=None, help="threads for both (default: BLAS's count)")
    parser.add_argument("--repeats", type=int, default=20, help="timed passes of each (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed passes of each first (default 3)")
    parser.add_argument("--max-pass-s", type=float, default=10.0,
                        help="skip a row when one engine pass is slower (default 10)")
    parser.add_argument("--row-budget-s", type=float, default=60.0,
                        help="cut the repeats of heavy rows to stay near this (default 60)")
    parser.add_argument("--models", help="comma-separated subset of the zoo (default: all)")
    args = parser.parse_args(argv)
    keep_heap_memory()  # as the engine's profile_model does: big intermediates stay mapped between passes
    batches = [int(b) for b in args.batches.split(",")]
    names = args.models.split(",") if args.models else zoo()
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; the zoo is {', '.join(zoo())}")
    threads = args.threads or blas_threads()
    print(f"engine vs onnxruntime, threads {threads}, up to {args.repeats} repeats, warmup {args.warmup}; "
          "medians of one forward pass")
    header = f"{'model':<14} {'batch':>6} {'ours ms':>12} {'ORT ms':>12} {'ours/ORT':>9} {'repeats':>7}"
    print(header)
    print("-" * len(header))
    for name in names:
        for batch in batches:
            print(row(name, batch, threads, args.repeats, args.warmup, args.max_pass_s, args.row_budget_s),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
