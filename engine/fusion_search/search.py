"""The search: profile each model unfused, enumerate its fusable subgraphs,
estimate each occurrence's gain, group occurrences by canonical signature
across the zoo, measure what the passes already fuse, and rank.

A pattern's frequency is its number of occurrences: each runs once per
inference of its model (the IR has no loops; a GRU's time steps are inside
one op), so occurrences weighted by executions is the count itself. Patterns
are ranked by the time they would save in total, summed over occurrences
(one inference of each model searched): frequency times gain. Patterns that
save no bytes (e.g. Add → Reshape, whose output is read elsewhere anyway) are
dropped.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.benchmark import RunOptions, profile_model
from engine.fusion_search.estimate import Estimate, estimate
from engine.fusion_search.measure import Measured, measure_model
from engine.fusion_search.signature import Signature, canonical, label
from engine.fusion_search.subgraphs import enumerate_subgraphs, index_graph
from engine.ir import Graph, infer_specs
from engine.models import Model
from engine.report import Layer
from engine.roofline import Peaks


@dataclass(frozen=True)
class Settings:
    max_size: int = 4
    bandwidth: str = "max"
    epilogues: bool = True
    warmup: int = 2
    repeats: int = 10
    measure: bool = True
    threads: int | None = None  # BLAS thread limit for every profile (None: as BLAS is)


@dataclass(frozen=True)
class Occurrence:
    model: str
    nodes: tuple[str, ...]  # canonical order
    anchor: str | None
    estimate: Estimate


@dataclass
class Pattern:
    signature: Signature
    label: str
    kind: str
    occurrences: list[Occurrence] = field(default_factory=list)
    measured: list[Measured] = field(default_factory=list)

    @property
    def time_s(self) -> float:
        return sum(o.estimate.time_s for o in self.occurrences)

    @property
    def saved_s(self) -> float:
        return sum(o.estimate.saved_s for o in self.occurrences)

    @property
    def saved_bytes(self) -> int:
        return sum(o.estimate.traffic.saved for o in self.occurrences)

    @property
    def speedup(self) -> float:
        fused = self.time_s - self.saved_s
        return self.time_s / fused if fused > 0 else float("inf")

    @property
    def measured_speedup(self) -> float | None:
        if not self.measured:
            return None
        return sum(m.unfused_s for m in self.measured) / sum(m.fused_s for m in self.measured)

    @property
    def passes(self) -> list[str]:
        return sorted({"+".join(m.passes) for m in self.measured})

    @property
    def models(self) -> Counter[str]:
        return Counter(o.model for o in self.occurrences)


@dataclass(frozen=True)
class SearchResult:
    patterns: list[Pattern]  # ranked
    models: list[Model]
    end_to_end_s: dict[str, float]  # each model's unfused median latency
    peaks: Peaks
    settings: Settings


def find_occurrences(model: str, graph: Graph, layers: Sequence[Layer], peaks: Peaks,
                     settings: Settings) -> list[tuple[Signature, str, Occurrence]]:
    """(signature, kind, occurrence) for every searched subgraph of `graph`,
    priced with the unfused profile's `layers`."""
    index = index_graph(graph)
    specs = infer_specs(graph)
    times = {ly.name: ly.time.median for ly in layers}
    out = []
    for cand in enumerate_subgraphs(index, settings.max_size, settings.epilogues):
        sig, order = canonical(index, cand.members)
        est = estimate(index, specs, order, cand.anchor, times, peaks, settings.bandwidth)
        anchor = index.nodes[cand.anchor].name if cand.anchor is not None else None
        out.append((sig, cand.kind, Occurrence(model, tuple(index.nodes[m].name for m in order), anchor, est)))
    return out


def rank(found: Sequence[tuple[Signature, str, Occurrence]], measured: Sequence[Measured] = ()) -> list[Pattern]:
    patterns: dict[Signature, Pattern] = {}
    for sig, kind, occ in found:
        patterns.setdefault(sig, Pattern(sig, label(sig), kind)).occurrences.append(occ)
    where = {(occ.model, frozenset(occ.nodes)): sig for sig, _, occ in found}
    for m in measured:
        sig = where.get((m.model, m.nodes))
        if sig is not None:
            patterns[sig].measured.append(m)
    kept = [p for p in patterns.values() if p.saved_bytes > 0]
    return sorted(kept, key=lambda p: (-p.saved_s, -len(p.occurrences), p.label))


def search(models: Sequence[Model], settings: Settings = Settings()) -> SearchResult:
    peaks: Peaks | None = None
    found: list[tuple[Signature, str, Occurrence]] = []
    measured: list[Measured] = []
    e2e: dict[str, float] = {}
    for built in models:
        base = profile_model(built, RunOptions(warmup=settings.warmup, repeats=settings.repeats,
                                               threads=settings.threads))
        e2e[built.name] = base.result.end_to_end.median
        peaks = base.result.peaks  # measured under the same thread limit as the profile
        mine = find_occurrences(built.name, built.graph, base.result.layers, peaks, settings)
        found.extend(mine)
        if settings.measure and mine:
            wanted = {frozenset(occ.nodes) for _, _, occ in mine if occ.estimate.traffic.saved > 0}
            measured.extend(measure_model(built, wanted, warmup=settings.warmup, repeats=settings.repeats,
                                          threads=settings.threads))
    if peaks is None:
        raise ValueError("search needs at least one model")
    return SearchResult(rank(found, measured), list(models), e2e, peaks, settings)
