"""Exporters for the fused ops engine.passes emit: each is spelled out as
the ops it fused (FusedLinear -> Linear + activation, FusedConv -> Conv +
Relu, GroupedEmbeddingBag -> one EmbeddingBag per table), so an optimized
graph exports to the same ONNX as the unoptimized one, up to names.
ActivationUnitLinear's weights are folded, which cannot be undone: it
exports as the folded computation in plain ONNX ops."""
from __future__ import annotations

from typing import Any

from engine.ir import Node
from engine.onnx_io.export_graph import EXPORTERS, ExportContext, exporter


def _unfused(ctx: ExportContext, name: str, op: str, inputs: tuple[str, ...], outputs: tuple[str, ...],
             attrs: dict[str, Any]) -> None:
    EXPORTERS[op](ctx, Node(name, op, inputs, outputs, attrs), attrs)


@exporter("FusedLinear")
def export_fused_linear(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    pre = ctx.fresh(f"{node.name}/linear")
    _unfused(ctx, f"{node.name}/linear", "Linear", node.inputs, (pre,), {})
    act = attrs["activation"]
    act_attrs = {"approximate": attrs.get("approximate", "none")} if act == "Gelu" else {}
    _unfused(ctx, f"{node.name}/{act.lower()}", act, (pre,), node.outputs, act_attrs)


@exporter("FusedConv")
def export_fused_conv(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    pre = ctx.fresh(f"{node.name}/conv")
    conv_attrs = {k: v for k, v in attrs.items() if k != "activation"}
    _unfused(ctx, f"{node.name}/conv", "Conv", node.inputs, (pre,), conv_attrs)
    _unfused(ctx, f"{node.name}/relu", "Relu", (pre,), node.outputs, {})


@exporter("GroupedEmbeddingBag")
def export_grouped_embedding_bag(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    for k, out in enumerate(node.outputs):
        _unfused(ctx, f"{node.name}/table{k}", "EmbeddingBag", node.inputs[3 * k:3 * k + 3], (out,),
                 {"mode": attrs.get("mode", "sum")})


@exporter("ActivationUnitLinear")
def export_activation_unit_linear(ctx: ExportContext, node: Node, attrs: dict[str, Any]) -> None:
    q3, k, wq, wk = node.inputs[:4]
    (b, _, d), h = ctx.shape(k), ctx.shape(wq)[1]
    name = node.name
    q2 = ctx.emit("Reshape", [q3, ctx.const(f"{name}/query_shape", [b, d])], f"{name}/query", name=f"{name}/query")
    rows = ctx.emit("Gemm" if len(node.inputs) > 4 else "MatMul", [q2, wq, *node.inputs[4:]], f"{name}/rows",
                    name=f"{name}/rows")
    rows3 = ctx.emit("Reshape", [rows, ctx.const(f"{name}/rows_shape", [b, 1, h])], f"{name}/rows3",
                     name=f"{name}/rows3")
    prod = ctx.emit("Mul", [q3, k], f"{name}/prod", name=f"{name}/prod")
    pairs = ctx.emit("Concat", [k, prod], f"{name}/pairs", name=f"{name}/pairs", axis=2)
    keys = ctx.emit("MatMul", [pairs, wk], f"{name}/keys", name=f"{name}/keys")
    act = attrs.get("activation")
    if act is None:
        ctx.emit("Add", [keys, rows3], node.outputs, name=f"{name}/add")
        return
    pre = ctx.emit("Add", [keys, rows3], f"{name}/add", name=f"{name}/add")
    act_attrs = {"approximate": attrs.get("approximate", "none")} if act == "Gelu" else {}
    _unfused(ctx, f"{name}/{act.lower()}", act, (pre,), node.outputs, act_attrs)
