"""glibc's default malloc against engine.malloc_tuning.keep_heap_memory(),
side by side in one process, with onnxruntime as the yardstick.

    .venv/bin/python benchmarks/malloc_speed.py [--models transformer] [--batches 64,256]
        [--passes none] [--threads N] [--repeats 10] [--warmup 1]

Three runners take turns pass by pass: the engine with glibc's defaults, the
engine with big blocks kept in the heap, and onnxruntime on the exported
unoptimized graph (as benchmarks/vs_onnxruntime.py). The malloc settings are
switched before each engine pass and every timed pass follows an untimed one
(which absorbs the heap trim a switch back to the defaults causes, and lets
the other runtime's threads settle). Prints each median, tuned/default and
ours/ORT both ways. Linux with glibc only.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from threadpoolctl import threadpool_limits

from engine import malloc_tuning
from engine.executor import check_inputs, execute, make_plan
from engine.models import build_model
from engine.onnx_io.export_graph import export_onnx
from engine.onnx_io.ort_runner import ort_session
from engine.passes import run_passes
from engine.roofline import blas_threads
from passes_speed import interleaved_medians, print_table_start, zoo_models


def row(name: str, batch: int, passes: str, threads: int, repeats: int, warmup: int) -> str:
    model = build_model(name, batch=batch)
    inputs = model.make_inputs(0)
    plan = make_plan(run_passes(model.graph, passes).graph)
    check_inputs(plan, inputs)
    session = ort_session(export_onnx(model.graph), threads)
    feed = dict(inputs)

    def default() -> None:
        malloc_tuning.restore_defaults()
        execute(plan, inputs)

    def tuned() -> None:
        malloc_tuning.keep_heap_memory()
        execute(plan, inputs)

    try:
        with threadpool_limits(limits=threads, user_api="blas"):
            d, t, o = interleaved_medians([default, tuned, lambda: session.run(None, feed)], repeats, warmup,
                                          settle=True)
    finally:
        malloc_tuning.restore_defaults()
    return (f"{name:<12} {batch:>6} {d * 1e3:11.1f} {t * 1e3:11.1f} {o * 1e3:11.1f} {d / t:13.2f} "
            f"{d / o:12.2f} {t / o:11.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="transformer", help="comma-separated zoo models")
    parser.add_argument("--batches", default="64,256", help="comma-separated batch sizes (default 64,256)")
    parser.add_argument("--passes", default="none", help="engine passes for both engine runners (default none)")
    parser.add_argument("--threads", type=int, default=None, help="BLAS/ORT threads (default: BLAS's count)")
    parser.add_argument("--repeats", type=int, default=10, help="timed passes of each runner (default 10)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed passes of each first (default 1)")
    args = parser.parse_args(argv)
    if not malloc_tuning.keep_heap_memory():
        print("malloc tuning needs Linux with glibc; nothing to compare here")
        return 0
    malloc_tuning.restore_defaults()
    names = zoo_models(parser, args.models)
    threads = args.threads or blas_threads()
    header = (f"{'model':<12} {'batch':>6} {'default ms':>11} {'tuned ms':>11} {'ORT ms':>11} "
              f"{'default/tuned':>13} {'default/ORT':>12} {'tuned/ORT':>11}")
    print_table_start(f"glibc default vs heap kept, engine passes {args.passes!r}", threads, args.repeats,
                      args.warmup, header)
    for name in names:
        for batch in (int(b) for b in args.batches.split(",")):
            print(row(name, batch, args.passes, threads, args.repeats, args.warmup), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
