"""What a pass returns, and the graph surgery the passes share.

A pass never edits a graph: it builds a new one. `Rewrite.merged` maps each
node the pass created to the nodes of its input graph that the new node
covers; nodes it kept keep their names. Nodes it removed outright (a
cancelled transpose pair, a folded constant, a dead node) cover nothing.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from engine.ir import Graph, Node


@dataclass(frozen=True)
class Rewrite:
    graph: Graph
    merged: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def unchanged(graph: Graph) -> Rewrite:
    """A pass that found nothing to do: the very same graph object back."""
    return Rewrite(graph, {})


def consumers(graph: Graph) -> dict[str, list[Node]]:
    """tensor name -> the nodes reading it (a node reading it twice is listed twice)."""
    readers: dict[str, list[Node]] = {}
    for node in graph.nodes:
        for t in node.inputs:
            readers.setdefault(t, []).append(node)
    return readers


def producers(graph: Graph) -> dict[str, Node]:
    return {t: node for node in graph.nodes for t in node.outputs}


def sole_reader(graph: Graph, readers: Mapping[str, list[Node]], tensor: str) -> Node | None:
    """The one node reading `tensor`, if exactly one does and it is not a graph output
    (only then can a fusion swallow the tensor)."""
    found = readers.get(tensor, [])
    if len(found) != 1 or tensor in graph.outputs:
        return None
    return found[0]


def rename_inputs(nodes: Iterable[Node], renames: Mapping[str, str]) -> list[Node]:
    """Nodes reading `renames[t]` instead of `t` (followed transitively)."""
    def resolve(t: str) -> str:
        while t in renames:
            t = renames[t]
        return t

    out = []
    for node in nodes:
        inputs = tuple(resolve(t) for t in node.inputs)
        out.append(node if inputs == node.inputs else
                   Node(node.name, node.op, inputs, node.outputs, node.attrs))
    return out


def live_nodes(graph: Graph, nodes: Iterable[Node]) -> list[Node]:
    """`nodes` less those whose outputs no graph output depends on, order kept."""
    nodes = list(nodes)
    needed = set(graph.outputs)
    keep = [False] * len(nodes)
    for i in range(len(nodes) - 1, -1, -1):  # nodes are listed producers first
        if any(t in needed for t in nodes[i].outputs):
            keep[i] = True
            needed.update(nodes[i].inputs)
    return [n for n, k in zip(nodes, keep) if k]


def rebuild(graph: Graph, nodes: Iterable[Node], initializers: Mapping[str, np.ndarray] | None = None,
            drop_unused_initializers: bool = False) -> Graph:
    """`graph` with new nodes (and initializers); inputs and outputs unchanged."""
    nodes = tuple(nodes)
    inits = dict(graph.initializers if initializers is None else initializers)
    if drop_unused_initializers:
        used = {t for n in nodes for t in n.inputs} | set(graph.outputs)
        inits = {k: v for k, v in inits.items() if k in used}
    return Graph(name=graph.name, inputs=graph.inputs, initializers=inits, nodes=nodes, outputs=graph.outputs)


def fused_name(*names: str) -> str:
    """The layer name of a fused node: its parts joined by '+' ('fc1+relu1')."""
    return "+".join(names)
