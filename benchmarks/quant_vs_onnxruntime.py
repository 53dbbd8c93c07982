"""Quantized engine vs onnxruntime on the fp32 model, each runner in its own process.

    .venv/bin/python benchmarks/quant_vs_onnxruntime.py [--batch 256] [--threads N] [--repeats 30]
                                                        [--rounds 5] [--dense-models mlp,dlrm] [--skip-dense]

1. dlrm at --batch with all passes and 8-bit row-wise embeddings
   (--quant int8-rowwise-emb) against onnxruntime running the fp32 model
   (CPUExecutionProvider, full graph optimization), with the engine's fp32
   run (all passes) beside them, raced --rounds times. Goal: the median
   over rounds of ORT / ours-quant >= 1.5. The accuracy delta against fp32
   (engine.quant.accuracy) is printed next to it.
2. For mlp and dlrm at --batch, every dense mode: ours-fp32 / ours-quant
   (both after all passes; fp32 and every mode in one race), with each
   mode's accuracy delta.

Every runner lives in its own worker process (engine/onnx_io/process_race.py),
built there from the model name, passes and quant mode, with the same
thread limits; the runners take turns in blocks of passes, only one running
at a time, each block waiting for the last runner's threads to stop
spinning and opening with one untimed pass, so that neither one's
threads steal another's cores and slow drift in machine load hits all alike.
The tables show medians of one forward pass with their p25-p75 spread and
the 1-minute load average before and after.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from engine.benchmark import INPUT_SEED
from engine.ir import Graph
from engine.models import build_model
from engine.onnx_io.process_race import RaceResult, RaceWorkers, RunnerSpec, load_average, load_text
from engine.passes import run_passes
from engine.quant.accuracy import AccuracyDelta, accuracy_delta, calibration_inputs
from engine.quant.modes import DENSE, MODES, apply_quant, resolve_quant
from engine.roofline import blas_threads

GOAL = 1.5
EMBEDDING_MODE = "int8-rowwise-emb"


def accuracy_text(delta: AccuracyDelta) -> str:
    text = f"max abs err {delta.max_abs_error:.2e}, mean {delta.mean_abs_error:.2e}"
    return text + (f", {delta.metric} {delta.agreement:.4f}" if delta.agreement is not None else "")


def quantize(model, optimized: Graph, mode: str):
    """The optimized graph quantized in `mode` and its accuracy delta against the fp32 model."""
    result = apply_quant(optimized, resolve_quant(mode), calibration_inputs=calibration_inputs(model.make_inputs))
    return result, accuracy_delta(model.name, model.graph, result.graph, model.make_inputs)


def ms(result: RaceResult, name: str) -> str:
    samples = result.samples[name]
    return f"{samples.median * 1e3:.3f} ({samples.quantile(0.25) * 1e3:.3f}-{samples.quantile(0.75) * 1e3:.3f})"


def embedding_race(batch: int, threads: int, repeats: int, warmup: int, rounds: int) -> None:
    model = build_model("dlrm", batch=batch)
    result, delta = quantize(model, run_passes(model.graph, "all").graph, EMBEDDING_MODE)
    quantized = len(result.quantized_layers)
    del model, result  # the workers build their own
    dlrm = {"batch": batch}
    specs = {"ours-quant": RunnerSpec("engine", "dlrm", dlrm, threads, INPUT_SEED, "all", EMBEDDING_MODE),
             "ours-fp32": RunnerSpec("engine", "dlrm", dlrm, threads, INPUT_SEED, "all"),
             "ort-fp32": RunnerSpec("ort", "dlrm", dlrm, threads, INPUT_SEED)}
    print(f"dlrm batch {batch}, --passes all --quant {EMBEDDING_MODE} ({quantized} layer(s) quantized), threads "
          f"{threads}, {rounds} round(s) of {repeats} repeats, each runner in its own process; ms: median (p25-p75)")
    print(f"  {'round':<6} {'ours-quant ms':>22} {'ours-fp32 ms':>22} {'ORT-fp32 ms':>22} {'ORT/quant':>10} "
          f"{'fp32/quant':>10} {'load':>11}")
    speedups, gains = [], []
    with RaceWorkers(specs) as workers:
        for i in range(rounds):
            race = workers.race(repeats=repeats, warmup=warmup)
            speedups.append(race.ratio("ort-fp32", "ours-quant"))
            gains.append(race.ratio("ours-fp32", "ours-quant"))
            print(f"  {i + 1:<6} {ms(race, 'ours-quant'):>22} {ms(race, 'ours-fp32'):>22} "
                  f"{ms(race, 'ort-fp32'):>22} {speedups[-1]:10.2f} {gains[-1]:10.2f} "
                  f"{load_text(race.load_before):>5}-{load_text(race.load_after)}", flush=True)
    speedup = float(np.median(speedups))
    verdict = "goal met" if speedup >= GOAL else f"GOAL MISSED (< {GOAL})"
    print(f"  median over rounds: ORT-fp32 / ours-quant {speedup:.2f}x (rounds {min(speedups):.2f}-"
          f"{max(speedups):.2f}; {verdict}); ours-fp32 / ours-quant {float(np.median(gains)):.2f}x "
          f"(rounds {min(gains):.2f}-{max(gains):.2f})")
    print(f"  accuracy vs fp32 ({delta.samples} held-out samples): {accuracy_text(delta)}", flush=True)


def dense_table(models: Sequence[str], batch: int, threads: int, repeats: int, warmup: int) -> None:
    """Per model, fp32 and every dense mode raced together, one worker each."""
    dense_modes = [name for name, mode in MODES.items() if mode.family == DENSE]
    print(f"\ndense modes at batch {batch} (all passes on both sides), threads {threads}, repeats {repeats}, "
          "each runner in its own process; ms: median (p25-p75)")
    header = (f"{'model':<6} {'mode':<16} {'fp32 ms':>22} {'quant ms':>22} {'fp32/quant':>10} {'load':>11}  "
              "accuracy vs fp32")
    print(header)
    print("-" * len(header))
    for name in models:
        model = build_model(name, batch=batch)
        optimized = run_passes(model.graph, "all").graph
        deltas = {mode: quantize(model, optimized, mode)[1] for mode in dense_modes}
        del model, optimized
        params = {"batch": batch}
        specs = {"fp32": RunnerSpec("engine", name, params, threads, INPUT_SEED, "all")}
        specs |= {mode: RunnerSpec("engine", name, params, threads, INPUT_SEED, "all", mode) for mode in dense_modes}
        with RaceWorkers(specs) as workers:
            race = workers.race(repeats=repeats, warmup=warmup)
        load = f"{load_text(race.load_before):>5}-{load_text(race.load_after)}"
        for mode in dense_modes:
            print(f"{name:<6} {mode:<16} {ms(race, 'fp32'):>22} {ms(race, mode):>22} "
                  f"{race.ratio('fp32', mode):10.2f} {load:>11}  {accuracy_text(deltas[mode])}", flush=True)


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
    threads = args.threads or blas_threads()
    print(f"load average (1 min) {load_text(load_average())}")
    embedding_race(args.batch, threads, args.repeats, args.warmup, args.rounds)
    if not args.skip_dense:
        dense_table([m for m in args.dense_models.split(",") if m], args.batch, threads, args.repeats, args.warmup)
    return 0


if __name__ == "__main__":
    sys.exit(main())
