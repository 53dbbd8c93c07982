"""Races the dense quantized Linear layers against fp32, per layer, inside
the zoo's MLP models (mlp, dlrm) at batch 256. Goal (issue 20): int8 Linear
at least 1.5x faster than the fp32 Linear on the mlp and dlrm layers, with
exact int32 accumulation kept (tests/engine/test_int_gemm.py).

Each variant (fp32, int8, ...) of a model runs in a process of its own (this
script with --worker), which builds the model with the linear_activation
pass (so Linear+Relu is one layer in both), quantizes it, and times every
layer with the engine's profiler (engine.profile: warm-up until page faults
stop, then per-layer medians). The variants alternate in blocks, the order
reversed every other block (ABBA) so that drift in the machine's load hits
them alike; one process runs at a time. Printed: per layer the fp32 median
and each variant's speed-up fp32 / variant (median of the per-block ratios,
min-max across blocks), the same end to end, and the 1-minute load average.
--stat min compares each process's fastest pass instead of its median: on a
loaded machine at 2 threads, a descheduled BLAS thread stalls its partner's
barrier for whole milliseconds, which then says more about the load than
about the kernels.

    .venv/bin/python benchmarks/quant_dense.py [--models mlp,dlrm] [--batch 256] [--threads 1]
        [--modes int8,int8-static,int8-outlier] [--blocks 5] [--repeats 15] [--stat median|min]

--kernels (one thread, one process: no thread pool to fight) instead times
the GEMM kernels behind the choice in engine/ops/int_gemm.py: fp32 sgemm,
MLAS u8 x u8 (exact) and u8 x s8 (exact only below A_MAX), at the layers' shapes.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from engine.onnx_io.process_race import THREAD_ENV, load_text

ROOT = Path(__file__).resolve().parents[1]
LINEAR_OPS = ("Linear", "FusedLinear", "Int8Linear", "Int8OutlierLinear", "Fp16Linear")
MLP = (512, 1024, 1024, 512, 256)  # engine.models.mlp default sizes


def worker(model: str, quant: str, batch: int, threads: int, repeats: int) -> None:
    """Print one JSON line: each layer's (op, median s, min s) and the end-to-end (median s, min s)."""
    from threadpoolctl import threadpool_limits

    from engine.machine import Peaks
    from engine.models import build_model
    from engine.passes import run_passes
    from engine.profile import profile
    from engine.quant.accuracy import calibration_inputs
    from engine.quant.modes import apply_quant, resolve_quant

    with threadpool_limits(threads, user_api="blas"):
        built = build_model(model, batch=batch)
        graph = run_passes(built.graph, "linear_activation").graph
        if quant != "fp32":
            graph = apply_quant(graph, resolve_quant(quant),
                                calibration_inputs=calibration_inputs(built.make_inputs)).graph
        result = profile(graph, built.make_inputs(0), warmup=3, repeats=repeats,
                         peaks=Peaks(1.0, 1.0, threads=threads))  # only times are read: no roof measured
    layers = {ly.name: (ly.op, ly.time.median, ly.time.min) for ly in result.layers}
    print(json.dumps({"layers": layers, "end_to_end": (result.end_to_end.median, result.end_to_end.min)}))


def run_worker(model: str, quant: str, batch: int, threads: int, repeats: int) -> dict:
    env = dict(os.environ, **{var: str(threads) for var in THREAD_ENV})
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    cmd = [sys.executable, __file__, "--worker", model, quant, str(batch), str(threads), str(repeats)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise SystemExit(f"worker {model} {quant} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def spread(values: list[float]) -> str:
    return f"{np.median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"


def race_model(model: str, variants: list[str], args: argparse.Namespace) -> None:
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    load_before = os.getloadavg()[0]
    for block in range(args.blocks):
        for variant in variants if block % 2 == 0 else variants[::-1]:
            runs[variant].append(run_worker(model, variant, args.batch, args.threads, args.repeats))
    load_after = os.getloadavg()[0]
    base, col = runs["fp32"], 1 if args.stat == "median" else 2
    print(f"\n{model}, batch {args.batch}, {args.threads} thread(s): {args.blocks} blocks of {args.repeats} "
          f"passes per variant, each process's {args.stat}; load average (1 min) {load_text(load_before)} "
          f"before, {load_text(load_after)} after")
    print(f"{'layer':20} {'fp32 ms':>8}  speed-up fp32/variant: median of blocks (min-max)")
    for name, (op, *_) in base[0]["layers"].items():
        if op not in LINEAR_OPS:
            continue
        fp32 = [r["layers"][name][col] for r in base]
        cells = [f"{v} {spread([f / r['layers'][name][col] for f, r in zip(fp32, runs[v])])}" for v in variants[1:]]
        print(f"{name:20} {np.median(fp32) * 1e3:8.3f}  " + ", ".join(cells))
    fp32 = [r["end_to_end"][col - 1] for r in base]
    cells = [f"{v} {spread([f / r['end_to_end'][col - 1] for f, r in zip(fp32, runs[v])])}" for v in variants[1:]]
    print(f"{'end to end':20} {np.median(fp32) * 1e3:8.3f}  " + ", ".join(cells))


def kernel_choice(batch: int, repeats: int) -> None:
    """fp32 sgemm against MLAS's two 8-bit kernels, one thread, interleaved in one process."""
    from threadpoolctl import threadpool_limits

    from engine.models.dlrm import BOTTOM_MLP, TOP_HIDDEN
    from engine.ops.int_gemm import _build_session

    rng = np.random.default_rng(1)
    shapes = sorted({(k, n) for sizes in (MLP, BOTTOM_MLP, (415, *TOP_HIDDEN)) for k, n in zip(sizes, sizes[1:])})
    print(f"GEMM kernels, 1 thread, batch {batch}, median of {repeats} interleaved rounds (us; fp32 time / kernel's)")
    with threadpool_limits(1):
        for k, n in shapes:
            x, w = rng.standard_normal((batch, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
            a = rng.integers(0, 129, (batch, k)).astype(np.uint8)
            wq = rng.integers(-127, 128, (k, n)).astype(np.int8)
            u8u8 = _build_session((wq.astype(np.int16) + 128).astype(np.uint8), 0, 1)  # timing only: no zero point
            u8s8 = _build_session(wq, 0, 1)
            runs = {"fp32 sgemm": lambda: x @ w, "u8 x u8": lambda: u8u8.run(None, {"A": a}),
                    "u8 x s8": lambda: u8s8.run(None, {"A": a})}
            times: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(repeats):
                for name, fn in runs.items():
                    start = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - start)
            med = {name: float(np.median(t)) for name, t in times.items()}
            print(f"  {k}x{n}: " + ", ".join(f"{name} {t * 1e6:.0f} ({med['fp32 sgemm'] / t:.2f}x)"
                                              for name, t in med.items()))
    print(f"load average (1 min) {load_text(os.getloadavg()[0])}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        model, quant, batch, threads, repeats = sys.argv[2:7]
        worker(model, quant, int(batch), int(threads), int(repeats))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,dlrm")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--modes", default="int8", help="quant modes raced against fp32, comma-separated")
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=15, help="timed passes per process")
    parser.add_argument("--stat", choices=("median", "min"), default="median",
                        help="each process's statistic (min: its least disturbed pass, for a loaded machine)")
    parser.add_argument("--kernels", action="store_true", help="time the GEMM kernels instead (one thread)")
    args = parser.parse_args()
    if args.kernels:
        kernel_choice(args.batch, args.repeats)
        return
    for model in args.models.split(","):
        race_model(model, ["fp32", *args.modes.split(",")], args)


if __name__ == "__main__":
    main()
