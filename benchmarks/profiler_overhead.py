"""Print the profiler's own overhead for every model in the registry.

    .venv/bin/python benchmarks/profiler_overhead.py [--batch 256] [--runs 5] [--repeats 20]

For each model: `runs` profiles at the chosen batch, each alternating timed
(per-layer clock reads) and plain passes; the overhead of one profile is
median(timed) / median(plain) - 1, and the table shows the median (and
range) of those over the runs. The goal is <= 3% on dlrm at batch 256.
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Sequence

from threadpoolctl import threadpool_limits

from engine.executor import execute, make_plan
from engine.models import MODELS, ModelParamError, build_model
from engine.profile import profile
from engine.roofline import Peaks

GOAL = 0.03
PEAKS = Peaks(gflops=1.0, gbs=1.0)  # the overhead does not depend on the roofline: skip the probes


class TooSlow(Exception):
    pass


def measure(name: str, batch: int, runs: int, repeats: int, warmup: int,
            max_pass: float) -> tuple[int, float, list[float]]:
    """(node count, plain end-to-end median seconds, overhead of each run)."""
    model = build_model(name, batch=batch)
    inputs = model.make_inputs(0)
    plan = make_plan(model.graph)
    execute(plan, inputs)  # cold
    t0 = time.perf_counter()
    execute(plan, inputs)
    if (seconds := time.perf_counter() - t0) > max_pass:
        raise TooSlow(f"one pass takes {seconds:.2f} s, over --max-pass {max_pass:g} s")
    overheads, latency = [], []
    for _ in range(runs):
        result = profile(model.graph, inputs, warmup=warmup, repeats=repeats, peaks=PEAKS)
        overheads.append(result.profiler_overhead)
        latency.append(result.end_to_end.median)
    return len(model.graph.nodes), statistics.median(latency), overheads


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256, help="batch size for every model (default 256)")
    parser.add_argument("--runs", type=int, default=5, help="profiles per model; the median is shown (default 5)")
    parser.add_argument("--repeats", type=int, default=20, help="timed + plain pass pairs per profile (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="warmup pairs per profile (default 3)")
    parser.add_argument("--models", help="comma-separated model names (default: all in the registry)")
    parser.add_argument("--threads", type=int, help="limit BLAS to this many threads (steadier on a busy machine)")
    parser.add_argument("--max-pass", type=float, default=0.5,
                        help="skip a model whose forward pass takes longer, in seconds (default 0.5)")
    args = parser.parse_args(argv)
    names = args.models.split(",") if args.models else list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; available: {', '.join(MODELS)}")

    limit = threadpool_limits(args.threads, user_api="blas") if args.threads else contextlib.nullcontext()
    with limit:
        return report(names, args)


def report(names: list[str], args: argparse.Namespace) -> int:
    threads = f", {args.threads} BLAS thread(s)" if args.threads else ""
    print(f"profiler overhead at batch {args.batch}{threads}: median of {args.runs} runs x {args.repeats} repeats")
    print(f"{'model':<18} {'nodes':>5} {'plain ms':>10} {'overhead':>9} {'min':>8} {'max':>8}  wall s")
    failed = 0
    for name in names:
        t0 = time.perf_counter()
        try:
            nodes, latency, overheads = measure(name, args.batch, args.runs, args.repeats, args.warmup,
                                                args.max_pass)
        except (ModelParamError, TooSlow) as e:  # e.g. a model without a batch param
            print(f"{name:<18} skipped: {e}")
            continue
        except Exception as e:  # one broken model must not hide the others' figures
            print(f"{name:<18} FAILED: {type(e).__name__}: {e}")
            failed += 1
            continue
        mark = "" if statistics.median(overheads) <= GOAL else "  (above the 3% goal)"
        print(f"{name:<18} {nodes:>5} {latency * 1e3:10.3f} {statistics.median(overheads) * 100:+8.2f}% "
              f"{min(overheads) * 100:+7.2f}% {max(overheads) * 100:+7.2f}%  {time.perf_counter() - t0:6.1f}{mark}",
              flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
