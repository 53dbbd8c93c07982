"""Which ops a fused kernel can swallow: every registered op type has a kind.

Data-parallel kinds (a subgraph made only of these can be one loop over the
output elements, so its intermediates never need to leave registers/cache):

    elementwise  Add Sub Mul Div Relu Sigmoid Tanh Gelu, and inference
                 BatchNormalization (a per-channel affine: y = x * m + c).
                 Broadcast operands (a bias, a per-channel scale) count too.
    row          Softmax, LayerNormalization: independent per row; the only
                 reduction is inside one row, which one thread can hold.
    layout       Transpose Concat Slice Gather: every output element is a copy
                 of one input element at an index the kernel computes, so the
                 copy folds into the reader's or writer's indexing.
    view         Reshape: a view of its input (0 bytes moved); a fused kernel
                 just indexes the same storage.

Not data-parallel (any of these in a subgraph excludes it):

    gemm         Linear MatMul Conv (and the passes' FusedLinear FusedConv
                 ActivationUnitLinear, the quantizer's Int8/Fp16/FakeQuant Linear and Conv and
                 Int8OutlierLinear): an output element reduces over K; these
                 may ANCHOR an epilogue pattern (below).
    other        EmbeddingBag GroupedEmbeddingBag and their Rowwise
                 (quantized) forms (a reduction over each bag of rows), GRU AUGRU (a sequential recurrence),
                 MultiHeadAttention, DotInteraction (batched GEMMs),
                 MaxPool AveragePool (overlapping windows),
                 GlobalAveragePool (a reduction over the spatial axes).

Two kinds of pattern are searched:

- data-parallel: a connected subgraph of data-parallel ops only;
- epilogue: ONE gemm-kind op (the anchor) followed only by data-parallel ops:
  the anchor has no producer inside the subgraph and every other op is
  reachable from it inside the subgraph, so the data-parallel ops can run on
  each output tile while the GEMM still holds it (what linear_activation and
  conv_relu do for Relu). A prologue (data-parallel ops feeding the GEMM) or
  a second non-data-parallel op excludes the subgraph.
"""
from __future__ import annotations

from engine.ops import OPS

KINDS: dict[str, str] = {
    **dict.fromkeys(("Add", "Sub", "Mul", "Div", "Relu", "Sigmoid", "Tanh", "Gelu", "BatchNormalization"),
                    "elementwise"),
    **dict.fromkeys(("Softmax", "LayerNormalization"), "row"),
    **dict.fromkeys(("Transpose", "Concat", "Slice", "Gather"), "layout"),
    "Reshape": "view",
    **dict.fromkeys(("Linear", "MatMul", "Conv", "FusedLinear", "FusedConv", "ActivationUnitLinear",
                     "Int8Linear", "Int8OutlierLinear", "Fp16Linear", "FakeQuantLinear",
                     "Int8Conv", "Fp16Conv", "FakeQuantConv"), "gemm"),
    **dict.fromkeys(("EmbeddingBag", "GroupedEmbeddingBag", "EmbeddingBagRowwise", "GroupedEmbeddingBagRowwise",
                     "GRU", "AUGRU", "MultiHeadAttention",
                     "DotInteraction", "MaxPool", "AveragePool", "GlobalAveragePool"), "other"),
}
DATA_PARALLEL_KINDS = frozenset({"elementwise", "row", "layout", "view"})
VIEW_OPS = frozenset(op for op, kind in KINDS.items() if kind == "view")

DATA_PARALLEL = "data-parallel"  # the two pattern kinds, as reports spell them
EPILOGUE = "epilogue"


class UnclassifiedOpError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def kind_of(op_type: str) -> str:
    try:
        return KINDS[op_type]
    except KeyError:
        raise UnclassifiedOpError(
            f"op type {op_type!r} has no fusion kind; add it to engine.fusion_search.patterns.KINDS "
            f"(classified: {', '.join(sorted(KINDS))})") from None


def is_data_parallel(op_type: str) -> bool:
    return kind_of(op_type) in DATA_PARALLEL_KINDS


def is_anchor(op_type: str) -> bool:
    """Whether the op may lead an epilogue pattern."""
    return kind_of(op_type) == "gemm"


def unclassified_ops() -> list[str]:
    """Registered op types missing from KINDS (a new op must be classified)."""
    return sorted(set(OPS) - set(KINDS))
