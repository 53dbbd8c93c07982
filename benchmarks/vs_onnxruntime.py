"""Race every zoo model against onnxruntime, each runtime in its own process.

    .venv/bin/python benchmarks/vs_onnxruntime.py [--batches 64,256] [--threads N] [--repeats 20] [--models a,b]
        [--passes all]

For each registered model (the `_small` test variants left out) at each
batch, two worker processes (engine/onnx_io/process_race.py) build it: one
runs it in the engine, the other runs its ONNX export in onnxruntime
(CPUExecutionProvider, full graph optimization), each limited to the same
thread count (BLAS via threadpoolctl, ORT via intra_op_num_threads, both via
the OMP/OpenBLAS variables of their process). After a warmup they take turns
in blocks of passes, one runtime running at a time, each block waiting for
the other's threads to stop spinning and opening with one untimed pass. The table shows each median with its p25-p75 spread,
ours/ORT, the repeats used and the 1-minute load average before and after the
row. With --passes, the engine runs the model after its graph passes (ORT
always runs with its own full graph optimization). The goal (issue 20): ours/ORT
<= 1.1 on every zoo model at batch 64 and 256, with 1 and with 2 threads.

Heavy rows get fewer repeats (never below MIN_REPEATS) so that one row
stays within about --row-budget-s, judged by each runtime's first pass; the
table shows the repeats used. A combination is skipped, with the reason
printed, when the model cannot be built, run or exported, or when one engine
pass already takes longer than --max-pass-s (even MIN_REPEATS races would
then take minutes).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engine.ir import GraphError
from engine.models import MODELS, ModelParamError
from engine.onnx_io import OnnxIOError
from engine.onnx_io.process_race import RaceWorkerError, RaceWorkers, engine_vs_ort, load_average, load_text
from engine.roofline import blas_threads

GOAL = 1.1
MIN_REPEATS = 3


def zoo() -> list[str]:
    return [name for name in MODELS if not name.endswith("_small")]


def spread_ms(samples) -> str:
    return (f"{samples.median * 1e3:10.3f} ({samples.quantile(0.25) * 1e3:.3f}-"
            f"{samples.quantile(0.75) * 1e3:.3f})")


def row(name: str, batch: int, threads: int, repeats: int, warmup: int, blocks: int, max_pass_s: float,
        row_budget_s: float, passes: str | None) -> str:
    spec = MODELS[name]
    label = f"{name:<14} {batch:>6}"
    try:
        params = spec.resolve({"batch": batch} if any(p.name == "batch" for p in spec.params) else {})
        with RaceWorkers(engine_vs_ort(name, params, threads, seed=0, passes=passes)) as workers:
            first = workers.first_pass_s
            if first["ours"] > max_pass_s:
                return (f"{label}  skipped: one engine pass takes {first['ours']:.1f} s (> --max-pass-s "
                        f"{max_pass_s:g}); {MIN_REPEATS + warmup} races would take minutes")
            repeats = max(MIN_REPEATS, min(repeats, int(row_budget_s / sum(first.values())) - warmup))
            result = workers.race(repeats=repeats, warmup=warmup, blocks=blocks)
    except (ModelParamError, GraphError) as e:
        return f"{label}  skipped: the engine cannot run it: {e}"
    except OnnxIOError as e:
        return f"{label}  skipped: cannot export: {e}"
    except RaceWorkerError as e:
        return f"{label}  skipped: {e}"
    ratio = result.ratio("ours", "ort")
    goal = "  goal met" if ratio <= GOAL else f"  GOAL MISSED (> {GOAL})"
    return (f"{label} {spread_ms(result.samples['ours']):>28} {spread_ms(result.samples['ort']):>28} "
            f"{ratio:9.2f} {repeats:>7} {load_text(result.load_before):>5}-{load_text(result.load_after):<5}{goal}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="64,256", help="comma-separated batch sizes (default 64,256)")
    parser.add_argument("--threads", type=int, default=None, help="threads for both (default: BLAS's count)")
    parser.add_argument("--repeats", type=int, default=20, help="timed passes of each (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed passes of each first (default 3)")
    parser.add_argument("--blocks", type=int, default=5, help="turns each runtime takes (default 5)")
    parser.add_argument("--max-pass-s", type=float, default=10.0,
                        help="skip a row when one engine pass is slower (default 10)")
    parser.add_argument("--row-budget-s", type=float, default=60.0,
                        help="cut the repeats of heavy rows to stay near this (default 60)")
    parser.add_argument("--models", help="comma-separated subset of the zoo (default: all)")
    parser.add_argument("--passes", default=None, metavar="all|NAME,NAME",
                        help="run the engine after these graph passes (default: none)")
    args = parser.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    names = args.models.split(",") if args.models else zoo()
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; the zoo is {', '.join(zoo())}")
    threads = args.threads or blas_threads()
    print(f"engine (passes: {args.passes or 'none'}) vs onnxruntime, each in its own process, threads {threads}, "
          f"up to {args.repeats} repeats in {args.blocks} blocks, warmup {args.warmup}; medians of one forward pass "
          f"(p25-p75), 1-minute load "
          f"average before-after each row; load now {load_text(load_average())}")
    header = (f"{'model':<14} {'batch':>6} {'ours ms (p25-p75)':>28} {'ORT ms (p25-p75)':>28} {'ours/ORT':>9} "
              f"{'repeats':>7} {'load':>11}")
    print(header)
    print("-" * len(header))
    for name in names:
        for batch in batches:
            print(row(name, batch, threads, args.repeats, args.warmup, args.blocks, args.max_pass_s,
                      args.row_budget_s, args.passes), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
