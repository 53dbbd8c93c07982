"""The graph hook engine.quant.modes calls to quantize an embedding node
row-wise (engine.quant.rowwise has the format). Passes run first, so a node
may be grouped. Kept apart from rowwise.py, which engine.ops imports: this
module needs engine.ir, and engine.ir imports engine.ops."""
from __future__ import annotations

import numpy as np

from engine.ir import Graph, Node
from engine.quant.rowwise import check_bits, quantize_rows

_ROWWISE_OP = {"EmbeddingBag": "EmbeddingBagRowwise", "GroupedEmbeddingBag": "GroupedEmbeddingBagRowwise"}


def _weights(node: Node) -> tuple[str, ...]:
    return node.inputs[:1] if node.op == "EmbeddingBag" else node.inputs[0::3]


def quantizable_embedding(graph: Graph, node: Node) -> bool:
    """An EmbeddingBag or GroupedEmbeddingBag whose weight(s) are 2-D float32 initializers."""
    if node.op not in _ROWWISE_OP:
        return False
    tables = [graph.initializers.get(w) for w in _weights(node)]
    return all(t is not None and t.dtype == np.float32 and t.ndim == 2 and t.shape[1] > 0 for t in tables)


def quantize_embedding_node(graph: Graph, node: Node, bits: int) -> tuple[Node, dict[str, np.ndarray]]:
    """The node's row-wise quantized replacement (same name, same outputs:
    EmbeddingBagRowwise or GroupedEmbeddingBagRowwise) and the packed tables
    it reads, named "<weight>.rowwise<bits>"; the fp32 weights are left for
    the caller to drop once no node reads them."""
    check_bits(bits)
    if not quantizable_embedding(graph, node):
        raise ValueError(f"node {node.name!r} ({node.op}) is not a row-wise quantizable embedding: it must be an "
                         f"EmbeddingBag or GroupedEmbeddingBag whose weights are 2-D float32 initializers")
    packed: dict[str, np.ndarray] = {}
    renamed: dict[str, str] = {}
    for w in _weights(node):
        if w not in renamed:  # a table shared by several lookups is quantized once
            renamed[w] = f"{w}.rowwise{bits}"
            packed[renamed[w]] = quantize_rows(graph.initializers[w], bits)
    dims = [int(graph.initializers[w].shape[1]) for w in _weights(node)]
    mode = node.attrs.get("mode", "sum")
    if node.op == "EmbeddingBag":
        inputs = (renamed[node.inputs[0]], *node.inputs[1:])
        attrs = {"mode": mode, "bits": bits, "dim": dims[0]}
    else:
        inputs = tuple(renamed[t] if i % 3 == 0 else t for i, t in enumerate(node.inputs))
        attrs = {"mode": mode, "bits": bits, "dims": dims, "dedup": node.attrs.get("dedup", 0)}
    return Node(node.name, _ROWWISE_OP[node.op], inputs, node.outputs, attrs), packed
