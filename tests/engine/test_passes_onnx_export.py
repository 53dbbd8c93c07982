"""An optimized graph (fused ops included) exports to ONNX and onnxruntime
computes what the engine computes."""
import numpy as np
import pytest

from engine.executor import run_graph
from engine.models import build_model
from engine.onnx_io import export_onnx
from engine.onnx_io.ort_runner import run_ort
from engine.passes import run_passes


@pytest.mark.parametrize("name", ["mlp", "dlrm_small", "wdl_small", "resnet_small", "transformer_small"])
def test_an_optimized_zoo_graph_exports_and_runs_in_onnxruntime(name):
    model = build_model(name, batch=4) if name == "mlp" else build_model(name)
    graph = run_passes(model.graph, "all").graph
    assert {n.op for n in graph.nodes} & {"FusedLinear", "FusedConv", "GroupedEmbeddingBag"}
    inputs = model.make_inputs(0)
    ours, theirs = run_graph(graph, inputs), run_ort(export_onnx(graph), inputs)
    for key in graph.outputs:
        np.testing.assert_allclose(theirs[key], ours[key], rtol=1e-4, atol=1e-5, err_msg=key)
