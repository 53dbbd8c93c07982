"""Helpers shared by the benchmark modules (no benchmarks here)."""
from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from engine.executor import Plan, check_inputs, make_plan, run_program, start_env
from engine.malloc_tuning import keep_heap_memory
from engine.models import MODELS, Model, ModelParamError, build_model
from engine.ops import Op, ShapeError

BATCHES = (1, 64, 256)
FEATURES = 1024  # row width of the synthetic inputs of an elementwise op no model uses
MAX_SECONDS = 2.0  # a parameter combination whose single pass takes longer is skipped


class Skip(NotImplementedError):
    """Raised in setup: asv records the combination as skipped (n/a)."""


@functools.lru_cache(maxsize=8)
def built(name: str, batch: int) -> tuple[Model, Plan, dict[str, np.ndarray]]:
    """The model, its plan and its inputs, built once per process, with heap
    memory kept as in every engine run (else each pass faults its big
    intermediates' pages in afresh and the timings measure the kernel's page faults)."""
    keep_heap_memory()
    try:
        model = build_model(name, batch=batch)
    except ModelParamError as e:
        raise Skip(f"{name} at batch {batch}: {e}") from None
    plan = make_plan(model.graph)
    inputs = model.make_inputs(0)
    check_inputs(plan, inputs)
    return model, plan, inputs


def skip_if_slow(seconds: float, what: str) -> None:
    if seconds > MAX_SECONDS:
        raise Skip(f"{what} takes {seconds:.1f} s per call, over the {MAX_SECONDS:g} s budget")


def warm_seconds(call: Callable[[], Any], what: str) -> float:
    """Seconds of a warm `call()`. The first (cold) call already skips the
    combination when it takes over twice the budget, so a hopeless one costs
    one call, not two."""
    def once() -> float:
        t0 = time.perf_counter()
        call()
        return time.perf_counter() - t0

    skip_if_slow(once() / 2, f"{what} (cold, halved)")
    return once()


def host_models() -> list[str]:
    """Models to look for an op in: a model's `_small` variant stands in for
    it (same ops, much cheaper to build and run), in registry order."""
    return [name for name in MODELS if f"{name}_small" not in MODELS]


def node_inputs(plan: Plan, inputs: Mapping[str, np.ndarray], node_name: str) -> list[np.ndarray]:
    """The arrays node `node_name` reads in a forward pass on `inputs` (the engine's
    loop runs the steps before it)."""
    for i, step in enumerate(plan.steps):
        if step.node.name == node_name:
            env = start_env(plan, inputs)
            run_program(plan.program[:i], env)
            return [env[j] for j in plan.program[i][2]]
    raise KeyError(f"graph {plan.graph.name!r} has no node {node_name!r}")


def first_node_of(op_type: str, batch: int, models: Sequence[str]) -> tuple[str, Plan, str]:
    """(model name, its plan, node name) of the first node running `op_type`
    in the first of `models` that has one (built at `batch`)."""
    for name in models:
        try:
            _, plan, _ = built(name, batch)
        except Skip:
            continue
        for step in plan.steps:
            if step.node.op == op_type:
                return name, plan, step.node.name
    raise Skip(f"no model in the registry runs a {op_type} node at batch {batch}")


def elementwise_inputs(op: type[Op], batch: int) -> list[np.ndarray]:
    """Inputs for an op no model uses, when it is elementwise with default
    attributes: every input (batch, FEATURES) float32, in [0.5, 1.5) so
    divisions and logs stay finite. Anything else is skipped."""
    shape = (batch, FEATURES)
    try:
        attrs = op.resolve_attrs({})
        op.check_arity(op.min_inputs, op.num_outputs)
        out_shapes = op.infer_shape([shape] * op.min_inputs, attrs)
    except (ShapeError, KeyError, TypeError, ValueError) as e:
        raise Skip(f"no model runs a {op.op_type} node and it takes no default inputs: {e}") from None
    if any(tuple(s) != shape for s in out_shapes):
        raise Skip(f"no model runs a {op.op_type} node and it is not elementwise")
    rng = np.random.default_rng(0)
    return [rng.random(shape, dtype=np.float32) + np.float32(0.5) for _ in range(op.min_inputs)]
