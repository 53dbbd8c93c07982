"""Common-subexpression elimination: two nodes with the same op, the same
input tensors and the same attributes compute the same thing; the later one
is dropped and its readers read the earlier one's outputs. A node whose
output is a graph output is never dropped (graph outputs keep their names).
The surviving node's layer then covers both."""
from __future__ import annotations

import json

from engine.ir import Graph, _canonical
from engine.passes.rewrite import Rewrite, rebuild, rename_inputs, unchanged

NAME = "cse"


def _key(node) -> str:
    attrs = _canonical(node.attrs, f"node {node.name!r} ({node.op})")
    return json.dumps([node.op, list(node.inputs), len(node.outputs), attrs], sort_keys=True)


def apply(graph: Graph) -> Rewrite:
    renames: dict[str, str] = {}
    first: dict[str, str] = {}  # key -> name of the node kept
    covers: dict[str, list[str]] = {}
    outputs_of: dict[str, tuple[str, ...]] = {}
    kept = []
    for node in graph.nodes:  # topological order: a node's inputs are renamed before it is keyed
        node = rename_inputs([node], renames)[0]
        key = _key(node)
        if key in first and not set(node.outputs) & set(graph.outputs):
            renames.update(zip(node.outputs, outputs_of[first[key]]))
            covers[first[key]].append(node.name)
            continue
        first.setdefault(key, node.name)
        outputs_of[node.name] = node.outputs
        covers.setdefault(node.name, [node.name])
        kept.append(node)
    if not renames:
        return unchanged(graph)
    merged = {name: tuple(names) for name, names in covers.items() if len(names) > 1}
    return Rewrite(rebuild(graph, kept), merged)
