"""A small ONNX model built with onnx.helper, never exported by the engine:
Conv + Relu, Flatten, MatMul + Add + Relu, Gemm. Its work by hand, in the
engine's conventions (a multiply-add is 2 FLOPs; bytes read every operand
once and write every output once at float32)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

BATCH = 2
F32 = 4


def small_model(batch: int | str = BATCH) -> onnx.ModelProto:
    rng = np.random.default_rng(0)

    def init(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "conv.w", "conv.b"], ["conv.out"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv.out"], ["conv.relu"], name="conv_relu"),
        helper.make_node("Flatten", ["conv.relu"], ["flat"], name="flatten", axis=1),
        helper.make_node("MatMul", ["flat", "mm.w"], ["mm.out"], name="mm"),
        helper.make_node("Add", ["mm.out", "mm.b"], ["add.out"], name="add"),
        helper.make_node("Relu", ["add.out"], ["relu.out"], name="relu"),
        helper.make_node("Gemm", ["relu.out", "gemm.w", "gemm.b"], ["y"], name="gemm", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "small",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 5])],
        initializer=[init("conv.w", 4, 3, 3, 3), init("conv.b", 4), init("mm.w", 256, 16), init("mm.b", 16),
                     init("gemm.w", 5, 16), init("gemm.b", 5)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


# FLOPs per original node at BATCH, by hand.
CONV_OUT = BATCH * 4 * 8 * 8  # 512 outputs
FLOPS = {
    "conv": 2 * CONV_OUT * 3 * 3 * 3 + CONV_OUT,  # 27 multiply-adds per output, plus the bias
    "conv_relu": CONV_OUT,
    "flatten": 0,
    "mm": 2 * BATCH * 256 * 16,
    "add": BATCH * 16,
    "relu": BATCH * 16,
    "gemm": 2 * BATCH * 16 * 5 + BATCH * 5,
}
# Bytes of each node on its own.
BYTES = {
    "conv": F32 * (BATCH * 3 * 64 + 4 * 3 * 3 * 3 + 4 + CONV_OUT),
    "conv_relu": F32 * 2 * CONV_OUT,
    "flatten": 0,  # a view
    "mm": F32 * (BATCH * 256 + 256 * 16 + BATCH * 16),
    "add": F32 * (BATCH * 16 + 16 + BATCH * 16),
    "relu": F32 * 2 * BATCH * 16,
    "gemm": F32 * (BATCH * 16 + 16 * 5 + 5 + BATCH * 5),
}
