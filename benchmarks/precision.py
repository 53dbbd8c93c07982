"""How repeatable is a measurement? N runs of one benchmark, each in its own
process (`roofwatch-engine run`), and the spread of their medians across runs.

    .venv/bin/python benchmarks/precision.py                      # 5 runs of dlrm, batch 256, 1 thread
    .venv/bin/python benchmarks/precision.py --repeats 30 --pin 1
    .venv/bin/python benchmarks/precision.py --target-ci 1 --budget-s 30

Prints each run's end-to-end median, the repeats it used (more than asked
with --target-ci), its warmup and timed page faults and the load average
around it; then the coefficient of variation (sample std / mean) across runs
of the end-to-end median and of every layer's median (the median and p90
over layers), and the 1-minute load average before and after. The goal
(roofwatch issue 19): per-layer median CV <= 3% and end-to-end <= 2% at a
load below 1. The 2 cores may be shared: read the numbers with the load.
A benchmark, never a test: nothing here asserts a speed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def load1() -> float:
    return os.getloadavg()[0]


def one_run(args: argparse.Namespace, out: Path) -> dict:
    """One `roofwatch-engine run` in a fresh process; its report."""
    cmd = [sys.executable, "-m", "engine.cli", "run", args.model, "--batch", str(args.batch),
           "--threads", str(args.threads), "--repeats", str(args.repeats), "--warmup", str(args.warmup),
           "--json", str(out)]
    if args.target_ci is not None:
        cmd += ["--target-ci", str(args.target_ci)]
        if args.budget_s is not None:
            cmd += ["--budget-s", str(args.budget_s)]
    pin = None if args.pin is None else (lambda: os.sched_setaffinity(0, {args.pin}))
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, preexec_fn=pin)
    if proc.returncode != 0:
        sys.exit(f"engine run failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return json.loads(out.read_text())


def cv(values: list[float]) -> float:
    """Sample coefficient of variation in percent."""
    a = np.asarray(values, dtype=np.float64)
    return float(a.std(ddof=1) / a.mean() * 100.0) if a.size > 1 and a.mean() > 0 else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="engine runs, each its own process (default 5)")
    parser.add_argument("--model", default="dlrm")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--target-ci", type=float, help="the engine's --target-ci PCT")
    parser.add_argument("--budget-s", type=float, help="the engine's --budget-s (with --target-ci)")
    parser.add_argument("--pin", type=int, metavar="CPU", help="pin each run to this CPU (sched_setaffinity)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep each run's report here (runN.json)")
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error("--runs: at least 2 runs to have a spread")

    before = os.getloadavg()
    print(f"{args.model} batch {args.batch}, {args.threads} thread(s), repeats {args.repeats}, "
          f"warmup {args.warmup}, target CI {args.target_ci}, budget {args.budget_s}, pin {args.pin}")
    print(f"load average before: {before[0]:.2f} {before[1]:.2f} {before[2]:.2f}")
    reports = []
    with tempfile.TemporaryDirectory(prefix="roofwatch-precision-") as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        for i in range(args.runs):
            start_load, t0 = load1(), time.perf_counter()
            rep = one_run(args, where / f"run{i + 1}.json")
            e2e = rep["end_to_end"]
            half = (e2e["ci_high"] - e2e["ci_low"]) / 2 / e2e["median"] * 100 if e2e.get("ci_low") else float("nan")
            print(f"run {i + 1}: end to end {e2e['median'] * 1e3:8.3f} ms (95% CI +-{half:.2f}%), "
                  f"repeats {rep['repeats']}, warmup {rep['warmup']}, timed page faults {rep['timed_page_faults']}, "
                  f"{time.perf_counter() - t0:5.1f} s, load {start_load:.2f} -> {load1():.2f}")
            reports.append(rep)
    after = os.getloadavg()

    e2e_cv = cv([r["end_to_end"]["median"] for r in reports])
    names = [ly["name"] for ly in reports[0]["layers"]]
    layer_cvs = np.array([cv([next(ly["time"]["median"] for ly in r["layers"] if ly["name"] == name)
                              for r in reports]) for name in names])
    worst = sorted(zip(layer_cvs, names), reverse=True)[:5]
    print(f"end-to-end median CV across runs: {e2e_cv:.2f}%  (goal <= 2%)")
    print(f"per-layer median CV across runs: median {np.median(layer_cvs):.2f}%, "
          f"p90 {np.percentile(layer_cvs, 90):.2f}%  (goal: median <= 3%) over {len(names)} layers")
    print("highest layer CVs: " + ", ".join(f"{name} {c:.1f}%" for c, name in worst))
    print(f"repeats per run: {[r['repeats'] for r in reports]}")
    print(f"load average after: {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
