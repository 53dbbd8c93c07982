"""glibc's default malloc against engine.malloc_tuning.keep_heap_memory(),
each in its own process, with onnxruntime as the yardstick.

    .venv/bin/python benchmarks/malloc_speed.py [--models transformer] [--batches 64,256]
        [--passes none] [--threads N] [--repeats 20] [--warmup 3] [--blocks 5]

Three worker processes (engine/onnx_io/process_race.py) race: "default",
the engine with glibc's malloc as a fresh process has it (RunnerSpec
keep_heap False: big blocks are mmapped and returned to the OS on free, so
their pages are faulted in again on every pass); "tuned", the engine with
big blocks kept in the heap (as every engine run does); and "ort",
onnxruntime on the exported unoptimized graph (as
benchmarks/vs_onnxruntime.py). Each is limited to the same thread count;
after a warmup they take turns in blocks of passes, one running at a time,
each block waiting for the last worker's threads to stop spinning and
opening with one untimed pass. Prints each median with its p25-p75 spread,
the minor page faults per timed pass of both engine runners,
default/tuned, ours/ORT both ways and the 1-minute load average
before-after the row. Linux with glibc only.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engine import malloc_tuning
from engine.onnx_io import OnnxIOError
from engine.onnx_io.process_race import RaceWorkerError, RunnerSpec, load_text, race_processes
from engine.passes import UnknownPassError, resolve_passes
from passes_speed import (
    add_race_options,
    batch_sizes,
    check_race_options,
    print_table_start,
    zoo_models,
)
from vs_onnxruntime import spread_ms


def row(name: str, batch: int, passes: str | None, threads: int, repeats: int, warmup: int, blocks: int) -> str:
    params = {"batch": batch}
    specs = {"default": RunnerSpec("engine", name, params, threads, passes=passes, keep_heap=False),
             "tuned": RunnerSpec("engine", name, params, threads, passes=passes),
             "ort": RunnerSpec("ort", name, params, threads)}  # the unoptimized graph: ORT fuses it itself
    label = f"{name:<17} {batch:>6}"
    try:
        result = race_processes(specs, repeats=repeats, warmup=warmup, blocks=blocks)
    except (RaceWorkerError, OnnxIOError) as e:
        return f"{label}  skipped: {e}"
    s = result.samples
    faults = f"{s['default'].faults_per_pass:.0f}/{s['tuned'].faults_per_pass:.0f}"
    return (f"{label} {spread_ms(s['default']):>28} {spread_ms(s['tuned']):>28} {spread_ms(s['ort']):>28} "
            f"{faults:>13} {result.ratio('default', 'tuned'):13.2f} {result.ratio('default', 'ort'):11.2f} "
            f"{result.ratio('tuned', 'ort'):9.2f} {load_text(result.load_before):>5}-{load_text(result.load_after):<5}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="transformer", help="comma-separated zoo models")
    parser.add_argument("--batches", default="64,256", help="comma-separated batch sizes (default 64,256)")
    parser.add_argument("--passes", default="none", help="engine passes for both engine runners (default none)")
    add_race_options(parser, repeats=20, warmup=3)
    args = parser.parse_args(argv)
    names = zoo_models(parser, args.models)
    batches = batch_sizes(parser, args.batches)
    try:
        passes = ",".join(resolve_passes(args.passes)) or None
    except UnknownPassError as e:
        parser.error(str(e))
    threads = check_race_options(parser, args)
    if not malloc_tuning.keep_heap_memory():  # only asks whether it works here: this process runs no model
        print("malloc tuning needs Linux with glibc; nothing to compare here")
        return 0
    header = (f"{'model':<17} {'batch':>6} {'default ms (p25-p75)':>28} {'tuned ms (p25-p75)':>28} "
              f"{'ORT ms (p25-p75)':>28} {'faults/pass':>13} {'default/tuned':>13} {'default/ORT':>11} "
              f"{'tuned/ORT':>9} {'load':>11}")
    print_table_start(f"engine with glibc's default malloc vs heap kept, engine passes {passes or 'none'}, "
                      "onnxruntime on the unoptimized graph", args, threads, header)
    for name in names:
        for batch in batches:
            print(row(name, batch, passes, threads, args.repeats, args.warmup, args.blocks), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
