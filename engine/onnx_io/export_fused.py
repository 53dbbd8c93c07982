"""Exporters for the fused ops engine.passes emit: each is spelled out as
the ops it fused (FusedLinear -> Linear + activation, FusedConv -> Conv +
Relu, GroupedEmbeddingBag -> one EmbeddingBag per table), so an optimized
graph exports to the same ONNX as the unoptimized one, up to names."""
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
