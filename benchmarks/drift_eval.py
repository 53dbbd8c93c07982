"""Creeping drift: regressions.drift.detect_drifts on labelled series.

    .venv/bin/python benchmarks/drift_eval.py            # the reported seed
    .venv/bin/python benchmarks/drift_eval.py --seed 1   # the tuning seed

Series of 200 points, noise from detection_eval_support/series_gen.py (every
synthetic model: gaussian, student_t, bimodal, engine, ar1, wander; with its
single-run outliers), minimum relative change MIN_REL (the end-to-end default):

- ramp: a linear ramp totalling 5-15% (either sign) over RAMP_POINTS points,
  level before and after it; "ramp, tail": the series ends 0-5 points after it.
- small steps: 3-5 steps each below MIN_REL that add up to 5-15%, within 30 points.
- none: no change. step: one step of 5-30% (found by the step detector; a
  drift alert there would be double counting).
- slow: detection_eval's "drift" scenario, 3-10% spread evenly over all 200
  points (0.9-3% per 60): shown for what it finds, not scored.

Recall: a drift overlapping the ramp (+-2 points). False drifts per 1,000
points: drifts on "none" series. Steps: series with a drift alert.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "platform"))
from detection_eval_support.series_gen import NOISE_MODELS, OUTLIER_RATE, EngineNoise, make_noise  # noqa: E402
from regressions.changepoints import detect_changes  # noqa: E402
from regressions.drift import detect_drifts  # noqa: E402

REPORT_SEED = 20261207
N = 200
MIN_REL = 0.02
RAMP_POINTS = 30
RAMP_RANGE = (0.05, 0.15)
STEP_RANGE = (0.05, 0.30)
SCENARIOS = ("ramp", "ramp_tail", "small_steps", "none", "step", "slow")
SLOW_RANGE = (0.03, 0.10)


def make(rng, noise_model, scenario, engine):
    level = np.ones(N)
    ramp = None
    sign = 1 if rng.random() < 0.5 else -1
    if scenario in ("ramp", "ramp_tail", "small_steps"):
        total = rng.uniform(*RAMP_RANGE)
        start = int(rng.integers(40, N - RAMP_POINTS - 20)) if scenario != "ramp_tail" else (
            N - RAMP_POINTS - int(rng.integers(0, 6)))
        ramp = (start, start + RAMP_POINTS - 1)
        if scenario == "small_steps":
            count = int(np.ceil(total / (MIN_REL * 0.9))) if total / 5 >= MIN_REL * 0.9 else 5
            count = max(3, min(count, 8))
            at = np.sort(rng.choice(np.arange(start, start + RAMP_POINTS), count, replace=False))
            ramp = (int(at[0]), int(at[-1]))
            for p in at:
                level[p:] *= (1 + sign * total) ** (1 / count)
        else:
            shape = np.clip((np.arange(N) - start + 1) / RAMP_POINTS, 0, 1)
            level *= 1 + sign * total * shape
    elif scenario == "slow":
        level *= 1 + sign * rng.uniform(*SLOW_RANGE) * np.linspace(0.0, 1.0, N)
    elif scenario == "step":
        size = rng.uniform(*STEP_RANGE)
        level[int(rng.integers(20, N - 20)):] *= 1 + sign * size
    noise, spread, _ = make_noise(rng, noise_model, N, engine)
    values = level * (1 + noise)
    outliers = rng.random(N) < OUTLIER_RATE
    values[outliers] *= 1 + rng.uniform(0.2, 1.0, int(outliers.sum()))
    return values, spread * level, ramp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=REPORT_SEED)
    parser.add_argument("--per-cell", type=int, default=40, help="series per noise model and scenario")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    engine = EngineNoise()
    models = NOISE_MODELS
    rows = {}
    t0 = time.perf_counter()
    for model in models:
        for scenario in SCENARIOS:
            hits = drifts_total = with_drift = step_hits = 0
            for _ in range(args.per_cell):
                values, spread, ramp = make(rng, model, scenario, engine)
                changes = detect_changes(values, spread=spread, min_rel_change=MIN_REL)
                found = detect_drifts(values, spread=spread, min_rel_change=MIN_REL,
                                      changes=changes)
                drifts_total += len(found)
                with_drift += bool(found)
                if ramp is not None:
                    hit = any(d.start <= ramp[1] + 2 and d.end >= ramp[0] - 2 for d in found)
                    hits += hit
                    step_hits += (not hit) and any(ramp[0] - 2 <= c.index <= ramp[1] + 2 for c in changes)
            rows[(model, scenario)] = (hits, drifts_total, with_drift, step_hits, args.per_cell)
    seconds = time.perf_counter() - t0
    print(f"seed {args.seed}, {args.per_cell} series per cell, {N} points, min_rel_change {MIN_REL:.0%}, "
          f"ramps {RAMP_RANGE[0]:.0%}-{RAMP_RANGE[1]:.0%} over {RAMP_POINTS} points")
    head = ["noise", "ramp recall", "ramp, tail", "small steps", "as step only", "false drifts /1k (none)",
            "step series with a drift", "slow series with a drift"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    totals = np.zeros(9)
    for model in models:
        r, t, s = rows[(model, "ramp")], rows[(model, "ramp_tail")], rows[(model, "small_steps")]
        none, step, slow = rows[(model, "none")], rows[(model, "step")], rows[(model, "slow")]
        as_step = r[3] + t[3] + s[3]
        print(f"| {model} | {r[0] / r[4]:.0%} | {t[0] / t[4]:.0%} | {s[0] / s[4]:.0%} | {as_step} | "
              f"{1000 * none[1] / (none[4] * N):.2f} | {step[2]}/{step[4]} | {slow[2]}/{slow[4]} |")
        totals += [r[0], t[0], s[0], r[4], as_step, none[1], none[4] * N, step[2], slow[2]]
    cells = args.per_cell * len(models)
    print(f"| all | {totals[0] / cells:.1%} | {totals[1] / cells:.1%} | {totals[2] / cells:.1%} | {int(totals[4])} | "
          f"{1000 * totals[5] / totals[6]:.2f} | {int(totals[7])}/{cells} | {int(totals[8])}/{cells} |")
    print(f"({seconds:.1f} s for {len(rows) * args.per_cell} series, step detection included)")


if __name__ == "__main__":
    main()
