import numpy as np
import pytest

from engine.benchmark import RunOptions, run_benchmark
from engine.executor import run_graph
from engine.models import build_model
from engine.quant.calibrate import CalibrationError
from engine.quant.collect import calibrate_amax, capture
from engine.quant.modes import (
    MODES,
    TOLERANCES,
    QuantError,
    QuantRequest,
    UnknownQuantError,
    apply_quant,
    quantizable_layers,
    resolve_quant,
    tolerance,
)


def _mlp():
    return build_model("mlp", batch=8, sizes=[16, 32, 32, 4])  # fc1 relu1 fc2 relu2 fc3


@pytest.mark.parametrize("text", ["none", "", None, " none "])
def test_none_in_any_spelling_is_no_quantization(text):
    request = resolve_quant(text)
    assert request.is_none and request.text == "none" and request.calibration is None


def test_one_dense_and_one_embedding_mode_read_the_same_in_either_order():
    a = resolve_quant("int8,int8-rowwise-emb")
    b = resolve_quant(" int8-rowwise-emb , int8 ")
    assert a == b == QuantRequest(dense="int8", embedding="int8-rowwise-emb")
    assert a.text == "int8,int8-rowwise-emb"
    assert resolve_quant("int4-rowwise-emb").text == "int4-rowwise-emb"


def test_static_int8_calibrates_with_kl_unless_told_otherwise():
    assert resolve_quant("int8-static").calibration == "percentile"
    assert resolve_quant("int8-static", "minmax").calibration == "minmax"
    assert resolve_quant("int8-static,int4-rowwise-emb", "percentile").text == "int8-static,int4-rowwise-emb"


def test_an_unknown_mode_is_refused_listing_every_valid_one():
    with pytest.raises(UnknownQuantError) as e:
        resolve_quant("int9")
    message = str(e.value)
    assert "'int9'" in message
    assert all(name in message for name in MODES)


@pytest.mark.parametrize("text, family", [("int8,fp16", "dense"), ("int8-rowwise-emb,int4-rowwise-emb", "embedding"),
                                          ("int8,int8", "dense")])
def test_two_modes_of_one_family_are_refused(text, family):
    with pytest.raises(UnknownQuantError, match=f"two {family} modes"):
        resolve_quant(text)


def test_calibration_is_refused_where_nothing_is_calibrated():
    with pytest.raises(UnknownQuantError, match="applies to int8-static only"):
        resolve_quant("int8", "kl")
    with pytest.raises(UnknownQuantError, match="applies to int8-static only"):
        resolve_quant("none", "minmax")
    with pytest.raises(UnknownQuantError, match="minmax, percentile, kl"):
        resolve_quant("int8-static", "entropy")


def test_every_mode_documents_a_tolerance():
    assert set(TOLERANCES) == set(MODES) and all(0 < t < 1 for t in TOLERANCES.values())
    assert tolerance(resolve_quant("int8-static", "percentile")) < tolerance(resolve_quant("int8-static", "kl"))
    assert tolerance(resolve_quant("int8,int4-rowwise-emb")) == TOLERANCES["int8"] + TOLERANCES["int4-rowwise-emb"]


def test_a_mode_with_nothing_to_quantize_is_a_noop_not_an_error():
    model = _mlp()
    result = apply_quant(model.graph, "int8-rowwise-emb")
    assert result.graph is model.graph
    assert (result.quantized_layers, result.noop) == ([], ["int8-rowwise-emb"])


def test_a_noop_is_recorded_in_the_run_config(probes):
    report = run_benchmark("mlp", {"batch": 4, "sizes": [16, 8]},
                           RunOptions(warmup=0, repeats=1, quant="int8,int8-rowwise-emb")).report
    assert report.config.quant == "int8,int8-rowwise-emb"
    assert report.config.flags["quant_noop"] == ["int8-rowwise-emb"]
    assert report.accuracy is not None and report.accuracy.fp32_layers == []


def test_dense_quantization_replaces_the_linear_layers_one_for_one():
    model = _mlp()
    result = apply_quant(model.graph, "int8")
    assert result.quantized_layers == ["fc1", "fc2", "fc3"] and result.noop == []
    before = {n.name: n for n in model.graph.nodes}
    after = {n.name: n for n in result.graph.nodes}
    assert list(before) == list(after)
    for name in ("fc1", "fc2", "fc3"):
        assert after[name] != before[name] and after[name].outputs == before[name].outputs
    assert after["relu1"] == before["relu1"]
    used = {t for n in result.graph.nodes for t in n.inputs}
    assert set(result.graph.initializers) <= used  # the fp32 weights no longer read are gone
    assert "fc1.weight" not in used


def test_keep_fp32_leaves_the_named_layers_alone():
    model = _mlp()
    result = apply_quant(model.graph, "int8", keep_fp32=["fc2"])
    assert result.quantized_layers == ["fc1", "fc3"] and result.fp32_layers == ["fc2"]
    assert result.graph.node("fc2") == model.graph.node("fc2")
    assert np.array_equal(result.graph.initializers["fc2.weight"], model.graph.initializers["fc2.weight"])


def test_keep_fp32_of_an_unknown_layer_lists_the_quantizable_ones():
    model = _mlp()
    with pytest.raises(QuantError, match=r"'relu1', 'fc9'.*quantizable layers are: fc1, fc2, fc3"):
        apply_quant(model.graph, "int8", keep_fp32=["relu1", "fc9"])
    with pytest.raises(QuantError, match="without --quant"):
        apply_quant(model.graph, "none", keep_fp32=["fc1"])


def test_static_quantization_without_calibration_data_is_a_calibration_error():
    with pytest.raises(CalibrationError, match="needs calibration inputs"):
        apply_quant(_mlp().graph, "int8-static", calibration_inputs=[])


def test_calibration_collects_the_fp32_input_activation_of_each_layer():
    model = _mlp()
    batches = [model.make_inputs(seed) for seed in (1, 2)]
    amax = calibrate_amax(model.graph, ["x", "h1"], batches, "minmax")
    want_h1 = max(float(capture(model.graph, ["h1"], b)["h1"].max()) for b in batches)
    want_x = max(float(np.abs(b["x"]).max()) for b in batches)
    assert amax == pytest.approx({"x": want_x, "h1": want_h1})
    kl = calibrate_amax(model.graph, ["h1"], batches, "kl")
    assert 0 < kl["h1"] <= want_h1 * (1 + 1e-9)


def test_static_quantization_follows_the_fp32_model():
    model = _mlp()
    batches = [model.make_inputs(seed) for seed in (1, 2, 3)]
    result = apply_quant(model.graph, "int8-static", calibration_inputs=batches)
    assert result.calibration == "percentile" and result.quantized_layers == ["fc1", "fc2", "fc3"]
    x = model.make_inputs(1001)
    ref, got = run_graph(model.graph, x)["y"], run_graph(result.graph, x)["y"]
    assert np.abs(got - ref).max() <= tolerance(resolve_quant("int8-static")) * np.abs(ref).max()


def test_quantizable_layers_follow_the_requested_families():
    graph = build_model("dlrm_small").graph
    dense = quantizable_layers(graph, resolve_quant("fp16"))
    emb = quantizable_layers(graph, resolve_quant("int4-rowwise-emb"))
    assert dense and set(dense.values()) == {"fp16"}
    assert len(emb) == 26 and set(emb.values()) == {"int4-rowwise-emb"}
    both = quantizable_layers(graph, resolve_quant("fp16,int4-rowwise-emb"))
    assert both == {**dense, **emb}  # dict equality ignores order
