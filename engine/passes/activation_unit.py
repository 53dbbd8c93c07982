"""Fold DIN's local activation unit input into its first layer.

The unit scores each step k_t of a behaviour sequence against the query q
with an MLP over concat[q, k_t, q - k_t, q * k_t]. Its first layer, with
W = [W_q; W_k; W_d; W_p] (d rows each), is

    q @ W_q + k @ W_k + (q - k) @ W_d + (q * k) @ W_p
      = q @ (W_q + W_d) + concat[k, q * k] @ [W_k - W_d; W_p],

where the query term is one row per sequence, not per step. The pattern,
as the zoo's din and dien build it (engine.models.sequence_blocks):

    q_rep = Gather(q3 (B, 1, d), zeros (T,), axis=1)   # the query tiled over the steps
    diff = Sub(q_rep, k); prod = Mul(q_rep, k)        # (or Mul(k, q_rep))
    feat = Concat(q_rep, k, diff, prod, axis=2)
    y = Linear or FusedLinear(feat, W (4d, H) initializer, [b])

-> ActivationUnitLinear(q3, k, W_q + W_d, [W_k - W_d; W_p], [b]) with the
FusedLinear's activation, covering all five nodes. q_rep, diff, prod and feat
must have no other reader and not be graph outputs. The folded weights are
new initializers "<W>.query" and "<W>.keys"; W itself is dropped once
nothing reads it. The result equals the unfolded graph up to float32
rounding (benchmarks/passes_speed.py measures the gain)."""
from __future__ import annotations

import numpy as np

from engine.ir import Graph, Node, infer_specs
from engine.passes.rewrite import Rewrite, consumers, fused_name, producers, rebuild, sole_reader, unchanged

NAME = "activation_unit"


def _is_tile(graph: Graph, node: Node | None, specs) -> bool:
    """A Gather along axis 1 of a (B, 1, d) tensor by an all-zero constant index."""
    if node is None or node.op != "Gather" or node.attrs.get("axis", 0) not in (1, -2):
        return False
    idx = graph.initializers.get(node.inputs[1])
    shape = specs[node.inputs[0]].shape
    return idx is not None and idx.ndim == 1 and not idx.any() and len(shape) == 3 and shape[1] == 1


def _match(graph: Graph, concat: Node, made: dict[str, Node], readers, specs) -> tuple[Node, ...] | None:
    """(tile, sub, mul, linear) around `concat` when they form the pattern."""
    if concat.op != "Concat" or len(concat.inputs) != 4 or concat.attrs.get("axis") not in (2, -1):
        return None
    q_rep, k, diff, prod = concat.inputs
    tile, sub, mul = made.get(q_rep), made.get(diff), made.get(prod)
    if not _is_tile(graph, tile, specs) or sub is None or mul is None:
        return None
    if sub.op != "Sub" or sub.inputs != (q_rep, k) or mul.op != "Mul" or set(mul.inputs) != {q_rep, k}:
        return None
    if sorted(n.name for n in readers.get(q_rep, [])) != sorted((sub.name, mul.name, concat.name)) \
            or q_rep in graph.outputs:
        return None
    if any(sole_reader(graph, readers, t) is not concat for t in (diff, prod)):
        return None
    linear = sole_reader(graph, readers, concat.outputs[0])
    if linear is None or linear.op not in ("Linear", "FusedLinear") or linear.inputs[0] != concat.outputs[0]:
        return None
    w = graph.initializers.get(linear.inputs[1])
    d = specs[k].shape[-1]
    if w is None or w.dtype != np.float32 or w.shape[0] != 4 * d or specs[k].dtype != "float32":
        return None
    return tile, sub, mul, linear


def apply(graph: Graph) -> Rewrite:
    specs = infer_specs(graph)
    readers, made = consumers(graph), producers(graph)
    inits = dict(graph.initializers)
    replace: dict[str, Node] = {}
    gone: set[str] = set()
    merged: dict[str, tuple[str, ...]] = {}
    for concat in graph.nodes:
        found = _match(graph, concat, made, readers, specs)
        if found is None:
            continue
        tile, sub, mul, linear = found
        w_name = linear.inputs[1]
        w = graph.initializers[w_name]
        d = w.shape[0] // 4
        inits[f"{w_name}.query"] = w[:d] + w[2 * d:3 * d]
        inits[f"{w_name}.keys"] = np.concatenate([w[d:2 * d] - w[2 * d:3 * d], w[3 * d:]])
        name = fused_name(concat.name, linear.name)
        attrs = {k: v for k, v in linear.attrs.items() if k in ("activation", "approximate")}
        replace[linear.name] = Node(name, "ActivationUnitLinear",
                                    (tile.inputs[0], concat.inputs[1], f"{w_name}.query", f"{w_name}.keys",
                                     *linear.inputs[2:]), linear.outputs, attrs)
        gone.update(n.name for n in (tile, sub, mul, concat))
        merged[name] = (tile.name, sub.name, mul.name, concat.name, linear.name)
    if not replace:
        return unchanged(graph)
    nodes = [replace.get(n.name, n) for n in graph.nodes if n.name not in gone]
    return Rewrite(rebuild(graph, nodes, inits, drop_unused_initializers=True), merged)
