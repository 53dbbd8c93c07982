"""ONNX GRU -> engine GRU (batch first, weights stored (in, out)); the layout
mapping is the one documented in engine/ops/rnn.py, applied in reverse."""
from __future__ import annotations

import numpy as np

from engine.onnx_io.import_graph import ImportContext, OnnxNode, attr_str, importer


def _default_activations(v: object) -> bool:
    return [attr_str(a) for a in v] == ["Sigmoid", "Tanh"]


@importer("GRU")
def import_gru(ctx: ImportContext, node: OnnxNode) -> None:
    node.check_attrs({"hidden_size": None, "linear_before_reset": lambda v: v == 1,
                      "direction": lambda v: attr_str(v) == "forward", "layout": lambda v: v == 0,
                      "activations": _default_activations})
    if "linear_before_reset" not in node.attrs:
        raise node.fail("linear_before_reset=0 (the ONNX default) is not supported; the engine's GRU "
                        "computes linear_before_reset=1 (as PyTorch does)")
    if len(node.inputs) > 5 and node.inputs[5]:
        raise node.fail("input initial_h is not supported (the engine's GRU starts from zeros)")
    n = node.name
    hidden = int(node.attrs["hidden_size"])
    w, r = ctx.constant(node, 1, "W"), ctx.constant(node, 2, "R")
    if w.shape[0] != 1 or r.shape != (1, 3 * hidden, hidden):
        raise node.fail(f"W {w.shape} / R {r.shape} must be one forward direction with hidden_size {hidden}")
    b = (ctx.constant(node, 3, "B") if len(node.inputs) > 3 and node.inputs[3]
         else np.zeros((1, 6 * hidden), np.float32))
    inputs = [ctx.add_initializer(f"{n}.{role}", np.ascontiguousarray(v, np.float32)) for role, v in
              (("weight", w[0].T), ("recurrence", r[0].T), ("weight_bias", b[0, :3 * hidden]),
               ("recurrence_bias", b[0, 3 * hidden:]))]
    x_bti = ctx.fresh(f"{n}/x_bti")
    ctx.add(node, "Transpose", [node.inputs[0]], [x_bti], {"perm": [1, 0, 2]}, name=x_bti)
    if len(node.inputs) > 4 and node.inputs[4]:
        lens = node.inputs[4]
        if lens in ctx.initializers:
            lens = ctx.add_initializer(f"{n}.sequence_lens", ctx.initializers[lens].astype(np.int64))
        inputs.append(lens)
    y_bth, y_h_bh = ctx.fresh(f"{n}/Y_bth"), ctx.fresh(f"{n}/Y_h_bh")
    ctx.add(node, "GRU", [x_bti, *inputs], [y_bth, y_h_bh])
    t, batch = ctx.shape(node.inputs[0])[:2]
    y, y_h = (node.outputs + ("", ""))[:2]
    if y:
        y_tbh = ctx.fresh(f"{n}/Y_tbh")
        ctx.add(node, "Transpose", [y_bth], [y_tbh], {"perm": [1, 0, 2]}, name=y_tbh)
        ctx.add(node, "Reshape", [y_tbh], [y], {"shape": [t, 1, batch, hidden]}, name=f"{n}/Y")
    if y_h:
        ctx.add(node, "Reshape", [y_h_bh], [y_h], {"shape": [1, batch, hidden]}, name=f"{n}/Y_h")
