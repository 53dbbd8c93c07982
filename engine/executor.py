"""Graph execution: a plan (validated, topologically ordered steps with
resolved attributes and tensor lifetimes) and the one interpreter loop,
`run_program`, that runs it: plainly (`execute`, which the onnxruntime race
calls) or with every kernel timed (engine.profile)."""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.ir import Graph, GraphError, Node, TensorSpec, infer_specs, topological_order
from engine.ops import Op, get_op
from engine.ops.base import fmt_shape

Clock = Callable[[], int]  # nanoseconds


@dataclass(frozen=True)
class Step:
    node: Node
    op: type[Op]
    attrs: dict[str, Any]
    release: tuple[str, ...]  # intermediates whose last reader is this step


# One step for the interpreter loop, tensors as slots in a list instead of names:
# (kernel = Op.run, attrs, input slots, output slots, released slots, node). A plain
# tuple, not a NamedTuple: the loop unpacks an exact tuple measurably faster.
Instruction = tuple[Callable[..., Any], dict[str, Any], tuple[int, ...], tuple[int, ...], tuple[int, ...], Node]


@dataclass(frozen=True)
class Plan:
    graph: Graph
    specs: dict[str, TensorSpec]
    steps: tuple[Step, ...]
    slots: dict[str, int]  # every tensor's index in the environment list
    program: tuple[Instruction, ...]  # steps[i] as an Instruction


def make_plan(graph: Graph) -> Plan:
    specs = infer_specs(graph)  # validates
    order = topological_order(graph)
    last_use: dict[str, int] = {}
    for i, node in enumerate(order):
        for t in (*node.inputs, *node.outputs):
            last_use[t] = i
    keep = set(graph.outputs) | set(graph.initializers) | {s.name for s in graph.inputs}
    release: list[list[str]] = [[] for _ in order]
    for t, i in last_use.items():
        if t not in keep:
            release[i].append(t)
    steps = tuple(
        Step(node, op := get_op(node.op), op.resolve_attrs(node.attrs), tuple(rel))
        for node, rel in zip(order, release)
    )
    slots = {name: i for i, name in enumerate((*graph.initializers, *(s.name for s in graph.inputs),
                                               *(t for node in order for t in node.outputs)))}
    program = tuple(
        (step.op.run, step.attrs, tuple(slots[t] for t in step.node.inputs),
         tuple(slots[t] for t in step.node.outputs), tuple(slots[t] for t in step.release), step.node)
        for step in steps
    )
    return Plan(graph, specs, steps, slots, program)


def check_inputs(plan: Plan, inputs: Mapping[str, np.ndarray]) -> None:
    """Inputs must match the graph's input specs exactly: no silent casts."""
    graph = plan.graph
    wanted = {s.name: s for s in graph.inputs}
    extra = sorted(set(inputs) - set(wanted))
    if extra:
        raise GraphError(
            f"graph {graph.name!r} has no input(s) {', '.join(map(repr, extra))}; "
            f"its inputs are {', '.join(map(str, graph.inputs))}"
        )
    for name, spec in wanted.items():
        if name not in inputs:
            raise GraphError(f"graph {graph.name!r} needs input {spec} but it was not given")
        arr = inputs[name]
        if not isinstance(arr, np.ndarray):
            raise GraphError(f"input {name!r} is a {type(arr).__name__}, expected a numpy array {spec}")
        if arr.dtype.name != spec.dtype or arr.shape != spec.shape:
            raise GraphError(
                f"input {name!r} is {arr.dtype.name}{fmt_shape(arr.shape)} but the graph expects "
                f"{spec.dtype}{fmt_shape(spec.shape)}"
            )


def kernel_error(node: Node, exc: Exception) -> GraphError:
    """A kernel's own input check (e.g. an out-of-range id), with the node and tensors named."""
    return GraphError(f"node {node.name!r} ({node.op}) reading {', '.join(node.inputs)}: {exc}")


def start_env(plan: Plan, inputs: Mapping[str, np.ndarray]) -> list[Any]:
    """The environment list before the first step: initializers and graph inputs in their slots."""
    env: list[Any] = [None] * len(plan.slots)
    for name, value in plan.graph.initializers.items():
        env[plan.slots[name]] = value
    for spec in plan.graph.inputs:
        env[plan.slots[spec.name]] = inputs[spec.name]
    return env


def run_program(program: Sequence[Instruction], env: list[Any], node_ns: np.ndarray | None = None,
                clock: Clock = time.perf_counter_ns) -> None:
    """The interpreter loop: run every instruction on `env` in place, freeing
    each released tensor. With `node_ns`, `clock` (nanoseconds) is read around
    each kernel and node_ns[i] gets instruction i's time; without it, no clock
    is read at all."""
    timed = node_ns is not None
    t0 = 0
    for i, (kernel, attrs, ins, outs, release, node) in enumerate(program):
        args = [env[j] for j in ins]
        if timed:
            t0 = clock()
        try:  # free unless it raises (Python 3.11 zero-cost exceptions)
            results = kernel(args, attrs)
        except (ValueError, IndexError) as exc:
            raise kernel_error(node, exc) from exc
        if timed:
            node_ns[i] = clock() - t0
        args = None  # drop the inputs before the outputs land, so released tensors are freed now
        for j, value in zip(outs, results):
            env[j] = value
        for j in release:
            env[j] = None


def execute(plan: Plan, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run every step once; return the graph outputs. Inputs are assumed checked."""
    env = start_env(plan, inputs)
    run_program(plan.program, env)
    return {t: env[plan.slots[t]] for t in plan.graph.outputs}


def run_graph(graph: Graph, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Validate `graph`, check `inputs` against it and return its outputs by name."""
    plan = make_plan(graph)
    check_inputs(plan, inputs)
    return execute(plan, inputs)
