"""Autotune against the exhaustive grid (issue 26's goal: within 5% of the
grid's best throughput under the SLO, measuring at most 40% of the grid).

    .venv/bin/python benchmarks/autotune_vs_grid.py [--model dlrm] [--param rows=20000]
        [--threads 1,2] [--batch 32,64,128,256] [--instances 1,2] [--pin off,on]
        [--passes none [--passes all ...]] [--quant none [--quant MODE ...]] [--repeats 300]
        [--rounds 3] [--slo-p99-ms MS] [--seeds 20] [--json-out PATH]

1. The grid: every configuration measured as `roofwatch-engine sweep` does
   (its instances as worker processes started and timed together), in
   --rounds rounds interleaved over the grid, each one's medians.
2. The SLO: --slo-p99-ms, or the median p99 of the grid (so that it binds).
3. Replays: the autotuner (engine.sweep.autotune, optuna TPE) run with
   --seeds seeds, each measurement answered from the grid's, allowed 40% of
   the grid: how often its answer is within 5% of the grid's best, and the
   worst ratio. This judges the search without measurement noise.
4. Live: one autotune (seed 0) measuring for itself (each evaluation
   --rounds measurements back to back), allowed 40% of the grid; its
   answer's throughput as it measured it and as the grid measured the same
   configuration, each over the grid's best. Then its pick and the
   grid's best are measured again side by side, --remeasure-blocks blocks,
   each block both configurations (each in its own worker processes, the
   order alternating from block to block): the medians' ratio says whether
   a pick below 0.95 of the grid's best is a miss or the noise of one pass,
   and the pick's median p99 whether it is within the SLO at all; the goal
   is met when both hold (the grid's own p99 of the pick is printed too).
Prints the 1-minute load average before and after; on a shared machine the
live figures move with the load.

--made-up N judges the search alone on N made-up landscapes over the grid
(random power laws with noise, not measurements): no machine needed.

--grid-from replays over a saved grid instead of measuring one: an earlier
--json-out, or a sweep report (`roofwatch-engine sweep --json`, such as
tests/sweep_reports/dlrm_grid.json); the grid is then the file's.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys

from engine.models import get_spec
from engine.onnx_io.process_race import load_average, load_text
from engine.sweep.autotune import autotune
from engine.sweep.commands import default_evaluations
from engine.sweep.grid import Grid, SweepConfig
from engine.sweep.measure import DEFAULT_ROUNDS, SweepTarget, back_to_back, measure_config, run_grid
from engine.sweep.report import KNOBS, ConfigResult, best_under_slo, measured_points

GOAL_RATIO = 0.95
GOAL_SHARE = 0.4


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def best_of(results, slo: float):
    """The result best under `slo` among `results`, or None."""
    indexed = measured_points(results)
    found = best_under_slo([p for _, p in indexed], slo)
    return None if found is None else results[indexed[found][0]]


def load_grid(path: str) -> list[ConfigResult]:
    """The measured grid of an earlier --json-out ("grid") or of a sweep report ("results")."""
    with open(path) as f:
        doc = json.load(f)
    rows = doc.get("grid") if isinstance(doc.get("grid"), list) else doc.get("results")
    if not isinstance(rows, list) or not rows:
        raise SystemExit(f"{path}: expected a --json-out file (a 'grid' list) or a sweep report (a 'results' list)")
    return [ConfigResult(**r) for r in rows]


def remeasure(pick: ConfigResult, best: ConfigResult, measure, blocks: int) -> dict[str, dict[str, list[float]]]:
    """Throughputs and p99s of `pick` and `best` measured in alternating blocks
    (pick first in even blocks, best first in odd), each its own worker processes."""
    pick_config, best_config = SweepConfig(**pick.knobs()), SweepConfig(**best.knobs())
    got = {config: {"throughput": [], "p99_ms": []} for config in (pick_config, best_config)}
    for block in range(blocks):
        for config in (pick_config, best_config) if block % 2 == 0 else (best_config, pick_config):
            result = measure(config)
            if result.status != "ok":
                raise SystemExit(f"re-measuring {config.label()}: {result.status}: {result.error}")
            got[config]["throughput"].append(result.throughput)
            got[config]["p99_ms"].append(result.p99_ms)
    return {"pick": got[pick_config], "grid_best": got[best_config]}


def under(p99_ms: float, slo: float) -> str:
    return "within the SLO" if p99_ms <= slo else "over the SLO"


def lookup_in(everything: list[ConfigResult]):
    by_config = {tuple(r.knobs()[k] for k in KNOBS): r for r in everything}
    return lambda config: by_config[tuple(getattr(config, k) for k in KNOBS)]


def replay(configs, everything: list[ConfigResult], slo: float, seeds: int) -> tuple[list[float], list[int]]:
    """The autotune run with `seeds` seeds, each answered from `everything`,
    allowed 40% of the grid: each answer's throughput over the grid's best
    under `slo` (0 when it found nothing within it), and the evaluations used."""
    best = best_of(everything, slo).throughput
    ratios, used = [], []
    for seed in range(seeds):
        tuned = autotune(configs, lookup_in(everything), slo_p99_ms=slo,
                         max_evaluations=default_evaluations(len(configs)), seed=seed)
        found = best_of(tuned, slo)
        ratios.append(0.0 if found is None else found.throughput / best)
        used.append(len(tuned))
    return ratios, used


def made_up(configs, rng: random.Random) -> list[ConfigResult]:
    """A made-up machine (no measurement): throughput a power law of batch,
    threads and instances, pinning a factor, p99 growing with batch x
    instances and falling with threads, exponents and 5-10% noise drawn."""
    a, b, c, pin = rng.uniform(0.2, 0.8), rng.uniform(-0.3, 0.9), rng.uniform(-0.2, 0.8), rng.uniform(0.9, 1.15)
    results = []
    for config in configs:
        throughput = (1000 * config.batch ** a * config.threads ** b * config.instances ** c
                      * (pin if config.pin != "off" else 1.0) * math.exp(rng.gauss(0, 0.05)))
        p99 = (config.batch * config.instances / config.threads ** rng.uniform(0.3, 0.9)
               * math.exp(rng.gauss(0, 0.1)))
        results.append(ConfigResult(**config.to_dict(), status="ok", throughput=throughput, p99_ms=p99))
    return results


def judge_made_up(configs, landscapes: int, seeds: int) -> int:
    """The replay over `landscapes` made-up machines (the SLO each one's median p99)."""
    within = []
    for n in range(landscapes):
        everything = made_up(configs, random.Random(n))
        ratios, _ = replay(configs, everything, statistics.median(r.p99_ms for r in everything), seeds)
        within.append(sum(r >= GOAL_RATIO for r in ratios))
    total = landscapes * seeds
    print(f"made-up landscapes (not measurements): {landscapes} over a grid of {len(configs)}, {seeds} seeds each, "
          f"at most {default_evaluations(len(configs))} evaluations: {sum(within)}/{total} "
          f"({sum(within) / total:.0%}) within {1 - GOAL_RATIO:.0%} of the best; per landscape {within}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="dlrm")
    ap.add_argument("--param", action="append", default=None, help="NAME=VALUE (default rows=20000 for dlrm)")
    ap.add_argument("--threads", type=_ints, default=(1, 2))
    ap.add_argument("--batch", type=_ints, default=(32, 64, 128, 256))
    ap.add_argument("--instances", type=_ints, default=(1, 2))
    ap.add_argument("--pin", default="off,on")
    ap.add_argument("--passes", action="append", metavar="all|none|NAME,NAME",
                    help="one grid value each time, as `sweep --passes` (default none)")
    ap.add_argument("--quant", action="append", metavar="MODE[,MODE]",
                    help="one grid value each time, as `sweep --quant` (default none)")
    ap.add_argument("--repeats", type=int, default=300, help="timed passes per instance: 20 left the grid mostly noise (README)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS,
                    help="measurements of each configuration, their medians kept: interleaved over the grid, back "
                         f"to back per live autotune evaluation (default {DEFAULT_ROUNDS})")
    ap.add_argument("--slo-p99-ms", type=float)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--json-out", help="write the grid, the replays and the live run here")
    ap.add_argument("--grid-from", metavar="JSON", help="replay over the grid of an earlier --json-out or of a sweep "
                                                          "report instead of measuring it (no live autotune then)")
    ap.add_argument("--made-up", type=int, metavar="N", help="judge the search alone on N made-up landscapes over "
                                                             "the grid (no measurement)")
    ap.add_argument("--remeasure-blocks", type=int, default=5,
                    help="live: blocks re-measuring the autotune's pick and the grid's best side by side")
    args = ap.parse_args(argv)
    spec = get_spec(args.model)
    texts = args.param if args.param is not None else (["rows=20000"] if args.model == "dlrm" else [])
    params = {}
    for text in texts:
        name, _, value = text.partition("=")
        params[name] = spec.param(name).parse(value)
    target = SweepTarget(args.model, params)
    grid = Grid(threads=args.threads, batch=args.batch, instances=args.instances, pin=tuple(args.pin.split(",")),
                passes=tuple(args.passes or ("none",)), quant=tuple(args.quant or ("none",)))
    configs = grid.configs()
    if args.made_up:
        return judge_made_up(configs, args.made_up, args.seeds)

    def measure(config):
        return measure_config(target, config, repeats=args.repeats, warmup=args.warmup)

    load_before = load_average()
    if args.grid_from:
        everything = load_grid(args.grid_from)
        configs = [SweepConfig(**r.knobs()) for r in everything]
    else:
        print(f"{args.model} {params}: grid of {len(configs)} configurations, {args.repeats} timed passes per "
              f"instance, {args.rounds} rounds", file=sys.stderr)
        everything = run_grid(configs, measure, rounds=args.rounds, progress=lambda r: print(
            f"  {r.threads}t b{r.batch} x{r.instances} pin {r.pin} passes {r.passes} quant {r.quant}: {r.status} "
            f"{r.throughput or 0:.0f}/s p99 "
            f"{r.p99_ms or 0:.2f} ms", file=sys.stderr))
        if args.json_out:  # the grid first: a failure later keeps it for --grid-from
            with open(args.json_out, "w") as f:
                json.dump({"grid": [r.__dict__ for r in everything]}, f, indent=1)
    allowance = default_evaluations(len(configs))
    measured = [r for r in everything if r.status == "ok"]
    slo = args.slo_p99_ms or statistics.median(r.p99_ms for r in measured)
    grid_best = best_of(everything, slo)
    if grid_best is None:
        print(f"no configuration of the grid has p99 within {slo:.2f} ms", file=sys.stderr)
        return 1
    lookup = lookup_in(everything)
    ratios, used = replay(configs, everything, slo, args.seeds)
    live = [] if args.grid_from else autotune(configs, back_to_back(measure, args.rounds), slo_p99_ms=slo,
                                              max_evaluations=allowance, seed=0)
    live_found = best_of(live, slo) if live else None
    remeasured = {}
    load_after = load_average()

    print(f"\n{'grid of ' + args.grid_from if args.grid_from else f'{args.model} {params}, grid {grid.to_dict()}'}")
    print(f"SLO p99 {slo:.2f} ms ({'given' if args.slo_p99_ms else 'the median p99 of the grid'}); "
          f"grid: {len(measured)} of {len(configs)} measured; best {grid_best.throughput:.0f} samples/s "
          f"(threads {grid_best.threads}, batch {grid_best.batch}, instances {grid_best.instances}, "
          f"pin {grid_best.pin}, p99 {grid_best.p99_ms:.2f} ms)")
    within = sum(r >= GOAL_RATIO for r in ratios)
    print(f"replayed autotune, {args.seeds} seeds, at most {allowance} evaluations ({allowance / len(configs):.0%} "
          f"of the grid): {within}/{args.seeds} within {1 - GOAL_RATIO:.0%} of the grid's best; ratio median "
          f"{statistics.median(ratios):.3f}, worst {min(ratios):.3f}; evaluations used median "
          f"{statistics.median(used):g}, most {max(used)}")
    if args.grid_from:
        print(f"(grid replayed from {args.grid_from}: no live autotune)")
    elif live_found is None:
        print(f"live autotune (seed 0, {len(live)} evaluations): nothing within the SLO")
    else:
        again = lookup(live_found)
        print(f"live autotune (seed 0, {len(live)} evaluations = {len(live) / len(configs):.0%} of the grid): "
              f"threads {live_found.threads}, batch {live_found.batch}, instances {live_found.instances}, "
              f"pin {live_found.pin}: {live_found.throughput:.0f} samples/s p99 {live_found.p99_ms:.2f} ms as it "
              f"measured ({live_found.throughput / grid_best.throughput:.3f} of the grid's best); the grid measured "
              f"that configuration at {again.throughput:.0f} samples/s "
              f"({again.throughput / grid_best.throughput:.3f}), p99 {again.p99_ms:.2f} ms ({under(again.p99_ms, slo)})")
        if live_found.knobs() == grid_best.knobs():
            print("  its pick is the grid's best configuration: nothing to re-measure")
        else:
            remeasured = remeasure(live_found, grid_best, measure, args.remeasure_blocks)
            picks, bests = remeasured["pick"]["throughput"], remeasured["grid_best"]["throughput"]
            pick_p99 = statistics.median(remeasured["pick"]["p99_ms"])
            ratio = statistics.median(picks) / statistics.median(bests)
            # The goal: within 5% of the best's throughput, and under the SLO itself.
            met = ratio >= GOAL_RATIO and pick_p99 <= slo
            print(f"  re-measured side by side, {args.remeasure_blocks} alternating blocks: its pick median "
                  f"{statistics.median(picks):.0f} samples/s (range {min(picks):.0f}-{max(picks):.0f}), p99 "
                  f"{pick_p99:.2f} ms ({under(pick_p99, slo)}); the grid's best median {statistics.median(bests):.0f} "
                  f"({min(bests):.0f}-{max(bests):.0f}), p99 {statistics.median(remeasured['grid_best']['p99_ms']):.2f}"
                  f" ms: ratio {ratio:.3f} ({'within' if ratio >= GOAL_RATIO else 'not within'} {1 - GOAL_RATIO:.0%});"
                  f" goal {'met' if met else 'missed'}")
    print(f"load average (1 min) {load_text(load_before)} before, {load_text(load_after)} after")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"slo_p99_ms": slo, "grid": [r.__dict__ for r in everything], "replay_ratios": ratios,
                       "replay_evaluations": used, "live": [r.__dict__ for r in live],
                       "remeasured": remeasured}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
