"""Graph optimization passes as feature flags.

Each pass is a module with NAME and `apply(graph) -> Rewrite`: a new graph
plus, for every node it created, the nodes of its input graph that node
covers (engine.passes.rewrite; a bare graph could not say which nodes a
fused node replaced). A pass that finds nothing to do hands back the very
same graph: a no-op, not an error.

Passes, in pipeline order: constant_folding, transpose_reshape, cse,
conv_batchnorm, conv_relu, attention (primitive self-attention ->
MultiHeadAttention), linear_activation (MatMul/Linear + bias Add +
Relu/Gelu/Sigmoid/Tanh), activation_unit (DIN's attention features and
first layer -> ActivationUnitLinear, weights folded), embedding_group (EmbeddingBags -> one
GroupedEmbeddingBag), dead_nodes. Fused ops live in engine.ops.fused.

`resolve_passes("all" | "none" | "a,b")` turns a request into pass names;
`run_passes(graph, names)` applies them in PIPELINE order (whatever order
they were requested in, so one request always means one graph) and tracks
lineage: every node of the result maps to the nodes of the original graph it
covers, which the report carries as a layer's `sources`.

What the report records (engine.benchmark): config.passes is the resolved
request in pipeline order ("all" spelled out), so asking for the same
passes always gives the same config, and config.flags["passes_noop"] lists
the requested passes that changed nothing on this model.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

from engine.ir import Graph, GraphError, topological_order, validate
from engine.passes import (
    activation_unit,
    attention,
    constant_folding,
    conv_batchnorm,
    conv_relu,
    cse,
    dead_nodes,
    embedding_group,
    linear_activation,
    transpose_reshape,
)
from engine.passes.rewrite import Rewrite, rebuild

# Pipeline order: simplify first (so patterns are exposed), fuse, then sweep.
PIPELINE: tuple[ModuleType, ...] = (
    constant_folding, transpose_reshape, cse, conv_batchnorm, conv_relu, attention, linear_activation,
    activation_unit, embedding_group, dead_nodes,
)
PASSES: dict[str, ModuleType] = {module.NAME: module for module in PIPELINE}
Lineage = dict[str, tuple[str, ...]]  # node name -> names of the original graph's nodes it covers


class UnknownPassError(ValueError):
    """A pass name that is not registered; the message lists the valid ones."""


def valid_passes_text() -> str:
    return f"'all', 'none' or a comma-separated list of: {', '.join(PASSES)}"


def resolve_passes(request: str | Sequence[str] | None) -> list[str]:
    """'all', 'none' (or '' / None / []), or names (a comma-separated string or
    a sequence) -> the pass names in pipeline order, without repeats."""
    if request is None:
        return []
    items = request.split(",") if isinstance(request, str) else list(request)
    names = [str(item).strip() for item in items if str(item).strip()]
    if names in (["none"], []):
        return []
    if names == ["all"]:
        return list(PASSES)
    unknown = [n for n in names if n not in PASSES]
    if unknown or "all" in names or "none" in names:
        bad = unknown or [n for n in names if n in ("all", "none")]
        raise UnknownPassError(
            f"unknown pass(es) {', '.join(map(repr, bad))} in {','.join(names)!r}; "
            f"valid: {valid_passes_text()} ('all' and 'none' stand alone)"
        )
    return [n for n in PASSES if n in names]


@dataclass(frozen=True)
class PassResult:
    graph: Graph
    requested: list[str]  # pipeline order
    applied: list[str]  # the requested passes that changed the graph
    noop: list[str]  # the requested passes that found nothing to do
    lineage: Lineage  # every node of `graph` -> original nodes it covers


def _compose(lineage: Lineage, rewrite: Rewrite, name: str) -> Lineage:
    out: Lineage = {}
    for node in rewrite.graph.nodes:
        if node.name in rewrite.merged:
            covered = [src for old in rewrite.merged[node.name] for src in lineage[old]]
            out[node.name] = tuple(dict.fromkeys(covered))
        elif node.name in lineage:
            out[node.name] = lineage[node.name]
        else:
            raise GraphError(f"pass {name!r} made node {node.name!r} without saying which nodes it covers")
    return out


def run_passes(graph: Graph, passes: str | Sequence[str] | None) -> PassResult:
    """Apply the requested passes (see resolve_passes) to a valid graph."""
    names = resolve_passes(passes)
    order = topological_order(graph)  # the passes read nodes producers first
    if order != graph.nodes:
        graph = rebuild(graph, order)
    lineage: Lineage = {node.name: (node.name,) for node in graph.nodes}
    applied, noop = [], []
    for name in names:
        rewrite = PASSES[name].apply(graph)
        if rewrite.graph is graph:
            noop.append(name)
            continue
        validate(rewrite.graph)
        lineage = _compose(lineage, rewrite, name)
        graph = rewrite.graph
        applied.append(name)
    return PassResult(graph, names, applied, noop, lineage)


__all__ = ["PASSES", "PIPELINE", "PassResult", "UnknownPassError", "resolve_passes", "run_passes",
           "valid_passes_text"]
