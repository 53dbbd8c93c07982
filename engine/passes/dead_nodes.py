"""Dead-node elimination: drop nodes no graph output depends on, and the
initializers nothing reads any more (e.g. the weights another pass folded)."""
from __future__ import annotations

from engine.ir import Graph
from engine.passes.rewrite import Rewrite, live_nodes, rebuild, unchanged

NAME = "dead_nodes"


def apply(graph: Graph) -> Rewrite:
    nodes = live_nodes(graph, graph.nodes)
    pruned = rebuild(graph, nodes, drop_unused_initializers=True)
    if len(nodes) == len(graph.nodes) and len(pruned.initializers) == len(graph.initializers):
        return unchanged(graph)
    return Rewrite(pruned)
