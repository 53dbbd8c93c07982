"""Which original ONNX nodes each node of onnxruntime's optimized graph
stands for.

onnxruntime rewrites the graph before it runs it: it fuses nodes ("fused
fc1", a FusedGemm for Gemm + Relu), folds constants, drops no-ops and adds
nodes of its own (layout reorders). Tensors are the common ground: a tensor
of the optimized graph that the original graph has too is computed alike in
both. So optimized nodes joined by tensors of onnxruntime's own making form
one cluster, and a cluster stands for the original nodes between the
original tensors it reads and those it writes (walking back from what it
writes, through producers, up to what it reads, a graph input, a constant or
what another cluster writes). A cluster of one node is the common case; a
cluster of several (a reorder, the conv, a reorder back) shares its sources.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import onnx


@dataclass(frozen=True)
class Lineage:
    sources: tuple[str, ...]  # original node names, in original graph order
    cluster: tuple[str, ...]  # the optimized nodes that together compute them (this one included)


def _find(parent: dict[str, str], x: str) -> str:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def map_lineage(original: onnx.GraphProto, optimized: onnx.GraphProto) -> dict[str, Lineage]:
    """optimized node name -> its Lineage (see the module docstring)."""
    producer = {t: n for n in original.node for t in n.output}
    order = {n.name: i for i, n in enumerate(original.node)}
    known = (set(producer) | {t.name for t in original.initializer} | {vi.name for vi in original.input})
    nodes = list(optimized.node)
    parent = {n.name: n.name for n in nodes}
    touching: dict[str, list[str]] = {}
    for n in nodes:
        for t in (*n.input, *n.output):
            if t and t not in known:
                touching.setdefault(t, []).append(n.name)
    for names in touching.values():
        for other in names[1:]:
            parent[_find(parent, other)] = _find(parent, names[0])
    clusters: dict[str, list[onnx.NodeProto]] = {}
    for n in nodes:
        clusters.setdefault(_find(parent, n.name), []).append(n)
    written = {root: {t for n in members for t in n.output if t in producer} for root, members in clusters.items()}
    lineage: dict[str, Lineage] = {}
    for root, members in clusters.items():
        reads = {t for n in members for t in n.input if t}
        stop = reads | {t for other, outs in written.items() if other != root for t in outs}
        found: set[str] = set()
        todo = list(written[root])
        while todo:
            src = producer[todo.pop()]
            if src.name in found:
                continue
            found.add(src.name)
            todo += [t for t in src.input if t and t in producer and t not in stop]
        sources = tuple(sorted(found, key=order.__getitem__))
        names = tuple(n.name for n in members)
        for n in members:
            lineage[n.name] = Lineage(sources, names)
    return lineage


def read_after(sources: Sequence[str], original: onnx.GraphProto) -> set[str]:
    """Tensors the nodes `sources` write that a node outside them, or the graph's output, reads."""
    inside = set(sources)
    outside_reads = {t for n in original.node if n.name not in inside for t in n.input}
    outside_reads |= {o.name for o in original.output}
    return {t for n in original.node if n.name in inside for t in n.output if t in outside_reads}
