"""Quantized engine vs onnxruntime on the fp32 model, side by side in one process.

    .venv/bin/python benchmarks/quant_vs_onnxruntime.py [--batch 256] [--threads N] [--repeats 30]
                                                        [--rounds 5] [--dense-models mlp,dlrm] [--skip-dense]

1. dlrm at --batch with all passes and 8-bit row-wise embeddings
   (--quant int8-rowwise-emb) against onnxruntime running the fp32 model
   (CPUExecutionProvider, full graph optimization), with the engine's fp32
   run (all passes) beside them, raced --rounds times. Goal: the median
   over rounds of ORT / ours-quant >= 1.5. The accuracy delta against fp32
   (engine.quant.accuracy) is printed next to it.
2. For mlp and dlrm at --batch, every dense mode: ours-fp32 / ours-quant
   (both after all passes), with each mode's accuracy delta.

The runners take turns in blocks of passes (as engine.onnx_io.ort_runner.race
does), each block opening with one untimed pass, so that slow drift in
machine load hits all alike; the table shows medians of one forward pass.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from engine.benchmark import INPUT_SEED
from engine.executor import check_inputs, execute, make_plan
from engine.ir import Graph
from engine.malloc_tuning import keep_heap_memory
from engine.models import build_model
from engine.onnx_io.export_graph import export_onnx
from engine.onnx_io.ort_runner import ort_session, race_runners
from engine.passes import run_passes
from engine.quant.accuracy import AccuracyDelta, accuracy_delta, calibration_inputs
from engine.quant.modes import DENSE, MODES, apply_quant, resolve_quant
from engine.roofline import blas_threads

GOAL = 1.5
EMBEDDING_MODE = "int8-rowwise-emb"


def engine_runner(graph: Graph, inputs: Mapping[str, np.ndarray]) -> Callable[[], object]:
    plan = make_plan(graph)
    check_inputs(plan, inputs)
    return lambda: execute(plan, inputs)


def ort_runner(graph: Graph, inputs: Mapping[str, np.ndarray], threads: int) -> Callable[[], object]:
    session = ort_session(export_onnx(graph), threads)
    feed = dict(inputs)
    return lambda: session.run(None, feed)


def accuracy_text(delta: AccuracyDelta) -> str:
    text = f"max abs err {delta.max_abs_error:.2e}, mean {delta.mean_abs_error:.2e}"
    return text + (f", {delta.metric} {delta.agreement:.4f}" if delta.agreement is not None else "")


def quantize(model, optimized: Graph, mode: str):
    """The optimized graph quantized in `mode` and its accuracy delta against the fp32 model."""
    result = apply_quant(optimized, resolve_quant(mode), calibration_inputs=calibration_inputs(model.make_inputs))
    return result, accuracy_delta(model.name, model.graph, result.graph, model.make_inputs)


def embedding_race(batch: int, threads: int, repeats: int, warmup: int, rounds: int) -> None:
    model = build_model("dlrm", batch=batch)
    optimized = run_passes(model.graph, "all").graph
    result, delta = quantize(model, optimized, EMBEDDING_MODE)
    inputs = model.make_inputs(INPUT_SEED)
    runners = {"ours-quant": engine_runner(result.graph, inputs), "ours-fp32": engine_runner(optimized, inputs),
               "ort-fp32": ort_runner(model.graph, inputs, threads)}
    print(f"dlrm batch {batch}, --passes all --quant {EMBEDDING_MODE} ({len(result.quantized_layers)} layer(s) "
          f"quantized), threads {threads}, {rounds} round(s) of {repeats} repeats")
    print(f"  {'round':<6} {'ours-quant ms':>13} {'ours-fp32 ms':>13} {'ORT-fp32 ms':>12} {'ORT/quant':>10} "
          f"{'fp32/quant':>10}")
    speedups, gains = [], []
    for i in range(rounds):
        medians = race_runners(runners, threads=threads, repeats=repeats, warmup=warmup)
        speedups.append(medians["ort-fp32"] / medians["ours-quant"])
        gains.append(medians["ours-fp32"] / medians["ours-quant"])
        print(f"  {i + 1:<6} {medians['ours-quant'] * 1e3:13.3f} {medians['ours-fp32'] * 1e3:13.3f} "
              f"{medians['ort-fp32'] * 1e3:12.3f} {speedups[-1]:10.2f} {gains[-1]:10.2f}", flush=True)
    speedup = float(np.median(speedups))
    verdict = "goal met" if speedup >= GOAL else f"GOAL MISSED (< {GOAL})"
    print(f"  median over rounds: ORT-fp32 / ours-quant {speedup:.2f}x ({verdict}); "
          f"ours-fp32 / ours-quant {float(np.median(gains)):.2f}x")
    print(f"  accuracy vs fp32 ({delta.samples} held-out samples): {accuracy_text(delta)}", flush=True)


def dense_table(models: Sequence[str], batch: int, threads: int, repeats: int, warmup: int) -> None:
    dense_modes = [name for name, mode in MODES.items() if mode.family == DENSE]
    print(f"\ndense modes at batch {batch} (all passes on both sides), threads {threads}, repeats {repeats}")
    header = f"{'model':<6} {'mode':<16} {'fp32 ms':>9} {'quant ms':>9} {'fp32/quant':>10}  accuracy vs fp32"
    print(header)
    print("-" * len(header))
    for name in models:
        model = build_model(name, batch=batch)
        optimized = run_passes(model.graph, "all").graph
        inputs = model.make_inputs(INPUT_SEED)
        for mode in dense_modes:
            result, delta = quantize(model, optimized, mode)
            medians = race_runners({"fp32": engine_runner(optimized, inputs),
                                    "quant": engine_runner(result.graph, inputs)},
                                   threads=threads, repeats=repeats, warmup=warmup)
            print(f"{name:<6} {mode:<16} {medians['fp32'] * 1e3:9.3f} {medians['quant'] * 1e3:9.3f} "
                  f"{medians['fp32'] / medians['quant']:10.2f}  {accuracy_text(delta)}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256, help="batch size (default 256)")
    parser.add_argument("--threads", type=int, default=None, help="threads for all (default: BLAS's count)")
    parser.add_argument("--repeats", type=int, default=30, help="timed passes of each (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed passes of each first (default 3)")
    parser.add_argument("--rounds", type=int, default=5, help="races of the dlrm row (default 5); the verdict "
                        "reads their median")
    parser.add_argument("--dense-models", default="mlp,dlrm", help="models of the dense table (default mlp,dlrm)")
    parser.add_argument("--skip-dense", action="store_true", help="only the dlrm embedding race")
    args = parser.parse_args(argv)
    keep_heap_memory()
    threads = args.threads or blas_threads()
    with contextlib.suppress(AttributeError):
        print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    embedding_race(args.batch, threads, args.repeats, args.warmup, args.rounds)
    if not args.skip_dense:
        dense_table([m for m in args.dense_models.split(",") if m], args.batch, threads, args.repeats, args.warmup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
