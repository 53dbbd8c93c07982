"""MultiHeadAttention -> MatMul/Add/Mul/Reshape/Transpose/Softmax, following
the op's documented semantics step by step (Q scaled by 1/sqrt(D) before the
score product, as the kernel does). onnxruntime's optimizer may fuse the
pattern back into its own attention kernel, which is fair game in a race."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.ir import Node
from engine.onnx_io.export_graph import ExportContext, exporter


@exporter("MultiHeadAttention")
def export_mha(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    n = node.name
    x, wq, bq, wk, bk, wv, bv, wo, bo = node.inputs[:9]
    mask = node.inputs[9] if len(node.inputs) > 9 else None
    b, s, e = ctx.shape(x)
    heads = int(attrs["num_heads"])
    d = e // heads

    def op(kind: str, inputs: list[str], tag: str, **kw: Any) -> str:
        return ctx.emit(kind, inputs, f"{n}/{tag}", name=f"{n}/{tag}", **kw)

    split = ctx.const(f"{n}/split_heads", [b, s, heads, d])

    def project(w: str, bias: str, tag: str) -> str:
        return op("Add", [op("MatMul", [x, w], f"{tag}_mm"), bias], tag)

    q = op("Mul", [project(wq, bq, "q"), ctx.const(f"{n}/scale", np.float32(1.0 / math.sqrt(d)))], "q_scaled")
    qh = op("Transpose", [op("Reshape", [q, split], "q_split")], "q_heads", perm=[0, 2, 1, 3])  # (B,H,S,D)
    kt = op("Transpose", [op("Reshape", [project(wk, bk, "k"), split], "k_split")], "k_heads_t",
            perm=[0, 2, 3, 1])  # (B,H,D,S)
    vh = op("Transpose", [op("Reshape", [project(wv, bv, "v"), split], "v_split")], "v_heads", perm=[0, 2, 1, 3])
    scores = op("MatMul", [qh, kt], "scores")
    if mask is not None:
        scores = op("Add", [scores, mask], "masked")
    probs = op("Softmax", [scores], "probs", axis=-1)
    merged = op("Reshape", [op("Transpose", [op("MatMul", [probs, vh], "context")], "context_bshd",
                               perm=[0, 2, 1, 3]), ctx.const(f"{n}/merge_heads", [b, s, e])], "context_bse")
    out = op("MatMul", [merged, wo], "out_mm")
    ctx.emit("Add", [out, bo], node.outputs, name=f"{n}/out")
