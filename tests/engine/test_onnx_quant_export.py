"""The dense quantized ops export to ONNX QDQ form and onnxruntime computes
what the engine computes, to within a quantization step here and there."""
import numpy as np
import pytest

from engine.executor import run_graph
from engine.models import build_model
from engine.onnx_io import export_onnx
from engine.onnx_io.ort_runner import run_ort
from engine.quant.dense import DENSE_MODES

from tests.engine.test_quant_dense import built_model, quantize_graph


@pytest.fixture(scope="module", params=["mlp", "dlrm_small+fused", "resnet_small", "resnet_small+fused"])
def model(request):
    return built_model(request.param)


@pytest.mark.parametrize("fake", [False, True])
@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("mode", DENSE_MODES)
def test_onnxruntime_agrees_with_the_quantized_engine(model, mode, static, fake):
    graph, inputs = model
    amax = None
    if static:  # a range below the data's max for every layer: clipping must export too
        amax = {n.name: 1.5 for n in graph.nodes}
    q = quantize_graph(graph, mode, fake=fake, static=amax)
    exported = export_onnx(q)
    # The QDQ nodes run as written (dequantize, then float math): this checks what the export
    # means. ORT's fused integer kernels would check its kernels instead, and on AVX2 without
    # VNNI its u8 x s8 GEMM adds product pairs into int16 and clips (mean error 0.03 on mlp
    # int8-outlier there, against the engine's exact int32 sums).
    ours, ref = run_graph(q, inputs), run_graph(graph, inputs)
    theirs = run_ort(exported, inputs, config={"session.disable_quant_qdq": "1"})
    ops = {n.op_type for n in exported.graph.node}
    if mode != "fp16":
        assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    for t in graph.outputs:
        assert theirs[t].shape == ours[t].shape
        quant_err = np.abs(ours[t] - ref[t]).mean()
        assert np.abs(theirs[t] - ours[t]).mean() <= 0.25 * quant_err + 1e-6, t


def test_int8_weights_stay_one_byte_in_the_file():
    graph = build_model("mlp", batch=4, sizes=[64, 128, 16]).graph
    exported = export_onnx(quantize_graph(graph, "int8"))
    weights = {i.name: i for i in exported.graph.initializer if i.name.endswith(".int8c")}
    assert weights and all(i.data_type == 3 for i in weights.values())  # TensorProto.INT8
