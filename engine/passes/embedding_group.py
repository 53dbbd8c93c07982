"""Embedding-lookup fusion: all EmbeddingBags of one mode whose inputs are
graph inputs or initializers (so they can all run first) become one
GroupedEmbeddingBag node, which pools all the tables in one compiled call
(threads split by total id count, up to the BLAS thread limit). It sits
where the first of them was; it is named
"FIRST..LAST" after the first and last lookup and covers all of them.
Fewer than two such lookups: nothing to do."""
from __future__ import annotations

from engine.ir import Graph, Node
from engine.passes.rewrite import Rewrite, rebuild, unchanged

NAME = "embedding_group"


def apply(graph: Graph) -> Rewrite:
    ready = {s.name for s in graph.inputs} | set(graph.initializers)
    groups: dict[str, list[Node]] = {}
    for node in graph.nodes:
        if node.op == "EmbeddingBag" and all(t in ready for t in node.inputs):
            groups.setdefault(node.attrs.get("mode", "sum"), []).append(node)
    groups = {mode: nodes for mode, nodes in groups.items() if len(nodes) > 1}
    if not groups:
        return unchanged(graph)
    names = {n.name for n in graph.nodes}
    first_of: dict[str, Node] = {}
    gone: set[str] = set()
    merged: dict[str, tuple[str, ...]] = {}
    for mode, members in groups.items():
        name = f"{members[0].name}..{members[-1].name}"
        while name in names:  # never collide with a node that stays
            name += "'"
        names.add(name)
        first_of[members[0].name] = Node(name, "GroupedEmbeddingBag", tuple(t for n in members for t in n.inputs),
                                         tuple(n.outputs[0] for n in members), {"mode": mode})
        gone.update(n.name for n in members)
        merged[name] = tuple(n.name for n in members)
    nodes = [first_of.get(n.name, n) for n in graph.nodes if n.name not in gone or n.name in first_of]
    return Rewrite(rebuild(graph, nodes), merged)
