"""Enumerate the fusable connected subgraphs of a graph.

Nodes are connected when one reads a tensor the other writes (siblings that
only share an input are not). Connected node sets are enumerated with ESU
(Wernicke 2006): each set is produced exactly once, by growing it from its
lowest-numbered node through neighbours numbered higher. A set is kept when
it has at least two nodes, is a data-parallel or an epilogue pattern
(engine.fusion_search.patterns) and is convex: no path leaves it and comes
back in, or one kernel for it would have to wait on its own output.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from engine.fusion_search.patterns import DATA_PARALLEL, EPILOGUE, is_anchor, is_data_parallel
from engine.ir import Graph, Node, topological_order

MAX_SIZE_LIMIT = 8  # the canonical form permutes tied nodes; beyond this it gets slow


@dataclass(frozen=True)
class GraphIndex:
    graph: Graph
    nodes: tuple[Node, ...]  # topological order; node ids are positions here
    producer: dict[str, int]  # tensor -> id of the node writing it
    readers: dict[str, list[int]]  # tensor -> ids of the nodes reading it (once per read)
    succ: tuple[frozenset[int], ...]
    pred: tuple[frozenset[int], ...]


def index_graph(graph: Graph) -> GraphIndex:
    nodes = topological_order(graph)
    producer = {t: i for i, n in enumerate(nodes) for t in n.outputs}
    readers: dict[str, list[int]] = {}
    for i, n in enumerate(nodes):
        for t in n.inputs:
            readers.setdefault(t, []).append(i)
    pred = tuple(frozenset(producer[t] for t in n.inputs if t in producer) for n in nodes)
    succ_sets: list[set[int]] = [set() for _ in nodes]
    for i, ps in enumerate(pred):
        for p in ps:
            succ_sets[p].add(i)
    return GraphIndex(graph, nodes, producer, readers, tuple(map(frozenset, succ_sets)), pred)


@dataclass(frozen=True)
class Candidate:
    members: tuple[int, ...]  # node ids, ascending
    kind: str  # DATA_PARALLEL | EPILOGUE
    anchor: int | None  # the gemm-kind node leading an epilogue


def is_convex(index: GraphIndex, members: frozenset[int]) -> bool:
    """No path from a member through a non-member back to a member."""
    last = max(members)  # ids are topological: a node after the last member cannot lead back
    frontier = [c for m in members for c in index.succ[m] if c not in members and c < last]
    seen: set[int] = set()
    while frontier:
        n = frontier.pop()
        if n in seen:
            continue
        seen.add(n)
        for c in index.succ[n]:
            if c in members:
                return False
            if c < last:
                frontier.append(c)
    return True


def _reachable_from(index: GraphIndex, start: int, members: frozenset[int]) -> set[int]:
    seen, stack = {start}, [start]
    while stack:
        for c in index.succ[stack.pop()]:
            if c in members and c not in seen:
                seen.add(c)
                stack.append(c)
    return seen


def classify(index: GraphIndex, members: frozenset[int]) -> Candidate | None:
    """The Candidate for a connected node set, or None if it is no searched pattern."""
    if len(members) < 2:
        return None
    anchors = [m for m in members if not is_data_parallel(index.nodes[m].op)]
    if not anchors:
        kind, anchor = DATA_PARALLEL, None
    elif len(anchors) == 1 and is_anchor(index.nodes[anchors[0]].op):
        kind, anchor = EPILOGUE, anchors[0]
        if index.pred[anchor] & members or _reachable_from(index, anchor, members) != members:
            return None  # a prologue, or an op not downstream of the GEMM
    else:
        return None
    if not is_convex(index, members):
        return None
    return Candidate(tuple(sorted(members)), kind, anchor)


def enumerate_subgraphs(index: GraphIndex, max_size: int, epilogues: bool = True) -> Iterator[Candidate]:
    """Every searched pattern occurrence of 2..max_size nodes, each once."""
    if not 2 <= max_size <= MAX_SIZE_LIMIT:
        raise ValueError(f"max_size must be in 2..{MAX_SIZE_LIMIT}, got {max_size}")
    ops = [n.op for n in index.nodes]
    anchor = [is_anchor(op) for op in ops]
    eligible = [is_data_parallel(op) or (epilogues and a) for op, a in zip(ops, anchor)]
    adj = [frozenset(u for u in index.succ[v] | index.pred[v] if eligible[u]) if eligible[v] else frozenset()
           for v in range(len(ops))]

    def extend(sub: list[int], ext: list[int], root: int, near: frozenset[int], anchors: int) -> Iterator[Candidate]:
        if len(sub) >= 2 and (found := classify(index, frozenset(sub))) is not None:
            yield found
        if len(sub) == max_size:
            return
        ext = sorted(ext)
        while ext:
            w = ext.pop(0)
            if anchors + anchor[w] > 1:  # a second anchor: no superset can be a pattern either
                continue
            fresh = [u for u in adj[w] if u > root and u not in near]
            yield from extend([*sub, w], ext + fresh, root, near | adj[w], anchors + anchor[w])

    for v in range(len(ops)):
        if eligible[v]:
            yield from extend([v], [u for u in adj[v] if u > v], v, adj[v] | {v}, int(anchor[v]))
