"""Change detection: roofwatch's detector against four peers on labelled series.

    .venv/bin/python benchmarks/detection_eval.py            # full run (a few minutes)
    .venv/bin/python benchmarks/detection_eval.py --quick    # smaller, ~1 minute

Series (fixed seed): noise models x scenarios (benchmarks/detection_eval_support/
series_gen.py), 200 points each. A detection is a hit within +-2 points of a
true change. Precision, recall and F1 count every series; false alerts per
1,000 points count change-free series (flat and drifting) only. Delay: for
series with one change, the fewest points after the change that a method
needs (run on growing prefixes) to report it, median over those it finds
within the horizon. Then the speed of our detector: a sweep over 10,000 x 200
and the incremental case (100 series, one new point each), median of repeats.
Peers and their settings: detection_eval_support/peers.py. The detector's
constants were tuned with --seed 1; the default seed is the reported one.

Real noise: benchmarks/data/engine_noise.json holds per-run medians of
repeated engine runs on this machine (make_engine_noise.py). The "engine"
model resamples them (iid: the recorded order is not kept) rescaled to the
synthetic sigma range; the raw-scale table shows the same noise at its real
size on this shared machine (robust sigma 2-40%), where small steps are
invisible to every method, and is not part of the overall figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detection_eval_support import peers  # noqa: E402
from detection_eval_support.scoring import Tally, match  # noqa: E402
from detection_eval_support.series_gen import (  # noqa: E402
    CHANGE_FREE,
    NOISE_MODELS,
    RAW_NOISE_MODEL,
    make_suite,
)

REPORT_SEED = 20261123
DELAY_HORIZON = 30


def run_method(fn, suite, use_spread=False):
    tally = Tally()
    per_noise = {}
    for series in suite:
        spread = series.spread if use_spread else None
        t0 = time.perf_counter()
        found = fn(series.values, spread) if use_spread else fn(series.values)
        tally.seconds += time.perf_counter() - t0
        change_free = series.scenario in CHANGE_FREE
        tally.add(series.changes, found, series.values.size, change_free)
        per_noise.setdefault(series.noise, Tally()).add(series.changes, found, series.values.size, change_free)
    return tally, per_noise


def measure_delays(fn, suite, tally, limit):
    singles = [s for s in suite if s.scenario == "one" and s.changes[0] + DELAY_HORIZON <= s.values.size][:limit]
    for series in singles:
        c = series.changes[0]
        for j in range(1, DELAY_HORIZON + 1):
            if match([c], fn(series.values[: c + j]))[0]:
                tally.delays.append(j)
                break
        else:
            tally.missed_delay += 1


def sweep_speed(n_series, n_points, repeats, seed):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
    from regressions.changepoints import detect_changes, detect_changes_many

    rng = np.random.default_rng(seed)
    data = 1 + 0.01 * rng.standard_normal((n_series, n_points))
    stepped = rng.random(n_series) < 0.1
    data[stepped, n_points // 2 :] *= 1.1
    sweep = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        detect_changes_many(data)
        sweep.append(time.perf_counter() - t0)
    layers = data[:100]
    incremental = []
    for _ in range(max(5, repeats * 5)):
        t0 = time.perf_counter()
        for row in layers:
            detect_changes(row)
        incremental.append(time.perf_counter() - t0)
    return statistics.median(sweep), statistics.median(incremental)


def print_table(rows, title):
    print(f"\n{title}")
    head = f"{'method':<22} {'precision':>9} {'recall':>7} {'F1':>6} {'delay':>6} {'false/1k pts':>12} {'time s':>7}"
    print(head)
    print("-" * len(head))
    for name, t in rows:
        delay = f"{statistics.median(t.delays):.0f}" if t.delays else "-"
        print(
            f"{name:<22} {t.precision:>9.3f} {t.recall:>7.3f} {t.f1:>6.3f} {delay:>6} "
            f"{t.false_per_1000:>12.2f} {t.seconds:>7.1f}"
        )


def main():
    parser = argparse.ArgumentParser(description="Evaluate change detection against peers.")
    parser.add_argument("--quick", action="store_true", help="fewer series and speed repeats")
    parser.add_argument("--seed", type=int, default=REPORT_SEED)
    parser.add_argument("--only", help="comma-separated method names to run (default: all)")
    opts = parser.parse_args()

    per_cell = 20 if opts.quick else 80
    delay_limit = 20 if opts.quick else 60
    suite = make_suite(opts.seed, per_cell)
    raw_suite = make_suite(opts.seed + 1, per_cell // 2, models=(RAW_NOISE_MODEL,))
    methods = dict(peers.METHODS)
    if opts.only:
        wanted = set(opts.only.split(","))
        methods = {k: v for k, v in methods.items() if k in wanted}

    print(
        f"{len(suite)} series x 200 points, seed {opts.seed}: noise {', '.join(NOISE_MODELS)}; "
        f"scenarios none, drift, one, several, short_tail; {per_cell} per cell"
    )
    rows, noise_rows, raw_rows, skipped = [], [], [], []
    for name, fn in methods.items():
        try:
            fn(np.ones(20))
        except ImportError as exc:  # benchmark-only peers may be absent
            skipped.append(f"{name}: {exc}")
            continue
        tally, per_noise = run_method(fn, suite)
        measure_delays(fn, suite, tally, delay_limit)
        rows.append((name, tally))
        noise_rows.append((name, per_noise))
        raw_rows.append((name, run_method(fn, raw_suite)[0]))
        print(f"  ran {name} ({tally.seconds:.1f} s)", file=sys.stderr)
    if "roofwatch" in methods:
        with_spread, _ = run_method(peers.ours, suite, use_spread=True)
        rows.insert(1, ("roofwatch + spread", with_spread))

    print_table(rows, "Overall (delay: median points after a change until it is reported)")
    for line in skipped:
        print(f"  skipped {line}")
    print("\nF1 by noise model")
    print(f"{'method':<22} " + " ".join(f"{m:>10}" for m in NOISE_MODELS))
    for name, per_noise in noise_rows:
        print(f"{name:<22} " + " ".join(f"{per_noise[m].f1:>10.3f}" for m in NOISE_MODELS))
    print_table(
        raw_rows,
        f"Real engine noise at raw scale on this shared machine ({len(raw_suite)} series, not in overall)",
    )

    if "roofwatch" in methods:
        repeats = 1 if opts.quick else 3
        sweep, incremental = sweep_speed(10_000, 200, repeats, opts.seed)
        print(f"\nSpeed (roofwatch, median of {repeats} sweep / {max(5, repeats * 5)} incremental repeats)")
        print(f"  sweep 10,000 series x 200 points: {sweep:.2f} s (goal <= 10 s)")
        print(f"  incremental, 100 series x 200 points: {incremental * 1000:.1f} ms (goal <= 50 ms)")
        ours_tally = dict(rows)["roofwatch"]
        per_series = ours_tally.seconds / len(suite)
        print(
            f"  the evaluation's own mix (drift and multi-change series are the slow ones): "
            f"{per_series * 1000:.2f} ms per series, {per_series * 10_000:.1f} s per 10,000"
        )


if __name__ == "__main__":
    main()
