"""Canonical signature of a subgraph: op types plus edge structure, so the
same pattern in different models (or places) compares equal whatever its
nodes and tensors are called.

A subgraph is written as its nodes in some order, each as (op, refs), one ref
per input slot: ("n", i, k) for output k of the i-th node in that order, or
("w", j, 0) / ("x", j, 0) for an initializer / an activation from outside,
j numbering outside tensors by first use (so two slots reading the same
outside tensor share j); Add's and Mul's operands are written in a fixed
order (inside, then weights, then activations), so Add(h, b) and Add(b, h)
are one pattern. The signature is the smallest such writing over all
orders; only nodes with equal local invariants are permuted, so this stays
cheap for the sizes searched. Attributes (a Softmax axis, a Transpose perm)
are not part of it: the pattern is the kernel's shape, not its constants.
"""
from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence

from engine.fusion_search.subgraphs import GraphIndex

Ref = tuple[str, int, int]
Signature = tuple[tuple[str, tuple[Ref, ...]], ...]


COMMUTATIVE = frozenset({"Add", "Mul"})  # their operands are written in a fixed order, not as listed


def _slot_kind(index: GraphIndex, t: str, members: Collection[int]) -> str:
    return "n" if index.producer.get(t) in members else "w" if t in index.graph.initializers else "x"


def _encode(index: GraphIndex, order: Sequence[int]) -> Signature:
    pos = {m: i for i, m in enumerate(order)}
    outside: dict[str, int] = {}
    out = []
    for m in order:
        node = index.nodes[m]
        inputs = list(node.inputs)
        if node.op in COMMUTATIVE:  # internal operands first (by position), then weights, then activations
            inputs.sort(key=lambda t: (_slot_kind(index, t, pos), pos.get(index.producer.get(t), 0)))
        refs: list[Ref] = []
        for t in inputs:
            p = index.producer.get(t)
            if p in pos:
                refs.append(("n", pos[p], index.nodes[p].outputs.index(t)))
            else:
                refs.append((_slot_kind(index, t, pos), outside.setdefault(t, len(outside)), 0))
        out.append((node.op, tuple(refs)))
    return tuple(out)


def _invariant(index: GraphIndex, m: int, members: frozenset[int]) -> tuple:
    node = index.nodes[m]
    slots = tuple(_slot_kind(index, t, members) for t in node.inputs)
    return (node.op, tuple(sorted(slots)) if node.op in COMMUTATIVE else slots,
            tuple(sorted(index.nodes[p].op for p in index.pred[m] & members)),
            tuple(sorted(index.nodes[c].op for c in index.succ[m] & members)))


def canonical(index: GraphIndex, members: Sequence[int]) -> tuple[Signature, tuple[int, ...]]:
    """(signature, the members in the order that writes it)."""
    member_set = frozenset(members)
    groups: dict[tuple, list[int]] = {}
    for m in sorted(member_set):
        groups.setdefault(_invariant(index, m, member_set), []).append(m)
    ordered = [groups[k] for k in sorted(groups)]
    best: tuple[Signature, tuple[int, ...]] | None = None
    for parts in itertools.product(*(itertools.permutations(g) for g in ordered)):
        order = tuple(m for part in parts for m in part)
        sig = _encode(index, order)
        if best is None or sig < best[0]:
            best = (sig, order)
    assert best is not None
    return best


_BINARY = frozenset({"Add", "Sub", "Mul", "Div"})


def _tags(refs: Sequence[Ref]) -> str:
    kinds = [r[0] for r in refs]
    if "n" not in kinds and "x" in kinds:
        kinds.remove("x")  # a head op's first activation is the pattern's input, not a side operand
    return "".join(f"[{k}]" for k in sorted(set(kinds) - {"n"}))


def label(sig: Signature) -> str:
    """Human-readable: 'Linear → Add[w] → Relu' for a chain, else its edges
    by source ('Relu → (Sigmoid, Tanh); Sigmoid → Mul; Tanh → Mul').
    A binary op is tagged [w] when an outside operand is an initializer (a
    bias, a scale) and [x] when it is another activation (a residual); the
    activation a pattern's first op reads is its input and is not tagged."""
    ops = [op for op, _ in sig]
    repeated = {op for op in ops if ops.count(op) > 1}
    names = [op + _tags(refs) if op in _BINARY else op for op, refs in sig]
    edges = sorted({(r[1], i) for i, (_, refs) in enumerate(sig) for r in refs if r[0] == "n"})
    ins = [sum(1 for r in refs if r[0] == "n") for _, refs in sig]
    outs = [sum(1 for a, _ in edges if a == i) for i in range(len(sig))]
    if len(edges) == len(sig) - 1 and max(ins) <= 1 and max(outs) <= 1:  # a chain
        nxt = dict(edges)
        node = next(i for i in range(len(sig)) if ins[i] == 0)
        chain = [node]
        while node in nxt:
            node = nxt[node]
            chain.append(node)
        return " → ".join(names[i] for i in chain)
    numbered = list(names)
    if repeated:
        count: dict[str, int] = {}
        for i, op in enumerate(ops):
            if op in repeated:
                count[op] = count.get(op, 0) + 1
                numbered[i] = f"{names[i]}#{count[op]}"
    targets: dict[int, list[str]] = {}
    for a, b in edges:
        targets.setdefault(a, []).append(numbered[b])
    return "; ".join(f"{numbered[a]} → {ts[0] if len(ts) == 1 else '(' + ', '.join(ts) + ')'}"
                     for a, ts in targets.items())
