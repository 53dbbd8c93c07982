"""What onnxruntime's profiler costs: the onnxruntime backend's profiled passes against plain ones.

    .venv/bin/python benchmarks/ort_profile_overhead.py [--models mlp,dlrm] [--batch N] [--threads 1]
        [--repeats 30] [--blocks 6]

For each model, two worker processes (engine/onnx_io/process_race.py) build
its ONNX export in onnxruntime as the backend does (`roofwatch-engine run
MODEL --backend onnxruntime`: the graph after ORT_PASSES, the same session
options): one with the profiler
on ("ort-profiled"), one without ("ort"). They take turns in alternating
blocks of passes, one process running at a time, each block waiting for the
other's threads to stop spinning and opening with one untimed pass. Prints
each median with its p25-p75 spread, the overhead (profiled / plain - 1) and
the 1-minute load average before and after. The goal (issue 24): <= 5% on
mlp and dlrm. The backend's report measures the same overhead within one
process (`profiler_overhead`); this script keeps the two sessions apart.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engine.models import get_spec
from engine.onnx_io.ort_backend import ORT_PASSES
from engine.onnx_io.process_race import RunnerSpec, load_text, race_processes

GOAL = 0.05


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,dlrm", help="comma-separated zoo models (default mlp,dlrm)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default: each model's)")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    parser.add_argument("--repeats", type=int, default=30, help="timed passes of each (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed passes first (default 3)")
    parser.add_argument("--blocks", type=int, default=6, help="turns each takes (default 6)")
    args = parser.parse_args(argv)
    print(f"threads {args.threads}, repeats {args.repeats} in {args.blocks} alternating blocks, "
          "each session in its own process")
    print(f"{'model':<8} {'batch':>6} {'plain ms (p25-p75)':>28} {'profiled ms (p25-p75)':>28} "
          f"{'overhead':>9}  load before-after")
    for name in args.models.split(","):
        params = get_spec(name).resolve({"batch": args.batch} if args.batch else {})
        specs = {kind: RunnerSpec(kind, name, params, args.threads, passes=",".join(ORT_PASSES))
                 for kind in ("ort", "ort-profiled")}
        result = race_processes(specs, repeats=args.repeats, warmup=args.warmup, blocks=args.blocks)
        overhead = result.ratio("ort-profiled", "ort") - 1
        goal = "goal met" if overhead <= GOAL else f"GOAL MISSED (> {GOAL:.0%})"
        print(f"{name:<8} {params.get('batch', ''):>6} {result.samples['ort'].text():>28} "
              f"{result.samples['ort-profiled'].text():>28} {overhead:+9.1%}  "
              f"{load_text(result.load_before)}-{load_text(result.load_after)}  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
