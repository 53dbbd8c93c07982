"""How close the GEMM-bound layers come to the GEMM peak inside an engine run.

    .venv/bin/python benchmarks/gemm_in_run.py [--models mlp,dlrm] [--batch 256] [--threads 1,2]
        [--passes all] [--repeats 30]

Each model is profiled (engine.benchmark.run_benchmark, per-layer medians)
in a process of its own per thread count, so BLAS's pool starts fresh. A
layer counts when it is compute-bound against its own roofs and its op runs
a GEMM (Linear, MatMul, Conv and their fused and folded forms); its share is
its achieved GFLOP/s over the GEMM peak of the threads its kernel uses
(layer.roof_gflops, measured by `roofwatch-engine peaks`). Goal (issue 20):
>= 85% on every such layer. The 1-minute load average is printed per run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence

GOAL = 0.85
GEMM_OPS = {"Linear", "FusedLinear", "MatMul", "Conv", "FusedConv", "ActivationUnitLinear"}


def profile_layers(model: str, batch: int, threads: int, passes: str, repeats: int) -> list[dict]:
    """The GEMM-bound layers of one run, profiled in this process."""
    from engine.benchmark import RunOptions, run_benchmark

    run = run_benchmark(model, {"batch": batch}, RunOptions(warmup=5, repeats=repeats, threads=threads,
                                                             passes=passes))
    return [{"name": ly.name, "op": ly.op, "threads": ly.threads, "gflops": ly.gflops,
             "roof": ly.roof_gflops, "ms": ly.time.median * 1e3}
            for ly in run.report.layers if ly.op in GEMM_OPS and ly.bound == "compute"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,dlrm")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--passes", default="all")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # model:threads, run by the parent
    args = parser.parse_args(argv)
    if args.worker:
        model, threads = args.worker.split(":")
        print(json.dumps(profile_layers(model, args.batch, int(threads), args.passes, args.repeats)))
        return 0
    print(f"GEMM-bound layers against the GEMM peak of their thread count; batch {args.batch}, "
          f"passes {args.passes}, {args.repeats} repeats")
    print(f"{'model':<8} {'thr':>3} {'layer':<34} {'op':<14} {'ms':>8} {'GFLOP/s':>8} {'peak':>7} {'share':>6}")
    missed = 0
    for model in args.models.split(","):
        for threads in (int(t) for t in args.threads.split(",")):
            load = os.getloadavg()[0]
            out = subprocess.run([sys.executable, __file__, "--worker", f"{model}:{threads}", "--batch",
                                  str(args.batch), "--passes", args.passes, "--repeats", str(args.repeats)],
                                 check=True, capture_output=True, text=True).stdout
            for ly in json.loads(out.splitlines()[-1]):
                share = ly["gflops"] / ly["roof"]
                missed += share < GOAL
                print(f"{model:<8} {ly['threads']:>3} {ly['name'][:34]:<34} {ly['op']:<14} {ly['ms']:8.3f} "
                      f"{ly['gflops']:8.1f} {ly['roof']:7.1f} {100 * share:5.1f}%")
            print(f"{'':<8} load {load:.2f}-{os.getloadavg()[0]:.2f}")
    print(f"goal >= {100 * GOAL:.0f}% of the GEMM peak: {'met' if not missed else f'MISSED on {missed} layer(s)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
