"""What fusing one subgraph occurrence would save, from its measured layers.

Bytes a fused kernel no longer moves (per operand, engine.fusion_search.traffic):
- every read of a tensor written inside the subgraph (the value is still in
  registers or cache);
- the write of such a tensor when nothing outside reads it and it is no graph
  output (views are followed: a Reshape of it read outside keeps it);
- repeated reads of one outside tensor by several ops: the kernel reads it once.
So saved = the members' bytes - (outside tensors read once + outputs that escape).

Time: saved bytes / GB/s, the GB/s being one of
- "achieved": what the subgraph's data-parallel layers achieved in this very
  profile (sum of their bytes / sum of their median times): the measured
  price of a byte at these tensor sizes, cache effects and per-call overhead
  included. But a layer slowed by its arithmetic (Sigmoid, Gelu, Softmax's
  exp) achieves few GB/s, and a fused kernel still does that arithmetic, so
  alone this overstates what fusion saves;
- "peak": the machine's stream-copy bandwidth (engine.roofline): the time
  the bytes need to cross DRAM, no overhead and no arithmetic counted;
- "max" (the default): the higher of the two, so a byte is never priced
  slower than DRAM streams it (arithmetic and call overhead are not memory
  time), and cache-resident data that moved faster than DRAM is priced at
  the speed it really moved. Conservative on purpose.
Clamps: a fusion cannot save more than the data-parallel layers' own time;
an epilogue's fused time is at least the anchor's (the GEMM stays), a
data-parallel kernel's at least the time its kept bytes take at the faster
of the chosen and the peak GB/s, and never more than the unfused time. Speedup = unfused / fused.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from engine.fusion_search.patterns import VIEW_OPS
from engine.fusion_search.subgraphs import GraphIndex
from engine.fusion_search.traffic import node_traffic
from engine.ir import TensorSpec
from engine.roofline import Peaks

BANDWIDTHS = ("max", "achieved", "peak")


@dataclass(frozen=True)
class Traffic:
    total: int  # bytes the members move unfused
    kept: int  # bytes a fused kernel still moves

    @property
    def saved(self) -> int:
        return self.total - self.kept


def _root(index: GraphIndex, t: str) -> str:
    """The tensor whose storage `t` views (itself unless a view op made it)."""
    while (p := index.producer.get(t)) is not None and index.nodes[p].op in VIEW_OPS:
        t = index.nodes[p].inputs[0]
    return t


def _escapes(index: GraphIndex, t: str, members: frozenset[int]) -> bool:
    if t in index.graph.outputs:
        return True
    for r in index.readers.get(t, []):
        if r not in members:
            return True
        node = index.nodes[r]
        if node.op in VIEW_OPS and any(_escapes(index, o, members) for o in node.outputs):
            return True
    return False


def subgraph_traffic(index: GraphIndex, specs: Mapping[str, TensorSpec], members: Sequence[int]) -> Traffic:
    member_set = frozenset(members)
    total = 0
    outside_reads: dict[str, int] = {}
    kept_writes = 0
    for m in members:
        node = index.nodes[m]
        reads, writes = node_traffic(node, specs)
        total += sum(reads) + sum(writes)
        for t, nbytes in zip(node.inputs, reads):
            root = _root(index, t)
            if index.producer.get(root) not in member_set:
                outside_reads[root] = max(outside_reads.get(root, 0), nbytes)
        for t, nbytes in zip(node.outputs, writes):
            if _escapes(index, t, member_set):
                kept_writes += nbytes
    return Traffic(total, sum(outside_reads.values()) + kept_writes)


@dataclass(frozen=True)
class Estimate:
    time_s: float  # the members' measured median times, summed
    anchor_time_s: float  # the epilogue's GEMM (0 for a data-parallel pattern)
    traffic: Traffic
    gbs: float  # the GB/s a saved byte is priced at
    fused_s: float  # estimated time of the fused kernel

    @property
    def saved_s(self) -> float:
        return self.time_s - self.fused_s

    @property
    def speedup(self) -> float:
        return self.time_s / self.fused_s if self.fused_s > 0 else float("inf")


def estimate(
    index: GraphIndex,
    specs: Mapping[str, TensorSpec],
    members: Sequence[int],
    anchor: int | None,
    times: Mapping[str, float],
    peaks: Peaks,
    bandwidth: str = "max",
) -> Estimate:
    """`times`: node name -> measured median seconds (unfused profile)."""
    if bandwidth not in BANDWIDTHS:
        raise ValueError(f"bandwidth must be one of {', '.join(BANDWIDTHS)}, got {bandwidth!r}")
    traffic = subgraph_traffic(index, specs, members)
    time_s = sum(times[index.nodes[m].name] for m in members)
    anchor_s = times[index.nodes[anchor].name] if anchor is not None else 0.0
    dp = [m for m in members if m != anchor]
    dp_s = time_s - anchor_s
    dp_bytes = sum(sum(r) + sum(w) for r, w in (node_traffic(index.nodes[m], specs) for m in dp))
    achieved = dp_bytes / dp_s / 1e9 if dp_bytes > 0 and dp_s > 0 else peaks.gbs
    gbs = {"max": max(achieved, peaks.gbs), "achieved": achieved, "peak": peaks.gbs}[bandwidth]
    saved_s = min(traffic.saved / (gbs * 1e9), dp_s)
    floor = anchor_s if anchor is not None else traffic.kept / (max(gbs, peaks.gbs) * 1e9)
    fused_s = max(time_s - saved_s, min(floor, time_s))
    return Estimate(time_s, anchor_s, traffic, gbs, fused_s)
