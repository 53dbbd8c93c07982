"""Per-node dispatch overhead of the engine on din at batch 64.

    .venv/bin/python benchmarks/dispatch_overhead.py [--model din] [--batch 64] [--rounds 5] [--passes 2000]

Three figures, each the median over --rounds (min-max in parentheses), with
the 1-minute load average before and after; 1 thread:

- interpreter: every node's kernel is replaced by a stub that returns the
  outputs recorded from a real pass, so a pass costs only what the loop
  (engine.executor.run_program) spends on each node: gathering its inputs,
  storing its outputs, releasing dead tensors. The goal: <= 3 us a node.
- view nodes: the median time of the Reshape nodes in a profiled pass. They
  move no data, so their time is all fixed cost: the op's Python, numpy's
  view creation and the profiler's two clock reads.
- batch 1: a whole plain pass at batch 1 over the node count: every node's
  fixed cost, kernel wrappers and numpy's per-call overhead included, plus
  batch-1 arithmetic; an upper bound on what a node costs beyond its work.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from engine.executor import Plan, make_plan, run_program, start_env
from engine.malloc_tuning import keep_heap_memory
from engine.models import build_model
from engine.profile import profile
from engine.roofline import Peaks

GOAL_US = 3.0
PEAKS = Peaks(gflops=1.0, gbs=1.0)  # the overhead does not depend on the roofline: skip the probes


def stub_program(plan: Plan, inputs: dict[str, np.ndarray]) -> tuple:
    """plan.program with every kernel replaced by one returning what the real kernel returned."""
    env = start_env(plan, inputs)
    stubbed = []
    for kernel, attrs, ins, outs, release, node in plan.program:
        results = kernel([env[j] for j in ins], attrs)
        for j, value in zip(outs, results):
            env[j] = value
        stubbed.append((lambda args, attrs, r=results: r, attrs, ins, outs, release, node))
    return tuple(stubbed)


def pass_ns(program: Sequence, plan: Plan, inputs: dict[str, np.ndarray], passes: int) -> float:
    """Median nanoseconds of one pass of `program` (environment set-up excluded)."""
    times = []
    for _ in range(passes):
        env = start_env(plan, inputs)
        t0 = time.perf_counter_ns()
        run_program(program, env)
        times.append(time.perf_counter_ns() - t0)
    return float(np.median(times))


def interpreter_us(model: str, batch: int, passes: int) -> float:
    built = build_model(model, batch=batch)
    plan = make_plan(built.graph)
    inputs = built.make_inputs(0)
    stubs = stub_program(plan, inputs)
    pass_ns(stubs, plan, inputs, passes // 10)  # warm
    return pass_ns(stubs, plan, inputs, passes) / len(stubs) / 1e3


def view_nodes_us(model: str, batch: int) -> float:
    built = build_model(model, batch=batch)
    result = profile(built.graph, built.make_inputs(0), warmup=5, repeats=50, peaks=PEAKS)
    views = [layer.time.median for layer in result.layers if layer.op == "Reshape"]
    if not views:
        raise SystemExit(f"{model} has no Reshape node to time")
    return statistics.median(views) * 1e6


def batch1_us(model: str, passes: int) -> float:
    built = build_model(model, batch=1)
    plan = make_plan(built.graph)
    inputs = built.make_inputs(0)
    pass_ns(plan.program, plan, inputs, passes // 10)  # warm
    return pass_ns(plan.program, plan, inputs, passes) / len(plan.program) / 1e3


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f} ({min(values):.2f}-{max(values):.2f})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="din")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--passes", type=int, default=2000, help="passes per round of the stub and batch-1 runs")
    args = parser.parse_args(argv)
    keep_heap_memory()
    load_before = os.getloadavg()[0]
    figures: dict[str, list[float]] = {"interpreter": [], "view nodes": [], "batch 1": []}
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(args.rounds):
            figures["interpreter"].append(interpreter_us(args.model, args.batch, args.passes))
            figures["view nodes"].append(view_nodes_us(args.model, args.batch))
            figures["batch 1"].append(batch1_us(args.model, args.passes))
    nodes = len(build_model(args.model, batch=args.batch).graph.nodes)
    print(f"{args.model}, {nodes} nodes, batch {args.batch}, 1 thread, {args.rounds} rounds; "
          f"load {load_before:.2f}-{os.getloadavg()[0]:.2f}")
    print(f"{'figure':<14} us per node, median (min-max)")
    for name, values in figures.items():
        print(f"{name:<14} {spread(values)}")
    met = statistics.median(figures["interpreter"]) <= GOAL_US
    print(f"goal: interpreter <= {GOAL_US:g} us a node: {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
