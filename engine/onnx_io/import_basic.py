"""Importers for dense, elementwise and shape ops, and Constant."""
from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from engine.onnx_io.import_graph import ImportContext, OnnxNode, attr_str, importer

SAME_OP = {"Relu": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Add": "Add", "Sub": "Sub", "Mul": "Mul",
           "Div": "Div"}


@importer(*SAME_OP)
def import_same(ctx: ImportContext, node: OnnxNode) -> None:
    node.check_attrs({})
    ctx.add(node, SAME_OP[node.op_type], node.inputs, node.outputs)


@importer("Constant")
def import_constant(ctx: ImportContext, node: OnnxNode) -> None:
    node.check_attrs({"value": None, "value_float": None, "value_floats": None,
                      "value_int": None, "value_ints": None})
    (key, value), = node.attrs.items()
    if key == "value":
        arr = numpy_helper.to_array(value)
    else:
        arr = np.asarray(value, dtype=np.float32 if "float" in key else np.int64)
    ctx.set_initializer(node.outputs[0], arr)


@importer("Gemm")
def import_gemm(ctx: ImportContext, node: OnnxNode) -> None:
    """Gemm with a constant B becomes Linear: transB and alpha are folded into
    the stored (in, out) weight, beta into the bias. transA=1 is refused."""
    node.check_attrs({"alpha": None, "beta": None, "transA": lambda v: v == 0, "transB": lambda v: v in (0, 1)})
    alpha, beta = float(node.attrs.get("alpha", 1.0)), float(node.attrs.get("beta", 1.0))
    w = ctx.constant(node, 1, "B")
    if w.ndim != 2:
        raise node.fail(f"B has shape {w.shape}, expected 2-D")
    if node.attrs.get("transB", 0):
        w = w.T
    if alpha != 1.0:
        w = w * np.float32(alpha)
    inputs = [node.inputs[0], ctx.add_initializer(f"{node.name}.weight", np.ascontiguousarray(w, np.float32))]
    if len(node.inputs) > 2 and node.inputs[2]:
        n = w.shape[1]
        c = ctx.constant(node, 2, "C")
        if c.size not in (1, n) or (c.ndim == 2 and c.shape[0] != 1) or c.ndim > 2:
            raise node.fail(f"C has shape {c.shape}; only a bias broadcast over rows ((N,), (1, N) or a "
                            f"scalar, N={n}) is supported")
        bias = np.broadcast_to(c.reshape(-1), (n,)).astype(np.float32) * np.float32(beta)
        inputs.append(ctx.add_initializer(f"{node.name}.bias", np.ascontiguousarray(bias)))
    ctx.add(node, "Linear", inputs, node.outputs)


@importer("MatMul")
def import_matmul(ctx: ImportContext, node: OnnxNode) -> None:
    """x @ W with a constant 2-D W is Linear (no bias); anything else is MatMul."""
    node.check_attrs({})
    b = node.inputs[1]
    if b in ctx.initializers and ctx.initializers[b].ndim == 2 and len(ctx.shape(node.inputs[0])) >= 1:
        ctx.add(node, "Linear", node.inputs, node.outputs)
    else:
        ctx.add(node, "MatMul", node.inputs, node.outputs)


@importer("Gelu")
def import_gelu(ctx: ImportContext, node: OnnxNode) -> None:
    node.check_attrs({"approximate": lambda v: attr_str(v) in ("none", "tanh")})
    ctx.add(node, "Gelu", node.inputs, node.outputs,
            {"approximate": attr_str(node.attrs.get("approximate", b"none"))})


@importer("Softmax")
def import_softmax(ctx: ImportContext, node: OnnxNode) -> None:
    node.check_attrs({"axis": None})
    rank = len(ctx.shape(node.inputs[0]))
    axis = int(node.attrs.get("axis", -1 if node.opset >= 13 else 1))
    axis = axis + rank if axis < 0 else axis
    if node.opset < 13 and axis != rank - 1:
        # before opset 13 Softmax flattened the axes from `axis` on into one
        raise node.fail(f"opset {node.opset} Softmax over flattened axes {axis}.. of a rank-{rank} input "
                        "is not supported (only the last axis)")
    ctx.add(node, "Softmax", node.inputs, node.outputs, {"axis": axis})


@importer("Concat")
def import_concat(ctx: ImportContext, node: OnnxNode) -> None:
    node.check_attrs({"axis": None})
    ctx.add(node, "Concat", node.inputs, node.outputs, {"axis": int(node.attrs["axis"])})


