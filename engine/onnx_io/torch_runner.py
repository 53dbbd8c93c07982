"""PyTorch eager as a peer in the speed races (issue 20): an engine graph
interpreted node by node in torch, on the graph's own weights and inputs.

Each node makes the call a PyTorch model of it would make:
- EmbeddingBag: F.embedding_bag (FBGEMM's kernel on CPU), mode as the node's;
- EmbeddingBagRowwise (the int8/int4-rowwise-emb quant modes):
  torch.ops.quantized.embedding_bag_{byte,4bit}_rowwise_offsets on the
  packed table as it is (engine.quant.rowwise writes FBGEMM's own row
  format); they only sum, so mean mode divides by the bag sizes after;
- Linear: F.linear with the weight transposed once, at build time, to
  nn.Linear's (out, in) (the engine stores it (in, out));
- DotInteraction: DLRM's reference interact_features (torch.bmm of the
  stacked features, then the strictly lower triangle, row-major, after the
  dense feature: the layout engine.ops.interaction documents);
- the elementwise, Concat, Reshape, Gather, MatMul and Softmax ops: their
  torch counterparts.
A node of any other op (the fused ops of engine.passes, the dense quantized
ops) raises GraphError naming it: the peer runs the model as PyTorch would
run it, so it takes the graph before the engine's passes.

Tensors live in a dict by name and are dropped after their last reader, as
the engine's plan drops them. Graph inputs and initializers become tensors
once, at build time, sharing the numpy memory (torch.from_numpy), so a pass
is the forward pass alone. Each pass runs under torch.inference_mode();
torch.set_num_threads(threads) sets the thread count of the whole process.

torch is imported inside the functions only: PyTorch is an optional peer
for the benchmarks, never a dependency of the engine.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from engine.executor import Step, check_inputs, make_plan
from engine.ir import Graph, GraphError, Node

# A translated node: the names of the tensors it reads, and the torch callable taking them in that order.
Translated = tuple[tuple[str, ...], Callable[..., Any]]
Translator = Callable[[Node, Mapping[str, Any], Mapping[str, Any]], Translated]


def torch_runner(graph: Graph, inputs: Mapping[str, np.ndarray], threads: int) -> Callable[[], tuple[Any, ...]]:
    """One forward pass of `graph` in PyTorch eager on `inputs`, ready to
    call; it returns the graph's outputs as torch tensors, in order."""
    import torch

    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    plan = make_plan(graph)
    check_inputs(plan, inputs)
    torch.set_num_threads(threads)
    consts = {name: torch.from_numpy(a) for name, a in graph.initializers.items()}
    steps = [_translate(step, consts) for step in plan.steps]
    feeds = {**consts, **{name: torch.from_numpy(a) for name, a in inputs.items()}}
    outputs = graph.outputs

    def forward() -> tuple[Any, ...]:
        env = dict(feeds)
        with torch.inference_mode():
            for names, fn, out, release in steps:
                env[out] = fn(*[env[n] for n in names])
                for name in release:
                    del env[name]
        return tuple(env[t] for t in outputs)

    return forward


def _translate(step: Step, consts: Mapping[str, Any]) -> tuple[tuple[str, ...], Callable[..., Any], str,
                                                                tuple[str, ...]]:
    node = step.node
    translator = TRANSLATORS.get(node.op)
    if translator is None:
        raise GraphError(f"node {node.name!r} ({node.op}): the PyTorch peer has no translation for {node.op}; "
                         f"it knows {', '.join(sorted(TRANSLATORS))} (run it on the graph before passes)")
    names, fn = translator(node, step.attrs, consts)
    return names, fn, node.outputs[0], step.release  # every translated op has one output


def _torch_function(name: str) -> Translator:
    """A node whose inputs go to torch.<name> as they are."""
    def translate(node: Node, attrs: Mapping[str, Any], consts: Mapping[str, Any]) -> Translated:
        import torch

        return node.inputs, getattr(torch, name)
    return translate


