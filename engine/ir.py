"""The graph IR: tensor specs, nodes, graphs, topological order, shape
inference/validation and the model version hash.

Tensors are named; a node reads tensors by name and writes new ones (every
tensor has exactly one producer: a graph input, an initializer or a node).
"""
from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.ops import ShapeError, UnknownOpError, get_op
from engine.ops.base import Shape, fmt_shape

IR_VERSION = "roofwatch.ir/1"  # part of model_version: bump when the hashed content changes


class GraphError(ValueError):
    """A graph that cannot run; the message names the node or tensor."""


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str
    shape: Shape

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", np.dtype(self.dtype).name)
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))

    def __str__(self) -> str:
        return f"{self.name}: {self.dtype}{fmt_shape(self.shape)}"


@dataclass(frozen=True)
class Node:
    """One op application. Frozen; `attrs` is copied on construction and must
    be treated as read-only (graph passes build new nodes instead)."""

    name: str
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        object.__setattr__(self, "attrs", dict(self.attrs))


@dataclass(frozen=True, eq=False)
class Graph:
    name: str
    inputs: tuple[TensorSpec, ...]
    initializers: Mapping[str, np.ndarray]
    nodes: tuple[Node, ...]
    outputs: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "initializers", dict(self.initializers))
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "outputs", tuple(self.outputs))

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"graph {self.name!r} has no node {name!r}")


def _duplicates(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    dup: list[str] = []
    for n in names:
        if n in seen and n not in dup:
            dup.append(n)
        seen.add(n)
    return dup


def _producers(graph: Graph) -> dict[str, int]:
    """tensor name -> index of the node producing it; checks single assignment."""
    if dup := _duplicates(s.name for s in graph.inputs):
        raise GraphError(f"graph input(s) declared twice: {', '.join(map(repr, dup))}")
    both = sorted({s.name for s in graph.inputs} & set(graph.initializers))
    if both:
        raise GraphError(f"tensor(s) {', '.join(map(repr, both))} are both graph inputs and initializers")
    if dup := _duplicates(n.name for n in graph.nodes):
        raise GraphError(f"node name(s) used twice: {', '.join(map(repr, dup))}")
    sources = {s.name for s in graph.inputs} | set(graph.initializers)
    producers: dict[str, int] = {}
    for i, node in enumerate(graph.nodes):
        if not node.name:
            raise GraphError(f"node #{i} ({node.op}) has an empty name")
        for t in node.outputs:
            if t in sources:
                raise GraphError(
                    f"node {node.name!r} ({node.op}): output {t!r} is already a graph input or initializer"
                )
            if t in producers:
                other = graph.nodes[producers[t]].name
                raise GraphError(f"tensor {t!r} is produced by both node {other!r} and node {node.name!r}")
            producers[t] = i
    for node in graph.nodes:
        for t in node.inputs:
            if t not in sources and t not in producers:
                raise GraphError(
                    f"node {node.name!r} ({node.op}): input {t!r} is not a graph input, "
                    "an initializer or the output of any node"
                )
    for t in graph.outputs:
        if t not in sources and t not in producers:
            raise GraphError(f"graph output {t!r} is not produced by any node, input or initializer")
    return producers


def topological_order(graph: Graph) -> tuple[Node, ...]:
    """Nodes so that every node follows the producers of its inputs; among
    ready nodes the one listed first goes first, so a listed order that is
    already valid is kept."""
    producers = _producers(graph)
    deps = [{producers[t] for t in node.inputs if t in producers} for node in graph.nodes]
    consumers: list[list[int]] = [[] for _ in graph.nodes]
    for i, d in enumerate(deps):
        for j in d:
            consumers[j].append(i)
    waiting = [len(d) for d in deps]
    ready = [i for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for c in consumers[i]:
            waiting[c] -= 1
            if waiting[c] == 0:
                heapq.heappush(ready, c)
    if len(order) != len(graph.nodes):
        stuck = [graph.nodes[i].name for i, w in enumerate(waiting) if w > 0]
        raise GraphError(f"graph has a cycle through node(s) {', '.join(map(repr, stuck))}")
    return tuple(graph.nodes[i] for i in order)


def infer_specs(graph: Graph) -> dict[str, TensorSpec]:
    """Validate the graph and return the spec of every tensor in it (inputs,
    initializers, intermediates). Errors name the node, its op, the tensors
    and their shapes."""
    specs: dict[str, TensorSpec] = {}
    for s in graph.inputs:
        if any(d <= 0 for d in s.shape):
            raise GraphError(f"graph input {s.name!r} has shape {fmt_shape(s.shape)}; every dimension must be > 0")
        specs[s.name] = s
    for name, arr in graph.initializers.items():
        if not isinstance(arr, np.ndarray):
            raise GraphError(f"initializer {name!r} is a {type(arr).__name__}, expected a numpy array")
        specs[name] = TensorSpec(name, arr.dtype.name, arr.shape)
    for node in topological_order(graph):
        where = f"node {node.name!r} ({node.op})"
        try:
            op = get_op(node.op)
            op.check_arity(len(node.inputs), len(node.outputs))
            attrs = op.resolve_attrs(node.attrs)
            in_specs = [specs[t] for t in node.inputs]
            dtypes = op.infer_dtype([s.dtype for s in in_specs], attrs, names=node.inputs)
            shapes = op.infer_shape([s.shape for s in in_specs], attrs, names=node.inputs)
        except (ShapeError, UnknownOpError) as e:
            raise GraphError(f"{where}: {e}") from None
        for t, dt, shape in zip(node.outputs, dtypes, shapes):
            specs[t] = TensorSpec(t, dt, shape)
    return specs


def validate(graph: Graph) -> None:
    """Raise GraphError if the graph cannot run."""
    infer_specs(graph)


def _canonical(value: Any, where: str) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_canonical(v, where) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _canonical(v, where) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, np.ndarray):  # a constant attribute is structure, so its values count
        return {"ndarray": value.dtype.name, "shape": list(value.shape),
                "sha256": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()}
    raise GraphError(f"{where}: attribute value of type {type(value).__name__} cannot be hashed")


def model_version(graph: Graph) -> str:
    """A stable 20-hex-digit sha256 of the graph's structure: inputs, nodes
    (op, wiring, attributes), outputs, and each initializer's name, shape and
    dtype. Weight values are deliberately left out: reseeding or retraining a
    model does not change its performance identity. The graph's name is left
    out too (the benchmark records it separately)."""
    doc = {
        "ir": IR_VERSION,
        "inputs": [[s.name, s.dtype, list(s.shape)] for s in graph.inputs],
        "initializers": sorted([n, a.dtype.name, list(a.shape)] for n, a in graph.initializers.items()),
        "nodes": [
            [n.name, n.op, list(n.inputs), list(n.outputs),
             _canonical(n.attrs, f"node {n.name!r} ({n.op})")]
            for n in graph.nodes
        ],
        "outputs": list(graph.outputs),
    }
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]