@importer("Transpose")
def import_transpose(ctx: ImportContext, node: OnnxNode) -> None:
    node.check_attrs({"perm": None})
    rank = len(ctx.shape(node.inputs[0]))
    perm = [int(p) for p in node.attrs.get("perm", range(rank - 1, -1, -1))]
    ctx.add(node, "Transpose", node.inputs[:1], node.outputs, {"perm": perm})


@importer("Gather")
def import_gather(ctx: ImportContext, node: OnnxNode) -> None:
    node.check_attrs({"axis": None})
    ctx.add(node, "Gather", node.inputs, node.outputs, {"axis": int(node.attrs.get("axis", 0))})


@importer("Reshape")
def import_reshape(ctx: ImportContext, node: OnnxNode) -> None:
    node.check_attrs({"allowzero": lambda v: v == 0})
    x_shape = ctx.shape(node.inputs[0])
    shape = [int(d) for d in ctx.constant(node, 1, "shape").reshape(-1)]
    # allowzero=0: a 0 copies the input's dimension at that position
    for i, d in enumerate(shape):
        if d == 0:
            if i >= len(x_shape):
                raise node.fail(f"shape {shape} has a 0 at position {i} but the input is rank {len(x_shape)}")
            shape[i] = x_shape[i]
    ctx.add(node, "Reshape", node.inputs[:1], node.outputs, {"shape": shape})


@importer("Slice")
def import_slice(ctx: ImportContext, node: OnnxNode) -> None:
    node.check_attrs({})
    if node.opset < 10:
        raise node.fail(f"opset {node.opset} Slice (attributes) is not supported; opset >= 10 takes inputs")
    starts = [int(v) for v in ctx.constant(node, 1, "starts").reshape(-1)]
    ends = [int(v) for v in ctx.constant(node, 2, "ends").reshape(-1)]
    rank = len(ctx.shape(node.inputs[0]))
    axes = ([int(v) for v in ctx.constant(node, 3, "axes").reshape(-1)]
            if len(node.inputs) > 3 and node.inputs[3] else list(range(len(starts))))
    if len(node.inputs) > 4 and node.inputs[4]:
        steps = ctx.constant(node, 4, "steps").reshape(-1)
        if np.any(steps != 1):
            raise node.fail(f"steps {steps.tolist()} are not supported (only 1)")
    axes = [a + rank if a < 0 else a for a in axes]
    ctx.add(node, "Slice", node.inputs[:1], node.outputs, {"starts": starts, "ends": ends, "axes": axes})


def _axes(ctx: ImportContext, node: OnnxNode) -> list[int] | None:
    """Squeeze/Unsqueeze axes: an attribute before opset 13, an input since."""
    if "axes" in node.attrs:
        return [int(a) for a in node.attrs["axes"]]
    if len(node.inputs) > 1 and node.inputs[1]:
        return [int(a) for a in ctx.constant(node, 1, "axes").reshape(-1)]
    return None


@importer("Squeeze")
def import_squeeze(ctx: ImportContext, node: OnnxNode) -> None:
    """Shapes are static, so Squeeze is a Reshape to the squeezed shape."""
    node.check_attrs({"axes": None})
    shape = ctx.shape(node.inputs[0])
    axes = _axes(ctx, node)
    drop = {a % len(shape) for a in axes} if axes is not None else {i for i, d in enumerate(shape) if d == 1}
    if any(shape[a] != 1 for a in drop):
        raise node.fail(f"cannot squeeze axes {sorted(drop)} of shape {shape}: they must have size 1")
    ctx.add(node, "Reshape", node.inputs[:1], node.outputs,
            {"shape": [d for i, d in enumerate(shape) if i not in drop] or [1]})


@importer("Unsqueeze")
def import_unsqueeze(ctx: ImportContext, node: OnnxNode) -> None:
    node.check_attrs({"axes": None})
    shape = list(ctx.shape(node.inputs[0]))
    axes = _axes(ctx, node)
    if axes is None:
        raise node.fail("the axes to insert are missing")
    rank = len(shape) + len(axes)
    for a in sorted(a % rank for a in axes):
        shape.insert(a, 1)
    ctx.add(node, "Reshape", node.inputs[:1], node.outputs, {"shape": shape})


@importer("Flatten")
def import_flatten(ctx: ImportContext, node: OnnxNode) -> None:
    node.check_attrs({"axis": None})
    shape = ctx.shape(node.inputs[0])
    axis = int(node.attrs.get("axis", 1)) % (len(shape) + 1) if shape else 0
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    ctx.add(node, "Reshape", node.inputs[:1], node.outputs, {"shape": [outer, -1]})