def _linear(node: Node, attrs: Mapping[str, Any], consts: Mapping[str, Any]) -> Translated:
    import torch.nn.functional as F

    x, w, *bias = node.inputs
    if w not in consts:
        raise GraphError(f"node {node.name!r} (Linear): the PyTorch peer needs its weight {w!r} to be an "
                         "initializer (nn.Linear's parameter)")
    weight = consts[w].t().contiguous()  # nn.Linear's (out, in)
    return (x, *bias), lambda a, *b: F.linear(a, weight, *b)


def _embedding_bag(node: Node, attrs: Mapping[str, Any], consts: Mapping[str, Any]) -> Translated:
    import torch.nn.functional as F

    mode = attrs["mode"]
    return node.inputs, lambda weight, indices, offsets: F.embedding_bag(indices, weight, offsets, mode=mode)


def _embedding_bag_rowwise(node: Node, attrs: Mapping[str, Any], consts: Mapping[str, Any]) -> Translated:
    import torch

    quantized = torch.ops.quantized
    kernel = (quantized.embedding_bag_byte_rowwise_offsets if attrs["bits"] == 8
              else quantized.embedding_bag_4bit_rowwise_offsets)
    mean, dim = attrs["mode"] == "mean", attrs["dim"]

    def pool(packed: Any, indices: Any, offsets: Any) -> Any:
        # a 4-bit row of an odd width holds one padding code: FBGEMM pools it too, the slice drops it
        out = kernel(packed, indices, offsets)[:, :dim]
        if not mean:
            return out
        # these ops take a mode but always sum (torch 2.13): divide by the bag sizes, an empty bag's by 1
        ends = torch.cat((offsets[1:], offsets.new_tensor([indices.numel()])))
        return out / (ends - offsets).clamp_(min=1).unsqueeze(1)
    return node.inputs, pool


def _dot_interaction(node: Node, attrs: Mapping[str, Any], consts: Mapping[str, Any]) -> Translated:
    import torch

    features = len(node.inputs)
    li, lj = torch.tril_indices(features, features, offset=-1)

    def interact(dense: Any, *pooled: Any) -> Any:
        batch, dim = dense.shape
        z = torch.cat((dense, *pooled), dim=1).view(batch, features, dim)
        gram = torch.bmm(z, z.transpose(1, 2))
        return torch.cat((dense, gram[:, li, lj]), dim=1)
    return node.inputs, interact


def _concat(node: Node, attrs: Mapping[str, Any], consts: Mapping[str, Any]) -> Translated:
    import torch

    axis = attrs["axis"]
    return node.inputs, lambda *xs: torch.cat(xs, dim=axis)


def _reshape(node: Node, attrs: Mapping[str, Any], consts: Mapping[str, Any]) -> Translated:
    shape = tuple(attrs["shape"])
    return node.inputs, lambda x: x.reshape(shape)


def _softmax(node: Node, attrs: Mapping[str, Any], consts: Mapping[str, Any]) -> Translated:
    import torch

    axis = attrs["axis"]
    return node.inputs, lambda x: torch.softmax(x, dim=axis)


def _gather(node: Node, attrs: Mapping[str, Any], consts: Mapping[str, Any]) -> Translated:
    import torch

    axis = attrs["axis"]

    def gather(data: Any, indices: Any) -> Any:
        axis_ = axis % data.dim()
        size = data.shape[axis_]
        flat = torch.where(indices < 0, indices + size, indices).reshape(-1)  # ONNX: negatives count from the end
        shape = (*data.shape[:axis_], *indices.shape, *data.shape[axis_ + 1:])
        return data.index_select(axis_, flat).reshape(shape)
    return node.inputs, gather


TRANSLATORS: dict[str, Translator] = {
    "Relu": _torch_function("relu"), "Sigmoid": _torch_function("sigmoid"), "Tanh": _torch_function("tanh"),
    "Add": _torch_function("add"), "Sub": _torch_function("sub"), "Mul": _torch_function("mul"),
    "Div": _torch_function("div"), "MatMul": _torch_function("matmul"),
    "Linear": _linear, "EmbeddingBag": _embedding_bag, "EmbeddingBagRowwise": _embedding_bag_rowwise,
    "DotInteraction": _dot_interaction, "Concat": _concat, "Reshape": _reshape, "Softmax": _softmax,
    "Gather": _gather,
}
