"""Graph execution: a plan (validated, topologically ordered steps with
resolved attributes and tensor lifetimes) and an executor that runs it."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.ir import Graph, GraphError, Node, TensorSpec, infer_specs, topological_order
from engine.ops import Op, get_op
from engine.ops.base import fmt_shape


@dataclass(frozen=True)
class Step:
    node: Node
    op: type[Op]
    attrs: dict[str, Any]
    release: tuple[str, ...]  # intermediates whose last reader is this step


@dataclass(frozen=True)
class Plan:
    graph: Graph
    specs: dict[str, TensorSpec]
    steps: tuple[Step, ...]


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
    return Plan(graph, specs, steps)


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


def execute(plan: Plan, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run every step once; return the graph outputs. Inputs are assumed checked."""
    env: dict[str, np.ndarray] = {**plan.graph.initializers, **inputs}
    for step in plan.steps:
        try:
            outs = step.op.run([env[t] for t in step.node.inputs], step.attrs)
        except (ValueError, IndexError) as exc:
            raise kernel_error(step.node, exc) from exc
        env.update(zip(step.node.outputs, outs))
        for t in step.release:
            del env[t]
    return {t: env[t] for t in plan.graph.outputs}


def run_graph(graph: Graph, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Validate `graph`, check `inputs` against it and return its outputs by name."""
    plan = make_plan(graph)
    check_inputs(plan, inputs)
    return execute(plan, inputs)
