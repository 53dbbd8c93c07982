"""Run one ONNX operator through onnxruntime, to pin an engine op to the ONNX
semantics of the operator it is named after."""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

OPSET = 20


def run_onnx_node(op_type: str, inputs: dict[str, np.ndarray], attrs: dict[str, Any] | None = None,
                  initializers: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The single output of `op_type` applied to `inputs` then `initializers`
    (node inputs in that order, by name), on onnxruntime's CPU provider."""
    initializers = initializers or {}
    graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                    for n, a in inputs.items()]
    node = helper.make_node(op_type, [*inputs, *initializers], ["y"], **(attrs or {}))
    graph = helper.make_graph(
        [node], f"single_{op_type}", graph_inputs,
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(a, n) for n, a in initializers.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["y"], inputs)[0]
