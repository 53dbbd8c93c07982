"""Exporters for the recurrent ops. GRU maps to ONNX GRU (layout 0,
linear_before_reset=1) with its weights re-laid out at export time; AUGRU
has no ONNX operator, so it is unrolled over its static number of steps into
MatMul/Sigmoid/Tanh/Mul/Add/Where (one group of nodes per step)."""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.ir import Node
from engine.onnx_io.export_graph import ExportContext, exporter


@exporter("GRU")
def export_gru(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    n = node.name
    w, r = ctx.value(node, 1, "weight"), ctx.value(node, 2, "recurrence")
    wb, rb = ctx.value(node, 3, "weight_bias"), ctx.value(node, 4, "recurrence_bias")
    hidden = r.shape[0]
    inputs = [
        ctx.emit("Transpose", [node.inputs[0]], f"{n}/x_tbi", name=f"{n}/x_tbi", perm=[1, 0, 2]),
        ctx.const(f"{n}/W", np.ascontiguousarray(w.T[None])),
        ctx.const(f"{n}/R", np.ascontiguousarray(r.T[None])),
        ctx.const(f"{n}/B", np.concatenate([wb, rb])[None]),
    ]
    if len(node.inputs) > 5:
        inputs.append(ctx.emit("Cast", [node.inputs[5]], f"{n}/lens_i32", name=f"{n}/lens_i32", to=6))  # INT32
    y, y_h = ctx.fresh(f"{n}/Y"), ctx.fresh(f"{n}/Y_h")
    ctx.emit("GRU", inputs, [y, y_h], name=n, hidden_size=hidden, linear_before_reset=1)
    y3 = ctx.emit("Squeeze", [y, ctx.const(f"{n}/axis1", [1])], f"{n}/Y_tbh", name=f"{n}/Y_tbh")
    ctx.emit("Transpose", [y3], [node.outputs[0]], name=f"{n}/Y_bth", perm=[1, 0, 2])
    ctx.emit("Squeeze", [y_h, ctx.const(f"{n}/axis0", [0])], [node.outputs[1]], name=f"{n}/Y_h_bh")


@exporter("AUGRU")
def export_augru(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    n = node.name
    x, scores = node.inputs[0], node.inputs[1]
    b, steps, _ = ctx.shape(x)
    hidden = ctx.shape(node.inputs[3])[0]
    lens = node.inputs[6] if len(node.inputs) > 6 else None

    def op(kind: str, inputs: list[str], tag: str, **attrs: Any) -> str:
        return ctx.emit(kind, inputs, f"{n}/{tag}", name=f"{n}/{tag}", **attrs)

    # every input projection in one MatMul, as the kernel does
    xw = op("Add", [op("MatMul", [x, node.inputs[2]], "xw_mm"), node.inputs[4]], "xw")  # (B, T, 3H)
    gate_z = [ctx.const(f"{n}/z_start", [0]), ctx.const(f"{n}/z_end", [hidden])]
    gate_h = [ctx.const(f"{n}/h_start", [2 * hidden]), ctx.const(f"{n}/h_end", [3 * hidden])]
    zr_end = ctx.const(f"{n}/zr_end", [2 * hidden])
    last_axis, step_axis = ctx.const(f"{n}/last_axis", [-1]), ctx.const(f"{n}/axis1", [1])
    one, zero_state = ctx.const(f"{n}/one", 1.0), ctx.const(f"{n}/h0", np.zeros((b, hidden), np.float32))
    h = zero_state
    ys: list[str] = []
    for t in range(steps):
        s = f"t{t}"
        t_index = ctx.const(f"{n}/{s}/index", np.asarray(t, np.int64))
        xt = op("Gather", [xw, t_index], f"{s}/x", axis=1)  # (B, 3H)
        hr = op("Add", [op("MatMul", [h, node.inputs[3]], f"{s}/hr_mm"), node.inputs[5]], f"{s}/hr")
        zr = op("Sigmoid", [op("Add", [op("Slice", [xt, gate_z[0], zr_end, last_axis], f"{s}/x_zr"),
                                       op("Slice", [hr, gate_z[0], zr_end, last_axis], f"{s}/h_zr")],
                               f"{s}/zr_pre")], f"{s}/zr")
        z = op("Slice", [zr, *gate_z, last_axis], f"{s}/z")
        reset = op("Slice", [zr, gate_z[1], zr_end, last_axis], f"{s}/r")
        cand = op("Tanh", [op("Add", [op("Slice", [xt, *gate_h, last_axis], f"{s}/x_h"),
                                      op("Mul", [reset, op("Slice", [hr, *gate_h, last_axis], f"{s}/h_h")],
                                         f"{s}/rh")], f"{s}/cand_pre")], f"{s}/cand")
        a_t = op("Unsqueeze", [op("Gather", [scores, t_index], f"{s}/a", axis=1), last_axis], f"{s}/a_col")
        u = op("Mul", [op("Sub", [one, z], f"{s}/u0"), a_t], f"{s}/u")  # DIEN's attentional update gate
        h_new = op("Add", [h, op("Mul", [u, op("Sub", [cand, h], f"{s}/delta")], f"{s}/step")], f"{s}/h_new")
        if lens is None:
            h, y_t = h_new, h_new
        else:  # rows past their length keep their state and output zeros, as ONNX GRU
            active = op("Unsqueeze", [op("Greater", [lens, t_index], f"{s}/active"), last_axis], f"{s}/active_col")
            h = op("Where", [active, h_new, h], f"{s}/h")
            y_t = op("Where", [active, h_new, ctx.const(f"{n}/{s}/zero", 0.0)], f"{s}/y")
        ys.append(op("Unsqueeze", [y_t, step_axis], f"{s}/y_b1h"))
    ctx.emit("Concat", ys, [node.outputs[0]], name=f"{n}/Y", axis=1)
    ctx.emit("Identity", [h], [node.outputs[1]], name=f"{n}/Y_h")
