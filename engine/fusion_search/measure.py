"""Measured gains of the patterns the pass framework already fuses.

The model is run with each pass alone and with the whole pipeline; a layer
of such a run whose `sources` (the original nodes it covers, engine.passes
lineage) are exactly one occurrence of a searched pattern is that
occurrence fused. Its measured speedup is the summed unfused time of those
nodes over the fused layer's time, both medians over single-pass profiles
of the two graphs taken in turns (so the noise of a shared machine hits
both alike). A configuration is profiled only if it fuses an occurrence no
earlier one did; the passes named
are those that changed how the occurrence's nodes are covered (so
"conv_batchnorm+conv_relu" for Conv → BatchNormalization → Relu).
"""
from __future__ import annotations

import contextlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from engine.benchmark import INPUT_SEED
from engine.ir import Graph
from engine.malloc_tuning import keep_heap_memory
from engine.models import Model
from engine.passes import PASSES, run_passes
from engine.profile import profile
from engine.roofline import Peaks, measure_peaks

NodeSet = frozenset[str]


@dataclass(frozen=True)
class Measured:
    model: str
    nodes: NodeSet
    passes: tuple[str, ...]  # the passes that fused it
    unfused_s: float  # the covered layers' median times, summed (unfused run)
    fused_s: float  # the fused layer's median time

    @property
    def speedup(self) -> float:
        return self.unfused_s / self.fused_s if self.fused_s > 0 else float("inf")


def pass_configs() -> list[tuple[str, ...]]:
    """Each pass alone, then the whole pipeline."""
    return [(name,) for name in PASSES] + [tuple(PASSES)]


def fused_sets(lineage: Mapping[str, Sequence[str]], wanted: Collection[NodeSet]) -> dict[str, NodeSet]:
    """Layer name -> the wanted node set it covers exactly."""
    return {name: frozenset(src) for name, src in lineage.items()
            if len(src) > 1 and frozenset(src) in wanted}


def contributing_passes(graph: Graph, applied: Sequence[str], nodes: NodeSet) -> tuple[str, ...]:
    """The passes of `applied` (in order) that changed how `nodes` are covered."""
    before = {frozenset((n,)) for n in nodes}
    out = []
    for i, name in enumerate(applied):
        lineage = run_passes(graph, applied[:i + 1]).lineage
        cover = {frozenset(src) for src in lineage.values() if nodes & set(src)}
        if cover != before:
            out.append(name)
        before = cover
    return tuple(out)


def attribute(model: str, unfused: Mapping[str, float], fused: Mapping[str, float],
              sources: Mapping[str, Sequence[str]], passes: Mapping[NodeSet, tuple[str, ...]]) -> list[Measured]:
    """Measured gains of the fused layers whose `sources` (fused layer ->
    original nodes it covers) are exactly one of the node sets in `passes`
    (node set -> the passes that fused it): the summed `unfused` times
    (original node -> seconds) of those nodes against the layer's `fused`
    time (fused layer -> seconds)."""
    out = []
    for name, seconds in fused.items():
        nodes = frozenset(sources[name])
        if nodes in passes:
            out.append(Measured(model, nodes, passes[nodes], sum(unfused[n] for n in nodes), seconds))
    return out


def _interleaved_times(graphs: Sequence[Graph], inputs: Mapping[str, np.ndarray], *, warmup: int, repeats: int,
                       peaks: Peaks) -> list[dict[str, float]]:
    """Per graph, layer -> median seconds over `repeats` single-pass profiles
    taken in turns (A B, B A, A B, ...), so bursts of load on a shared
    machine hit every graph alike."""
    samples: list[dict[str, list[float]]] = [{} for _ in graphs]
    for g in graphs:
        profile(g, inputs, warmup=warmup, repeats=1, peaks=peaks)  # warm caches, pages and BLAS threads
    for r in range(repeats):
        order = range(len(graphs)) if r % 2 == 0 else reversed(range(len(graphs)))
        for i in order:
            for ly in profile(graphs[i], inputs, warmup=0, repeats=1, peaks=peaks).layers:
                samples[i].setdefault(ly.name, []).append(ly.time.median)
    return [{name: float(np.median(ts)) for name, ts in per.items()} for per in samples]


def measure_model(built: Model, wanted: Collection[NodeSet], *, warmup: int, repeats: int,
                  threads: int | None = None) -> list[Measured]:
    """Profile the pass configurations that fuse some wanted node set exactly,
    each in turns with the unfused graph (_interleaved_times)."""
    done: set[NodeSet] = set()
    out: list[Measured] = []
    keep_heap_memory()  # as engine.benchmark does for every profile
    inputs = built.make_inputs(INPUT_SEED)
    limit = threadpool_limits(limits=threads, user_api="blas") if threads else contextlib.nullcontext()
    with limit:
        peaks = measure_peaks()
        for config in pass_configs():
            result = run_passes(built.graph, config)
            if not result.applied:
                continue
            found = {nodes for nodes in fused_sets(result.lineage, wanted).values() if nodes not in done}
            if not found:
                continue
            passes = {nodes: config if len(config) == 1 else contributing_passes(built.graph, result.applied, nodes)
                      for nodes in found}
            unfused, fused = _interleaved_times([built.graph, result.graph], inputs, warmup=warmup,
                                                repeats=repeats, peaks=peaks)
            measured = attribute(built.name, unfused, fused, result.lineage, passes)
            out.extend(measured)
            done.update(m.nodes for m in measured)
    return out
