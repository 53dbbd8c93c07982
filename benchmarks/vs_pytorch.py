"""Race the engine (all passes) against onnxruntime and PyTorch eager on dlrm and wdl, each in its own process.

    .venv/bin/python benchmarks/vs_pytorch.py [--models dlrm,wdl] [--batches 64,256] [--threads N]
        [--repeats 20]

For each model and batch, three worker processes (engine/onnx_io/process_race.py)
build the same model with the same seeded weights and inputs: "ours" runs it
in the engine after all its graph passes, "ort" runs its unoptimized ONNX
export in onnxruntime (CPUExecutionProvider, full graph optimization of its
own), "torch" runs the unoptimized graph in PyTorch eager
(engine/onnx_io/torch_runner.py: F.embedding_bag on FBGEMM's kernel,
F.linear, DLRM's bmm interaction), each limited to the same thread count
(and the OMP/OpenBLAS/MKL variables of its process). After a warmup they take
turns in blocks of passes, one runtime at a time, each block waiting for the
last one's threads to stop spinning and opening with one untimed pass. The
table shows each median with its p25-p75 spread, ORT/ours and torch/ours, the
repeats and the 1-minute load average before and after the row.

The goal (issue 20): with all passes and 2 threads, ours at least GOAL times
faster than onnxruntime and than PyTorch eager (both ratios >= 1.2) on dlrm
and wdl. PyTorch is an optional peer, never a dependency: where torch cannot
be imported the script says so and races ours against onnxruntime only.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence

from engine.ir import GraphError
from engine.models import MODELS, ModelParamError
from engine.onnx_io import OnnxIOError
from engine.onnx_io.process_race import (
    RaceResult,
    RaceWorkerError,
    RunnerSpec,
    engine_vs_ort,
    load_average,
    load_text,
    race_processes,
)
from engine.roofline import blas_threads
from vs_onnxruntime import spread_ms

GOAL = 1.2  # each peer's median over ours
GOAL_THREADS = 2
MODELS_RACED = ("dlrm", "wdl")


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


def specs(name: str, batch: int, threads: int, with_torch: bool) -> dict[str, RunnerSpec]:
    params = MODELS[name].resolve({"batch": batch})
    runners = engine_vs_ort(name, params, threads, seed=0, passes="all")
    if with_torch:
        runners["torch"] = RunnerSpec("torch", name, dict(params), threads, seed=0)
    return runners


def verdict(result: RaceResult, threads: int) -> str:
    if threads != GOAL_THREADS:
        return f"  (the goal is judged at {GOAL_THREADS} threads)"
    missed = [peer for peer in result.samples if peer != "ours" and result.ratio(peer, "ours") < GOAL]
    return "  goal met" if not missed else f"  GOAL MISSED (< {GOAL} against {', '.join(missed)})"


def row(name: str, batch: int, threads: int, repeats: int, warmup: int, blocks: int, with_torch: bool) -> str:
    label = f"{name:<10} {batch:>6}"
    try:
        result = race_processes(specs(name, batch, threads, with_torch), repeats=repeats, warmup=warmup,
                                blocks=blocks)
    except (ModelParamError, GraphError) as e:
        return f"{label}  skipped: a runtime cannot run it: {e}"
    except (OnnxIOError, RaceWorkerError) as e:
        return f"{label}  skipped: {e}"
    samples = result.samples
    torch_ms = spread_ms(samples["torch"]) if with_torch else "not installed"
    torch_ratio = f"{result.ratio('torch', 'ours'):10.2f}" if with_torch else f"{'-':>10}"
    return (f"{label} {spread_ms(samples['ours']):>28} {spread_ms(samples['ort']):>28} {torch_ms:>28} "
            f"{result.ratio('ort', 'ours'):8.2f} {torch_ratio} {repeats:>7} "
            f"{load_text(result.load_before):>5}-{load_text(result.load_after):<5}{verdict(result, threads)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS_RACED), help="comma-separated (default dlrm,wdl)")
    parser.add_argument("--batches", default="64,256", help="comma-separated batch sizes (default 64,256)")
    parser.add_argument("--threads", type=int, default=None, help="threads for each (default: BLAS's count)")
    parser.add_argument("--repeats", type=int, default=20, help="timed passes of each (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed passes of each first (default 3)")
    parser.add_argument("--blocks", type=int, default=5, help="turns each runtime takes (default 5)")
    args = parser.parse_args(argv)
    names = args.models.split(",")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; the zoo is {', '.join(MODELS)}")
    batches = [int(b) for b in args.batches.split(",")]
    threads = args.threads or blas_threads()
    with_torch = torch_installed()
    if not with_torch:
        print("torch is not importable here: racing ours against onnxruntime only (PyTorch is an optional peer)")
    print(f"engine (all passes) vs onnxruntime vs PyTorch eager, each in its own process, threads {threads}, "
          f"{args.repeats} repeats in {args.blocks} blocks, warmup {args.warmup}; medians of one forward pass "
          f"(p25-p75); goal at {GOAL_THREADS} threads: ORT/ours and torch/ours >= {GOAL}; 1-minute load average "
          f"before-after each row; load now {load_text(load_average())}")
    header = (f"{'model':<10} {'batch':>6} {'ours ms (p25-p75)':>28} {'ORT ms (p25-p75)':>28} "
              f"{'torch ms (p25-p75)':>28} {'ORT/ours':>8} {'torch/ours':>10} {'repeats':>7} {'load':>11}")
    print(header)
    print("-" * len(header))
    for name in names:
        for batch in batches:
            print(row(name, batch, threads, args.repeats, args.warmup, args.blocks, with_torch), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
