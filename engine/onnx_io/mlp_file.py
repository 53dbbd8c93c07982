"""A plain MLP written as an ONNX file with onnx.helper, never by the engine's
exporter: the model a model-under-test project keeps in its repository (the
demo's, and the tests'). Layer i is MatMul `fc{i}` + Add `fc{i}_bias`, and
Relu `fc{i}_relu` between layers; weights are seeded, so a commit that
changes nothing leaves the file byte for byte the same."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from engine.atomic_file import write_bytes_atomic

OPSET, IR_VERSION = 17, 8


def mlp_onnx(widths: Sequence[int], *, batch: int | str = "batch", seed: int = 0) -> onnx.ModelProto:
    """widths[0] inputs, then one dense layer per further width (the last one
    has no Relu). `batch` a number or a symbolic name (the engine's --batch)."""
    if len(widths) < 2 or any(w < 1 for w in widths):
        raise ValueError(f"widths: expected at least two positive sizes, got {list(widths)}")
    rng = np.random.default_rng(seed)
    nodes, inits, x = [], [], "x"
    for i, (n_in, n_out) in enumerate(zip(widths, widths[1:]), start=1):
        w = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"fc{i}.w"), numpy_helper.from_array(np.zeros(n_out, np.float32),
                                                                                 f"fc{i}.b")]
        nodes += [helper.make_node("MatMul", [x, f"fc{i}.w"], [f"fc{i}.mm"], name=f"fc{i}"),
                  helper.make_node("Add", [f"fc{i}.mm", f"fc{i}.b"], [f"fc{i}.out"], name=f"fc{i}_bias")]
        x = f"fc{i}.out"
        if i < len(widths) - 1:
            nodes.append(helper.make_node("Relu", [x], [f"fc{i}.relu"], name=f"fc{i}_relu"))
            x = f"fc{i}.relu"
    nodes[-1].output[0] = "y"
    graph = helper.make_graph(nodes, "mlp_file",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, widths[0]])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, widths[-1]])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="roofwatch")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def write_mlp_onnx(path: str | Path, widths: Sequence[int], **kwargs) -> Path:
    """Write mlp_onnx(widths) to `path` atomically; returns the path."""
    return write_bytes_atomic(path, mlp_onnx(widths, **kwargs).SerializeToString())
