"""How many benchmark runs does an auto-bisect take? The search of
platform/bisection/search.py driven over simulated commit ranges whose
measurements are real: each round profiles the mlp in this process, with a
compute slowdown injected (engine.inject) at every commit from the culprit on.

    .venv/bin/python benchmarks/bisect_rounds.py             # N = 16 and 64 commits, 10 trials each
    .venv/bin/python benchmarks/bisect_rounds.py --smoke     # N = 16, 2 trials (tests run this)

Commits are 0..N-1 (0 the last good, N-1 the first bad), the culprit drawn in
1..N-1 (seeded). The bisected series (end to end, or the injected layer) gives
each run a bisection.search.Point: its median and detection's within-run
spread. The run-to-run noise (`run_sigma`) comes first, from baseline runs
(detection's noise_scale over their medians). A round is one benchmark run,
a step one distinct commit measured. Prints a line per trial and a table:
trials that named the right culprit, median/max rounds and steps, the bound
ceil(log2 N) + 2 the search's tests hold it to, and the 1-minute load average
at the start and end. A benchmark, not a test of speed.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "platform")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")  # within_run_spread's module reads models

import django  # noqa: E402

django.setup()

from bisection.search import FOUND, CommitState, Point, next_step  # noqa: E402
from engine.machine import Peaks  # noqa: E402
from engine.models import build_model  # noqa: E402
from engine.profile import profile  # noqa: E402
from regressions.changepoints import noise_scale  # noqa: E402
from regressions.detection import MIN_END_TO_END_CHANGE, MIN_LAYER_CHANGE  # noqa: E402
from regressions.window import within_run_spread  # noqa: E402

PEAKS = Peaks(gflops=100.0, gbs=20.0)  # fixed: the roofline verdicts play no part here
MAX_ROUNDS = 200


class Bench:
    """Real engine runs of the mlp, slowed down by `inject` at commits >= culprit."""

    def __init__(self, args: argparse.Namespace) -> None:
        model = build_model("mlp", batch=args.batch)
        self.graph, self.inputs = model.graph, model.make_inputs(0)
        self.inject = f"compute:{args.layer}:{args.factor}"
        self.series = args.layer if args.series == "layer" else None
        self.warmup, self.repeats = args.warmup, args.repeats

    def point(self, slow: bool) -> Point:
        result = profile(self.graph, self.inputs, warmup=self.warmup, repeats=self.repeats, peaks=PEAKS,
                         inject=[self.inject] if slow else ())
        s = result.end_to_end if self.series is None else next(
            ly.time for ly in result.layers if ly.name == self.series)
        return Point(s.median, within_run_spread(s.p25, s.p75, s.ci_low, s.ci_high, s.n), s.n)


def trial(bench: Bench, n: int, culprit: int, min_rel: float, run_sigma: float) -> tuple[str, list[int], int, int]:
    """Drive next_step to its end: (outcome, culprits named, rounds, steps)."""
    commits = [CommitState() for _ in range(n)]
    rounds = 0
    while rounds < MAX_ROUNDS:
        step = next_step(commits, min_rel, run_sigma)
        if step.outcome:
            return step.outcome, [c.index for c in step.culprits], rounds, sum(c.measured for c in commits)
        for i in step.measure:  # runs one at a time here, so the search never waits
            commits[i].points.append(bench.point(slow=i >= culprit))
            rounds += 1
    return "stuck", [], rounds, sum(c.measured for c in commits)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="16,64", help="commits per range, comma-separated (default 16,64)")
    parser.add_argument("--trials", type=int, default=10, help="trials per size (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layer", default="fc2", help="the mlp layer slowed down (default fc2)")
    parser.add_argument("--factor", type=float, help="its compute injection factor (default 3; 4 with --smoke)")
    parser.add_argument("--series", choices=("end_to_end", "layer"), default="end_to_end",
                        help="the bisected series: end to end, or the injected layer's")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--baseline-runs", type=int, default=6, help="runs behind run_sigma (default 6)")
    parser.add_argument("--smoke", action="store_true", help="N = 16, 2 trials, 3 baseline runs, factor 4")
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.trials, args.baseline_runs = "16", 2, 3
    if args.factor is None:
        args.factor = 4.0 if args.smoke else 3.0
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes: comma-separated integers, got {args.sizes!r}")
    if any(n < 2 for n in sizes) or args.trials < 1 or args.baseline_runs < 3:
        parser.error("--sizes: each >= 2; --trials >= 1; --baseline-runs >= 3")

    with threadpool_limits(limits=1, user_api="blas"):  # one BLAS thread: a busy second core stalls no GEMM
        bench = Bench(args)
        min_rel = MIN_END_TO_END_CHANGE if bench.series is None else MIN_LAYER_CHANGE
        base = [bench.point(slow=False).value for _ in range(args.baseline_runs)]
        run_sigma = noise_scale(np.array(base))
        print(f"mlp batch {args.batch}, 1 BLAS thread, warmup {args.warmup}, repeats {args.repeats}; "
              f"inject {bench.inject}; series {bench.series or 'end_to_end'}, min_rel_change {min_rel:g}")
        print(f"baseline: median {statistics.median(base) * 1e3:.3f} ms over {len(base)} runs, "
              f"run_sigma {run_sigma * 1e3:.4f} ms ({run_sigma / statistics.median(base) * 100:.2f}%)")
        rng = np.random.default_rng(args.seed)
        rows = []
        for n in sizes:
            load_start, results = os.getloadavg()[0], []
            for t in range(args.trials):
                culprit = int(rng.integers(1, n))
                outcome, named, rounds, steps = trial(bench, n, culprit, min_rel, run_sigma)
                right = outcome == FOUND and named == [culprit]
                results.append((right, rounds, steps))
                print(f"N={n} trial {t + 1}: culprit {culprit}, {outcome} {named}, {'right' if right else 'WRONG'}, "
                      f"{rounds} rounds, {steps} steps")
            rows.append((n, results, load_start, os.getloadavg()[0]))

    print()
    print("| N | trials | found right | rounds median / max | steps median / max | bound ceil(log2 N)+2 "
          "| load start / end |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n, results, load_start, load_end in rows:
        rights, rounds, steps = zip(*results)
        print(f"| {n} | {len(results)} | {sum(rights)}/{len(results)} | {statistics.median(rounds):g} / {max(rounds)} "
              f"| {statistics.median(steps):g} / {max(steps)} | {math.ceil(math.log2(n)) + 2} "
              f"| {load_start:.2f} / {load_end:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
